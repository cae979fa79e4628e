"""The pass@k estimators (pkpo, passk_chen, passk_mahdavi) against independent references in exact rationals.

PKPO is checked against its definition, enumerated over every k-subset of the group; its binary reduction and the
closed forms of Chen et al. and of the Mahdavi reweighting are evaluated with ``fractions.Fraction``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from rsrl import estimators
from rsrl.estimators import EstimatorError
from rsrl.methods import Method, parse

MAX_ERR: dict[str, float] = {}


def _record(name: str, err: float) -> None:
    MAX_ERR[name] = max(MAX_ERR.get(name, 0.0), err)


def pkpo_brute(r: list[Fraction], k: int) -> list[Fraction]:
    """(1/C(N,k)) sum over k-subsets S containing i of [max(S) - max(S without i)]; k = 1: r_i / N."""
    n = len(r)
    total = math.comb(n, k)
    out = []
    for i in range(n):
        acc = Fraction(0)
        for rest in itertools.combinations([j for j in range(n) if j != i], k - 1):
            best = max([r[i]] + [r[j] for j in rest])
            base = max((r[j] for j in rest), default=Fraction(0))
            acc += best - base
        out.append(acc / total)
    return out


def _rational_groups(rng, n: int, count: int) -> list[list[Fraction]]:
    """Rewards in tenths (ties are frequent), plus negative and constant groups."""
    groups = [[Fraction(int(v), 10) for v in rng.integers(-5, 11, size=n)] for _ in range(count)]
    groups.append([Fraction(3, 10)] * n)
    return groups


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_pkpo_equals_enumeration_over_subsets(n):
    rng = np.random.default_rng(n)
    groups = _rational_groups(rng, n, 6)
    x = np.array([[float(v) for v in g] for g in groups])
    for k in range(1, n + 1):
        got = estimators.get("pkpo", k=k)(x)
        want = np.array([[float(v) for v in pkpo_brute(g, k)] for g in groups])
        err = float(np.abs(got - want).max())
        _record("pkpo", err)
        assert err <= 1e-13, (n, k, err)
        if k >= 2:
            assert (got >= 0).all()  # never negative
            assert np.all(got[-1] == 0.0)  # a constant group gets exactly zero


def test_pkpo_binary_closed_form_and_published_check_values():
    for n in range(1, 13):
        for c in range(n + 1):
            r = np.array([1.0] * c + [0.0] * (n - c))
            for k in range(1, n + 1):
                got = estimators.get("pkpo", k=k)(r[None, :])[0]
                if k == 1:
                    want_pos, want_neg = Fraction(1, n), Fraction(0)
                else:
                    want_pos = Fraction(math.comb(n - c, k - 1), math.comb(n, k))
                    want_neg = Fraction(0)
                err = max([abs(g - float(want_pos)) for g in got[:c]] + [abs(g - float(want_neg)) for g in got[c:]])
                _record("pkpo", err)
                assert err <= 1e-15, (n, c, k)
    r = np.array([[0, 0.5, 0.2, 1, 0.3, 0, 0.8, 0.6]])
    np.testing.assert_allclose(
        estimators.get("pkpo", k=4)(r)[0], [0, 0.0129, 0, 0.1843, 0.0014, 0, 0.0843, 0.0271], atol=5e-5
    )


def chen_closed_form(n: int, c: int, k: int) -> tuple[float, float]:
    """(A_pos, A_neg) of Chen et al. in exact rationals; sigma's square root is the only float step."""
    n_neg = n - c
    r_bar = 1 - Fraction(math.comb(n_neg, k), math.comb(n, k))
    var = r_bar * (1 - r_bar)
    if var == 0:
        return 0.0, 0.0
    sigma = math.sqrt(var)
    fail = Fraction(math.comb(n_neg - 1, k - 1), math.comb(n - 1, k - 1)) if n_neg >= 1 else Fraction(0)
    return float(1 - r_bar) / sigma, float(1 - r_bar - fail) / sigma


def test_passk_chen_equals_closed_form():
    for n in range(1, 17):
        for c in range(n + 1):
            r = np.array([[1.0] * c + [0.0] * (n - c)])
            for k in range(1, n + 1):
                got = estimators.get("passk_chen", k=k)(r)[0]
                pos, neg = chen_closed_form(n, c, k)
                want = np.array([pos] * c + [neg] * (n - c))
                err = float(np.abs(got - want).max())
                _record("passk_chen", err / max(1.0, float(np.abs(want).max())))
                assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (n, c, k, got, want)
                assert abs(got.sum()) <= 1e-12 * max(1.0, float(np.abs(got).max())) * n  # centred
    # the official code's check values (N = 8, c = 2)
    r = np.array([[1.0, 1, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(estimators.get("passk_chen", k=2)(r)[0, [0, 2]], [1.0742, -0.3581], atol=1e-4)
    np.testing.assert_allclose(estimators.get("passk_chen", k=4)(r)[0, [0, 2]], [0.5222, -0.1741], atol=1e-4)


def test_passk_chen_k1_is_grpo_with_population_std():
    r = np.random.default_rng(1).integers(0, 2, size=(20, 8)).astype(float)
    np.testing.assert_allclose(
        estimators.get("passk_chen", k=1)(r), estimators.get("grpo", unbiased=False, eps=0)(r), atol=1e-12
    )


def mahdavi_closed_form(group: list[int], k: int) -> list[float]:
    """k (1 - p)^(k-1) (r - mean) / (std_{N-1} + 1e-6), p = c / N, mean and variance in exact rationals."""
    n = len(group)
    p = Fraction(sum(group), n)
    var = sum((Fraction(v) - p) ** 2 for v in group) / (n - 1)
    weight = k * (1 - p) ** (k - 1)
    return [float(weight * (v - p)) / (math.sqrt(var) + 1e-6) for v in group]


def test_passk_mahdavi_equals_closed_form():
    rng = np.random.default_rng(2)
    for n in (2, 3, 8, 16):
        groups = [list(rng.integers(0, 2, size=n)) for _ in range(30)] + [[1] * n, [0] * n, [1] + [0] * (n - 1)]
        x = np.array(groups, dtype=float)
        for k in range(1, n + 1):
            got = estimators.get("passk_mahdavi", k=k)(x)
            want = np.array([mahdavi_closed_form(g, k) for g in groups])
            err = float(np.abs(got - want).max())
            _record("passk_mahdavi", err)
            assert err <= 1e-12, (n, k, err)
    np.testing.assert_array_equal(estimators.get("passk_mahdavi", k=3)(np.ones((1, 8))), 0.0)


@pytest.mark.parametrize("name", ["pkpo", "passk_chen", "passk_mahdavi"])
def test_contract_shapes_types_and_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    r = rng.integers(0, 2, size=(2, 3, 8)).astype(np.float32)
    fn = estimators.get(name, k=3)
    out = fn(r)
    assert out.shape == r.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(6, 8), fn(r.reshape(6, 8).astype(np.float64)), rtol=1e-6, atol=1e-7)
    t = torch.tensor(r, dtype=torch.bfloat16)
    tout = fn(t)
    assert isinstance(tout, torch.Tensor) and tout.dtype == torch.bfloat16 and tout.shape == t.shape
    ints = fn(r.astype(np.int64))
    assert ints.dtype == np.float64


@pytest.mark.parametrize("name", ["pkpo", "passk_chen", "passk_mahdavi"])
def test_k_checked_at_config_and_call_time(name):
    with pytest.raises(EstimatorError, match="k = 9 exceeds the group size N = 8"):
        estimators.check_params(name, {"k": 9}, context={"group_size": 8})
    estimators.check_params(name, {"k": 8}, context={"group_size": 8})
    with pytest.raises(EstimatorError, match="needs parameter"):
        estimators.check_params(name, {})
    with pytest.raises(EstimatorError, match="must be an integer >= 1"):
        estimators.get(name, k=0)
    with pytest.raises(EstimatorError, match=r"k = 5 exceeds the number of samples per prompt N = 4"):
        estimators.get(name, k=5)(np.zeros((2, 4)))
    assert parse(f"{name}_k4") == Method.of(name, {"k": 4})


@pytest.mark.parametrize("name", ["passk_chen", "passk_mahdavi"])
def test_binary_only(name):
    assert estimators.spec(name).binary_only
    with pytest.raises(EstimatorError, match="binary rewards"):
        estimators.get(name, k=2)(np.array([[0.0, 0.5, 1.0, 1.0]]))


def test_pkpo_works_with_continuous_rewards():
    assert not estimators.spec("pkpo").binary_only
    r = np.random.default_rng(4).random((5, 16))
    out = estimators.get("pkpo", k=4)(r)
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
    # the best sample of each group gets the largest weight
    assert np.array_equal(out.argmax(-1), r.argmax(-1))


#: The largest deviation from the exact references that the module accepts (float64 against rationals).
MAX_ERR_BOUND = 1e-12


def test_report_max_errors():
    """Runs last in this module: the largest deviation from the references of every estimator checked above is
    within the bound; prints them (see the README)."""
    if not MAX_ERR:
        pytest.skip("no reference comparison of this module ran before this test")
    print({k: f"{v:.1e}" for k, v in MAX_ERR.items()})
    assert set(MAX_ERR) <= {"pkpo", "passk_chen", "passk_mahdavi"}
    assert all(0.0 <= v <= MAX_ERR_BOUND for v in MAX_ERR.values()), MAX_ERR


def test_passk_mahdavi_reproduces_the_forks_worked_example():
    """smahdavi4/verl core_algos.py (commit ce94939), worked by hand for k = 2 on three groups of N = 4:
    [1,0,0,0]: p̂ = 1/4, std = 1/2, GRPO advantages 3/2 and -1/2, coefficient 2 (3/4) = 3/2 -> 9/4, -3/4;
    [1,1,0,0]: p̂ = 1/2, std = 1/sqrt(3), GRPO ±sqrt(3)/2, coefficient 1 -> ±sqrt(3)/2;
    [1,1,1,1]: inactive, advantage 0.
    normalize_star: 8 active samples, coefficients summing to 4 (3/2) + 4 (1) = 10, so every active coefficient is
    scaled by 8/10."""
    x = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=float)
    h = math.sqrt(3) / 2
    eps_free = np.array([[9 / 4, -3 / 4, -3 / 4, -3 / 4], [h, h, -h, -h], [0, 0, 0, 0]])
    got = estimators.get("passk_mahdavi", k=2)(x)
    np.testing.assert_allclose(got, eps_free, rtol=1e-5, atol=0)  # the fork's 1e-6 in the std denominator
    got = estimators.get("passk_mahdavi", k=2, normalize_star=True)(x)
    np.testing.assert_allclose(got, eps_free * np.array([[0.8], [0.8], [1.0]]), rtol=1e-5, atol=0)
    # k = 1: every coefficient is 1, normalised or not (the fork applies neither)
    np.testing.assert_allclose(
        estimators.get("passk_mahdavi", k=1, normalize_star=True)(x), estimators.get("grpo")(x), atol=1e-15
    )
    assert estimators.spec("passk_mahdavi").param("normalize_star").default is False
