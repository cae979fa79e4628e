"""The parameter ``k`` of the pass@k estimators (``pkpo``, ``passk_chen``, ``passk_mahdavi``) and its checks.

``k`` is the number of attempts whose best one counts (pass@k, max@k). Each estimator is unbiased or defined only
for ``1 <= k <= N``, with ``N`` the samples per prompt: the config check rejects ``k > N`` when ``N`` is known
(``group_size`` in the context), and every call checks it against the reward matrix's last axis.
"""

from __future__ import annotations

from rsrl.estimators import EstimatorError, Param, check_binary, check_group, is_torch, to_work

K = Param("k", int, minimum=1, symbol="k", doc="attempts per pass@k set; 1 <= k <= N (samples per prompt)")

#: Parameter sets that exercise the estimators (``Spec.examples``); all fit groups of N >= 4 samples.
K_EXAMPLES = ({"k": 1}, {"k": 2}, {"k": 4})


def check_k(params: dict, context: dict) -> None:
    """Config-time check: ``k`` at most the group size, when the group size is known."""
    n = context.get("group_size")
    if n is not None and params["k"] > n:
        raise ValueError(f"k = {params['k']} exceeds the group size N = {n} (samples per prompt); need 1 <= k <= N")


def check_k_call(k: int, n: int, name: str) -> None:
    """Call-time check of ``k`` against the samples per prompt ``n`` of the reward matrix."""
    if k > n:
        raise EstimatorError(
            f"advantage estimator {name!r}: k = {k} exceeds the number of samples per prompt "
            f"N = {n} (last axis of the rewards); need 1 <= k <= N"
        )


def numpy_group(rewards, k: int, name: str, min_n: int = 1, binary: bool = False):
    """``(xn, n, back)``: the float64 numpy rewards of a pass@k estimator after the checks every one of them makes
    (shape [G, N] with N >= ``min_n``, 1 <= k <= N, rewards in {0, 1} where ``binary``), their group size, and the
    function restoring the caller's array type."""
    x, back = to_work(rewards)
    check_group(x, name, min_n)
    n = x.shape[-1]
    check_k_call(k, n, name)
    xn = x.cpu().numpy() if is_torch(x) else x
    if binary:
        check_binary(xn, name)
    return xn, n, back
