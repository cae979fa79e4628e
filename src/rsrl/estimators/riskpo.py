"""RiskPO's Mixed-VaR advantage over bundles of questions (Ren et al., arXiv 2510.00911; official code RTkenny/RiskPO,
advantage estimator ``grpo_bundle_RVaR_quantile_tracking`` of its modified verl).

Bundling: the ``G`` prompts of a batch form ``G / B`` bundles of ``B`` consecutive prompts (rows). Within a bundle,
"paper" ``j`` is the ``j``-th response of each of its ``B`` questions and its score ``X_j`` is the sum of their ``B``
rewards, so a bundle of ``B`` groups of ``N`` responses has ``N`` papers. A batch whose number of prompts is not a
multiple of ``B`` is an error.

Mixed-VaR advantage of a paper, with ``q_α``, ``q_β`` the ``α``- and ``β``-quantiles of the bundle's ``N`` paper
scores (linear interpolation between order statistics, as ``numpy.quantile``/``torch.quantile``) and ``s`` their
standard deviation (N - 1 in the denominator)::

    RVaR(X) = [(X - q_α)^+ - (X - q_β)^+ + (q_α - q_β)] / (β - α)   (= (clip(X, q_α, q_β) - q_β) / (β - α))
    CVaR(X) = -(q_α - X)^+ / α
    A(X)    = [w * CVaR(X) + RVaR(X)] / (w + 1) / (s + 1e-6)

These are the score-function weights of the objective ``J = [w CVaR_α(X) + RVaR_{α,β}(X)] / (w + 1)`` (the mean of
the lower ``α`` tail of the paper-score distribution and the mean of its ``[α, β]`` band), evaluated at the batch's
empirical quantiles. Every paper advantage is ``<= 0`` (the constant ``q_α - q_β`` is the official code's
``natural_baseline_adv``, on in its GSM8K/MATH script): papers at or above ``q_β`` get 0, worse ones are pushed down,
those in the lower ``α`` tail most.

Credit from a paper back to each of its responses ``r`` (question ``q``, with the mean ``m_q`` and standard deviation
``s_q`` of that question's ``N`` rewards), parameter ``credit``:

* ``std``: ``A(X) / (s_q' + 1e-6)`` with ``s_q' = s_q`` if ``s_q > 1e-3`` else 1 (the official GSM8K/MATH script);
* ``sum-mean``: ``A(X) * (r - m_q) / sum over the paper's responses of (r - m_q)``, or ``A(X) / B`` when that sum is
  within 1e-6 of 0 (the official DAPO script);
* ``uniform``: ``A(X)``;
* ``score``: ``A(X) * (0.5 if r > 0 else 1.5)``.

Parameters: ``alpha`` < ``beta`` in (0, 1) (the official scripts use 0.2 with 0.9 or 0.8), ``w`` the CVaR weight
(1.5), ``B`` questions per bundle (5), ``credit`` (``std``). The defaults are the official GSM8K/MATH script's.

Quantiles, as the official code runs: it has a tracker of 19 quantile levels (0.05..0.95, stochastic-approximation
update, learning rate 0.1; option ``use_q_track_mode``, which its scripts set to ``'track'``), but in its
``ray_trainer.py`` the tracked quantiles are attached to the batch only after the advantage has been computed, on a
batch rebuilt every step, so the advantage function never receives them and falls back to the bundle's batch
quantiles (RTkenny/RiskPO at commit 8dce3fa, ``verl/trainer/ppo/ray_trainer.py``; a reading of the code, not a
run). This function uses the current bundle's quantiles, which is therefore what their runs computed. The official
code also divides by ``β - α + 1e-6`` and ``α + 1e-6``; here the levels are exact (a relative difference of about
1e-6).

A bundle whose paper scores are all equal gets zero advantage (then ``q_α = q_β = X``). A question whose responses
all have the same reward still gets the advantages of its papers when the other questions of its bundle vary
(credit ``std``, ``uniform``, ``score``; ``sum-mean`` gives it 0); with ``B = 1`` every group of equal rewards gets 0.
Works with binary and continuous rewards. Engines must keep a batch's prompts contiguous and in order, with the
number of prompts a multiple of ``B``.
"""

from __future__ import annotations

import numpy as np

from rsrl.estimators import EstimatorError, Param, check_group, is_torch, register, to_work

CREDITS = ("std", "sum-mean", "uniform", "score")
_EPS = 1e-6  # added to the standard deviations (official code)
_STD_FLOOR = 1e-3  # a question's reward std at or below this counts as 1 (credit "std", official code)
_SUM_FLOOR = 1e-6  # credit "sum-mean": below this |sum of (r - m_q)| the paper's advantage is split evenly


def _quantile(ordered: np.ndarray, level: float) -> np.ndarray:
    """The ``level``-quantile of values sorted along the last axis: linear between the order statistics around
    position ``(n - 1) * level`` (the default method of ``numpy.quantile`` and ``torch.quantile``)."""
    n = ordered.shape[-1]
    h = (n - 1) * level
    lo = min(int(np.floor(h)), n - 1)
    hi = min(lo + 1, n - 1)
    a, b = ordered[..., lo : lo + 1], ordered[..., hi : hi + 1]
    return a + (h - lo) * (b - a)


def _check(params: dict, context: dict) -> None:
    if not params["alpha"] < params["beta"]:
        raise ValueError(
            f"riskpo needs alpha < beta (quantile levels); got alpha = {params['alpha']}, beta = {params['beta']}"
        )
    g = context.get("prompts_per_batch")
    if g is not None and g % params["B"] != 0:
        raise ValueError(
            f"riskpo bundles B = {params['B']} consecutive prompts, but a batch has {g} prompts, not a "
            f"multiple of B; choose B dividing the prompts per batch"
        )


@register(
    "riskpo",
    label="RiskPO",
    check=_check,
    params=(
        Param(
            "alpha",
            float,
            default=0.2,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            exclusive_maximum=True,
            symbol="α",
            doc="lower quantile level of the paper scores (CVaR tail and RVaR band start)",
        ),
        Param(
            "beta",
            float,
            default=0.9,
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            exclusive_maximum=True,
            symbol="β",
            doc="upper quantile level of the paper scores (RVaR band end); alpha < beta",
        ),
        Param("w", float, default=1.5, minimum=0, symbol="ω", doc="weight of the lower-tail CVaR term"),
        Param("B", int, default=5, minimum=1, symbol="B", doc="questions per bundle (consecutive prompts)"),
        Param("credit", str, default="std", choices=CREDITS, doc="how a paper's advantage reaches its responses"),
    ),
    examples=[
        {"B": 1},
        {"B": 2, "credit": "sum-mean"},
        {"B": 3, "beta": 0.8, "credit": "uniform"},
        {"B": 6, "credit": "score"},
    ],
)
def riskpo(rewards, alpha: float = 0.2, beta: float = 0.9, w: float = 1.5, B: int = 5, credit: str = "std"):
    """RiskPO: the Mixed-VaR advantage of bundled papers, credited back to each response."""
    x, back = to_work(rewards)
    check_group(x, "riskpo")
    if not alpha < beta:
        raise EstimatorError(f"advantage estimator 'riskpo': needs alpha < beta; got alpha = {alpha}, beta = {beta}")
    if credit not in CREDITS:
        raise EstimatorError(f"advantage estimator 'riskpo': credit must be one of {list(CREDITS)}; got {credit!r}")
    xn = x.cpu().numpy() if is_torch(x) else x
    shape = xn.shape
    r = xn.reshape(1, -1) if xn.ndim == 1 else xn
    g, n = r.shape[-2], r.shape[-1]
    if g % B != 0:
        raise EstimatorError(
            f"advantage estimator 'riskpo': a batch of {g} prompts is not a multiple of the bundle "
            f"size B = {B}; every B consecutive prompts form a bundle"
        )
    r = r.reshape(*r.shape[:-2], g // B, B, n)  # [..., bundles, B, N]
    papers = r.sum(-2)  # [..., bundles, N]
    ordered = np.sort(papers, axis=-1)
    q_a, q_b = _quantile(ordered, alpha), _quantile(ordered, beta)
    spread = papers.std(-1, ddof=1, keepdims=True) if n > 1 else np.ones_like(papers[..., :1])
    rvar = (np.clip(papers, q_a, q_b) - q_b) / (beta - alpha)
    cvar = -np.maximum(q_a - papers, 0.0) / alpha
    adv = ((w * cvar + rvar) / (w + 1.0) / (spread + _EPS))[..., None, :]  # [..., bundles, 1, N]
    if credit == "uniform":
        out = np.broadcast_to(adv, r.shape)
    elif credit == "score":
        out = adv * np.where(r > 0, 0.5, 1.5)
    elif credit == "std":
        s_q = r.std(-1, ddof=1, keepdims=True) if n > 1 else np.ones_like(r[..., :1])
        out = adv / (np.where(s_q > _STD_FLOOR, s_q, 1.0) + _EPS)
    else:  # sum-mean
        ratio = r - r.mean(-1, keepdims=True)
        total = ratio.sum(-2, keepdims=True)
        split = np.abs(total) > _SUM_FLOOR
        out = np.where(split, adv * ratio / np.where(split, total, 1.0), adv / B)
    return back(np.ascontiguousarray(out).reshape(shape))
