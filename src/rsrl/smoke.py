"""The smoke run: every engine path a config's grid uses, for a few steps and samples, before the real run.

    snakemake smoke --profile slurm        # runs results/smoke/ through the same profile, in minutes
    python -m rsrl.smoke --config CONFIG_JSON --out results/smoke/config.yaml

:func:`smoke_config` derives the smoke run's config from the grid's: the smallest model of the grid (the size class
asking for the fewest GPUs, then the least memory; the first in config order on a tie), one cell per (trainer,
estimator) the grid trains (its first method with that estimator, on that method's training set, so every trainer,
estimator family and training-set loader runs), a few training steps with a step snapshot (the export path),
``smoke.problems`` problems of every benchmark with ``smoke.samples`` samples each (sampling, grading, scoring),
and the report. The ``smoke:`` block of the config sets the sizes; ``rsrl plan`` shows what the smoke run costs.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

from rsrl import grid

#: Where the smoke run lives: a working directory of its own (its results/, logs/, work/, .snakemake/).
SMOKE_DIR = "results/smoke"


def smallest_model(cfg: dict) -> str:
    """The trained model whose size class asks for the fewest GPUs (nodes x GPUs per node), then the least memory."""
    order = {m: i for i, m in enumerate(cfg["models"])}

    def cost(model: str):
        size = grid.size_class(cfg, model)
        return (size["nodes"] * size["gpus_per_node"], size["nodes"] * size["mem_mb_per_node"], order[model])

    return min(grid.models(cfg), key=cost)


def smoke_config(cfg: dict) -> dict:
    """The smoke run's config (validated) for a validated config `cfg`."""
    s = cfg["smoke"]
    model = smallest_model(cfg)
    picks: dict[tuple[str, str], object] = {}
    for c in grid.cells(cfg):
        picks.setdefault((c.trainer, c.estimator), c)
    out = copy.deepcopy(cfg)
    out["grid"] = [
        {
            "models": [model],
            "train_sets": [c.train_set],
            "trainer": c.trainer,
            "methods": [{"estimator": c.estimator, "params": dict(c.params)}],
        }
        for c in picks.values()
    ]
    out["data_dir"] = str(Path(cfg["data_dir"]).resolve())  # the smoke run works in its own directory
    used = {c.train_set for c in picks.values()}
    for name, source in out["train_sets"].items():
        if name in used or "limit" not in source:
            source["limit"] = min(source.get("limit", math.inf), s["train_problems"])
    for source in out["benchmarks"].values():
        source["limit"] = min(source.get("limit", math.inf), s["problems"])
    ev = out["evaluation"]
    ev["per_benchmark"] = {b: {"n": s["samples"], "limit": s["problems"]} for b in out["benchmarks"]}
    ev.update(samples_per_shard=s["samples"], problem_shards=1, max_tokens=s["max_new_tokens"])
    rbs, n = s["rollout_batch_size"], s["n_samples_per_prompt"]
    steps = s["max_steps"]
    t = out["training"]
    t.update(
        max_steps=steps,
        rollout_batch_size=rbs,
        n_samples_per_prompt=n,
        train_batch_size=rbs * n,
        micro_train_batch_size=math.gcd(t["micro_train_batch_size"], rbs * n),
        micro_rollout_batch_size=math.gcd(t["micro_rollout_batch_size"], rbs),
        max_new_tokens=s["max_new_tokens"],
        num_episodes=1,
        save_steps=1 if steps > 1 else steps,
        eval_steps=[1] if steps > 1 else [],
    )
    size = cfg["models"][model]["size"]
    out["size_classes"][size]["runtime_min"] = min(out["size_classes"][size]["runtime_min"], s["runtime_min"])
    first = out["grid"][0]
    focus = {"model": model, "train_set": first["train_sets"][0], "benchmarks": [next(iter(out["benchmarks"]))]}
    report = out.setdefault("report", {})
    report["k_table"] = sorted({1, s["samples"]})
    report["ablation"] = dict(focus)
    report["comparison"] = dict(focus)
    return grid.validate(out)


def digest(cfg: dict) -> str:
    """SHA-256 of a config's canonical JSON."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()


def write(cfg: dict, out: str | Path) -> Path:
    import yaml

    from rsrl.io import atomic_path

    out = Path(out)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(yaml.safe_dump(smoke_config(cfg), sort_keys=False))
    return out


def main(argv: list[str] | None = None) -> int:
    from rsrl.io import load_config_json

    ap = argparse.ArgumentParser(prog="python -m rsrl.smoke", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="validated config JSON (see workflow/rules/common.smk)")
    ap.add_argument("--out", required=True, help="the smoke run's config (YAML)")
    a = ap.parse_args(argv)
    write(load_config_json(a.config), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
