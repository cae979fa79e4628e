"""The per-step training table ``results/train/{cell}/metrics.csv`` and the rollout records it is built from.

Both trainers append one JSON line per rollout to ``work/train/{cell}/rollouts.jsonl``::

    {"step": 3, "reward_mean": 0.12, "advantage_abs_mean": 0.31, "groups": [["<prompt key>", correct, samples], ...]}

(the OpenRLHF seam in its trainer actor, the TRL trainer in-process). After a resume a step may be recorded twice;
the last record of a step wins. Solve rates and ``advantage_abs_mean`` come from these records; reward, entropy,
response length and KL from the trainer's own logs.

``advantage_abs_mean`` is the mean over the step's samples of |advantage| as the registry's estimator returned it
(the value both trainers train on): at one learning rate it sets the size of the policy-gradient step, so it shows
each estimator's *effective* step size (RS-GRPO's advantage shrinks about as 1/β). Empty in records written before
it was logged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path

COLUMNS = [
    "step",
    "reward_mean",
    "solve_rate",
    "cumulative_solve_rate",
    "entropy",
    "response_length",
    "kl",
    "advantage_abs_mean",
]

#: Where each metric is found in the trainers' logs, in order of preference.
OPENRLHF_SCALARS = {
    "reward_mean": ["train/rollout/reward_mean", "train/reward"],
    "entropy": ["train/entropy_loss"],
    "response_length": ["train/rollout/response_length_mean", "train/response_length"],
    "kl": ["train/kl"],
}
TRL_LOGS = {
    "reward_mean": ["reward"],
    "entropy": ["entropy"],
    "response_length": ["completions/mean_length"],
    "kl": ["kl"],
}


def prompt_key(prompt: str) -> str:
    return hashlib.sha1(prompt.encode()).hexdigest()[:16]


def append_record(
    path: str | Path,
    step: int,
    groups: Iterable[tuple[str, int, int]],
    reward_mean: float,
    advantage_abs_mean: float | None = None,
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"step": int(step), "reward_mean": float(reward_mean)}
    if advantage_abs_mean is not None:
        line["advantage_abs_mean"] = float(advantage_abs_mean)
    line["groups"] = [[k, int(c), int(n)] for k, c, n in groups]
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def read_records(path: str | Path) -> dict[int, dict]:
    """Records by step (the last one of a step wins); a truncated last line (a killed job) is skipped."""
    out: dict[int, dict] = {}
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[int(rec["step"])] = rec
    return dict(sorted(out.items()))


def solve_rates(records: dict[int, dict]) -> list[dict]:
    """Per step: share of the step's prompts with a correct sample, and of all prompts seen so far ever solved."""
    seen: set[str] = set()
    solved: set[str] = set()
    rows = []
    for step, rec in sorted(records.items()):
        groups = rec["groups"]
        for key, c, _ in groups:
            seen.add(key)
            if c > 0:
                solved.add(key)
        rows.append(
            {
                "step": step,
                "solve_rate": sum(c > 0 for _, c, _ in groups) / len(groups) if groups else math.nan,
                "cumulative_solve_rate": len(solved) / len(seen) if seen else math.nan,
                "reward_mean": rec.get("reward_mean", math.nan),
                "advantage_abs_mean": rec.get("advantage_abs_mean", math.nan),
            }
        )
    return rows


def metrics_table(records: dict[int, dict], scalars: dict[int, dict], sources: dict[str, list[str]]):
    """The tidy per-step table (:data:`COLUMNS`) from rollout records and the trainer's scalars by step."""
    import pandas as pd

    by_step = {r["step"]: r for r in solve_rates(records)}
    steps = sorted(set(by_step) | set(scalars))
    rows = []
    for s in steps:
        row = {"step": s, **{c: math.nan for c in COLUMNS[1:]}}
        rec = by_step.get(s, {})
        row.update(
            {
                k: rec[k]
                for k in ("solve_rate", "cumulative_solve_rate", "reward_mean", "advantage_abs_mean")
                if k in rec
            }
        )
        logged = scalars.get(s, {})
        for col, keys in sources.items():
            for k in keys:
                if k in logged and logged[k] is not None:
                    row[col] = float(logged[k])
                    break
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def read_tensorboard(logdir: str | Path) -> dict[int, dict]:
    """Scalars of every event file under `logdir`, by step (later files win)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[int, dict] = {}
    files = sorted(Path(logdir).rglob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            for ev in acc.Scalars(tag):
                out.setdefault(int(ev.step), {})[tag] = float(ev.value)
    return out


def trl_scalars(log_history: list[dict], optimizer_steps_per_rollout: int = 1) -> dict[int, dict]:
    """TRL's ``state.log_history`` by rollout step."""
    out: dict[int, dict] = {}
    for entry in log_history:
        if "step" not in entry or "loss" not in entry and "reward" not in entry:
            continue
        step = math.ceil(int(entry["step"]) / optimizer_steps_per_rollout)
        out.setdefault(step, {}).update({k: v for k, v in entry.items() if isinstance(v, (int, float))})
    return out
