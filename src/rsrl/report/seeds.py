"""Across-seed summaries: the mean over a method's training seeds and a 95 % Student-t interval over them.

A grid block that lists ``seeds`` trains one run per seed (run id ``<method>.seed<s>``, :mod:`rsrl.methods`). The
report compares *methods* (``method_id``: the run id without seed and step), so wherever a method has several runs
it shows their mean and, over the ``s`` seeds,

    mean ± t_{0.975, s-1} · sd / √s          (sd with s − 1 degrees of freedom)

the 95 % confidence interval of the mean over seeds, clipped to :data:`LIMITS` (every value the report summarizes
is a share: pass@k, a reward of 0 or 1, a solve rate, a share of distinct answers). Where each run also has its own
interval over problems (``bounds``: the evaluation stage's, :func:`rsrl.passk.problem_ci`), the interval is the hull
of the t-interval and the mean over seeds of the runs' bounds: at pass@32 near 1 on 30 problems every seed scores
1.0, the t-interval closes to a point and covered 19 % of simulated cases; the hull covers (``benchmarks/
bench_coverage.py``). With one seed the interval is undefined and left empty (NaN), never zero: seed-to-seed
variation cannot be estimated from one run.

:func:`group_runs` decides which runs are pooled (all runs of one method id in a (model, training set)),
:func:`summarize` computes the summary of any table of per-run values, and :func:`series_label` names a pooled
series in tables and legends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rsrl import methods as mth

LEVEL = 0.95
#: The range of every summarized value; intervals are clipped to it.
LIMITS = (0.0, 1.0)
#: Columns that name one run (one seed) rather than what is compared across seeds.
RUN_COLUMNS = ("seed", "method", "base_method")


def t_interval(values, level: float = LEVEL) -> tuple[float, float, int]:
    """(mean, half-width, number of values) of the Student-t interval of the mean of ``values``.

    The half-width is ``t_{(1+level)/2, s-1} · sd / √s``; NaN for a single value. A NaN among the values makes
    the mean and the half-width NaN (a seed without a value leaves the summary empty rather than biased).
    """
    v = np.asarray(values, dtype=float).ravel()
    s = v.size
    if s == 0:
        return np.nan, np.nan, 0
    mean = float(v.mean())
    if s == 1 or np.isnan(mean):
        return mean, np.nan, s
    hw = float(stats.t.ppf(0.5 + level / 2, s - 1) * v.std(ddof=1) / np.sqrt(s))
    return mean, hw, s


def seed_interval(
    values, level: float = LEVEL, run_bounds: tuple | None = None, limits: tuple[float, float] | None = LIMITS
) -> tuple[float, float, float]:
    """(mean, low, high) over seeds: the Student-t interval of :func:`t_interval`, widened to the mean over seeds
    of each run's own (low, high) where ``run_bounds`` gives them (arrays, one value per seed; a NaN bound is
    ignored) and clipped to ``limits``. NaN bounds with fewer than two values."""
    mean, hw, n = t_interval(values, level)
    if n < 2 or not np.isfinite(hw):
        return mean, np.nan, np.nan
    low, high = mean - hw, mean + hw
    if run_bounds is not None:
        lo, hi = (np.asarray(x, dtype=float) for x in run_bounds)
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            low, high = min(low, float(lo.mean())), max(high, float(hi.mean()))
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    return mean, low, high


def summarize(
    rows: pd.DataFrame,
    values: str | list[str],
    by: list[str] | None = None,
    level: float = LEVEL,
    bounds: dict[str, tuple[str, str]] | None = None,
    limits: tuple[float, float] | None = LIMITS,
) -> pd.DataFrame:
    """Per group of ``by`` (default: every column but :data:`RUN_COLUMNS` and ``values``), the mean of each value
    column over the group's rows (one row per seed), its interval over seeds and the number of seeds.

    Returns the ``by`` columns, then for each value column ``v``: ``v`` (the mean), ``v_ci_low``, ``v_ci_high``
    (mean ∓ half-width clipped to ``limits``; NaN with one seed), then ``n_seeds``. ``bounds`` maps a value
    column to the columns of each run's own interval (low, high); the interval is then widened to the mean of
    those over the seeds (:func:`seed_interval`). Groups keep their first appearance's order; NaN keys
    (e.g. an empty ``step``) form groups like any other value. Two rows of one group with the same non-empty
    ``seed`` are an error (a run counted twice).
    """
    values = [values] if isinstance(values, str) else list(values)
    if by is None:
        by = [c for c in rows.columns if c not in RUN_COLUMNS and c not in values]
    out_cols = list(by) + [c for v in values for c in (v, f"{v}_ci_low", f"{v}_ci_high")] + ["n_seeds"]
    if rows.empty:
        return pd.DataFrame(columns=out_cols)
    groups = rows.groupby(list(by), sort=False, dropna=False) if by else [((), rows)]
    records = []
    for key, g in groups:
        rec = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        if "seed" in g.columns:
            seeds = g["seed"].dropna()
            if seeds.duplicated().any():
                raise ValueError(
                    f"summarize: seed {seeds[seeds.duplicated()].iloc[0]} appears twice in the group "
                    f"{rec}: a run is counted twice"
                )
        for v in values:
            lo_hi = None
            if bounds and v in bounds:
                lo_hi = (g[bounds[v][0]].to_numpy(dtype=float), g[bounds[v][1]].to_numpy(dtype=float))
            mean, low, high = seed_interval(g[v].to_numpy(dtype=float), level, lo_hi, limits)
            rec |= {v: mean, f"{v}_ci_low": low, f"{v}_ci_high": high}
        rec["n_seeds"] = len(g)
        records.append(rec)
    out = pd.DataFrame.from_records(records, columns=out_cols)
    for c in by:  # keep the key columns' dtypes (Int64 steps stay Int64)
        if c in rows.columns:
            out[c] = out[c].astype(rows[c].dtype)
    return out


@dataclass(frozen=True)
class Series:
    """What one line of a figure or one summary row shows: a single run, or all runs (seeds) of one method."""

    key: str  # the run id of a single run; the method id of a pooled method
    runs: tuple[str, ...]

    @property
    def pooled(self) -> bool:
        return len(self.runs) > 1

    @property
    def label(self) -> str:
        return series_label(self.key, len(self.runs)) if self.pooled else mth.label(self.key)


def group_runs(runs: list[str]) -> list[Series]:
    """Pool run ids by method id, in the order of each method's first run (e.g. :func:`rsrl.grid.methods_of`).

    ``[grpo.seed1, grpo.seed2, rs_beta2]`` -> ``Series(grpo, (grpo.seed1, grpo.seed2))``, ``Series(rs_beta2,
    (rs_beta2,))``. A method with a single run stays that run (``grpo.seed1`` keeps its seed in its label).
    """
    groups: dict[str, list[str]] = {}
    for r in runs:
        groups.setdefault(mth.parts(r)[0], []).append(r)
    return [Series(m if len(rs) > 1 else rs[0], tuple(rs)) for m, rs in groups.items()]


def series_label(method_id: str, n_seeds: int) -> str:
    """Display name of a method pooled over seeds: ``GRPO, mean of 3 seeds``."""
    return f"{mth.label(method_id)}, mean of {n_seeds} seeds"
