"""The sampling plan: how each (checkpoint, benchmark) evaluation of the grid (:func:`rsrl.grid.eval_targets`) is
split into shards (problem shards × sample blocks, one output file each), and, with ``evaluation.sample_jobs: run``,
which shards one sampling job per run writes. Rows and seeds of a shard: :mod:`rsrl.evaluate.shards`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rsrl import config as rcfg
from rsrl.grid import GridError, eval_targets
from rsrl.methods import Checkpoint

#: Most samples per problem (sample indices fit in the 16 low bits of a sample's seed).
MAX_SAMPLES = 1 << 16


def n_blocks(n: int, samples_per_shard: int) -> int:
    if n < 1 or samples_per_shard < 1:
        raise ValueError(
            f"n_blocks: need n >= 1 and samples_per_shard >= 1; got n={n}, samples_per_shard={samples_per_shard}"
        )
    return math.ceil(n / samples_per_shard)


def shard_ids(n: int, problem_shards: int, samples_per_shard: int) -> list[tuple[int, int]]:
    """(p, s) of every shard of a benchmark with `n` samples per problem."""
    return [(p, s) for p in range(problem_shards) for s in range(n_blocks(n, samples_per_shard))]


def eval_settings(cfg: dict, benchmark: str, seed: int | None = None) -> dict:
    """Sampling settings plus the sharding of one benchmark (n, temperature, top_p, max_tokens, limit,
    problem_shards, samples_per_shard, seed). ``seed``: the checkpoint's (:func:`rsrl.grid.sample_seed`), default
    ``evaluation.seed``."""
    st = dict(rcfg.benchmark_settings(cfg, benchmark))
    ev = cfg["evaluation"]
    st["problem_shards"] = int(ev["problem_shards"])
    st["samples_per_shard"] = int(ev["samples_per_shard"])
    st["seed"] = int(ev["seed"] if seed is None else seed)
    if st["n"] > MAX_SAMPLES:
        raise ValueError(f"evaluation.per_benchmark.{benchmark}.n = {st['n']} exceeds {MAX_SAMPLES}")
    return st


SAMPLE_RUN_RULE = "sample_run_"  # + a batch's index: the workflow's rule of that batch


@dataclass(frozen=True)
class SampleBatch:
    """The sampling shards of one run (a cell's final model and its snapshots, or a base model) done by one job
    (``evaluation.sample_jobs: run``): one process, one engine start-up per checkpoint."""

    index: int  # position in sample_batches: the workflow's rule for it is sample_run_<index>
    model: str
    train_set: str
    run: str  # run id, or BASE
    targets: tuple[tuple[Checkpoint, str, int, int], ...]  # (checkpoint, benchmark, p, s), in eval_targets order

    @property
    def name(self) -> str:
        return f"{self.model}/{self.train_set}/{self.run}"

    @property
    def rule(self) -> str:
        return f"{SAMPLE_RUN_RULE}{self.index}"

    def checkpoints(self) -> list[Checkpoint]:
        return list(dict.fromkeys(c for c, _, _, _ in self.targets))


def sample_batches(cfg: dict) -> list[SampleBatch]:
    """One :class:`SampleBatch` per run when ``evaluation.sample_jobs`` is ``run``; none (one job per shard) when it
    is ``shard``, the default."""
    if cfg["evaluation"]["sample_jobs"] != "run":
        return []
    by_run: dict[tuple[str, str, str], list] = {}
    for ckpt, bench in eval_targets(cfg):
        st = eval_settings(cfg, bench)
        for p, s in shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"]):
            by_run.setdefault((ckpt.model, ckpt.train_set, ckpt.method), []).append((ckpt, bench, p, s))
    return [SampleBatch(i, m, t, r, tuple(v)) for i, ((m, t, r), v) in enumerate(by_run.items())]


def sample_batch(cfg: dict, model: str, train_set: str, run: str) -> SampleBatch:
    for b in sample_batches(cfg):
        if (b.model, b.train_set, b.run) == (model, train_set, run):
            return b
    raise GridError(
        f"{model}/{train_set}/{run} is not a sampling batch of this config (evaluation.sample_jobs "
        f"is {cfg['evaluation']['sample_jobs']!r}; batches exist only with 'run')"
    )
