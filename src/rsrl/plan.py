"""The cost of a config before it is launched: jobs per rule and stage, GPU- and node-hours requested, samples and
generated tokens.

Everything is derived from the same modules the workflow builds its DAG from (:mod:`rsrl.grid` for what runs,
:mod:`rsrl.resources` for what each job requests, :mod:`rsrl.evaluate.shards` for the sampling shards), so the job
counts are those of ``snakemake -n all`` on a fresh results directory (a test checks this). Hours are *requested*
hours (the jobs' Slurm time limits), an upper bound of what the cluster is asked for; tokens are bounded by
``max_tokens`` per sample. Beside them, the *expected* GPU-hours from the tokens each job generates or trains on
and the config's throughput table (:mod:`rsrl.cost`), per stage and per grid block; blocks switched off
(``enabled: false``) are priced separately and left out of the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rsrl import cost, grid, shard_plan
from rsrl import resources as rsrc
from rsrl.evaluate import shards as sh
from rsrl.report.command import commands as report_commands
from rsrl.report.command import rule_jobs
from rsrl.theory import RULES as THEORY_RULES

#: Each report product's rule (and its per-model rule), from the products themselves.
REPORT_RULES = [r.name for c in report_commands().values() for r in c.rules]

STAGES = {
    "theory": list(THEORY_RULES),
    "data": ["prepare_bench", "prepare_train", "data_manifest"],
    "train": ["build_model", "train_cell", "train_cell_multinode", "export_step"],
    "evaluate": ["sample", "grade", "score", "aggregate_eval"],
    "report": REPORT_RULES,
}


@dataclass
class Plan:
    jobs: dict[str, int] = field(default_factory=dict)
    gpu_hours: dict[str, float] = field(default_factory=dict)
    node_hours: dict[str, float] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)  # per benchmark
    max_tokens: dict[str, int] = field(default_factory=dict)  # upper bound of generated tokens per benchmark
    problems_unknown: list[str] = field(default_factory=list)
    expected: dict[str, float | None] = field(default_factory=dict)  # expected GPU-hours per stage (None: unknown)
    blocks: list[cost.BlockCost] = field(default_factory=list)

    def add(self, rule: str, count: int = 1, gpu_h: float = 0.0, node_h: float = 0.0) -> None:
        self.jobs[rule] = self.jobs.get(rule, 0) + count
        self.gpu_hours[rule] = self.gpu_hours.get(rule, 0.0) + gpu_h
        self.node_hours[rule] = self.node_hours.get(rule, 0.0) + node_h

    def expect(self, stage: str, gpu_h: float | None) -> None:
        have = self.expected.get(stage, 0.0)
        self.expected[stage] = None if have is None or gpu_h is None else have + gpu_h


def problem_count(cfg: dict, benchmark: str) -> int | None:
    """Problems of a benchmark: the prepared table's rows when it exists, else the configured limit(s) or its
    published size (``expected_rows``), else None (unknown until the data stage has run)."""
    path = Path(grid.bench_data(benchmark))
    limit = cfg["benchmarks"][benchmark].get("limit")
    ev_limit = cfg["evaluation"].get("per_benchmark", {}).get(benchmark, {}).get("limit")
    if path.exists():
        import pyarrow.parquet as pq

        n = pq.ParquetFile(path).metadata.num_rows
        return min(n, ev_limit) if ev_limit else n
    known = [x for x in (limit, ev_limit, cfg["benchmarks"][benchmark].get("expected_rows")) if x]
    return min(known) if known else None


def build(cfg: dict) -> Plan:
    plan = Plan()
    for rule in STAGES["theory"]:
        plan.add(rule)
    plan.add("prepare_bench", len(cfg["benchmarks"]))
    plan.add("prepare_train", len(cfg["train_sets"]))
    plan.add("data_manifest")
    cells = grid.cells(cfg)
    built = {m for m in grid.models(cfg) if "build" in cfg["models"][m]}
    plan.add("build_model", len(built), node_h=len(built) * rsrc.SHORT_RUNTIME_MIN / 60)
    for c in cells:
        r = rsrc.train(cfg, c)
        hours = r["runtime"] / 60
        rule = "train_cell_multinode" if rsrc.is_multinode(cfg, c.model) else "train_cell"
        plan.add(rule, 1, gpu_h=r["gpus"] * hours, node_h=r["nodes"] * hours)
        plan.expect("train", cost.train_hours(cfg, c))
    n_snap = len(grid.snapshot_cells(cfg)) * len(grid.snapshot_steps(cfg))
    plan.add("export_step", n_snap, node_h=n_snap * rsrc.SHORT_RUNTIME_MIN / 60)
    targets = grid.eval_targets(cfg)
    batches = shard_plan.sample_batches(cfg)  # evaluation.sample_jobs: run -- one sampling job per run
    for b in batches:
        gpu_h, node_h = sample_job_hours(cfg, b.model)
        plan.add(b.rule, 1, gpu_h=gpu_h, node_h=node_h)
    for ckpt, bench in targets:
        st = sh.eval_settings(cfg, bench)
        ids = sh.shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"])
        if not batches:
            gpu_h, node_h = sample_job_hours(cfg, ckpt.model)
            plan.add("sample", len(ids), gpu_h=len(ids) * gpu_h, node_h=len(ids) * node_h)
        plan.add("grade", len(ids))
        problems = problem_count(cfg, bench)
        plan.expect("evaluate", cost.eval_hours(cfg, ckpt.model, bench, problems))
        if problems is None:
            if bench not in plan.problems_unknown:
                plan.problems_unknown.append(bench)
        else:
            plan.samples[bench] = plan.samples.get(bench, 0) + problems * st["n"]
            plan.max_tokens[bench] = plan.max_tokens.get(bench, 0) + problems * st["n"] * st["max_tokens"]
    plan.add("score", len(targets))
    plan.add("aggregate_eval")
    for rule, jobs in rule_jobs(cfg).items():
        plan.add(rule, len(jobs))
    plan.add("all")
    plan.jobs = {k: v for k, v in plan.jobs.items() if v}
    plan.blocks = cost.block_costs(cfg, problem_count, sample_job_hours)
    return plan


def _hours(h: float | None) -> str:
    return "unknown" if h is None else f"{h:,.0f}"


def sample_job_hours(cfg: dict, model: str) -> tuple[float, float]:
    """(GPU hours, node hours) one sampling job of ``model`` may hold: its time limit times its GPUs, and times
    its share of a node's GPUs (a whole node on a CPU class)."""
    r = rsrc.sample(cfg, model)
    size = grid.size_class(cfg, model)
    node_share = (r["gpu"] / size["gpus_per_node"]) if size["gpus_per_node"] else 1.0
    hours = r["runtime"] / 60
    return r["gpu"] * hours, node_share * hours


def stage_of(rule: str) -> str:
    if rule.startswith(shard_plan.SAMPLE_RUN_RULE):  # one rule per run (rsrl.shard_plan.SampleBatch.rule)
        return "evaluate"
    return next((s for s, rules in STAGES.items() if rule in rules), "all")


def table(plan: Plan) -> pd.DataFrame:
    """One row per rule: stage, rule, jobs, gpu_hours, node_hours (requested)."""
    rows = [
        {
            "stage": stage_of(r),
            "rule": r,
            "jobs": n,
            "gpu_hours": plan.gpu_hours.get(r, 0.0),
            "node_hours": plan.node_hours.get(r, 0.0),
        }
        for r, n in plan.jobs.items()
    ]
    return pd.DataFrame(rows, columns=["stage", "rule", "jobs", "gpu_hours", "node_hours"])


def render(cfg: dict, plan: Plan) -> str:
    cells = grid.cells(cfg)
    lines = [f"{len(cells)} training cells:"]
    for c in cells:
        lines.append(f"  {c.key:60s} {c.trainer:8s} {rsrc.train(cfg, c)['nodes']} node(s)")
    df = table(plan)
    lines += [
        "",
        (
            "Jobs and GPU-hours per stage: expected (tokens / throughput, rsrl.cost) and upper bound (Slurm "
            "time limits; node-hours likewise):"
        ),
    ]
    by_stage = df.groupby("stage", sort=False)[["jobs", "gpu_hours", "node_hours"]].sum()
    lines.append(f"  {'stage':10s} {'jobs':>8s} {'expected GPU-h':>15s} {'upper GPU-h':>12s} {'upper node-h':>13s}")
    for stage, r in by_stage.iterrows():
        lines.append(
            f"  {stage:10s} {int(r.jobs):8d} {_hours(plan.expected.get(stage, 0.0)):>15s} "
            f"{r.gpu_hours:12,.0f} {r.node_hours:13,.0f}"
        )
    total = None if None in plan.expected.values() else sum(plan.expected.values())
    lines.append(
        f"  {'total':10s} {int(df.jobs.sum()):8d} {_hours(total):>15s} {df.gpu_hours.sum():12,.0f} "
        f"{df.node_hours.sum():13,.0f}"
    )
    lines += [
        "",
        (
            "GPU-hours per grid block (training its runs, evaluating their final models and figure snapshots; "
            "base models and shared runs not split):"
        ),
    ]
    lines.append(f"  {'block':32s} {'runs':>5s} {'expected GPU-h':>15s} {'upper GPU-h':>12s}")
    for on in (True, False):
        if not on and any(not b.enabled for b in plan.blocks):
            lines.append("  switched off (enabled: false; not in the totals above):")
        for b in (b for b in plan.blocks if b.enabled == on):
            lines.append(f"  {b.name:32s} {b.runs:5d} {_hours(b.expected):>15s} {b.upper:12,.0f}")
    lines += ["", "Jobs per rule:"] + [f"  {r.rule:26s} {r.jobs:8d}" for r in df.itertuples()]
    lines += [
        "",
        "Evaluation samples (problems x n, summed over checkpoints) and generated tokens (at most max_tokens each):",
    ]
    for b in cfg["benchmarks"]:
        if b in plan.samples:
            lines.append(f"  {b:16s} {plan.samples[b]:14,d} samples  <= {plan.max_tokens[b]:18,d} tokens")
    if plan.problems_unknown:
        lines.append(
            f"  problem counts unknown until the data stage has run (`snakemake data`): "
            f"{', '.join(plan.problems_unknown)}"
        )
    lines.append(
        f"  {'total':16s} {sum(plan.samples.values()):14,d} samples  <= {sum(plan.max_tokens.values()):18,d} tokens"
    )
    return "\n".join(lines) + "\n"


def render_smoke(cfg: dict) -> str:
    """What `snakemake smoke` runs and requests (:mod:`rsrl.smoke`): its cells, jobs and hours."""
    from rsrl import smoke

    scfg = smoke.smoke_config(cfg)
    df = table(build(scfg))
    df = df[df["stage"] != "theory"]  # the smoke run builds train, evaluate and report
    lines = [
        f"Smoke run (`snakemake smoke`, in {smoke.SMOKE_DIR}/; run it before `all`): "
        f"{len(grid.cells(scfg))} cells on {smoke.smallest_model(cfg)}, "
        f"{scfg['training']['max_steps']} steps each, {scfg['smoke']['problems']} problems x "
        f"{scfg['smoke']['samples']} samples per benchmark:",
        f"  {int(df.jobs.sum())} jobs, {df.gpu_hours.sum():,.1f} GPU-hours, {df.node_hours.sum():,.1f} "
        "node-hours requested (time limits: an upper bound)",
    ]
    return "\n".join(lines) + "\n"
