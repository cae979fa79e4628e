"""RS-GRPO's risk-sensitive advantage (Jiang et al., arXiv 2509.24261, Eq. 5), parameter ``beta >= 0``::

    A_i = (1/beta) * (exp(beta r_i) / mean_j exp(beta r_j) - 1)
        = expm1(beta (r_i - Z)) / beta,   Z = (1/beta) log mean_j exp(beta r_j)

``beta = 0`` is the limit ``r_i - mean`` (= ``drgrpo``). Large ``beta`` approaches a max-reward objective that
concentrates credit on the best samples of a group. A group whose rewards are all equal gets exactly zero advantage.
"""

from __future__ import annotations

import numpy as np

from rsrl.estimators import Param, centered, check_group, is_torch, register, to_work

# Below this beta, beta * reward differences may underflow to subnormals; the exact advantage then differs from
# the beta = 0 limit by O(beta), far below float64 resolution, so the limit is used.
_BETA_TINY = 1e-150


def _rs_ops(x, beta, ops):
    """RS advantage of float64 ``x`` (last axis = group) for ``beta`` broadcastable to ``x[..., :1]``, beta > 0.

    Z is computed relative to the group maximum so nothing overflows::

        u_j = beta (r_j - max r) <= 0,    s = mean exp(u) in [1/N, 1]
        Z - max r = log(s) / beta,        with log(s) = log1p(mean expm1(u)) when s is near 1 (small beta)

    and ``A_i = expm1(beta d_i) / beta`` with ``d_i = (r_i - max r) - (Z - max r) <= log(N) / beta``.
    Both branches of log(s) compute the same number; the choice only keeps relative precision.
    """
    rmax = ops.amax(x)
    dx = x - rmax
    u = beta * dx
    em1 = ops.mean(ops.expm1(u))  # s - 1, accurate when s is near 1
    s = em1 + 1.0
    log_s = ops.where(s > 0.5, ops.log1p(em1), ops.log(ops.mean(ops.exp(u))))
    d = dx - log_s / beta
    return ops.expm1(beta * d) / beta


class _NumpyOps:
    amax = staticmethod(lambda a: a.max(-1, keepdims=True))
    mean = staticmethod(lambda a: a.mean(-1, keepdims=True))
    expm1 = staticmethod(np.expm1)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    where = staticmethod(np.where)


class _TorchOps:
    amax = staticmethod(lambda a: a.amax(-1, keepdim=True))
    mean = staticmethod(lambda a: a.mean(-1, keepdim=True))

    @staticmethod
    def expm1(a):
        return a.expm1()

    @staticmethod
    def exp(a):
        return a.exp()

    @staticmethod
    def log(a):
        return a.log()

    @staticmethod
    def log1p(a):
        return a.log1p()

    @staticmethod
    def where(c, a, b):
        import torch

        return torch.where(c, a, b)


def rs_advantage_batch(rewards: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Float64 numpy RS advantages with ``beta`` an array broadcastable to ``rewards[..., :1]`` (entries >= 0).

    Used where many betas are evaluated at once (the bandit vectorises over beta and seeds); entries with
    ``beta = 0`` get ``r - mean``. Inputs are not validated here (this sits in inner loops): ``rewards`` must be
    float64 and ``beta`` finite and non-negative.
    """
    small = beta <= _BETA_TINY
    if not small.any():
        with np.errstate(under="ignore"):  # exp of very negative beta * (r - max r) is 0 by design
            return _rs_ops(rewards, beta, _NumpyOps)
    safe = np.where(small, 1.0, beta)
    with np.errstate(under="ignore"):
        rs = _rs_ops(rewards, safe, _NumpyOps)
    return np.where(small, centered(rewards), rs)


#: The registry name of RS-GRPO (the theory stage's bandit sweeps its β).
NAME = "rs"


@register(
    NAME,
    label="RS-GRPO",
    shade_by="beta",
    params=(Param("beta", float, minimum=0, symbol="β", doc="risk sensitivity; 0 is the mean-baseline limit"),),
    examples=[{"beta": b} for b in (0.0, 0.5, 2.0, 4.0, 8.0, 32.0)],
)
def rs(rewards, beta: float):
    """RS-GRPO: the risk-sensitive advantage (1/β)(exp(β r_i) / mean_j exp(β r_j) − 1)."""
    x, back = to_work(rewards)
    check_group(x, "rs")
    beta = float(beta)
    if beta <= _BETA_TINY:
        return back(centered(x))
    if is_torch(x):
        return back(_rs_ops(x, beta, _TorchOps))
    with np.errstate(under="ignore"):  # exp of very negative beta * (r - max r) is 0 by design
        return back(_rs_ops(x, beta, _NumpyOps))
