"""Fig. 7(b) as the paper draws it: per-problem accuracy of the reference method (GRPO) against the method under
study (RS-GRPO), binned, as a transition matrix.

Each problem's accuracy c/n of one run falls in one of :data:`BINS`: 0 (never solved in n samples),
(0, 0.4], (0.4, 0.8], (0.8, 1) and 1 (always solved). For one run of the reference and one run of the method, the
*transition matrix* counts the problems (pooled over the focus cell's benchmarks) by (reference bin, method bin).
A method trained from several seeds is compared run against run, as the paper compares its two runs: the matrix
is pooled over every (reference seed, method seed) pair (the counts summed, then divided by their total, so each
pair weighs the same), and the *seed spread* of a share is its minimum and maximum over the pairs.

The headline, :data:`HEADLINE`: of the problems the reference never solves (accuracy 0), the share the method solves
with accuracy in (0, 0.4] — the paper reports 0.08 for GRPO → RS-GRPO (:data:`PAPER_SHARE`; the paper's panel
gives shares, and whether its 0.08 is a share of the unsolved problems or of all problems is not stated in its
text; this table gives both, ``share`` of the unsolved and ``share_of_all``, and compares the paper's value with
``share``).

Roles come from the config: the reference is ``report.paired.reference`` (:func:`rsrl.report.paired.
reference_method`), the method the RS-GRPO run of the focus cell with the largest β (or ``--beta``;
:func:`rsrl.report.diversity.choose_beta`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from rsrl.report.style import method_label, note

#: Accuracy bins, as the paper's Fig. 7(b) labels them.
BINS = ("0", "(0, 0.4]", "(0.4, 0.8]", "(0.8, 1)", "1")
#: (reference bin, method bin) of the headline share: never solved → solved with accuracy in (0, 0.4].
HEADLINE = (0, 1)
#: The paper's value of the headline share (Fig. 7(b) of arXiv 2509.24261: GRPO → RS-GRPO).
PAPER_SHARE = 0.08
MATRIX_COLUMNS = [
    "model",
    "train_set",
    "reference",
    "method",
    "reference_bin",
    "method_bin",
    "count",
    "share",
    "share_min",
    "share_max",
    "n_pairs",
]
HEADLINE_COLUMNS = [
    "model",
    "train_set",
    "reference",
    "method",
    "benchmarks",
    "n_problems",
    "reference_n_seeds",
    "method_n_seeds",
    "n_pairs",
    "unsolved",
    "share",
    "share_min",
    "share_max",
    "share_of_all",
    "paper",
    "delta",
]


def bin_index(c, n) -> np.ndarray:
    """The bin of each accuracy c/n (exact: from the counts, not from a rounded accuracy)."""
    c, n = np.asarray(c, dtype=np.int64), np.asarray(n, dtype=np.int64)
    if np.any((c < 0) | (c > n) | (n < 1)):
        raise ValueError("bin_index: need 0 <= c <= n and n >= 1")
    # (0, 0.4] is 0 < c/n <= 2/5, i.e. 5c <= 2n; (0.4, 0.8] is 5c <= 4n (integer arithmetic, no rounding)
    return np.select([c == 0, 5 * c <= 2 * n, 5 * c <= 4 * n, c < n], [0, 1, 2, 3], default=4)


def transition_counts(ref: pd.DataFrame, method: pd.DataFrame) -> np.ndarray:
    """[5, 5] counts of problems by (reference bin, method bin) on the problems both tables have (columns
    ``problem_id``, ``n``, ``c``)."""
    j = ref[["problem_id", "n", "c"]].merge(method[["problem_id", "n", "c"]], on="problem_id", suffixes=("_r", "_m"))
    counts = np.zeros((len(BINS), len(BINS)), dtype=np.int64)
    if len(j):
        np.add.at(counts, (bin_index(j["c_r"], j["n_r"]), bin_index(j["c_m"], j["n_m"])), 1)
    return counts


@dataclass(frozen=True)
class Transitions:
    """The pooled transition matrix of one (reference, method) comparison and the per-pair matrices."""

    reference: str
    method: str
    pairs: np.ndarray  # [pairs, 5, 5] counts of each (reference run, method run) pair
    reference_runs: int
    method_runs: int

    @property
    def counts(self) -> np.ndarray:
        return self.pairs.sum(axis=0)

    @property
    def n_problems(self) -> int:
        return int(self.pairs[0].sum()) if len(self.pairs) else 0

    def shares(self) -> np.ndarray:
        """[5, 5] shares of all problems, pooled over the pairs (NaN without problems)."""
        total = self.counts.sum()
        return self.counts / total if total else np.full(self.counts.shape, np.nan)

    def pair_shares(self) -> np.ndarray:
        """[pairs, 5, 5] each pair's shares of all problems."""
        tot = self.pairs.sum(axis=(1, 2), keepdims=True).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, self.pairs / tot, np.nan)

    def headline(self, counts: np.ndarray | None = None) -> tuple[float, float]:
        """(share of the reference's unsolved problems, share of all problems) in the headline cell."""
        counts = self.counts if counts is None else counts
        r, m = HEADLINE
        unsolved, total = counts[r].sum(), counts.sum()
        return (counts[r, m] / unsolved if unsolved else np.nan, counts[r, m] / total if total else np.nan)

    def headline_spread(self) -> tuple[float, float]:
        """Minimum and maximum of the headline share (of the unsolved) over the seed pairs (NaN where none of the
        pairs has an unsolved problem)."""
        values = np.array([self.headline(p)[0] for p in self.pairs], dtype=float)
        values = values[np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else (np.nan, np.nan)


def compare(
    frames: dict[tuple[str, str], pd.DataFrame],
    bench: list[str],
    reference_runs: tuple[str, ...],
    method_runs: tuple[str, ...],
    reference: str,
    method: str,
) -> Transitions:
    """Transitions of ``method_runs`` against ``reference_runs`` pooled over ``bench``; ``frames`` maps (run id,
    benchmark) to its problems table."""
    pairs = []
    for r in reference_runs:
        for m in method_runs:
            pairs.append(sum(transition_counts(frames[(r, b)], frames[(m, b)]) for b in bench))
    return Transitions(
        reference,
        method,
        np.asarray(pairs, dtype=np.int64).reshape(-1, len(BINS), len(BINS)),
        len(reference_runs),
        len(method_runs),
    )


def tables(t: Transitions, model: str, train_set: str, bench: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long-form matrix (:data:`MATRIX_COLUMNS`) and the headline row (:data:`HEADLINE_COLUMNS`)."""
    shares, per = t.shares(), t.pair_shares()
    rows = []
    for i, fb in enumerate(BINS):
        for j, tb in enumerate(BINS):
            rows.append(
                {
                    "model": model,
                    "train_set": train_set,
                    "reference": t.reference,
                    "method": t.method,
                    "reference_bin": fb,
                    "method_bin": tb,
                    "count": int(t.counts[i, j]),
                    "share": float(shares[i, j]),
                    "share_min": float(np.nanmin(per[:, i, j])) if len(per) else np.nan,
                    "share_max": float(np.nanmax(per[:, i, j])) if len(per) else np.nan,
                    "n_pairs": len(t.pairs),
                }
            )
    share, of_all = t.headline()
    lo, hi = t.headline_spread()
    head = {
        "model": model,
        "train_set": train_set,
        "reference": t.reference,
        "method": t.method,
        "benchmarks": ",".join(bench),
        "n_problems": t.n_problems,
        "reference_n_seeds": t.reference_runs,
        "method_n_seeds": t.method_runs,
        "n_pairs": len(t.pairs),
        "unsolved": float(t.counts[HEADLINE[0]].sum() / t.counts.sum()) if t.counts.sum() else np.nan,
        "share": share,
        "share_min": lo,
        "share_max": hi,
        "share_of_all": of_all,
        "paper": PAPER_SHARE,
        "delta": share - PAPER_SHARE,
    }
    return (pd.DataFrame(rows, columns=MATRIX_COLUMNS), pd.DataFrame([head], columns=HEADLINE_COLUMNS))


def _pct(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{100 * x:.1f} %"


def to_markdown(head: pd.DataFrame, matrix: pd.DataFrame) -> str:
    lines = ["# Fig. 7(b): per-problem accuracy, reference → method", ""]
    lines.append(
        "Each problem's accuracy c/n (n samples) of one run, binned 0, (0, 0.4], (0.4, 0.8], (0.8, 1), 1; "
        "counted by (reference bin, method bin) over the benchmarks listed. Several seeds: every "
        "(reference seed, method seed) pair is one comparison; counts are pooled over the pairs and the "
        "seed spread is the minimum–maximum over them. *Share*: of the problems the reference never "
        "solves, the share the method solves with accuracy in (0, 0.4]; *of all*: the same problems as a "
        f"share of all problems. The paper reports {PAPER_SHARE:g} for GRPO → RS-GRPO (its text does not "
        "say which of the two shares it is; *delta* compares it with *share*)."
    )
    lines.append("")
    if head.empty:
        lines.append(
            "No comparison: the focus cell trains no run of the reference or of the method (see the figure's note)."
        )
        return "\n".join(lines) + "\n"
    lines.append(
        "| model | trained on | reference → method | problems | seed pairs | unsolved by reference | "
        "share [seed min, max] | of all | paper | delta |"
    )
    lines.append("|---|---|---|---:|---:|---:|---|---:|---:|---:|")
    for _, r in head.iterrows():
        spread = f" [{_pct(r['share_min'])}, {_pct(r['share_max'])}]" if r["n_pairs"] > 1 else " (one pair)"
        delta = "–" if not np.isfinite(r["delta"]) else f"{100 * r['delta']:+.1f} points"
        lines.append(
            f"| {r['model']} | {r['train_set']} | {method_label(r['reference'])} → "
            f"{method_label(r['method'])} | {r['n_problems']} | {r['n_pairs']} | {_pct(r['unsolved'])} | "
            f"{_pct(r['share'])}{spread} | {_pct(r['share_of_all'])} | {_pct(r['paper'])} | {delta} |"
        )
    lines += ["", "Pooled transition matrix (shares of all problems; rows: reference bin, columns: method bin):", ""]
    lines.append("| reference \\ method | " + " | ".join(BINS) + " |")
    lines.append("|---|" + "---:|" * len(BINS))
    for fb in BINS:
        sub = matrix[matrix["reference_bin"] == fb].set_index("method_bin")
        lines.append(f"| {fb} | " + " | ".join(_pct(sub.loc[tb, "share"]) for tb in BINS) + " |")
    return "\n".join(lines) + "\n"


def draw(ax, t: Transitions | None, title: str, why: str = "") -> None:
    """The heatmap of ``t`` on ``ax`` (shares of all problems, pooled over seed pairs, with the seed spread in
    each cell when there are several pairs); a note instead when there is nothing to draw."""
    if t is None or t.n_problems == 0:
        note(ax, why or "no problems in common")
        ax.set_title(title)
        return
    shares, per = t.shares(), t.pair_shares()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=max(float(np.nanmax(shares)), 1e-9), origin="upper")
    for i in range(len(BINS)):
        for j in range(len(BINS)):
            txt = f"{shares[i, j]:.2f}"
            if len(per) > 1:
                txt += f"\n[{np.nanmin(per[:, i, j]):.2f}–{np.nanmax(per[:, i, j]):.2f}]"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shares[i, j] > 0.6 * np.nanmax(shares) else "#222222",
            )
    ax.set_xticks(range(len(BINS)), BINS, fontsize=7)
    ax.set_yticks(range(len(BINS)), BINS, fontsize=7)
    ax.grid(False)
    ax.set_xlabel(f"{method_label(t.method)}: per-problem accuracy c/n")
    ax.set_ylabel(f"{method_label(t.reference)}: per-problem accuracy c/n")
    share, _ = t.headline()
    r, m = HEADLINE
    ax.add_patch(Rectangle((m - 0.5, r - 0.5), 1, 1, fill=False, ec="#d62728", lw=1.8))
    pairs = (
        f"pooled over {len(t.pairs)} seed pairs ({t.reference_runs} × {t.method_runs}), [min–max] over pairs"
        if len(t.pairs) > 1
        else "one run each"
    )
    ax.set_title(
        f"{title}\n{method_label(t.reference)} → {method_label(t.method)}: shares of all {t.n_problems} "
        f"problems\n{pairs}\nframed: unsolved by {method_label(t.reference)} → (0, 0.4]: {_pct(share)} of "
        f"the unsolved (paper {PAPER_SHARE:g})",
        fontsize=8,
    )
