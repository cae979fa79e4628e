"""Coverage of the report's intervals by simulation with a known truth (the fast, seeded version of
``benchmarks/bench_coverage.py``), the simulation's truths against closed forms and numerical integration, and the
boundary behaviour of the new intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from rsrl.passk import MIN_SEEDS, problem_ci, seed_t_diff, wilson_ci
from rsrl.report.coverage import REGIMES, expected_pass, simulate, to_markdown

Z975 = 1.959963984540054  # the normal 0.975 quantile, from printed tables


def test_expected_pass_matches_closed_form_and_quadrature():
    # no spread: 1 - (1 - sigmoid(m))^k exactly
    for m, k in ((-2.0, 1), (0.5, 4), (3.0, 32)):
        p = 1 / (1 + math.exp(-m))
        assert expected_pass(m, 0.0, k) == pytest.approx(1 - (1 - p) ** k, abs=1e-12)
    # with spread: adaptive quadrature of the same integral
    for m, sd, k in ((-4.5, 1.6, 1), (1.0, 1.7, 32), (0.0, 0.6, 8)):
        ref, _ = integrate.quad(
            lambda x: (
                (1 - (1 - 1 / (1 + math.exp(-x))) ** k)
                * math.exp(-((x - m) ** 2) / (2 * sd * sd))
                / (sd * math.sqrt(2 * math.pi))
            ),
            m - 12 * sd,
            m + 12 * sd,
        )
        assert expected_pass(m, sd, k) == pytest.approx(ref, abs=1e-7)


def test_wilson_interval_is_the_binomial_score_interval_for_zeros_and_ones():
    m = 30
    ci = wilson_ci(np.zeros(m))
    assert (ci.mean, ci.low, ci.high) == pytest.approx((0.0, 0.0, Z975**2 / (m + Z975**2)), abs=1e-9)
    ci = wilson_ci(np.ones(m))
    assert (ci.low, ci.high) == pytest.approx((m / (m + Z975**2), 1.0), abs=1e-9)
    x = np.r_[np.ones(9), np.zeros(21)]  # 9 of 30: the textbook formula
    p, n = 0.3, 30
    centre = (p + Z975**2 / (2 * n)) / (1 + Z975**2 / n)
    half = Z975 / (1 + Z975**2 / n) * math.sqrt(p * (1 - p) / n + Z975**2 / (4 * n * n))
    ci = wilson_ci(x)
    assert (ci.low, ci.high) == pytest.approx((centre - half, centre + half), abs=1e-9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        wilson_ci(np.array([0.5, 1.5]))


def test_problem_interval_is_the_hull_and_leaves_the_boundary():
    values = np.ones(30)  # every problem solved: the bootstrap alone is the point [1, 1]
    ci = problem_ci(values, n_boot=200, seed=0)
    assert ci.high == 1.0 and ci.low == pytest.approx(30 / (30 + Z975**2), abs=1e-9)
    rng = np.random.default_rng(1)
    mid = rng.uniform(0.3, 0.7, 40)
    ci, w = problem_ci(mid, n_boot=500, seed=0), wilson_ci(mid)
    assert ci.low <= w.low and ci.high >= w.high and 0 <= ci.low <= ci.mean <= ci.high <= 1


def test_seed_difference_needs_two_seeds_and_holds_at_the_boundary():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, (3, 20)), rng.uniform(0, 1, (1, 20))
    res = seed_t_diff(a, b)
    assert MIN_SEEDS == 2 and res.diff == pytest.approx(a.mean() - b.mean())
    assert np.isnan(res.low) and np.isnan(res.high) and np.isnan(res.p_value)
    # both methods at pass@k = 1 on every problem and seed: no variance, but not a point interval
    ones = np.ones((3, 30))
    res = seed_t_diff(ones, ones)
    half = 30 / (30 + Z975**2)
    assert res.diff == 0 and res.p_value == 1
    assert (res.low, res.high) == pytest.approx((-(1 - half), 1 - half), abs=1e-9)
    # columns are independent and the interval stays inside [-1, 1]
    cols = seed_t_diff(np.stack([ones, np.zeros((3, 30))], -1), np.stack([np.zeros((3, 30)), ones], -1))
    assert list(cols.diff) == [1.0, -1.0] and cols.high[0] == 1.0 and cols.low[1] == -1.0


@pytest.fixture(scope="module")
def fast_table():
    return simulate(60, seed=7, seeds=(1, 3), problems=(30, 500), n_boot=200)


def test_every_printed_interval_covers_at_least_90_percent(fast_table):
    new = fast_table[fast_table["method"].str.endswith("(new)")]
    # per regime and problem count: across-seed mean and paired difference at 1 and 3 seeds, one run over problems
    assert len(new) == 5 * 2 * len(REGIMES)
    printed = new[new["printed"] > 0]
    assert (printed["coverage"] >= 0.9).all(), printed.to_string()
    # one seed: no interval over seeds and no paired interval is printed
    one = new[(new["seeds"] == 1) & (new["interval"] != "pass@k over problems")]
    assert (one["printed"] == 0).all() and one["coverage"].isna().all()
    # the old intervals fail where the new ones were needed: pass@32 near 1 on 30 problems
    old = fast_table[
        fast_table["method"].str.endswith("(old)")
        & (fast_table["regime"] == "near 1")
        & (fast_table["problems"] == 30)
        & (fast_table["seeds"] == 3)
    ]
    assert (old["coverage"] < 0.6).all(), old.to_string()
    md = to_markdown(fast_table)
    assert md.count("### ") == 3 and "95 % Student-t" in md and "percentile bootstrap" in md
