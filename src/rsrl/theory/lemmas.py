"""Executable checks of the paper's two lemmas on K-armed softmax bandits, with exact (expected) gradients.

Setting: logits ``theta``, policy ``pi = softmax(theta)``, reward vector ``r`` with a unique best arm ``a*``.
For a gradient direction ``g``, the rate of change of the optimal arm's probability along ``g`` is::

    D = sum_b (d pi_a* / d theta_b) g_b = pi_a* (g_a* - sum_b pi_b g_b)

* Standard policy gradient (of ``E_pi[r]``): ``g_b = pi_b (r_b - E_pi r)``.
* Risk-sensitive gradient (of ``(1/beta) log E_pi exp(beta r)``):
  ``g_b = pi_b (exp(beta r_b) - M) / (beta M)``, ``M = E_pi exp(beta r)``; it tends to the standard one as
  ``beta -> 0``.

Lemma 1: the standard policy gradient can *lower* the optimal arm's probability (``D < 0``). Random instances with
peaked policies contain such cases; one is also constructed by hand (a strong second-best arm that holds most of the
mass, the optimum rare).

Lemma 2: for every instance there is a ``beta*`` such that for all ``beta > beta*`` the risk-sensitive gradient
raises the optimal arm's probability. As ``beta -> inf`` the sign of ``D`` is that of
``pi*(1 - pi*)^2 + pi* sum_{b != a*} pi_b^2 > 0``; ``beta*`` is the largest root of ``D(beta)``, found by scanning
a log-spaced grid up to where every ``exp(beta (r_b - r*))`` (b != a*) is negligible and refining with
``scipy.optimize.brentq``. Above ``beta*`` positivity is then checked on a dense grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

LEMMA_COLUMNS = [
    "instance",
    "arms",
    "seed",
    "lemma",
    "std_pg_dpi_opt",
    "beta_star",
    "rs_dpi_opt_at_2beta_star",
    "holds",
]


def softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max())
    return z / z.sum()


def _dpi_opt(pi: np.ndarray, g: np.ndarray, opt: int) -> float:
    return float(pi[opt] * (g[opt] - pi @ g))


def std_pg(pi: np.ndarray, r: np.ndarray) -> np.ndarray:
    return pi * (r - pi @ r)


def rs_pg(pi: np.ndarray, r: np.ndarray, beta: float) -> np.ndarray:
    """Exact risk-sensitive gradient w.r.t. the logits; computed relative to max r so it never overflows."""
    if beta == 0:
        return std_pg(pi, r)
    w = np.exp(beta * (r - r.max()))
    m = pi @ w
    return pi * (w - m) / (beta * m)


def std_dpi_opt(pi, r) -> float:
    return _dpi_opt(pi, std_pg(pi, r), int(np.argmax(r)))


def rs_dpi_opt(pi, r, beta: float) -> float:
    return _dpi_opt(pi, rs_pg(pi, r, beta), int(np.argmax(r)))


def _rs_sign_fn(pi: np.ndarray, r: np.ndarray):
    """``h(beta)``: a positive multiple of ``rs_dpi_opt`` (the factor ``1/(beta M)`` dropped), smooth in beta."""
    opt = int(np.argmax(r))

    def h(beta: float) -> float:
        w = np.exp(beta * (r - r[opt]))
        m = pi @ w
        u = pi * (w - m)
        return float(pi[opt] * (u[opt] - pi @ u))

    return h


def beta_star(pi: np.ndarray, r: np.ndarray, grid_points: int = 400) -> tuple[float, float]:
    """(beta*, beta_max): above beta* the RS gradient raises pi(a*); beyond beta_max nothing changes numerically.

    beta* = 0 when the derivative is positive for every beta > 0.
    """
    opt = int(np.argmax(r))
    gap = float(r[opt] - np.max(np.delete(r, opt)))
    if gap <= 0:
        raise ValueError("beta_star: the best arm must be unique (r has a tie at the maximum)")
    beta_max = 50.0 / gap  # exp(-beta gap) < 2e-22: the asymptotic regime
    h = _rs_sign_fn(pi, r)
    grid = np.concatenate([[0.0], np.geomspace(1e-6, beta_max, grid_points)])
    vals = np.array([h(b) if b > 0 else std_dpi_opt(pi, r) for b in grid])
    nonpos = np.nonzero(vals <= 0)[0]
    if nonpos.size == 0:
        return 0.0, beta_max
    i = int(nonpos[-1])
    if i == len(grid) - 1:
        raise RuntimeError(f"beta_star: derivative still <= 0 at beta = {beta_max:g}; instance pi={pi}, r={r}")
    lo, hi = grid[i], grid[i + 1]
    if vals[i] == 0:
        return float(lo), beta_max
    return float(brentq(h, lo, hi, xtol=1e-12, rtol=1e-10)), beta_max


def random_instance(arms: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rewards uniform on [0, 1]; logits normal with a random scale in [0.5, 4] (from flat to peaked policies)."""
    r = rng.random(arms)
    theta = rng.normal(size=arms) * rng.uniform(0.5, 4.0)
    return softmax(theta), r


def constructed_instance() -> tuple[np.ndarray, np.ndarray]:
    """A hand-made Lemma 1 instance: the optimum is rare, a near-optimal arm holds most of the mass."""
    r = np.array([1.0, 0.9, 0.0])
    pi = np.array([0.01, 0.70, 0.29])
    return pi, r


@dataclass(frozen=True)
class LemmaConfig:
    instances: int = 200
    arms: int = 5
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict) -> LemmaConfig:
        return cls(**cfg.get("theory", {}).get("lemmas", {}))


def check_instance(pi: np.ndarray, r: np.ndarray) -> dict:
    """Both lemmas on one instance: the standard-PG derivative, beta*, and the RS derivative above beta*."""
    d_std = std_dpi_opt(pi, r)
    bstar, bmax = beta_star(pi, r)
    above = np.geomspace(max(bstar, 1e-6) * (1 + 1e-6), bmax, 200)
    h = _rs_sign_fn(pi, r)
    positive_above = all(h(b) > 0 for b in above)
    b2 = 2 * bstar
    d_at_2 = rs_dpi_opt(pi, r, b2)
    return {
        "std_pg_dpi_opt": d_std,
        "beta_star": bstar,
        "rs_dpi_opt_at_2beta_star": d_at_2,
        "lemma1_witness": d_std < 0,
        "lemma2_holds": bool(positive_above and d_at_2 > 0),
    }


def run_lemmas(cfg: LemmaConfig = LemmaConfig()) -> pd.DataFrame:
    """One ``lemma = 1`` row and one ``lemma = 2`` row per instance (instance ``constructed`` first).

    ``holds`` means: lemma 1 row — the standard policy gradient lowers pi(a*) on this instance (a witness;
    Lemma 1 holds when at least one row does); lemma 2 row — the RS derivative is positive for every beta
    above ``beta_star`` (Lemma 2 holds when every row does).
    """
    rows = []

    def add(name, seed, pi, r):
        c = check_instance(pi, r)
        common = {
            "instance": name,
            "arms": len(r),
            "seed": seed,
            "std_pg_dpi_opt": c["std_pg_dpi_opt"],
            "beta_star": c["beta_star"],
            "rs_dpi_opt_at_2beta_star": c["rs_dpi_opt_at_2beta_star"],
        }
        rows.append({**common, "lemma": 1, "holds": c["lemma1_witness"]})
        rows.append({**common, "lemma": 2, "holds": c["lemma2_holds"]})

    pi, r = constructed_instance()
    add("constructed", cfg.seed, pi, r)
    for i in range(cfg.instances):
        rng = np.random.default_rng([cfg.seed, i])
        pi, r = random_instance(cfg.arms, rng)
        add(str(i), cfg.seed, pi, r)
    return pd.DataFrame(rows, columns=LEMMA_COLUMNS)


def summary(df: pd.DataFrame) -> dict:
    l1 = df[df.lemma == 1]
    l2 = df[df.lemma == 2]
    return {
        "instances": int(len(l2)),
        "lemma1_witnesses": int(l1.holds.sum()),
        "lemma1_holds": bool(l1.holds.any()),
        "lemma2_holds_all": bool(l2.holds.all()),
        "beta_star_max": float(l2.beta_star.max()),
        "beta_star_median_witnesses": float(l2[l1.holds.values].beta_star.median()) if l1.holds.any() else 0.0,
    }
