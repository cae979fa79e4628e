"""The expected GPU-hours of a config, beside the upper bound of :mod:`rsrl.plan` (the jobs' time limits).

Estimated from the tokens each job generates or trains on and a throughput per GPU by model size class
(``cost_model.tokens_per_gpu_second.<size>: {generate, train}`` in the config; rough public figures there, to be
replaced by a cluster's own measurements):

* a training run makes ``max_steps`` rollouts of ``rollout_batch_size x N`` samples (its cell's values: a group-size
  ablation cell has its own N and prompts); with dynamic sampling it generates ``prompt_factor`` times as many (the
  refills); each sample's expected length is ``response_share x max_new_tokens``, bounded by ``max_new_tokens``.
  GPU-seconds = generated tokens / ``generate`` + trained tokens / ``train``;
* an evaluation of one checkpoint on one benchmark samples ``problems x n`` responses of expected length
  ``response_share x max_tokens``: GPU-seconds = tokens / ``generate``.

GPU-hours assume the throughput scales with the GPUs of a job (no idle GPUs). Prompt tokens, engine start-up, weight
syncs and grading are left out, so the estimate is a lower-leaning expectation; the upper bound is the jobs' time
limits. A size class without a throughput entry, or a benchmark whose size is unknown, has no expected cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsrl import dapo, grid
from rsrl import resources as rsrc
from rsrl.evaluate import shards as sh


@dataclass
class BlockCost:
    """One grid block: its runs, and the GPU-hours of training them and evaluating their final models (and their
    step snapshots when they are a figure's), expected (None when unknown) and upper bound."""

    name: str
    enabled: bool
    runs: int
    expected: float | None
    upper: float


def throughput(cfg: dict, model: str) -> dict | None:
    """``{generate, train}`` tokens per GPU-second of the model's size class, or None."""
    cm = cfg.get("cost_model") or {}
    return (cm.get("tokens_per_gpu_second") or {}).get(cfg["models"][model]["size"])


def _share(cfg: dict) -> float:
    return float((cfg.get("cost_model") or {}).get("response_share", 1.0))


def train_tokens(cfg: dict, cell: grid.Cell) -> tuple[float, float]:
    """(generated, trained) tokens of one run, expected."""
    t = grid.for_cell(cfg, cell)["training"]
    samples = t["max_steps"] * t["rollout_batch_size"] * t["n_samples_per_prompt"]
    length = min(1.0, _share(cfg)) * t["max_new_tokens"]
    ds = dapo.dynamic_sampling(t)
    generated = samples * length * (ds["prompt_factor"] if ds["enable"] else 1.0)
    return generated, samples * length


def train_hours(cfg: dict, cell: grid.Cell) -> float | None:
    tp = throughput(cfg, cell.model)
    if tp is None:
        return None
    generated, trained = train_tokens(cfg, cell)
    return (generated / tp["generate"] + trained / tp["train"]) / 3600


def eval_hours(cfg: dict, model: str, benchmark: str, problems: int | None) -> float | None:
    """Expected GPU-hours of sampling one checkpoint of ``model`` on ``benchmark``."""
    tp = throughput(cfg, model)
    if tp is None or problems is None:
        return None
    st = sh.eval_settings(cfg, benchmark)
    return problems * st["n"] * min(1.0, _share(cfg)) * st["max_tokens"] / tp["generate"] / 3600


def eval_upper(cfg: dict, model: str, benchmark: str, sample_job_hours) -> float:
    """Upper bound GPU-hours of one checkpoint on one benchmark: its sampling shards' time limits."""
    st = sh.eval_settings(cfg, benchmark)
    return len(sh.shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"])) * sample_job_hours(cfg, model)[0]


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def block_costs(cfg: dict, problem_count, sample_job_hours) -> list[BlockCost]:
    """Every grid block's cost (enabled or not). ``problem_count(cfg, benchmark)`` and ``sample_job_hours(cfg,
    model)`` are :mod:`rsrl.plan`'s."""
    snap = {c.run_id for c in grid.snapshot_cells(cfg)}
    rows = grid._figure_rows(cfg)
    steps = grid.snapshot_steps(cfg)
    out = []
    for i, block in enumerate(cfg["grid"]):
        cells = grid.block_cells(cfg, i)
        expected: float | None = 0.0
        upper = 0.0
        for c in cells:
            r = rsrc.train(cfg, c)
            upper += r["gpus"] * r["runtime"] / 60
            expected = _add(expected, train_hours(cfg, c))
            targets = [(b, 1) for b in cfg["benchmarks"]]
            if block.get("enabled", True) and c.run_id in snap:
                targets += [(b, len(steps)) for b in rows.get((c.model, c.train_set), [])]
            for b, times in targets:
                expected = _add(
                    expected, None if (e := eval_hours(cfg, c.model, b, problem_count(cfg, b))) is None else times * e
                )
                upper += times * eval_upper(cfg, c.model, b, sample_job_hours)
        out.append(BlockCost(grid.block_name(cfg, i), bool(block.get("enabled", True)), len(cells), expected, upper))
    return out
