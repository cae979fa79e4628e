"""Pass@k Training's analytical advantage (Chen et al., arXiv 2508.10751; official code RUCAIBox/Passk_Training).

For binary rewards with ``c`` correct samples among ``N`` and ``N_neg = N - c`` incorrect ones, the group's pass@k
(over its ``k``-subsets) and its standard deviation are::

    R̄ = 1 - C(N_neg, k) / C(N, k)          (the unbiased pass@k of the group, rsrl.passk.pass_at_k)
    σ = sqrt(R̄ (1 - R̄))

and every correct sample gets ``A_pos``, every incorrect one ``A_neg``::

    A_pos = (1 - R̄) / σ
    A_neg = (1 - R̄ - C(N_neg - 1, k - 1) / C(N - 1, k - 1)) / σ

``C(N_neg - 1, k - 1) / C(N - 1, k - 1)`` is the share of the ``(k - 1)``-subsets of the other samples that hold no
correct answer, i.e. of the ``k``-subsets through an incorrect sample that fail. Parameter ``k`` (1 <= k <= N);
``k = 1`` is GRPO with the population standard deviation. Where ``σ = 0`` (all correct, all wrong, or fewer than
``k`` wrong samples so that every ``k``-subset passes) both numerators are 0 too and the advantage is 0; the official
code adds 1e-6 to σ instead, which gives the same zeros and differs elsewhere by a relative 1e-6. In particular
``k = N`` (a single ``k``-subset) gives every group zero advantage: use ``k < N``. A group of equal rewards gets zero
advantage, and every group's advantages sum to zero.

Binary rewards only (``binary_only``): other rewards raise :class:`~rsrl.estimators.EstimatorError`.
"""

from __future__ import annotations

import numpy as np

from rsrl.estimators import register
from rsrl.estimators.passk_param import K_EXAMPLES, K, check_k, numpy_group
from rsrl.passk import pass_at_k


@register("passk_chen", label="Chen et al.", params=(K,), check=check_k, binary_only=True, examples=K_EXAMPLES)
def passk_chen(rewards, k: int):
    """Pass@k Training (Chen et al.): the analytical pass@k group advantage for binary rewards."""
    xn, n, back = numpy_group(rewards, k, "passk_chen", binary=True)
    c = xn.sum(-1, keepdims=True).round().astype(np.int64)
    r_bar = pass_at_k(n, c, k)
    sigma = np.sqrt(r_bar * (1.0 - r_bar))
    if k == 1:
        fail_through_neg = np.ones_like(r_bar)
    else:  # C(N_neg - 1, k - 1) / C(N - 1, k - 1); c = N has no incorrect sample, its value is unused
        fail_through_neg = 1.0 - pass_at_k(n - 1, np.minimum(c, n - 1), k - 1)
    a_pos = 1.0 - r_bar
    a_neg = 1.0 - r_bar - fail_through_neg
    num = np.where(xn == 1, a_pos, a_neg)
    safe = np.where(sigma > 0, sigma, 1.0)
    return back(np.where(sigma > 0, num / safe, 0.0))
