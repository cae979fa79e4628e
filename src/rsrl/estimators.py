"""Group-relative advantage estimators, looked up by name.

Every estimator is a pure function with one signature::

    advantages = fn(rewards, **params)

``rewards`` holds the rewards of ``N`` samples for each of ``G`` prompts, shape ``[G, N]`` (any leading shape
works: the group is always the last axis). The result has the same shape, the same array type (numpy in, numpy
out; torch in, torch out on the same device) and the same floating dtype (integer or boolean rewards give float64).
Internally every estimator works in float64, so float32 and bfloat16 inputs lose nothing but the final rounding.
Advantages are constants of the policy-gradient loss: torch inputs are detached, the result carries no gradient.

Trainers never branch on the estimator name: they call ``get(name, **params)`` once and apply the returned function
to each rollout's reward matrix. Adding an estimator is adding one decorated function here.

Estimators
----------
``grpo``    ``(r_i - mean) / (std + eps)``; ``std`` is the unbiased (N - 1) group standard deviation by default,
            as in OpenRLHF and TRL (``unbiased=False`` for the population one).
``drgrpo``  ``r_i - mean`` (Dr. GRPO: no std division).
``rloo``    ``r_i - mean of the other N - 1 rewards`` = ``N / (N - 1) * (r_i - mean)``.
``rs``      RS-GRPO (risk-sensitive, parameter ``beta >= 0``)::

                A_i = (1/beta) * (exp(beta r_i) / mean_j exp(beta r_j) - 1)
                    = expm1(beta (r_i - Z)) / beta,   Z = (1/beta) log mean_j exp(beta r_j)

            ``beta = 0`` is the limit ``r_i - mean`` (= ``drgrpo``). Large ``beta`` approaches a max-reward
            objective that concentrates credit on the best samples of a group.

In every estimator a group whose rewards are all equal gets exactly zero advantage.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable

import numpy as np

__all__ = ["get", "names", "register", "describe", "rs_advantage_batch"]

Estimator = Callable[..., Any]

_REGISTRY: dict[str, Estimator] = {}
_CHECKS: dict[str, Callable[[dict], None]] = {}


def register(name: str, check: Callable[[dict], None] | None = None) -> Callable[[Estimator], Estimator]:
    """Register ``fn(rewards, **params)`` under ``name``; ``check(params)`` may reject bad parameter values."""

    def deco(fn: Estimator) -> Estimator:
        if name in _REGISTRY:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        _REGISTRY[name] = fn
        if check is not None:
            _CHECKS[name] = check
        return fn

    return deco


def names() -> list[str]:
    """Names of all registered estimators."""
    return sorted(_REGISTRY)


def _param_spec(fn: Estimator) -> tuple[set[str], set[str]]:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    return {p.name for p in params}, required


def describe(name: str) -> str:
    """One line: the estimator's parameters and their defaults."""
    fn = _lookup(name)
    params = list(inspect.signature(fn).parameters.values())[1:]
    return f"{name}(" + ", ".join(str(p) for p in params) + ")"


def _lookup(name: str) -> Estimator:
    if name not in _REGISTRY:
        raise ValueError(f"unknown advantage estimator {name!r}; allowed values are {names()}")
    return _REGISTRY[name]


def get(name: str, **params) -> Callable[[Any], Any]:
    """The estimator ``name`` with its parameters bound: a function ``rewards [G, N] -> advantages [G, N]``.

    Raises ValueError for an unknown name, an unknown or missing parameter, or a bad parameter value.
    """
    fn = _lookup(name)
    allowed, required = _param_spec(fn)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"advantage estimator {name!r}: unknown parameter(s) {unknown}; "
                         f"allowed parameters are {sorted(allowed) or 'none'} ({describe(name)})")
    missing = sorted(required - set(params))
    if missing:
        raise ValueError(f"advantage estimator {name!r}: missing parameter(s) {missing} ({describe(name)})")
    if name in _CHECKS:
        _CHECKS[name](params)

    def bound(rewards):
        return fn(rewards, **params)

    bound.__name__ = f"{name}_advantage"
    bound.__doc__ = f"{describe(name)} with {params or 'defaults'}"
    bound.estimator = name  # type: ignore[attr-defined]
    bound.params = dict(params)  # type: ignore[attr-defined]
    return bound


# --------------------------------------------------------------------------------------------------------------
# numpy / torch plumbing: estimators compute in float64 numpy or float64 torch and convert back.


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _to_work(rewards):
    """(float64 working array, function restoring the caller's type/dtype/device)."""
    if _is_torch(rewards):
        import torch

        dtype = rewards.dtype if rewards.is_floating_point() else torch.float64
        work = rewards.detach().to(torch.float64)
        return work, (lambda a: a.to(dtype))
    arr = np.asarray(rewards)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
    work = arr.astype(np.float64, copy=False)
    return work, (lambda a: np.asarray(a).astype(dtype, copy=False))


def _check_group(x, name: str, min_n: int = 1) -> None:
    if x.ndim < 1:
        raise ValueError(f"advantage estimator {name!r}: rewards must have shape [G, N] (groups x samples); "
                         f"got a scalar")
    n = x.shape[-1]
    if n < min_n:
        raise ValueError(f"advantage estimator {name!r}: needs at least {min_n} samples per group (last axis); "
                         f"got shape {tuple(x.shape)}")


def _centered(x):
    """``x - mean(x)`` over the last axis, exactly zero for constant groups (shift by the first element first)."""
    d = x - x[..., :1]
    return d - d.mean(-1, keepdims=True) if not _is_torch(x) else d - d.mean(-1, keepdim=True)


# --------------------------------------------------------------------------------------------------------------
# Estimators


def _check_eps(params: dict) -> None:
    eps = params.get("eps", 1e-6)
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"advantage estimator 'grpo': parameter eps must be a finite number >= 0; got {eps!r}")


@register("grpo", check=_check_eps)
def grpo(rewards, eps: float = 1e-6, unbiased: bool = True):
    x, back = _to_work(rewards)
    _check_group(x, "grpo", 2 if unbiased else 1)
    c = _centered(x)
    n = x.shape[-1]
    ddof = 1 if unbiased else 0
    if _is_torch(x):
        std = ((c * c).sum(-1, keepdim=True) / (n - ddof)).sqrt()
    else:
        std = np.sqrt((c * c).sum(-1, keepdims=True) / (n - ddof))
    return back(c / (std + eps))


@register("drgrpo")
def drgrpo(rewards):
    x, back = _to_work(rewards)
    _check_group(x, "drgrpo")
    return back(_centered(x))


@register("rloo")
def rloo(rewards):
    x, back = _to_work(rewards)
    _check_group(x, "rloo", 2)
    n = x.shape[-1]
    return back(_centered(x) * (n / (n - 1)))


def _check_beta(params: dict) -> None:
    beta = params["beta"]
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise ValueError(f"advantage estimator 'rs': parameter beta must be a number >= 0; got {beta!r}")
    if not (math.isfinite(float(beta)) and float(beta) >= 0):
        raise ValueError(f"advantage estimator 'rs': parameter beta must be a finite number >= 0; got {beta!r}")


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
    return np.where(small, _centered(rewards), rs)


@register("rs", check=_check_beta)
def rs(rewards, beta: float):
    x, back = _to_work(rewards)
    _check_group(x, "rs")
    beta = float(beta)
    if beta <= _BETA_TINY:
        return back(_centered(x))
    if _is_torch(x):
        return back(_rs_ops(x, beta, _TorchOps))
    with np.errstate(under="ignore"):  # exp of very negative beta * (r - max r) is 0 by design
        return back(_rs_ops(x, beta, _NumpyOps))
