"""Unbiased pass@k and bootstrap confidence intervals over problems.

pass@k (Chen et al., 2021, "Evaluating Large Language Models Trained on Code"): with ``n`` samples of a problem of
which ``c`` are correct, the probability that at least one of ``k`` samples drawn without replacement is correct is::

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)
           = 1 - prod_{j = 0}^{k - 1} (1 - c / (n - j))

an unbiased estimate of the model's pass@k. The benchmark score is the mean over problems. ``k > n`` has no
unbiased estimate and is rejected (the widely copied reference loop silently returns 1.0 when ``n - c < k``,
which is right for ``k <= n`` but meaningless beyond it).

Computation: for every distinct ``(n, c)`` pair, ``log(1 - pass@k) = sum_{j < k} log1p(-c / (n - j))`` is a
cumulative sum over ``k``, so one pass gives every ``k`` at once, and ``-expm1`` keeps relative precision even
for tiny pass@k. Problems may have different ``n``.

Intervals: :func:`bootstrap_ci` resamples problems (percentile bootstrap of the mean). Near 0 and 1 it cannot
reach past the values it saw (every problem at pass@32 = 1 gives the point interval [1, 1]), so the interval the
evaluation stage prints, :func:`problem_ci`, is the hull of it and the Wilson score interval (:func:`wilson_ci`,
valid for a mean of values in [0, 1], whose variance is at most μ(1 − μ)). :func:`paired_bootstrap_diff`
compares two methods on the same problems, resampling problems jointly for both and, with ``by_seed=True``, also
each method's training seeds (independently per method) within every draw. With three seeds the seed resampling
under-represents seed-to-seed variation (a resample of three values has a smaller spread than the values' own
population), and its 95 % interval covered the true difference in as few as 82 % of simulated comparisons (33 % at
pass@32 near 1 on 30 problems)
(``benchmarks/bench_coverage.py``); :func:`seed_t_diff` is the interval the report prints instead: a Welch
t-interval over the methods' per-seed values with the problems' paired variance added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "pass_at_k",
    "pass_at_k_curve",
    "default_ks",
    "bootstrap_ci",
    "wilson_ci",
    "problem_ci",
    "paired_bootstrap_diff",
    "seed_t_diff",
    "PassAtKCurve",
    "BootstrapCI",
    "PairedDiff",
    "MIN_SEEDS",
]

#: Seeds per method that :func:`seed_t_diff` needs: with one, seed-to-seed variation cannot be estimated.
MIN_SEEDS = 2


def _as_int_array(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"pass_at_k: {name} must hold whole numbers; got {a.ravel()[:5].tolist()}...")
        a = a.astype(np.int64)
    elif a.dtype.kind not in "iu":
        raise ValueError(f"pass_at_k: {name} must be integers; got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def pass_at_k(n, c, k) -> np.ndarray | float:
    """Unbiased pass@k ``1 - C(n-c, k) / C(n, k)`` for arrays ``n``, ``c``, ``k`` broadcast against each other.

    ``pass_at_k(n[:, None], c[:, None], ks[None, :])`` gives the [problems, ks] matrix. Requires
    ``0 <= c <= n`` and ``1 <= k <= n``; ``k > n`` raises ValueError. Returns float64 (a float for scalars).
    """
    n_a, c_a, k_a = (_as_int_array(v, name) for v, name in ((n, "n"), (c, "c"), (k, "k")))
    n_b, c_b, k_b = np.broadcast_arrays(n_a, c_a, k_a)
    if n_b.size == 0:
        return np.zeros(n_b.shape)
    if np.any(n_b < 1):
        raise ValueError(f"pass_at_k: every problem needs n >= 1 samples; got n = {int(n_b.min())}")
    if np.any((c_b < 0) | (c_b > n_b)):
        bad = np.argwhere((c_b < 0) | (c_b > n_b))[0]
        raise ValueError(
            f"pass_at_k: need 0 <= c <= n; got c = {int(c_b[tuple(bad)])}, n = {int(n_b[tuple(bad)])} "
            f"at index {tuple(int(i) for i in bad)}"
        )
    if np.any(k_b < 1):
        raise ValueError(f"pass_at_k: k must be >= 1; got k = {int(k_b.min())}")
    if np.any(k_b > n_b):
        bad = np.argwhere(k_b > n_b)[0]
        raise ValueError(
            f"pass_at_k: k = {int(k_b[tuple(bad)])} exceeds the number of samples n = "
            f"{int(n_b[tuple(bad)])} (index {tuple(int(i) for i in bad)}); pass@k has no unbiased "
            f"estimate for k > n. Draw more samples or use k <= n."
        )
    # One table row per distinct (n, c): problems share rows, every k is a column lookup.
    n_nc, c_nc = np.broadcast_arrays(n_a, c_a)
    key = n_nc.ravel() * (int(n_b.max()) + 1) + c_nc.ravel()
    uniq, inv = np.unique(key, return_inverse=True)
    un, uc = np.divmod(uniq, int(n_b.max()) + 1)
    log_miss = _log_miss_table(un, uc, int(k_b.max()))
    row = np.broadcast_to(inv.reshape(n_nc.shape), n_b.shape)
    out = 0.0 - np.expm1(log_miss[row, k_b - 1])
    if out.ndim == 0:
        return float(out)
    return out


def _log_miss_table(n: np.ndarray, c: np.ndarray, kmax: int) -> np.ndarray:
    """[U, kmax]: log(C(n-c, k) / C(n, k)) for k = 1..kmax (entries with k > n are never read)."""
    j = np.arange(kmax)
    denom = n[:, None] - j[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log1p(-c[:, None] / denom)
    # Once fewer than k incorrect samples remain (n - j <= c) a correct one is certain: log(0) = -inf.
    terms = np.where(denom > c[:, None], terms, -np.inf)
    terms = np.where(c[:, None] == 0, 0.0, terms)
    return np.cumsum(terms, axis=1)


def default_ks(n_min: int) -> np.ndarray:
    """1, 2, 4, ... up to ``n_min``, plus ``n_min`` itself if it is not a power of two."""
    if n_min < 1:
        raise ValueError(f"default_ks: need at least one sample per problem; got n = {n_min}")
    ks = [1 << i for i in range(int(np.log2(n_min)) + 1) if (1 << i) <= n_min]
    if ks[-1] != n_min:
        ks.append(n_min)
    return np.asarray(ks, dtype=np.int64)


@dataclass(frozen=True)
class PassAtKCurve:
    ks: np.ndarray  # [K]
    per_problem: np.ndarray  # [P, K]
    mean: np.ndarray  # [K] benchmark pass@k

    def as_dict(self) -> dict[int, float]:
        return {int(k): float(v) for k, v in zip(self.ks, self.mean)}


def pass_at_k_curve(n, c, ks=None) -> PassAtKCurve:
    """pass@k of every problem at every k (a [P, K] matrix) and the benchmark mean over problems.

    ``n`` may be a scalar (same for all problems) or a per-problem array; ``ks`` defaults to
    :func:`default_ks` of the smallest ``n``.
    """
    c = np.atleast_1d(_as_int_array(c, "c"))
    n = np.broadcast_to(_as_int_array(n, "n"), c.shape)
    if c.ndim != 1:
        raise ValueError(f"pass_at_k_curve: c must be one value per problem (1-D); got shape {c.shape}")
    if c.size == 0:
        raise ValueError("pass_at_k_curve: no problems")
    ks = default_ks(int(n.min())) if ks is None else np.atleast_1d(_as_int_array(ks, "ks"))
    per = pass_at_k(n[:, None], c[:, None], ks[None, :])
    return PassAtKCurve(ks=ks, per_problem=per, mean=per.mean(axis=0))


# --------------------------------------------------------------------------------------------------------------
# Bootstrap over problems


@dataclass(frozen=True)
class BootstrapCI:
    mean: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float


@dataclass(frozen=True)
class PairedDiff:
    diff: np.ndarray | float  # mean(a - b)
    low: np.ndarray | float
    high: np.ndarray | float
    p_value: np.ndarray | float  # two-sided share of bootstrap means on the other side of zero


def _resample_weights(n_problems: int, n_boot: int, seed) -> np.ndarray:
    """[n_boot, P] counts of each item (problem, or seed) in each bootstrap resample (multinomial = resampling
    indices). ``seed`` is an RNG seed or a ``numpy.random.Generator``, which is advanced."""
    if n_boot < 1:
        raise ValueError(f"bootstrap: n_boot must be >= 1; got {n_boot}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_problems, size=(n_boot, n_problems))
    idx += np.arange(n_boot)[:, None] * n_problems
    return np.bincount(idx.ravel(), minlength=n_boot * n_problems).reshape(n_boot, n_problems).astype(np.float64)


def _prep(values, name: str) -> tuple[np.ndarray, bool]:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[0] == 0:
        raise ValueError(
            f"{name}: values must be [problems] or [problems, columns] with at least one problem; got shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: values contain NaN or inf")
    return (v[:, None] if v.ndim == 1 else v), v.ndim == 1


def _squeeze(x, one_d: bool):
    return float(x[0]) if one_d else x


def bootstrap_ci(per_problem_values, n_boot: int = 10000, alpha: float = 0.05, seed=0) -> BootstrapCI:
    """Percentile bootstrap CI of the mean over problems (columns, e.g. several k, are resampled jointly)."""
    if not 0 < alpha < 1:
        raise ValueError(f"bootstrap_ci: alpha must be in (0, 1); got {alpha}")
    v, one_d = _prep(per_problem_values, "bootstrap_ci")
    w = _resample_weights(v.shape[0], n_boot, seed)
    means = w @ v / v.shape[0]
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0)
    return BootstrapCI(_squeeze(v.mean(0), one_d), _squeeze(low, one_d), _squeeze(high, one_d))


def wilson_ci(per_problem_values, alpha: float = 0.05) -> BootstrapCI:
    """Wilson score interval of the mean of ``m`` values in [0, 1] (per column): the μ with
    ``|mean − μ| ≤ z · sqrt(μ (1 − μ) / m)``, ``z`` the normal ``1 − alpha/2`` quantile. A value in [0, 1] has
    variance at most μ(1 − μ) (equality for 0/1 values, where this is the binomial Wilson interval), so the bound
    is conservative, and it stays inside [0, 1] and off the boundary when every value is 0 or 1."""
    from scipy import stats

    v, one_d = _prep(per_problem_values, "wilson_ci")
    if np.any((v < 0) | (v > 1)):
        raise ValueError("wilson_ci: values must lie in [0, 1]")
    m = v.shape[0]
    z = float(stats.norm.ppf(1 - alpha / 2))
    mean = v.mean(0)
    centre = (mean + z * z / (2 * m)) / (1 + z * z / m)
    half = z / (1 + z * z / m) * np.sqrt(mean * (1 - mean) / m + z * z / (4 * m * m))
    low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    return BootstrapCI(_squeeze(mean, one_d), _squeeze(low, one_d), _squeeze(high, one_d))


def problem_ci(per_problem_values, n_boot: int = 10000, alpha: float = 0.05, seed=0) -> BootstrapCI:
    """The interval over problems that the evaluation stage prints for a value in [0, 1] (pass@k, a share): the
    hull of the percentile bootstrap (:func:`bootstrap_ci`) and the Wilson score interval (:func:`wilson_ci`).
    The bootstrap alone covered 10 % (30 problems) and 64 % (500 problems) of simulated runs at pass@32 near 1
    (``benchmarks/bench_coverage.py``)."""
    boot = bootstrap_ci(per_problem_values, n_boot=n_boot, alpha=alpha, seed=seed)
    wil = wilson_ci(per_problem_values, alpha=alpha)
    return BootstrapCI(boot.mean, np.minimum(boot.low, wil.low), np.maximum(boot.high, wil.high))


def _prep_seeds(values, name: str) -> tuple[np.ndarray, bool]:
    """[seeds, problems] or [seeds, problems, columns] -> [seeds, problems, columns] and whether columns were absent."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (2, 3) or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(
            f"{name}: with by_seed=True values must be [seeds, problems] or [seeds, problems, columns] "
            f"with at least one seed and one problem; got shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: values contain NaN or inf")
    return (v[:, :, None] if v.ndim == 2 else v), v.ndim == 2


def paired_bootstrap_diff(
    a, b, n_boot: int = 10000, alpha: float = 0.05, seed=0, *, by_seed: bool = False
) -> PairedDiff:
    """Mean difference ``a - b`` of two methods on the same problems with a paired percentile bootstrap CI.

    ``a`` and ``b`` are ``[problems]`` or ``[problems, columns]`` (columns, e.g. several k, are resampled
    jointly). Problem indices are resampled jointly for both methods. ``p_value`` is twice the smaller share of
    bootstrap mean differences at or beyond zero on either side (capped at 1): small when the sign of the
    difference is stable under resampling.

    ``by_seed=True``: ``a`` is ``[seeds_a, problems(, columns)]`` and ``b`` is ``[seeds_b, problems(, columns)]``,
    one row per training seed of each method (``seeds_a`` and ``seeds_b`` may differ). The difference is that of
    the means over seeds and problems. Each bootstrap draw resamples the problems (jointly for both methods) and,
    with replacement, each method's seeds, independently for ``a`` and ``b`` (seed ``s`` of one method has nothing
    to do with seed ``s`` of the other); the draw's value is the mean over its seeds and problems of ``a`` minus
    that of ``b``. With one seed per method this is the problems-only bootstrap above, draw for draw.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"paired_bootstrap_diff: alpha must be in (0, 1); got {alpha}")
    if by_seed:
        va, one_d = _prep_seeds(a, "paired_bootstrap_diff(a)")
        vb, _ = _prep_seeds(b, "paired_bootstrap_diff(b)")
        same = va.shape[1:] == vb.shape[1:]
    else:
        va, one_d = _prep(a, "paired_bootstrap_diff(a)")
        vb, _ = _prep(b, "paired_bootstrap_diff(b)")
        same = va.shape == vb.shape
        va, vb = va[None], vb[None]
    if not same:
        raise ValueError(
            f"paired_bootstrap_diff: a and b must cover the same problems; shapes {va.shape} and {vb.shape} differ"
        )
    sa, n_problems, n_cols = va.shape
    sb = vb.shape[0]
    # Every (seed of a, seed of b) pair's per-problem difference: [P, sa * sb * columns].
    pairs = (va[:, None] - vb[None, :]).transpose(2, 0, 1, 3).reshape(n_problems, sa * sb * n_cols)
    rng = np.random.default_rng(seed)
    w = _resample_weights(n_problems, n_boot, rng)
    pair_means = (w @ pairs / n_problems).reshape(n_boot, sa, sb, n_cols)
    if sa == 1 and sb == 1:
        means = pair_means[:, 0, 0]
    else:
        # Mean over resampled seeds of a minus mean over resampled seeds of b = the mean over seed pairs weighted
        # by the product of the two seed resamples' counts.
        ua = _resample_weights(sa, n_boot, rng) / sa
        ub = _resample_weights(sb, n_boot, rng) / sb
        means = np.einsum("bs,bt,bstk->bk", ua, ub, pair_means)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0)
    share = np.minimum((means <= 0).mean(0), (means >= 0).mean(0))
    p = np.minimum(1.0, 2 * share)
    diff = va.mean(axis=(0, 1)) - vb.mean(axis=(0, 1)) if (sa > 1 or sb > 1) else (va[0] - vb[0]).mean(0)
    return PairedDiff(_squeeze(diff, one_d), _squeeze(low, one_d), _squeeze(high, one_d), _squeeze(p, one_d))


def seed_t_diff(a, b, alpha: float = 0.05) -> PairedDiff:
    """Difference of two methods' mean pass@k over seeds and problems with an interval that holds at the
    boundaries (level 1 − alpha): the hull of a Welch t-interval and a score interval.

    ``a`` is ``[seeds_a, problems(, columns)]``, ``b`` is ``[seeds_b, problems(, columns)]`` on the same problems
    (columns, e.g. several k, are independent), values in [0, 1]. With ``ā_s`` the mean over problems of seed ``s``
    of ``a`` and ``d_i`` the per-problem difference of the two methods' means over seeds::

        diff = mean_s ā_s − mean_s b̄_s
        V    = var(ā) / S_a + var(b̄) / S_b + var(d) / P          (sample variances, ddof = 1)
        df   = V² / ( (var(ā)/S_a)² / (S_a − 1) + (var(b̄)/S_b)² / (S_b − 1) + (var(d)/P)² / (P − 1) )
        Welch: diff ± t_{1 − alpha/2, df} · √V

    The first two terms are the seed-to-seed variation of each method (seeds are independent between methods, so
    they are not paired); the third is the sampling of problems, paired because both methods answer the same
    ones (it also holds part of the seed noise again, which only widens the interval); ``df`` is their
    Welch–Satterthwaite degrees of freedom. Where every value sits at 0 or 1 (pass@32 near 1 on 30 problems) all
    three variances vanish, so the interval is widened to Newcombe's hybrid score interval of a difference of two
    means: with ``[l, u]`` each method's mean over seeds of its seeds' Wilson intervals over problems
    (:func:`wilson_ci`), ``[diff − √((m_a − l_a)² + (u_b − m_b)²), diff + √((u_a − m_a)² + (m_b − l_b)²)]``.
    The result is clipped to [−1, 1]. ``p_value`` is the Welch t-test's. With fewer than :data:`MIN_SEEDS` seeds
    for either method the seed variation cannot be estimated: ``low``, ``high`` and ``p_value`` are NaN.
    """
    from scipy import stats

    if not 0 < alpha < 1:
        raise ValueError(f"seed_t_diff: alpha must be in (0, 1); got {alpha}")
    va, one_d = _prep_seeds(a, "seed_t_diff(a)")
    vb, _ = _prep_seeds(b, "seed_t_diff(b)")
    if va.shape[1:] != vb.shape[1:]:
        raise ValueError(f"seed_t_diff: a and b must cover the same problems; shapes {va.shape} and {vb.shape} differ")
    sa, n_problems, n_cols = va.shape
    sb = vb.shape[0]
    ma, mb = va.mean(axis=(0, 1)), vb.mean(axis=(0, 1))
    diff = ma - mb
    if sa < MIN_SEEDS or sb < MIN_SEEDS:
        nan = np.full(n_cols, np.nan)
        return PairedDiff(
            _squeeze(diff, one_d), _squeeze(nan, one_d), _squeeze(nan.copy(), one_d), _squeeze(nan.copy(), one_d)
        )
    terms = [va.mean(axis=1).var(axis=0, ddof=1) / sa, vb.mean(axis=1).var(axis=0, ddof=1) / sb]
    dfs = [sa - 1, sb - 1]
    if n_problems > 1:
        terms.append((va.mean(axis=0) - vb.mean(axis=0)).var(axis=0, ddof=1) / n_problems)
        dfs.append(n_problems - 1)
    var = np.sum(terms, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var**2 / np.sum([t**2 / d for t, d in zip(terms, dfs)], axis=0)
        df = np.where(var > 0, df, 1.0)
        hw = stats.t.ppf(1 - alpha / 2, df) * np.sqrt(var)
        tstat = np.where(var > 0, np.abs(diff) / np.sqrt(var), np.where(diff == 0, 0.0, np.inf))
    p = np.minimum(1.0, 2 * stats.t.sf(tstat, df))
    wa = [wilson_ci(x, alpha) for x in va]
    wb = [wilson_ci(x, alpha) for x in vb]
    la, ua = np.mean([w.low for w in wa], axis=0), np.mean([w.high for w in wa], axis=0)
    lb, ub = np.mean([w.low for w in wb], axis=0), np.mean([w.high for w in wb], axis=0)
    score_low = diff - np.sqrt((ma - la) ** 2 + (ub - mb) ** 2)
    score_high = diff + np.sqrt((ua - ma) ** 2 + (mb - lb) ** 2)
    low = np.clip(np.minimum(diff - hw, score_low), -1.0, 1.0)
    high = np.clip(np.maximum(diff + hw, score_high), -1.0, 1.0)
    return PairedDiff(_squeeze(diff, one_d), _squeeze(low, one_d), _squeeze(high, one_d), _squeeze(p, one_d))
