"""Unbiased pass@k: exactness against rational arithmetic, edge cases, curves and bootstrap intervals."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from rsrl.passk import bootstrap_ci, default_ks, paired_bootstrap_diff, pass_at_k, pass_at_k_curve


def _exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_exact_against_fractions_random_triples():
    rng = np.random.default_rng(0)
    ns = np.concatenate([rng.integers(1, 1025, 300), np.full(100, 1024)])
    cs = np.array([rng.integers(0, n + 1) for n in ns])
    ks = np.array([rng.integers(1, n + 1) for n in ns])
    got = pass_at_k(ns, cs, ks)
    want = np.array([float(_exact(int(n), int(c), int(k))) for n, c, k in zip(ns, cs, ks)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_exact_full_curve_n1024_with_relative_precision_for_tiny_values():
    n = 1024
    ks = np.arange(1, n + 1)
    for c in (0, 1, 2, 7, 100, 512, 1000, 1023, 1024):
        got = pass_at_k(n, c, ks)
        want = np.array([float(_exact(n, c, int(k))) for k in ks])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_edge_cases():
    assert pass_at_k(16, 0, 16) == 0.0
    assert pass_at_k(16, 16, 1) == 1.0
    assert pass_at_k(16, 1, 16) == 1.0  # k = n: any correct sample is always drawn
    assert pass_at_k(16, 3, 14) == 1.0  # n - c < k
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    n = np.array([10, 100, 1024, 7])
    c = np.array([3, 0, 1024, 5])
    np.testing.assert_allclose(pass_at_k(n, c, 1), c / n, rtol=1e-15)


@pytest.mark.parametrize(
    "n,c,k,match",
    [
        (5, 0, 6, "exceeds the number of samples"),
        (5, 5, 6, "exceeds the number of samples"),
        (5, 1, 0, "k must be >= 1"),
        (5, 6, 1, "0 <= c <= n"),
        (5, -1, 1, "0 <= c <= n"),
        (0, 0, 1, "n >= 1"),
        (5.5, 1, 1, "whole numbers"),
    ],
)
def test_invalid_inputs_raise(n, c, k, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(n, c, k)


def test_k_above_n_of_one_problem_raises_even_when_others_allow_it():
    with pytest.raises(ValueError, match="k = 16 exceeds.*n = 8"):
        pass_at_k_curve([16, 8, 16], [1, 0, 3], ks=[1, 16])


def test_curve_default_ks_mixed_n_and_mean():
    assert default_ks(1024).tolist() == [1 << i for i in range(11)]
    assert default_ks(100).tolist() == [1, 2, 4, 8, 16, 32, 64, 100]
    assert default_ks(1).tolist() == [1]
    n = np.array([64, 100, 64])
    c = np.array([1, 50, 0])
    cur = pass_at_k_curve(n, c)
    assert cur.ks.tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert cur.per_problem.shape == (3, 7)
    np.testing.assert_allclose(cur.mean, cur.per_problem.mean(0))
    assert np.all(np.diff(cur.per_problem, axis=1) >= 0), "pass@k is non-decreasing in k"
    want = [[float(_exact(int(nn), int(cc), int(k))) for k in cur.ks] for nn, cc in zip(n, c)]
    np.testing.assert_allclose(cur.per_problem, want, atol=1e-13)
    assert cur.as_dict()[1] == pytest.approx((1 / 64 + 0.5) / 3)


def test_broadcasting_problem_by_k_matrix():
    n = np.array([8, 16])[:, None]
    c = np.array([2, 3])[:, None]
    ks = np.array([1, 2, 8])[None, :]
    got = pass_at_k(n, c, ks)
    assert got.shape == (2, 3)
    assert got[1, 1] == pytest.approx(float(_exact(16, 3, 2)), abs=1e-15)


def test_bootstrap_ci_contains_mean_and_shrinks_with_more_problems():
    rng = np.random.default_rng(1)
    small = rng.random(30)
    big = rng.random(3000)
    ci_s = bootstrap_ci(small, n_boot=2000, seed=0)
    ci_b = bootstrap_ci(big, n_boot=2000, seed=0)
    assert ci_s.low < ci_s.mean < ci_s.high
    assert ci_s.mean == pytest.approx(small.mean())
    assert (ci_b.high - ci_b.low) < (ci_s.high - ci_s.low)
    # standard error of the mean ~ 0.29 / sqrt(P): the 95% interval is about +-1.96 SE
    se = big.std() / np.sqrt(big.size)
    assert (ci_b.high - ci_b.low) == pytest.approx(2 * 1.96 * se, rel=0.1)
    # columns (several k) are handled at once, and reproducibly
    m = rng.random((50, 4))
    a, b = bootstrap_ci(m, n_boot=500, seed=3), bootstrap_ci(m, n_boot=500, seed=3)
    assert np.all(a.low <= a.mean) and np.all(a.mean <= a.high)
    np.testing.assert_array_equal(a.low, b.low)


def test_paired_bootstrap():
    rng = np.random.default_rng(2)
    a = rng.random(200)
    same = paired_bootstrap_diff(a, a, n_boot=1000)
    assert same.diff == 0 and same.low == 0 and same.high == 0 and same.p_value == 1.0
    better = paired_bootstrap_diff(a + 0.05 + 0.01 * rng.standard_normal(200), a, n_boot=1000)
    assert better.low > 0 and better.p_value < 0.01
    assert better.diff == pytest.approx(0.05, abs=0.01)
    noisy = paired_bootstrap_diff(rng.random(200), rng.random(200), n_boot=1000, seed=1)
    assert noisy.low < 0 < noisy.high or noisy.p_value > 0.01
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap_diff(a, a[:10])


# ------------------------------------------------------------------------------------------------------------
# Paired bootstrap over problems and seeds (by_seed=True)


def _paired_problems_only(a, b, n_boot, alpha, seed):
    """The paired bootstrap over problems, written out independently: resample problem indices, mean difference."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = (a - b).reshape(a.shape[0], -1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.shape[0], size=(n_boot, d.shape[0]))
    idx += np.arange(n_boot)[:, None] * d.shape[0]
    w = np.bincount(idx.ravel(), minlength=n_boot * d.shape[0]).reshape(n_boot, d.shape[0]).astype(float)
    means = w @ d / d.shape[0]
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2], axis=0)
    p = np.minimum(1.0, 2 * np.minimum((means <= 0).mean(0), (means >= 0).mean(0)))
    shape = a.shape[1:]
    return d.mean(0).reshape(shape), low.reshape(shape), high.reshape(shape), p.reshape(shape)


@pytest.mark.parametrize("shape", [(40,), (40, 3)])
def test_paired_bootstrap_problems_only_is_unchanged_and_equals_one_seed(shape):
    rng = np.random.default_rng(5)
    a, b = rng.random(shape), rng.random(shape) * 0.9
    want = _paired_problems_only(a, b, 500, 0.05, 7)
    for got in (
        paired_bootstrap_diff(a, b, n_boot=500, seed=7),
        paired_bootstrap_diff(a[None], b[None], n_boot=500, seed=7, by_seed=True),
    ):
        for g, w in zip((got.diff, got.low, got.high, got.p_value), want):
            np.testing.assert_array_equal(np.asarray(g).reshape(w.shape), w)


def _exact_bootstrap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every equally likely outcome of one draw: problems resampled (shared), each method's seeds resampled
    independently; the value is mean over drawn seeds and problems of a minus that of b."""
    (sa, p), sb = a.shape, b.shape[0]
    out = []
    for probs in itertools.product(range(p), repeat=p):
        for seeds_a in itertools.product(range(sa), repeat=sa):
            for seeds_b in itertools.product(range(sb), repeat=sb):
                ma = sum(Fraction(a[s, q]) for q in probs for s in seeds_a) / (p * sa)
                mb = sum(Fraction(b[t, q]) for q in probs for t in seeds_b) / (p * sb)
                out.append(ma - mb)
    return np.array(sorted(out), dtype=object)


def test_paired_bootstrap_by_seed_matches_exact_enumeration():
    # 2 problems x 2 seeds per method: 4 x 4 x 4 = 64 equally likely bootstrap outcomes.
    a = np.array([[0.9, 0.2], [0.4, 0.65]])
    b = np.array([[0.3, 0.5], [0.1, 0.7]])
    atoms = _exact_bootstrap(a, b)
    assert min(abs(x) for x in atoms) > Fraction(1, 1000)  # no outcome at zero: the p-value has no ties
    n = len(atoms)
    # inverse CDF at 2.5 % and 97.5 % (neither is a multiple of 1/64, so the large-sample quantile converges to it)
    low, high = float(atoms[math.ceil(0.025 * n) - 1]), float(atoms[math.ceil(0.975 * n) - 1])
    share_le = sum(1 for x in atoms if x <= 0) / n
    p = min(1.0, 2 * min(share_le, 1 - share_le))
    got = paired_bootstrap_diff(a, b, n_boot=200_000, seed=11, by_seed=True)
    assert got.diff == pytest.approx(float(Fraction(a.mean()) - Fraction(b.mean())), abs=1e-15)
    assert got.low == pytest.approx(low, abs=1e-9) and got.high == pytest.approx(high, abs=1e-9)
    assert got.p_value == pytest.approx(p, abs=0.01)
    # ... and this case tells the independent seed resampling apart from resampling seed s of a together with
    # seed s of b (the interval would be [-0.3, 0.6]) and from not resampling seeds ([-0.175, 0.45])
    coupled = sorted(
        sum(Fraction(a[s, q]) - Fraction(b[s, q]) for q in probs for s in seeds) / 4
        for probs in itertools.product(range(2), repeat=2)
        for seeds in itertools.product(range(2), repeat=2)
    )
    assert (float(coupled[0]), float(coupled[-1])) == pytest.approx((-0.3, 0.6))
    assert got.low < -0.35 and got.high > 0.65


def test_paired_bootstrap_by_seed_shapes_columns_and_errors():
    rng = np.random.default_rng(3)
    a, b = rng.random((3, 30, 2)), rng.random((1, 30, 2))  # 3 seeds against 1
    both = paired_bootstrap_diff(a, b, n_boot=400, seed=2, by_seed=True)
    for j in range(2):  # columns are resampled jointly: each equals its own call with the same draws
        one = paired_bootstrap_diff(a[..., j], b[..., j], n_boot=400, seed=2, by_seed=True)
        assert (both.diff[j], both.low[j], both.high[j], both.p_value[j]) == pytest.approx(
            (one.diff, one.low, one.high, one.p_value), abs=1e-12
        )
    assert both.diff == pytest.approx(a.mean((0, 1)) - b.mean((0, 1)), abs=1e-12)
    # seed-to-seed spread widens the interval: a method whose seeds disagree by a constant shift
    base = rng.random(200)
    shifted = np.stack([base + s for s in (-0.1, 0.0, 0.1)])
    wide = paired_bootstrap_diff(shifted, base[None], n_boot=2000, seed=0, by_seed=True)
    narrow = paired_bootstrap_diff(np.stack([base] * 3), base[None], n_boot=2000, seed=0, by_seed=True)
    assert narrow.low == narrow.high == 0.0
    assert wide.low < -0.03 and wide.high > 0.03
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap_diff(a, b[:, :10], by_seed=True)
    with pytest.raises(ValueError, match=r"\[seeds, problems\]"):
        paired_bootstrap_diff(a[0, :, 0], b[0, :, 0], by_seed=True)
