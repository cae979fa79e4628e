"""Group-relative advantage estimators, looked up by name: the one list of estimators and of their parameters.

Every estimator is a pure function with one signature::

    advantages = fn(rewards, **params)

``rewards`` holds the rewards of ``N`` samples for each of ``G`` prompts, shape ``[G, N]`` (any leading shape
works: the group is always the last axis). The result has the same shape, the same array type (numpy in, numpy
out; torch in, torch out on the same device) and the same floating dtype (integer or boolean rewards give float64).
Internally every estimator works in float64, so float32 and bfloat16 inputs lose nothing but the final rounding.
Advantages are constants of the policy-gradient loss: torch inputs are detached, the result carries no gradient.

Each estimator is registered with :func:`register` together with its parameters (:class:`Param`: name, type,
allowed range, default, display symbol) and its display label. That registration is the only place an estimator
or one of its parameters is named: config validation (:func:`check_params`), the method names of the grid
(:mod:`rsrl.methods`), the trainers (:func:`get`) and the report's labels all ask the registry. Adding an
estimator is adding one module under ``rsrl/estimators/`` with one decorated function, and importing it below.

Trainers never branch on the estimator name: they call ``get(name, **params)`` once and apply the returned function
to each rollout's reward matrix.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Param",
    "Spec",
    "get",
    "names",
    "register",
    "spec",
    "check_params",
    "describe",
    "rs_advantage_batch",
    "EstimatorError",
]

Estimator = Callable[..., Any]


class EstimatorError(ValueError):
    """An unknown estimator, or a bad parameter; the message names the allowed values."""


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of an estimator.

    ``type`` is ``int``, ``float``, ``bool`` or ``str``; numbers must be finite and lie in
    [``minimum``, ``maximum``] (``exclusive_minimum``/``exclusive_maximum`` make a bound strict); ``choices`` lists
    the allowed values of a ``str`` parameter. ``symbol`` is how figures and tables write it (``β``, ``k``).
    """

    name: str
    type: type = float
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple | None = None
    symbol: str | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def allowed(self) -> str:
        """The allowed values, in words (for error messages)."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return "a string"
        kind = "an integer" if self.type is int else "a finite number"
        lo = "" if self.minimum is None else f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
        hi = "" if self.maximum is None else f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}"
        rng = " and ".join(x for x in (lo, hi) if x)
        return f"{kind}{' ' + rng if rng else ''}"

    def coerce(self, value: Any, where: str) -> Any:
        """``value`` as this parameter's type, or :class:`EstimatorError` naming ``where`` and the allowed values."""
        bad = EstimatorError(f"{where}: parameter {self.name!r} must be {self.allowed()}; got {value!r}")
        if self.type is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise bad
        if self.type is str:
            if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
                raise bad
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise bad
        if self.type is int:
            if isinstance(value, numbers.Integral):
                value = int(value)
            elif float(value).is_integer():
                value = int(value)
            else:
                raise bad
        else:
            value = float(value)
        if not math.isfinite(value):
            raise bad
        if self.minimum is not None and (value < self.minimum or (self.exclusive_minimum and value == self.minimum)):
            raise bad
        if self.maximum is not None and (value > self.maximum or (self.exclusive_maximum and value == self.maximum)):
            raise bad
        if self.choices is not None and value not in self.choices:
            raise bad
        return value


@dataclass(frozen=True)
class Spec:
    """A registered estimator: its function, parameters (in declaration order) and display label.

    ``check(params, context)`` may reject combinations a single :class:`Param` cannot express; ``context`` holds
    what is known about the training batch when the config is validated or the estimator is bound:
    ``group_size`` (samples per prompt, N) and ``prompts_per_batch`` (G), either possibly absent.
    ``binary_only``: defined for rewards in {0, 1} only. ``examples``: parameter sets that exercise the estimator
    (the engine checks run each; default: the declared defaults, when no parameter is required). ``shade_by``: the
    parameter that indexes a family of runs (RS-GRPO's β): figures shade the estimator's colour by its value.
    """

    name: str
    fn: Estimator
    params: tuple[Param, ...] = ()
    label: str = ""
    check: Callable[[dict, dict], None] | None = None
    binary_only: bool = False
    order: int = 0
    summary: str = ""
    examples: tuple[dict, ...] = ()
    shade_by: str | None = None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]


_REGISTRY: dict[str, Spec] = {}


def register(
    name: str,
    *,
    params: tuple[Param, ...] | list[Param] = (),
    label: str | None = None,
    check: Callable[[dict, dict], None] | None = None,
    binary_only: bool = False,
    summary: str = "",
    examples: tuple[dict, ...] | list[dict] = (),
    shade_by: str | None = None,
) -> Callable[[Estimator], Estimator]:
    """Register ``fn(rewards, **params)`` under ``name`` with its parameters (see :class:`Param`)."""
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha() or name != name.lower():
        raise ValueError(f"estimator name {name!r}: use lower-case letters, digits and '_', starting with a letter")
    params = tuple(params)

    def deco(fn: Estimator) -> Estimator:
        if name in _REGISTRY:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        sig = list(inspect.signature(fn).parameters)[1:]
        declared = [p.name for p in params]
        if sig != declared:
            raise ValueError(
                f"advantage estimator {name!r}: the function's parameters {sig} differ from the "
                f"declared ones {declared}"
            )
        for p in params:
            if not p.name.isidentifier() or not p.name[0].isalpha():
                raise ValueError(f"advantage estimator {name!r}: parameter name {p.name!r} must be an identifier")
            if not p.required:
                p.coerce(p.default, f"advantage estimator {name!r} (default)")
        ex = tuple(dict(e) for e in examples)
        if not ex and not any(p.required for p in params):
            ex = ({},)
        if not ex:
            raise ValueError(f"advantage estimator {name!r}: required parameters need `examples`")
        if shade_by is not None and shade_by not in declared:
            raise ValueError(f"advantage estimator {name!r}: shade_by {shade_by!r} is not one of its parameters")
        _REGISTRY[name] = Spec(
            name,
            fn,
            params,
            label or name,
            check,
            binary_only,
            len(_REGISTRY),
            summary or (inspect.getdoc(fn) or "").split("\n")[0],
            ex,
            shade_by,
        )
        for e in ex:
            check_params(name, e, where=f"advantage estimator {name!r} (example {e})")
        return fn

    return deco


def unregister(name: str) -> None:
    """Remove ``name`` (for tests that register an estimator temporarily)."""
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    """Names of all registered estimators, in registration order."""
    return list(_REGISTRY)


def spec(name: str) -> Spec:
    if name not in _REGISTRY:
        raise EstimatorError(f"unknown advantage estimator {name!r}; allowed values are {names()}")
    return _REGISTRY[name]


def describe(name: str) -> str:
    """One line: the estimator's parameters, their allowed values and defaults."""
    s = spec(name)
    parts = [f"{p.name}: {p.allowed()}" + ("" if p.required else f" = {p.default!r}") for p in s.params]
    return f"{name}(" + ", ".join(parts) + ")"


def check_params(name: str, params: dict, context: dict | None = None, where: str | None = None) -> dict:
    """The parameters of ``name`` validated and coerced to their types (defaults not filled in).

    Raises :class:`EstimatorError` for an unknown estimator, an unknown or missing parameter, or a bad value;
    the message starts with ``where`` (e.g. a config key) and lists what is allowed.
    """
    s = spec(name)
    where = where or f"advantage estimator {name!r}"
    unknown = sorted(set(params) - set(s.param_names))
    if unknown:
        raise EstimatorError(
            f"{where}: unknown parameter(s) {unknown} of estimator {name!r}; allowed parameters "
            f"are {s.param_names or 'none'} ({describe(name)})"
        )
    missing = [p.name for p in s.params if p.required and p.name not in params]
    if missing:
        raise EstimatorError(f"{where}: estimator {name!r} needs parameter(s) {missing} ({describe(name)})")
    out = {p.name: p.coerce(params[p.name], where) for p in s.params if p.name in params}
    if s.check is not None:
        full = {p.name: p.default for p in s.params if not p.required}
        full.update(out)
        try:
            s.check(full, dict(context or {}))
        except EstimatorError:
            raise
        except ValueError as exc:
            raise EstimatorError(f"{where}: {exc}") from None
    return out


def get(name: str, **params) -> Callable[[Any], Any]:
    """The estimator ``name`` with its parameters bound: a function ``rewards [G, N] -> advantages [G, N]``.

    Raises :class:`EstimatorError` (a ValueError) for an unknown name, an unknown or missing parameter, or a bad
    parameter value.
    """
    s = spec(name)
    bound_params = check_params(name, params)

    def bound(rewards):
        return s.fn(rewards, **bound_params)

    bound.__name__ = f"{name}_advantage"
    bound.__doc__ = f"{describe(name)} with {bound_params or 'defaults'}"
    bound.estimator = name  # type: ignore[attr-defined]
    bound.params = dict(bound_params)  # type: ignore[attr-defined]
    return bound


# --------------------------------------------------------------------------------------------------------------
# numpy / torch plumbing shared by the estimator modules: compute in float64 numpy or float64 torch, convert back.


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def to_work(rewards):
    """(float64 working array, function restoring the caller's type/dtype/device)."""
    if is_torch(rewards):
        import torch

        dtype = rewards.dtype if rewards.is_floating_point() else torch.float64
        work = rewards.detach().to(torch.float64)
        return work, (lambda a: torch.as_tensor(a, device=rewards.device).to(dtype))
    arr = np.asarray(rewards)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
    work = arr.astype(np.float64, copy=False)
    return work, (lambda a: np.asarray(a).astype(dtype, copy=False))


def check_group(x, name: str, min_n: int = 1) -> None:
    if x.ndim < 1:
        raise EstimatorError(
            f"advantage estimator {name!r}: rewards must have shape [G, N] (groups x samples); got a scalar"
        )
    n = x.shape[-1]
    if n < min_n:
        raise EstimatorError(
            f"advantage estimator {name!r}: needs at least {min_n} samples per group (last axis); "
            f"got shape {tuple(x.shape)}"
        )


def check_binary(x, name: str) -> None:
    """Reject rewards outside {0, 1} (for estimators registered with ``binary_only=True``)."""
    bad = (x != 0) & (x != 1)
    if bool(bad.any()):
        value = float(x[bad].reshape(-1)[0])
        raise EstimatorError(
            f"advantage estimator {name!r} is defined for binary rewards (0 or 1) only; got a reward of {value!r}"
        )


def centered(x):
    """``x - mean(x)`` over the last axis, exactly zero for constant groups (shift by the first element first)."""
    d = x - x[..., :1]
    return d - d.mean(-1, keepdims=True) if not is_torch(x) else d - d.mean(-1, keepdim=True)


# The estimators. Import order is registration order (the order of tables, legends and colours): kept by hand.
# isort: off
from rsrl.estimators import group_baselines as _group_baselines  # noqa: E402,F401
from rsrl.estimators import risk_sensitive as _risk_sensitive  # noqa: E402,F401
from rsrl.estimators.risk_sensitive import rs_advantage_batch  # noqa: E402
from rsrl.estimators import pkpo as _pkpo  # noqa: E402,F401
from rsrl.estimators import passk_chen as _passk_chen  # noqa: E402,F401
from rsrl.estimators import passk_mahdavi as _passk_mahdavi  # noqa: E402,F401
from rsrl.estimators import riskpo as _riskpo  # noqa: E402,F401
# isort: on
