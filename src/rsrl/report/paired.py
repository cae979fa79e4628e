"""Paired comparison with a reference method: results/tables/paired_diff.csv and .md.

For each (model, training set) that trains the reference method (``report.paired.reference``, by default GRPO)
and at least one other, every other method, every benchmark and every k of ``report.k_table`` with k ≤ n (the
fewest samples per problem of the runs compared): the difference of pass@k, method − reference, with a 95 %
interval and a two-sided p-value (:func:`rsrl.passk.seed_t_diff`: a Welch t-interval over the two methods' seeds
with the paired variance over problems added, widened where needed to Newcombe's score interval, clipped to
[−1, 1]). Per-problem pass@k is the unbiased estimate from each problem's (n, c) (:mod:`rsrl.passk`).

A method's runs are all its runs in the (model, training set): one per seed of a block with ``seeds``, or the
single run of a block without. ``pass_at_k`` is the mean over the method's seeds and the benchmark's problems.
The interval covers both the choice of problems and seed-to-seed variation. The bootstrap over problems and seeds
used before covered the true difference in as few as 82 % of simulated comparisons with three seeds (resampling three
seeds under-represents their spread; ``benchmarks/bench_coverage.py``). A method or reference with a single run
gets no interval and no p-value (empty): the seed-to-seed variation of one run cannot be estimated, and an
interval over problems alone covered the difference between methods in 13–66 % of simulated comparisons.

CSV columns (one row per model × training set × method × benchmark × k):

    model, train_set, method, estimator, params, reference, benchmark, k, n_problems, n_samples, n_seeds,
    reference_n_seeds, pass_at_k, reference_pass_at_k, diff, diff_ci_low, diff_ci_high, p_value

``method`` and ``reference`` are method ids (without seed); ``n_samples`` the fewest samples per problem of the
runs compared; ``diff = pass_at_k − reference_pass_at_k``; ``p_value`` the Welch t-test's. Values are fractions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rsrl import grid
from rsrl.methods import Checkpoint, label, parts
from rsrl.report.command import Arg, Command, write_tables

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The workflow imports this module to list the comparison's inputs (:func:`targets`) when it builds the DAG; the
# numerical modules are imported where they are used, so that this stays cheap.

log = logging.getLogger(__name__)

COLUMNS = [
    "model",
    "train_set",
    "method",
    "estimator",
    "params",
    "reference",
    "benchmark",
    "k",
    "n_problems",
    "n_samples",
    "n_seeds",
    "reference_n_seeds",
    "pass_at_k",
    "reference_pass_at_k",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
]


def reference_method(cfg: dict) -> str:
    """The method id every method is compared with: ``report.paired.reference`` (one ``{estimator, params}``),
    by default the reference of ``report.roles``."""
    entry = cfg["report"]["paired"].get("reference") or grid.roles(cfg).reference_entry
    methods = grid.expand_methods([entry], where="config key report.paired.reference")
    if len(methods) != 1:
        raise grid.GridError(
            f"config key report.paired.reference: {entry} names {len(methods)} methods "
            f"({[m.id for m in methods]}); give one value per parameter."
        )
    return methods[0].id


def targets(cfg: dict) -> list[tuple[Checkpoint, str]]:
    """(checkpoint, benchmark) of every per-problem table the comparison reads (:func:`rsrl.grid.paired_targets`)."""
    return grid.paired_targets(cfg, reference_method(cfg))


def _stack(frames: list[pd.DataFrame], files: list, ks: list[int]) -> np.ndarray:
    """[runs, problems, ks] per-problem pass@k of the runs, problems aligned by problem_id."""
    import numpy as np

    from rsrl.passk import pass_at_k

    ids = sorted(frames[0]["problem_id"])
    out = []
    for df, f in zip(frames, files):
        if sorted(df["problem_id"]) != ids:
            raise ValueError(
                f"{f}: its problems differ from those of {files[0]} ({len(df)} vs {len(ids)} problems); "
                "a paired comparison needs the same problems for every run. Re-evaluate with the "
                "same benchmark settings."
            )
        df = df.set_index("problem_id").loc[ids]
        n, c = df["n"].to_numpy(), df["c"].to_numpy()
        out.append(pass_at_k(n[:, None], c[:, None], np.asarray(ks)[None, :]))
    return np.stack(out)


def compare(cfg: dict, problems: list[str | Path]) -> pd.DataFrame:
    """The comparison table from the problems.parquet of every :func:`targets` entry (any order); 95 % intervals
    (the evaluation stage's level)."""
    import pandas as pd

    from rsrl.evaluate.aggregate import checkpoint_keys
    from rsrl.evaluate.metrics import ALPHA
    from rsrl.passk import seed_t_diff
    from rsrl.report.inputs import k_table, read_problems
    from rsrl.report.seeds import group_runs

    ref = reference_method(cfg)
    tg = targets(cfg)
    files = grid.match_files(tg, grid.PROBLEMS_PATTERN, problems, "paired --problems")
    by_key = {(c.model, c.train_set, c.id, b): f for (c, b), f in zip(tg, files)}
    records = []
    for model, ts in dict.fromkeys((c.model, c.train_set) for c, _ in tg):
        series = {parts(s.runs[0])[0]: s.runs for s in group_runs(grid.methods_of(cfg, model, ts))}
        ref_runs = series[ref]
        frames = {
            (r, b): read_problems(by_key[(model, ts, r, b)])
            for runs in series.values()
            for r in runs
            for b in cfg["benchmarks"]
        }
        for method, runs in series.items():
            if method == ref:
                continue
            both = list(runs) + list(ref_runs)
            keys = checkpoint_keys(Checkpoint(model, ts, method), "")
            for b in cfg["benchmarks"]:
                n_min = int(min(frames[(r, b)]["n"].min() for r in both))
                ks = [k for k in k_table(cfg) if k <= n_min]
                if not ks:
                    log.info(
                        "%s/%s %s vs %s on %s: no k of report.k_table is <= n = %d", model, ts, method, ref, b, n_min
                    )
                    continue
                values = _stack([frames[(r, b)] for r in both], [by_key[(model, ts, r, b)] for r in both], ks)
                a, z = values[: len(runs)], values[len(runs) :]
                res = seed_t_diff(a, z, alpha=ALPHA)
                for j, k in enumerate(ks):
                    records.append(
                        {
                            "model": model,
                            "train_set": ts,
                            "method": method,
                            "estimator": keys["estimator"],
                            "params": keys["params"],
                            "reference": ref,
                            "benchmark": b,
                            "k": k,
                            "n_problems": values.shape[1],
                            "n_samples": n_min,
                            "n_seeds": len(runs),
                            "reference_n_seeds": len(ref_runs),
                            "pass_at_k": float(a[:, :, j].mean()),
                            "reference_pass_at_k": float(z[:, :, j].mean()),
                            "diff": float(res.diff[j]),
                            "diff_ci_low": float(res.low[j]),
                            "diff_ci_high": float(res.high[j]),
                            "p_value": float(res.p_value[j]),
                        }
                    )
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "−")


def _p(p: float) -> str:
    return "–" if p != p else ("p < 0.001" if p < 0.001 else f"p = {p:.2g}")


def to_markdown(cfg: dict, table: pd.DataFrame) -> str:
    ref = reference_method(cfg)
    lines = [f"# Paired comparison with {label(ref)}", ""]
    lines.append(
        f"Difference of pass@k, method − {label(ref)}, in percentage points, with its 95 % interval "
        "[low, high] and two-sided p-value: a Welch t-interval over the two methods' training seeds with "
        "the paired variance over the benchmark's problems added (Welch–Satterthwaite degrees of "
        "freedom), widened where every value sits at 0 or 1 to Newcombe's score interval, and clipped to "
        "[−100, +100]. Its coverage is measured by simulation in `benchmarks/bench_coverage.py`. A method "
        "(or reference) trained from one seed gets no interval and no p-value ([–]): the seed-to-seed "
        "variation of one run cannot be estimated, and RL runs differ between seeds as much as methods "
        "do. Per-problem pass@k is the unbiased estimate; a method's value is the mean over its seeds and "
        "the problems. *Seeds*: the method's runs; the reference's are given in each heading."
    )
    lines.append("")
    if table.empty:
        lines.append(
            f"No (model, training set) of the grid trains {label(ref)} and another method, so there is "
            "nothing to compare (set report.paired.reference to a method of the grid)."
        )
        return "\n".join(lines) + "\n"
    bench = [b for b in cfg["benchmarks"] if b in set(table["benchmark"])]
    for (model, ts), block in table.groupby(["model", "train_set"], sort=False):
        ref_seeds = int(block["reference_n_seeds"].iloc[0])
        for k, kb in block.groupby("k", sort=True):
            lines += [
                f"## {model}, trained on {ts}: pass@{k} ({label(ref)}: {ref_seeds} "
                f"seed{'s' if ref_seeds != 1 else ''})",
                "",
            ]
            lines.append("| Method | Seeds | " + " | ".join(bench) + " |")
            lines.append("|---|---:|" + "---:|" * len(bench))
            for method, mb in kb.groupby("method", sort=False):
                cells = []
                for b in bench:
                    r = mb[mb["benchmark"] == b]
                    if r.empty:
                        cells.append("–")
                        continue
                    r = r.iloc[0]
                    if r["diff_ci_low"] == r["diff_ci_low"]:
                        cells.append(
                            f"{_pp(r['diff'])} [{_pp(r['diff_ci_low'])}, {_pp(r['diff_ci_high'])}], {_p(r['p_value'])}"
                        )
                    else:
                        cells.append(f"{_pp(r['diff'])} [–]")
                lines.append(f"| {label(method)} | {int(mb['n_seeds'].iloc[0])} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def make_paired(cfg: dict, problems: list[str | Path]) -> tuple[pd.DataFrame, str]:
    table = compare(cfg, problems)
    return table, to_markdown(cfg, table)


def _run(args, cfg: dict) -> list:
    return write_tables(args.out, *make_paired(cfg, args.problems))


COMMAND = Command(
    "paired",
    "paired differences with the reference method (CSV and Markdown)",
    _run,
    (
        Arg(
            ("--problems",),
            {"nargs": "*", "default": [], "help": "problems.parquet of each rsrl.report.paired.targets entry"},
        ),
    ),
)
