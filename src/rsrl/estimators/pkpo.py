"""PKPO: Pass@K Policy Optimization (Walder & Karkhanis, arXiv 2505.15201), parameter ``k`` (1 <= k <= N).

Objective: max@k, the expected best reward of ``k`` independent samples (pass@k for rewards in {0, 1}). With ``N``
samples ``r_1..r_N`` of a prompt, averaging the policy gradient of ``max`` over every ``k``-subset ``S`` of the group
gives the unbiased estimator ``sum_i s_i grad log pi(x_i)`` with ``s_i = (1/C(N, k)) sum_{S ∋ i} max_{j∈S} r_j``.
The paper's recommended variance reduction ``s^(loo-1)`` subtracts from each subset's maximum the maximum of the
same subset without ``i`` (a baseline that does not depend on sample ``i``, so the estimator stays unbiased)::

    A_i = (1/C(N, k)) * sum_{S ∋ i, |S| = k} [ max_{j∈S} r_j - max_{j∈S\\{i}} r_j ]          (k >= 2)

This is what the estimator returns. It is never negative: a sample gains credit only where it is the best of a
subset, by its margin over the subset's runner-up. With the rewards sorted, ``r_(1) <= ... <= r_(N)``, and
``d_l = r_(l) - r_(l-1)`` (``d_1 = 0``), swapping the sums gives the O(N log N) form used here::

    A_(j) = sum_{l = 2}^{j} d_l * C(l - 1, k - 1) / C(N, k)

(ties need no care: equal rewards have ``d = 0``). For binary rewards with ``c`` correct samples it reduces to
``C(N - c, k - 1) / C(N, k)`` for a correct sample and 0 for an incorrect one. ``k = 1`` has no ``k - 1``-subset
baseline: the estimator is then plain REINFORCE, ``A_i = r_i / N``, which is the one case where a group of equal
rewards gets a non-zero advantage. The scale is the estimator's own: ``E[sum_i A_i grad log pi(x_i)]`` equals
``grad max@k`` exactly (no group standardisation; advantages are O(k/N)).

The paper also anneals ``k`` over training; that is a training schedule, not part of this per-batch function.
Works with binary and continuous rewards.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from rsrl.estimators import register
from rsrl.estimators.passk_param import K_EXAMPLES, K, check_k, numpy_group


@functools.lru_cache(maxsize=256)
def _rank_weights(n: int, k: int) -> np.ndarray:
    """``C(l - 1, k - 1) / C(n, k)`` for ranks ``l = 1..n`` (exact integers, one correctly rounded division)."""
    total = math.comb(n, k)
    w = np.array([math.comb(rank - 1, k - 1) / total for rank in range(1, n + 1)])
    w.setflags(write=False)
    return w


@register("pkpo", label="Walder & Karkhanis", params=(K,), check=check_k, examples=K_EXAMPLES)
def pkpo(rewards, k: int):
    """PKPO: the unbiased max@k / pass@k gradient weights with the leave-one-out (k−1) baseline, s^(loo−1)."""
    xn, n, back = numpy_group(rewards, k, "pkpo")
    if k == 1:
        return back(xn / n)
    order = np.argsort(xn, axis=-1, kind="stable")
    g = np.take_along_axis(xn, order, axis=-1)
    d = np.diff(g, axis=-1, prepend=g[..., :1])
    s_sorted = np.cumsum(d * _rank_weights(n, k), axis=-1)
    out = np.empty_like(s_sorted)
    np.put_along_axis(out, order, s_sorted, axis=-1)
    return back(out)
