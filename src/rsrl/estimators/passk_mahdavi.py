"""Pass@k reweighting of the GRPO advantage (Mahdavi et al.), as their public code computes it.

Source: Mahdavi, Li, Liu, Liao, Thrampoulidis, "Beyond Accuracy: A Policy Gradient Reweighting Approach for Pass@K
Maximization in LLMs" (2nd AI for Math Workshop @ ICML 2025, OpenReview Dn3gk9auxd). Their verl fork
smahdavi4/verl implements it in ``verl/trainer/ppo/core_algos.py`` (read at commit ce94939; functions
``_compute_per_sample_star_coefs`` and ``compute_grpo_outcome_advantage`` with ``star_coef`` = k): for a group of
N samples with success rate ``p̂ = c / N`` strictly between 0 and 1, the std-normalised GRPO advantage is multiplied
by the coefficient ``k (1 - p̂)^(k - 1)``::

    A_i = w_g * (r_i - mean(r)) / (std(r) + 1e-6),     w_g = k (1 - p̂_g)^(k - 1)   for 0 < p̂_g < 1

(``std`` the unbiased N - 1 standard deviation, as ``torch.std`` there and the registry's ``grpo`` here). Groups
with ``p̂`` in {0, 1} keep multiplier 1, and their GRPO advantage is 0. This is the pass@k gradient
``grad pass@k = k (1 - p)^(k - 1) grad p`` with ``p`` replaced by ``p̂``.

``normalize_star`` (default off, as in the fork): the coefficients are rescaled over the whole batch (every group of
the reward matrix) so that they average to 1 over the active samples, ``w_g <- w_g * n_active / sum of the active
samples' w``; with equal group sizes this is ``G_active / sum over active groups of w_g``. The fork applies the
coefficients (and the normalisation) only for ``k > 1``; with ``k = 1`` every coefficient is 1 and both options are
GRPO.

The workshop paper's text states that the weight vanishes for ``p̂`` above ``1 - k/N``; the public code does not
do that, and this estimator follows the code. ``k`` is an integer here (``star_coef`` is a float in the fork).

Binary rewards only (``binary_only``; the fork asserts rewards in [0, 1]): other rewards raise
:class:`~rsrl.estimators.EstimatorError`.
"""

from __future__ import annotations

import numpy as np

from rsrl.estimators import Param, register
from rsrl.estimators.group_baselines import grpo
from rsrl.estimators.passk_param import K_EXAMPLES, K, check_k, numpy_group

NORMALIZE_STAR = Param(
    "normalize_star",
    bool,
    default=False,
    doc="rescale the coefficients to mean 1 over the batch's active samples (fork option)",
)


def star_coefficients(p_hat: np.ndarray, k: int, normalize_star: bool = False) -> np.ndarray:
    """Per-group multiplier of the GRPO advantage: ``k (1 - p̂)^(k - 1)`` where ``0 < p̂ < 1``, else 1; with
    ``normalize_star`` the active groups' multipliers are scaled to average 1 (over samples; equal group sizes)."""
    active = (p_hat > 0) & (p_hat < 1)
    coef = np.where(active, k * (1.0 - p_hat) ** (k - 1), 1.0)
    if normalize_star and k > 1 and active.any():
        coef = np.where(active, coef * active.sum() / coef[active].sum(), coef)
    return coef


@register(
    "passk_mahdavi",
    label="Mahdavi et al.",
    params=(K, NORMALIZE_STAR),
    check=check_k,
    binary_only=True,
    examples=K_EXAMPLES + ({"k": 4, "normalize_star": True},),
)
def passk_mahdavi(rewards, k: int, normalize_star: bool = False):
    """Pass@k reweighting (Mahdavi et al., smahdavi4/verl): the GRPO advantage times k(1 − p̂)^(k−1)."""
    xn, n, back = numpy_group(rewards, k, "passk_mahdavi", 2, binary=True)
    p_hat = xn.mean(-1, keepdims=True)
    return back(star_coefficients(p_hat, k, normalize_star) * grpo(xn))
