"""Coverage of the report's intervals, measured by simulation with a known truth.

Every interval the report prints is checked here in the shapes this pipeline produces (1, 3 and 5 training
seeds; 30 and 500 problems; pass rates near 0, in the middle and near 1). One replication draws:

- problems: logit difficulty ``d_i ~ N(m, TAU)`` (``m`` sets the regime, :data:`REGIMES`);
- each training seed ``s`` of a method: a shift ``u_s ~ N(0, SIGMA_SEED)`` of every problem's logit and a
  seed × problem interaction ``e_si ~ N(0, OMEGA)`` (different seeds solve different problems);
- a method's effect: ``delta`` added to the logit (the compared method has :data:`DELTA`, the reference 0);
- samples: ``c_si ~ Binomial(N_SAMPLES, p_si)``, ``p_si = sigmoid(d_i + delta + u_s + e_si)``, and per-problem
  pass@k by the unbiased estimator (:func:`rsrl.passk.pass_at_k`), whose expectation given ``p`` is
  ``g(p) = 1 − (1 − p)^k``.

Truths (each an integral of ``g`` over normal logits, by Gauss–Hermite quadrature, :func:`expected_pass`):

- across-seed mean on a benchmark (Table 2's summary rows, the seed bands of Fig. 4–6): the expectation over
  seeds for the benchmark's problems, ``mean_i E[g(d_i + delta + u + e)]``;
- one run over problems (the evaluation stage's interval): that run's expectation over the problem population,
  ``E[g(d + delta + u_s + e)]`` given its ``u_s``;
- the paired difference with the reference (``paired_diff``): the difference of the two methods' expectations over
  problems and seeds.

:func:`simulate` returns, per shape and method, the share of replications whose interval holds the truth (and
how often a method prints none). ``benchmarks/bench_coverage.py`` runs the full table; the test suite a small,
seeded one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rsrl.passk import bootstrap_ci, paired_bootstrap_diff, pass_at_k, problem_ci, seed_t_diff
from rsrl.report.seeds import seed_interval, t_interval

TAU = 1.5  # spread of problem difficulty (logit)
SIGMA_SEED = 0.4  # seed-to-seed shift (logit)
OMEGA = 0.5  # seed × problem interaction (logit)
DELTA = 0.3  # the compared method's effect (logit)
N_SAMPLES = 32
LEVEL = 0.95
#: regime -> (logit mean of difficulty, k): pass@1 near 0, pass@1 in the middle, pass@32 near 1.
REGIMES = {"near 0": (-4.5, 1), "middle": (0.0, 1), "near 1": (1.0, 32)}
SEEDS = (1, 3, 5)
PROBLEMS = (30, 500)
COLUMNS = [
    "interval",
    "method",
    "seeds",
    "problems",
    "regime",
    "k",
    "truth",
    "coverage",
    "printed",
    "mean_width",
    "replications",
]
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(64)  # nodes and weights for the standard normal


def expected_pass(mean, sd: float, k: int) -> np.ndarray:
    """``E[1 − (1 − sigmoid(X))^k]`` for ``X ~ N(mean, sd)`` (``mean`` an array), by 64-node Gauss–Hermite."""
    mean = np.asarray(mean, dtype=float)
    x = mean[..., None] + sd * _GH_X
    p = 1.0 / (1.0 + np.exp(-x))
    return (1.0 - (1.0 - p) ** k) @ _GH_W / np.sqrt(2 * np.pi)


@dataclass(frozen=True)
class Draw:
    """One replication: per-problem pass@k ``[seeds, problems]`` of the method and the reference, the problems'
    logits and each of the method's seed shifts."""

    method: np.ndarray
    reference: np.ndarray
    difficulty: np.ndarray
    shifts: np.ndarray


def draw(rng: np.random.Generator, seeds: int, problems: int, m: float, k: int) -> Draw:
    d = rng.normal(m, TAU, problems)
    out, shifts = [], None
    for delta in (DELTA, 0.0):
        u = rng.normal(0.0, SIGMA_SEED, seeds)
        logit = d[None, :] + delta + u[:, None] + rng.normal(0.0, OMEGA, (seeds, problems))
        c = rng.binomial(N_SAMPLES, 1.0 / (1.0 + np.exp(-logit)))
        out.append(pass_at_k(N_SAMPLES, c, k))
        shifts = u if shifts is None else shifts
    return Draw(out[0], out[1], d, shifts)


def _old_seed(values: np.ndarray) -> tuple[float, float]:
    mean, hw, _ = t_interval(values, LEVEL)
    return mean - hw, mean + hw


def _new_seed(values: np.ndarray, runs: list) -> tuple[float, float]:
    _, lo, hi = seed_interval(values, LEVEL, ([r.low for r in runs], [r.high for r in runs]))
    return lo, hi


def simulate(
    reps: int,
    seed: int = 0,
    seeds=SEEDS,
    problems=PROBLEMS,
    regimes=None,
    n_boot: int = 1000,
    intervals=("across-seed mean", "pass@k over problems", "paired difference"),
) -> pd.DataFrame:
    """Coverage of each interval (old and new method) in every shape; one row per (interval, method, shape).

    ``coverage`` is the share of the replications that print an interval whose closed range holds the truth
    (NaN where none is printed), ``printed`` the share that print one, ``mean_width`` its mean width and ``truth``
    the mean true value over replications.
    """
    regimes = regimes or list(REGIMES)
    rng = np.random.default_rng(seed)
    rows = []
    for regime in regimes:
        m, k = REGIMES[regime]
        pop = {
            delta: float(expected_pass(m + delta, np.sqrt(TAU**2 + SIGMA_SEED**2 + OMEGA**2), k))
            for delta in (DELTA, 0.0)
        }
        for n_p in problems:
            for n_s in seeds:
                hits: dict[tuple[str, str], list[tuple[float, float, float]]] = {}

                def add(interval, method, lo, hi, truth):
                    hits.setdefault((interval, method), []).append((lo, hi, truth))

                for _ in range(reps):
                    dr = draw(rng, n_s, n_p, m, k)
                    runs = [problem_ci(x, n_boot=n_boot, alpha=1 - LEVEL, seed=rng) for x in dr.method]
                    if "across-seed mean" in intervals:
                        truth = float(expected_pass(dr.difficulty + DELTA, np.hypot(SIGMA_SEED, OMEGA), k).mean())
                        per_seed = dr.method.mean(axis=1)
                        add("across-seed mean", "t over seeds (old)", *_old_seed(per_seed), truth)
                        add(
                            "across-seed mean",
                            "t over seeds ∪ runs' intervals, clipped (new)",
                            *_new_seed(per_seed, runs),
                            truth,
                        )
                    if "pass@k over problems" in intervals and n_s == seeds[0]:
                        truth = float(expected_pass(DELTA + dr.shifts[0] + m, np.hypot(TAU, OMEGA), k))
                        ci = bootstrap_ci(dr.method[0], n_boot=n_boot, alpha=1 - LEVEL, seed=rng)
                        add("pass@k over problems", "percentile bootstrap (old)", ci.low, ci.high, truth)
                        add("pass@k over problems", "bootstrap ∪ Wilson score (new)", runs[0].low, runs[0].high, truth)
                    if "paired difference" in intervals:
                        truth = pop[DELTA] - pop[0.0]
                        old = paired_bootstrap_diff(dr.method, dr.reference, n_boot=n_boot, seed=rng, by_seed=True)
                        new = seed_t_diff(dr.method, dr.reference, alpha=1 - LEVEL)
                        add("paired difference", "bootstrap over problems and seeds (old)", old.low, old.high, truth)
                        add("paired difference", "Welch t ∪ Newcombe score (new)", new.low, new.high, truth)
                for (interval, method), v in hits.items():
                    a = np.asarray(v, dtype=float)
                    lo, hi, truth = a[:, 0], a[:, 1], a[:, 2]
                    printed = np.isfinite(lo) & np.isfinite(hi)
                    inside = printed & (lo <= truth + 1e-12) & (truth <= hi + 1e-12)
                    n_print = int(printed.sum())
                    rows.append(
                        {
                            "interval": interval,
                            "method": method,
                            "seeds": n_s if interval != ("pass@k over problems") else 1,
                            "problems": n_p,
                            "regime": regime,
                            "k": k,
                            "truth": float(truth.mean()),
                            "coverage": inside.sum() / n_print if n_print else np.nan,
                            "printed": n_print / len(a),
                            "mean_width": float((hi - lo)[printed].mean()) if n_print else np.nan,
                            "replications": len(a),
                        }
                    )
    return pd.DataFrame(rows, columns=COLUMNS)


def binomial_band(coverage: float, reps: int, level: float = 0.99) -> tuple[float, float]:
    """Where a measured coverage of ``reps`` replications lies with probability ``level`` if the true coverage
    is ``coverage`` (binomial quantiles, as shares)."""
    lo, hi = stats.binom.ppf([(1 - level) / 2, (1 + level) / 2], reps, coverage)
    return lo / reps, hi / reps


def to_markdown(table: pd.DataFrame) -> str:
    """The coverage table, one block per interval, with a caption stating what each interval is."""
    captions = {
        "across-seed mean": "Table 2's summary rows and the seed bands of Fig. 4–6 (truth: the method's expectation "
        "over seeds on the benchmark's problems). Old: the mean over seeds ± the 95 % Student-t "
        "half-width over seeds. New: that interval widened to at least the mean of the runs' "
        "own intervals over problems, clipped to [0, 1]. One seed: neither prints an interval.",
        "pass@k over problems": "The evaluation stage's interval of one run (metrics.csv, Fig. 4's single-run bands; "
        "truth: the run's expectation over the problem population). Old: 95 % percentile "
        "bootstrap over problems. New: its hull with the Wilson score interval.",
        "paired difference": "paired_diff: method − reference (truth: the difference of the methods' expectations "
        "over problems and seeds). Old: 95 % percentile bootstrap resampling problems (shared) "
        "and each method's seeds. New: Welch t over seeds with the paired problem variance, "
        "hull with Newcombe's score interval, clipped to [−1, 1]; one seed: no interval.",
    }
    lines = []
    for interval, block in table.groupby("interval", sort=False):
        lines += [f"### {interval}", "", captions.get(interval, ""), ""]
        lines.append("| method | seeds | problems | regime (k) | truth | coverage | printed | mean width |")
        lines.append("|---|---:|---:|---|---:|---:|---:|---:|")
        for _, r in block.iterrows():
            cov = "–" if np.isnan(r["coverage"]) else f"{100 * r['coverage']:.1f} %"
            width = "–" if np.isnan(r["mean_width"]) else f"{100 * r['mean_width']:.1f}"
            lines.append(
                f"| {r['method']} | {r['seeds']} | {r['problems']} | {r['regime']} ({r['k']}) | "
                f"{100 * r['truth']:.1f} % | {cov} | {100 * r['printed']:.0f} % | {width} |"
            )
        lines.append("")
    return "\n".join(lines)
