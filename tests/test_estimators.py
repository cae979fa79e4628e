"""Advantage estimators: registry behaviour, RS-GRPO properties, exact references, numerics, numpy/torch parity."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from rsrl import estimators

BETAS = [0.0, 1e-8, 1e-3, 0.5, 2.0, 4.0, 8.0, 32.0]


def _groups(seed=0, g=20, n=8):
    rng = np.random.default_rng(seed)
    cont = rng.random((g, n))
    binary = (rng.random((g, n)) < rng.random((g, 1))).astype(np.float64)
    return np.concatenate([cont, binary, np.full((1, n), 0.3)])


# --------------------------------------------------------------------------------------------------------------
# Registry


def test_names_include_the_paper_estimators():
    assert {"grpo", "drgrpo", "rloo", "rs"} <= set(estimators.names())


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("nope", {}, "allowed values are"),
        ("rs", {}, "needs parameter"),
        ("rs", {"beta": -1.0}, "'beta' must be"),
        ("rs", {"beta": float("nan")}, "'beta' must be"),
        ("rs", {"beta": float("inf")}, "'beta' must be"),
        ("rs", {"beta": "2"}, "'beta' must be"),
        ("rs", {"beta": True}, "'beta' must be"),
        ("drgrpo", {"beta": 2.0}, "unknown parameter"),
        ("grpo", {"eps": -1.0}, "'eps' must be"),
    ],
)
def test_get_rejects_bad_requests(name, params, match):
    with pytest.raises(ValueError, match=match):
        estimators.get(name, **params)


def test_register_adds_an_estimator_and_refuses_duplicates():
    name = "test_only_zero"
    if name not in estimators.names():

        @estimators.register(name)
        def zero(rewards):
            return rewards * 0

    assert name in estimators.names()
    np.testing.assert_array_equal(estimators.get(name)(np.ones((2, 3))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="already registered"):
        estimators.register(name)(lambda r: r)
    estimators.unregister(name)


def test_register_checks_declared_parameters_against_the_function():
    with pytest.raises(ValueError, match="differ from the declared"):
        estimators.register("test_only_bad", params=(estimators.Param("k", int, default=1),))(lambda r, j=1: r)
    with pytest.raises(ValueError, match="examples"):
        estimators.register("test_only_bad", params=(estimators.Param("k", int),))(lambda r, k: r)
    assert "test_only_bad" not in estimators.names()


@pytest.mark.parametrize("name,params", [("grpo", {}), ("drgrpo", {}), ("rloo", {}), ("rs", {"beta": 4.0})])
def test_shape_dtype_type_preserved_and_constant_groups_zero(name, params):
    fn = estimators.get(name, **params)
    for dtype in (np.float32, np.float64):
        r = _groups().astype(dtype)
        a = fn(r)
        assert isinstance(a, np.ndarray) and a.shape == r.shape and a.dtype == dtype
        assert np.all(a[-1] == 0), "a constant group must get exactly zero advantage"
    assert fn(np.array([[1, 0, 1]])).dtype == np.float64  # integer rewards -> float64


def test_baselines_closed_forms():
    r = _groups()
    mean = r.mean(1, keepdims=True)
    np.testing.assert_allclose(estimators.get("drgrpo")(r), r - mean, atol=1e-15)
    n = r.shape[1]
    loo = (r.sum(1, keepdims=True) - r) / (n - 1)
    np.testing.assert_allclose(estimators.get("rloo")(r), r - loo, atol=1e-14)
    std = r.std(1, ddof=1, keepdims=True)
    np.testing.assert_allclose(estimators.get("grpo", eps=1e-6)(r), (r - mean) / (std + 1e-6), atol=1e-12)
    std0 = r.std(1, keepdims=True)
    np.testing.assert_allclose(estimators.get("grpo", unbiased=False)(r), (r - mean) / (std0 + 1e-6), atol=1e-12)


# --------------------------------------------------------------------------------------------------------------
# RS-GRPO properties


@pytest.mark.parametrize("beta", BETAS)
def test_rs_zero_group_mean_monotone_and_shift_invariant(beta):
    fn = estimators.get("rs", beta=beta)
    r = _groups(1)
    a = fn(r)
    np.testing.assert_allclose(a.mean(1), 0.0, atol=1e-12)
    order = np.argsort(r, axis=1)
    a_sorted = np.take_along_axis(a, order, 1)
    r_sorted = np.take_along_axis(r, order, 1)
    da, dr = np.diff(a_sorted, axis=1), np.diff(r_sorted, axis=1)
    assert np.all(da[dr > 0] > 0), "advantage must increase strictly with reward"
    assert np.all(np.abs(da[dr == 0]) <= 1e-15)
    for c in (-3.0, 0.25, 10.0):
        np.testing.assert_allclose(fn(r + c), a, atol=1e-11)


def test_rs_beta_to_zero_is_drgrpo_without_a_jump():
    r = _groups(2)
    dr = estimators.get("drgrpo")(r)
    np.testing.assert_array_equal(estimators.get("rs", beta=0.0)(r), dr)
    prev = None
    for beta in (1e-300, 1e-151, 1e-149, 1e-100, 1e-30, 1e-12, 1e-8):
        a = estimators.get("rs", beta=beta)(r)
        # first-order term: A = d + beta/2 (d^2 - mean d^2) + O(beta^2)
        first = beta / 2 * (dr**2 - (dr**2).mean(1, keepdims=True))
        np.testing.assert_allclose(a, dr + first, atol=1e-15 + 1e-15 * np.abs(dr).max())
        if prev is not None:
            assert np.abs(a - prev).max() <= 4e-16 + 2 * beta
        prev = a


def _rs_exact(r, beta) -> np.ndarray:
    """Reference RS advantages with 60-digit arithmetic on exact rational rewards."""
    with mpmath.workdps(60):
        b = mpmath.mpf(Fraction(beta).numerator) / Fraction(beta).denominator
        out = []
        for row in r:
            rr = [mpmath.mpf(Fraction(x).numerator) / Fraction(x).denominator for x in row]
            m = sum(mpmath.exp(b * x) for x in rr) / len(rr)
            out.append([float((mpmath.exp(b * x) / m - 1) / b) for x in rr])
    return np.array(out)


@pytest.mark.parametrize("beta", [1e-6, 0.1, 1.0, 2.0, 8.0, 50.0, 300.0])
def test_rs_matches_high_precision_reference(beta):
    rng = np.random.default_rng(3)
    r = np.concatenate(
        [
            np.round(rng.random((6, 8)), 3),  # continuous rewards (exact decimals)
            (rng.random((6, 8)) < 0.3).astype(float),  # binary rewards
            rng.integers(-5, 6, size=(3, 8)).astype(float),
        ]
    )
    r[-1, :] = 1.0  # one constant group
    a = estimators.get("rs", beta=beta)(r)
    ref = _rs_exact(r, beta)
    scale = np.maximum(1.0, np.abs(ref))
    np.testing.assert_allclose(a / scale, ref / scale, rtol=0, atol=2e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rs_no_overflow_for_huge_beta_times_reward(dtype):
    r = np.array([[0.0, 1.0, 0.5, 1.0], [1e4, 0.0, 1e4 - 1, 5e3]], dtype=dtype)
    for beta in (1e4, 1.0):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            a = estimators.get("rs", beta=beta)(r)
        assert a.dtype == dtype and np.all(np.isfinite(a))
    a = estimators.get("rs", beta=1e4)(np.array([[0.0, 1.0, 0.5, 1.0]], dtype=dtype))
    # best samples share N/k - 1 over beta; the rest get -1/beta
    np.testing.assert_allclose(a, np.array([[-1, 1, -1, 1]]) * 1e-4, rtol=1e-6)


def test_numpy_and_torch_agree():
    torch = pytest.importorskip("torch")
    r = _groups(4)
    for name, params in (
        ("grpo", {}),
        ("drgrpo", {}),
        ("rloo", {}),
        ("rs", {"beta": 0.0}),
        ("rs", {"beta": 1e-8}),
        ("rs", {"beta": 4.0}),
        ("rs", {"beta": 1e4}),
    ):
        fn = estimators.get(name, **params)
        for np_dtype, t_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
            a_np = fn(r.astype(np_dtype))
            a_t = fn(torch.tensor(r, dtype=t_dtype))
            assert isinstance(a_t, torch.Tensor) and a_t.dtype == t_dtype and a_t.device.type == "cpu"
            np.testing.assert_allclose(
                a_t.numpy(),
                a_np,
                rtol=1e-6 if np_dtype == np.float32 else 1e-12,
                atol=1e-7 if np_dtype == np.float32 else 1e-14,
            )
    assert fn(torch.tensor([[1.0, 1.0]])).abs().max().item() == 0.0


# --------------------------------------------------------------------------------------------------------------
# The paper's binary-reward analysis


@pytest.mark.parametrize("n", [8, 16, 64])
@pytest.mark.parametrize("beta", [0.5, 2.0, 4.0, 8.0])
def test_binary_reward_closed_forms_and_rare_success_upweighting(n, beta):
    fn = estimators.get("rs", beta=beta)
    for k in range(1, n):
        p = k / n
        r = np.zeros((1, n))
        r[0, :k] = 1.0
        a = fn(r)[0]
        denom = 1 - p + p * np.exp(beta)
        a_pos = (np.exp(beta) / denom - 1) / beta
        a_neg = (1 / denom - 1) / beta
        np.testing.assert_allclose(a[:k], a_pos, rtol=1e-12)
        np.testing.assert_allclose(a[k:], a_neg, rtol=1e-12)
        # The mean-baseline (Dr.GRPO) advantage of a correct sample is 1 - p. RS gives more to rare successes
        # (the crossing lies between min(1/4, 1/(2 beta)) and min(1/2, 1/beta)) and less on easy prompts.
        if p <= min(0.25, 1 / (2 * beta)):
            assert a_pos > 1 - p, f"RS must upweight rare successes (p={p}, beta={beta})"
        if p >= min(0.5, 1 / beta):
            assert a_pos < 1 - p, f"RS must give less credit than the mean baseline on easy prompts (p={p})"
        # credit and blame balance within the group
        assert abs(p * a_pos + (1 - p) * a_neg) < 1e-12


def test_batched_betas_match_the_registry():
    r = np.stack([_groups(5)] * 4)  # [B, G, N]
    betas = np.array([0.0, 1e-9, 2.0, 64.0])
    got = estimators.rs_advantage_batch(r, betas[:, None, None])
    for b, beta in enumerate(betas):
        np.testing.assert_array_equal(got[b], estimators.get("rs", beta=float(beta))(r[b]))


def test_registration_order_is_the_papers_order():
    """Tables, legends and colours follow registration order: the group baselines, RS-GRPO, then the pass@k
    methods and RiskPO (the import order at the end of rsrl/estimators/__init__.py)."""
    assert estimators.names() == ["grpo", "drgrpo", "rloo", "rs", "pkpo", "passk_chen", "passk_mahdavi", "riskpo"]
