"""Lemma 1 and Lemma 2 on exact softmax-bandit gradients, and the advantage-shape data built from the registry."""

from __future__ import annotations

import numpy as np
import pytest

from rsrl.theory.advantage_shape import advantage_shape
from rsrl.theory.lemmas import (
    LEMMA_COLUMNS,
    LemmaConfig,
    beta_star,
    constructed_instance,
    rs_dpi_opt,
    rs_pg,
    run_lemmas,
    softmax,
    std_dpi_opt,
    std_pg,
    summary,
)


def _numeric_dpi(pi, r, grad_fn, opt, h=1e-6):
    """Finite-difference check of the directional derivative of pi_opt along the gradient."""
    theta = np.log(pi)
    g = grad_fn(pi, r)
    return (softmax(theta + h * g)[opt] - softmax(theta - h * g)[opt]) / (2 * h)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = rng.random(6)
        theta = rng.normal(size=6) * 2
        pi = softmax(theta)
        # the gradients themselves: d/dtheta of E r and of (1/beta) log E exp(beta r)
        for beta in (0.0, 0.5, 5.0):

            def obj(t):
                p = softmax(t)
                return p @ r if beta == 0 else np.log(p @ np.exp(beta * r)) / beta

            num = np.array([(obj(theta + 1e-6 * e) - obj(theta - 1e-6 * e)) / 2e-6 for e in np.eye(6)])
            np.testing.assert_allclose(rs_pg(pi, r, beta), num, atol=1e-8)
        np.testing.assert_allclose(std_pg(pi, r), rs_pg(pi, r, 0.0))
        opt = int(np.argmax(r))
        assert std_dpi_opt(pi, r) == pytest.approx(_numeric_dpi(pi, r, std_pg, opt), abs=1e-9)
        assert rs_dpi_opt(pi, r, 3.0) == pytest.approx(
            _numeric_dpi(pi, r, lambda p, rr: rs_pg(p, rr, 3.0), opt), abs=1e-9
        )
    # the RS gradient tends to the standard one as beta -> 0
    np.testing.assert_allclose(rs_pg(pi, r, 1e-7), std_pg(pi, r), atol=1e-7)


def test_lemma1_constructed_instance_lowers_the_optimum():
    pi, r = constructed_instance()
    d = std_dpi_opt(pi, r)
    assert d < 0
    # a small exact gradient step indeed lowers pi(a*)
    theta = np.log(pi)
    assert softmax(theta + 1e-3 * std_pg(pi, r))[0] < pi[0]
    bstar, _ = beta_star(pi, r)
    assert bstar > 0
    assert rs_dpi_opt(pi, r, 0.5 * bstar) < 0 < rs_dpi_opt(pi, r, 1.01 * bstar)
    assert softmax(theta + 1e-3 * rs_pg(pi, r, 2 * bstar))[0] > pi[0]


@pytest.fixture(scope="module")
def lemma_table(paper_config_module):
    return run_lemmas(LemmaConfig.from_config(paper_config_module))


@pytest.fixture(scope="module")
def paper_config_module():
    import yaml

    from rsrl.config import REPO_ROOT

    return yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())


def test_lemma_table_and_both_lemmas(lemma_table, paper_config_module):
    df = lemma_table
    lcfg = paper_config_module["theory"]["lemmas"]
    assert list(df.columns) == LEMMA_COLUMNS
    assert len(df) == 2 * (lcfg["instances"] + 1)
    s = summary(df)
    # Lemma 1: the standard policy gradient lowers pi(a*) on some random instances, not only the constructed one
    l1 = df[df.lemma == 1]
    assert l1.holds.iloc[0] and l1.instance.iloc[0] == "constructed"
    assert l1.holds.iloc[1:].sum() >= 1
    assert (l1.holds == (l1.std_pg_dpi_opt < 0)).all()
    # Lemma 2: on every instance the RS gradient raises pi(a*) above beta*
    l2 = df[df.lemma == 2]
    assert s["lemma2_holds_all"] and l2.holds.all()
    assert (l2.rs_dpi_opt_at_2beta_star > 0).all()
    # where the standard gradient lowers pi(a*), so does the RS gradient for small beta: beta* > 0 there
    assert (l2[l2.std_pg_dpi_opt < 0].beta_star > 0).all()
    assert s["lemma1_holds"] and s["lemma1_witnesses"] == int(l1.holds.sum())


def test_beta_star_is_the_last_sign_change(lemma_table):
    df = lemma_table[(lemma_table.lemma == 2) & (lemma_table.beta_star > 0)]
    rng = np.random.default_rng(0)
    cfg = LemmaConfig()
    from rsrl.theory.lemmas import random_instance

    for name in df.instance.iloc[:10]:
        if name == "constructed":
            pi, r = constructed_instance()
        else:
            pi, r = random_instance(cfg.arms, np.random.default_rng([cfg.seed, int(name)]))
        b = df[df.instance == name].beta_star.item()
        assert rs_dpi_opt(pi, r, b * (1 - 1e-4)) <= 0 < rs_dpi_opt(pi, r, b * (1 + 1e-4))
        for f in rng.uniform(1.01, 50, 20):
            assert rs_dpi_opt(pi, r, b * f) > 0


def test_beta_star_rejects_tied_optimum():
    with pytest.raises(ValueError, match="unique"):
        beta_star(np.array([0.5, 0.5]), np.array([1.0, 1.0]))


def test_advantage_shape_table():
    df = advantage_shape()
    assert list(df.columns) == ["panel", "beta", "x", "series", "value"]
    assert set(df.panel) == {"continuous", "binary"}
    assert set(df.beta) == {0.0, 2.0, 4.0, 8.0}
    cont = df[df.panel == "continuous"]
    beta0 = cont[cont.beta == 0]
    np.testing.assert_allclose(beta0.value, beta0.x - beta0.x.mean(), atol=1e-12)
    b = df[(df.panel == "binary")]
    for beta, d in b.groupby("beta"):
        pos = d[d.series == "positive"].value.to_numpy()
        neg = d[d.series == "negative"].value.to_numpy()
        cum = d[d.series == "cumulative"].value.to_numpy()
        p = d[d.series == "positive"].x.to_numpy()
        np.testing.assert_allclose(cum, 16 * (p * pos + (1 - p) * np.abs(neg)), rtol=1e-12)
        if beta > 0:
            e = np.exp(beta)
            np.testing.assert_allclose(pos, (e / (1 - p + p * e) - 1) / beta, rtol=1e-12)
            # the total credit moves towards hard prompts as beta grows
            assert p[np.argmax(cum)] < 0.5
        else:
            np.testing.assert_allclose(pos, 1 - p, rtol=1e-12)
