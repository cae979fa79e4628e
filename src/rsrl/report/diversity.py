"""Fig. 7: answer diversity and per-problem accuracy, GRPO against RS-GRPO.

(a) Share of distinct final answers among the samples of a problem (distinct answers / n, mean over problems)
per method and benchmark. Answers are counted up to math equivalence (``n_distinct`` of problems.parquet: the
answer classes of :mod:`rsrl.evaluate.metrics`, so ``x=2`` and ``2`` are one answer). (b) As the paper draws it:
per-problem accuracy of the reference (``report.paired.reference``, GRPO) and of RS-GRPO with one β, binned, as a
transition matrix pooled over benchmarks and seed pairs (:mod:`rsrl.report.transitions`, which also writes it as a
table with the paper's headline share).

A method trained with several seeds (runs ``<method>.seed<s>``, pooled by :func:`rsrl.report.seeds.group_runs`) is
one entry, labelled with the number of seeds: each problem's distinct-answer share and accuracy are the mean over
its seeds (on the problems every seed was evaluated on), so (a) shows one bar per method, with the 95 % Student-t
interval over seeds of the seeds' mean shares as an error bar (clipped to 0–100 %); (b) compares run with run and
pools the seed pairs. A method with a single run is drawn from that run's values, without an error bar.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.methods import BASE, parts
from rsrl.report import transitions as tr
from rsrl.report.command import Arg, Command, write_figure, write_tables
from rsrl.report.inputs import read_problems
from rsrl.report.paired import reference_method
from rsrl.report.seeds import Series, group_runs, seed_interval
from rsrl.report.style import apply_style, method_beta, method_color, method_label, note

log = logging.getLogger(__name__)

#: Columns of :func:`pool_problems`'s table.
POOLED_COLUMNS = ["problem_id", "n", "accuracy", "share"]


def choose_beta(cfg: dict, methods: list[str], beta: float | None) -> str | None:
    """The RS-GRPO method compared with GRPO: the given β, else the largest β in the grid cell."""
    rs = {method_beta(m): m for m in methods if method_beta(m) is not None}
    if beta is None:
        return rs[max(rs)] if rs else None
    if float(beta) not in rs:
        raise ValueError(
            f"--beta {beta:g}: no RS-GRPO run with this β in the grid cell; available βs are {sorted(rs)}."
        )
    return rs[float(beta)]


def pool_problems(frames: list[pd.DataFrame], what: str = "") -> tuple[pd.DataFrame, np.ndarray]:
    """One method's per-problem values on one benchmark from the problems.parquet of each of its runs (seeds).

    Returns a table with columns :data:`POOLED_COLUMNS`, one row per problem (in the first run's order): ``n`` the
    samples per problem (the most of any run), ``accuracy`` the solve rate c/n and ``share`` the distinct-answer
    share n_distinct/n, each the mean over the runs; with several runs only the problems every run has are kept.
    The second value holds each run's mean share over those problems (what the interval over seeds is taken of).
    A single run's table is its own values.
    """
    if len(frames) == 1:
        df = frames[0]
        out = df[["problem_id", "n", "accuracy"]].assign(share=df["n_distinct"] / df["n"])
        return out, np.array([float(out["share"].mean()) if len(out) else np.nan])
    common = set.intersection(*(set(f["problem_id"]) for f in frames))
    order = [p for p in frames[0]["problem_id"] if p in common]
    sizes = [len(f) for f in frames]
    if len(order) < max(sizes):
        log.warning(
            "%s: the %d runs have %s problems; %d in common are pooled", what or "runs", len(frames), sizes, len(order)
        )
    per = [f.drop_duplicates("problem_id").set_index("problem_id").loc[order] for f in frames]
    n = np.max([p["n"].to_numpy() for p in per], axis=0)
    acc = np.vstack([p["accuracy"].to_numpy(dtype=float) for p in per])
    share = np.vstack([(p["n_distinct"] / p["n"]).to_numpy(dtype=float) for p in per])
    out = pd.DataFrame(
        {
            "problem_id": order,
            "n": n,
            "accuracy": acc.mean(axis=0) if order else [],
            "share": share.mean(axis=0) if order else [],
        },
        columns=POOLED_COLUMNS,
    )
    return out, (share.mean(axis=1) if order else np.full(len(frames), np.nan))


def make_fig7(cfg: dict, problems: list[str | Path], beta: float | None = None) -> plt.Figure:
    """Fig. 7 from the per-problem tables of the focus cell's checkpoints, one file per
    :func:`rsrl.grid.diversity_targets` entry; the runs (seeds) of one method are pooled."""
    apply_style()
    targets = grid.diversity_targets(cfg)
    problems = grid.match_files(targets, grid.PROBLEMS_PATTERN, problems, "fig7 --problems")
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1.5, 1]})
    if not targets:
        note(ax_a, "the configured grid has no trained cells")
        note(ax_b, "the configured grid has no trained cells")
        fig.suptitle("Fig. 7: answer diversity (no data)")
        return fig
    ckpts = list(dict.fromkeys(c for c, _ in targets))
    model = ckpts[-1].model
    train_set = next((c.train_set for c in ckpts if not c.is_base), BASE)
    frames = {(c.id, b): read_problems(f) for (c, b), f in zip(targets, problems)}
    bench = list(cfg["benchmarks"])
    series = group_runs([c.id for c in ckpts])
    pooled = {
        (s.key, b): pool_problems([frames[(r, b)] for r in s.runs], what=f"{s.key} on {b}")
        for s in series
        for b in bench
    }
    any_pooled = any(s.pooled for s in series)

    # (a) Distinct-answer share.
    width = 0.8 / len(series)
    x = np.arange(len(bench))
    for i, s in enumerate(series):
        share = [float(pooled[(s.key, b)][0]["share"].mean()) if len(pooled[(s.key, b)][0]) else np.nan for b in bench]
        pos = x - 0.4 + width * (i + 0.5)
        ax_a.bar(
            pos, 100 * np.asarray(share), width, color=method_color(s.key), label=s.label, edgecolor="white", lw=0.5
        )
        if s.pooled:
            ci = np.array([seed_interval(pooled[(s.key, b)][1])[1:] for b in bench])
            mid = 100 * np.asarray(share)
            yerr = np.vstack([mid - 100 * ci[:, 0], 100 * ci[:, 1] - mid])
            ok = np.isfinite(yerr).all(axis=0)
            if ok.any():
                ax_a.errorbar(
                    pos[ok],
                    mid[ok],
                    yerr=yerr[:, ok],
                    fmt="none",
                    ecolor="#333333",
                    elinewidth=0.9,
                    capsize=2.5,
                    zorder=3,
                )
    ticks = []
    for b in bench:
        df = pooled[(series[0].key, b)][0]
        n = int(df["n"].max()) if len(df) else 0
        ticks.append(f"{b}\n{len(df)} problems, n={n}")
    ax_a.set_xticks(x, ticks, fontsize=7)
    ax_a.set_ylabel("distinct answers (up to equivalence) / samples\nper problem (%, mean over problems)")
    title_a = f"(a) Share of distinct final answers — {model}, trained on {train_set}"
    if any_pooled:
        title_a += "\n(error bars of a mean of seeds: 95% t-interval over seeds, clipped to 0–100%"
        title_a += "; one run: no error bar)" if not all(s.pooled for s in series) else ")"
    ax_a.set_title(title_a)
    ax_a.legend(fontsize=8, ncol=2, loc="upper left")
    ax_a.grid(axis="x", visible=False)

    # (b) Per-problem accuracy bins, reference → RS-GRPO.
    t, why = _transitions(cfg, series, frames, bench, beta, model, train_set)
    tr.draw(ax_b, t, "(b) Per-problem accuracy bins", why)
    title = "Fig. 7: diversity of answers and per-problem accuracy (n = samples per problem)"
    if any_pooled:
        title += (
            "\na method trained with several seeds: (a) per problem, the mean over its seeds; (b) run against "
            "run, pooled over seed pairs"
        )
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.92 if any_pooled else 0.96))
    return fig


def _transitions(
    cfg: dict, series: list[Series], frames: dict, bench: list[str], beta: float | None, model: str, train_set: str
) -> tuple[tr.Transitions | None, str]:
    """The transition matrix of the reference (``report.paired.reference``) → RS-GRPO with the chosen β, or None
    and why not."""
    ref_id = reference_method(cfg)
    rs_key = choose_beta(cfg, [s.key for s in series], beta)
    rs = next((s for s in series if s.key == rs_key), None)
    ref = next((s for s in series if parts(s.key)[0] == ref_id), None)
    missing = [name for name, ok in ((method_label(ref_id), ref is not None), ("RS-GRPO", rs is not None)) if not ok]
    if missing:
        return None, f"panel skipped: no {' or '.join(missing)} run for\n{model} / {train_set} in the configured grid"
    return tr.compare(frames, bench, ref.runs, rs.runs, parts(ref.key)[0], parts(rs.key)[0]), ""


def make_transitions(cfg: dict, problems: list[str | Path], beta: float | None = None):
    """Fig. 7(b) on its own, with its tables: (figure, long-form matrix, headline row, Markdown), from the same
    files as :func:`make_fig7`."""
    apply_style()
    targets = grid.diversity_targets(cfg)
    problems = grid.match_files(targets, grid.PROBLEMS_PATTERN, problems, "fig7b --problems")
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    title = "Fig. 7(b): per-problem accuracy bins"
    if not targets:
        tr.draw(ax, None, title, "the configured grid has no trained cells")
        empty = (pd.DataFrame(columns=tr.MATRIX_COLUMNS), pd.DataFrame(columns=tr.HEADLINE_COLUMNS))
        return fig, *empty, tr.to_markdown(empty[1], empty[0])
    ckpts = list(dict.fromkeys(c for c, _ in targets))
    model = ckpts[-1].model
    train_set = next((c.train_set for c in ckpts if not c.is_base), BASE)
    frames = {(c.id, b): read_problems(f) for (c, b), f in zip(targets, problems)}
    bench = list(cfg["benchmarks"])
    t, why = _transitions(cfg, group_runs([c.id for c in ckpts]), frames, bench, beta, model, train_set)
    tr.draw(ax, t, f"{title}\n{model}, trained on {train_set}", why)
    fig.tight_layout()
    if t is None:
        empty = (pd.DataFrame(columns=tr.MATRIX_COLUMNS), pd.DataFrame(columns=tr.HEADLINE_COLUMNS))
        return fig, *empty, tr.to_markdown(empty[1], empty[0])
    matrix, head = tr.tables(t, model, train_set, bench)
    return fig, matrix, head, tr.to_markdown(head, matrix)


_PROBLEMS = Arg(
    ("--problems",),
    {"nargs": "*", "default": [], "help": "problems.parquet of each rsrl.grid.diversity_targets entry, in that order"},
)
_BETA = Arg(
    ("--beta",),
    {
        "type": float,
        "default": None,
        "help": "RS-GRPO β compared with the reference in panel (b) (default: the largest in the grid)",
    },
)


def _run_fig7(args, cfg: dict) -> list:
    return write_figure(make_fig7(cfg, args.problems, beta=args.beta), args.out)


def _run_fig7b(args, cfg: dict) -> list:
    from rsrl.io import write_table

    fig, matrix, head, md = make_transitions(cfg, args.problems, beta=args.beta)
    paths = write_tables(args.out, head, md)
    write_table(args.matrix_out, matrix)
    return [*paths, Path(args.matrix_out), *write_figure(fig, args.figure)]


COMMANDS = (
    Command("fig7", "Fig. 7: answer diversity", _run_fig7, (_PROBLEMS, _BETA)),
    Command(
        "fig7b",
        "Fig. 7(b): accuracy-bin transitions, reference → RS-GRPO (figure and tables)",
        _run_fig7b,
        (
            _PROBLEMS,
            _BETA,
            Arg(("--figure",), {"required": True, "help": "figure path stem"}),
            Arg(("--matrix-out",), {"required": True, "help": "the transition matrix in long form (CSV)"}),
        ),
    ),
)
