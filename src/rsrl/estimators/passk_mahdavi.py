"""Pass@k reweighting of the GRPO advantage, after Mahdavi et al. (derived here from the pass@k gradient).

Source: Mahdavi, Li, Liu, Liao, Thrampoulidis, "Beyond Accuracy: A Policy Gradient Reweighting Approach for Pass@K
Maximization in LLMs" (2nd AI for Math Workshop @ ICML 2025), and the follow-up note arXiv 2510.23049
(Thrampoulidis, Mahdavi, Deng), which writes such methods as a reweighting ``ω(ρ̂)`` of a prompt's policy-gradient
update by a function of its empirical success rate ``ρ̂``. The exact weight of the workshop paper could not be
established from the available text, so this estimator implements the derivation the method rests on, and is
labelled "(derived)": for a prompt with success probability ``p``,

    pass@k = 1 - (1 - p)^k,    grad pass@k = k (1 - p)^(k - 1) grad p,

so the pass@k gradient is the pass@1 gradient with each prompt weighted by ``k (1 - p)^(k - 1)`` (hard prompts up,
solved prompts down). Applied to the GRPO advantage, with ``p`` estimated by the group's success rate ``p̂ = c / N``::

    A_i = k (1 - p̂)^(k - 1) * (r_i - mean(r)) / (std(r) + 1e-6)

(``std`` as in the registry's ``grpo``: the unbiased N - 1 standard deviation). Parameter ``k`` (1 <= k <= N);
``k = 1`` is GRPO. A group of equal rewards gets zero advantage. The plug-in weight ``(1 - p̂)^(k - 1)`` is biased
for ``(1 - p)^(k - 1)``; the estimator points along the pass@k gradient but is not an unbiased estimate of it.

Binary rewards only (``binary_only``): other rewards raise :class:`~rsrl.estimators.EstimatorError`.
"""

from __future__ import annotations

from rsrl.estimators import register
from rsrl.estimators.group_baselines import grpo
from rsrl.estimators.passk_param import K, K_EXAMPLES, check_k, numpy_group


@register("passk_mahdavi", label="Mahdavi et al. (derived)", params=(K,), check=check_k, binary_only=True,
          examples=K_EXAMPLES)
def passk_mahdavi(rewards, k: int):
    """Pass@k reweighting (Mahdavi et al., derived): the GRPO advantage times k(1 − p̂)^(k−1)."""
    xn, n, back = numpy_group(rewards, k, "passk_mahdavi", 2, binary=True)
    p_hat = xn.mean(-1, keepdims=True)
    return back(k * (1.0 - p_hat) ** (k - 1) * grpo(xn))
