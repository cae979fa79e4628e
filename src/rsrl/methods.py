"""Method names: the one grammar for naming a training method, a step snapshot and the base model.

A *method* is an estimator of :mod:`rsrl.estimators` with parameter values. Its id is path-safe and exact::

    <estimator>                                   grpo, drgrpo, rloo
    <estimator>_<param><value>[_<param><value>]   rs_beta2, rs_beta0.3333333333333333, pkpo_k4

listing, in the estimator's declaration order, the parameters whose value differs from their declared default.
Numbers are written in Python's shortest round-tripping form (integral floats without ``.0``), so
``parse(method_id(e, p)) == (e, p)`` holds exactly for every value the config accepts; a value that could not round
trip (a string with ``_``, ``/`` or ``.step``) is refused when the id is built. A *checkpoint* of a cell is its final
model or a step snapshot ``<run>.step<k>``; the untrained model is ``base`` (on training set ``base``). A *run* is
the method id, or ``<method>.seed<s>`` for a cell of a grid block that lists ``seeds`` (one run per seed):
``grpo.seed1``, ``grpo.seed1.step30``; a cell of a group-size ablation block (``group_sizes``) adds ``.n<N>``
before the seed: ``grpo.n4``, ``rs_beta2.n32.step100``. Display labels and the sort order of tables and legends
are derived here too; nothing else parses ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rsrl import estimators

BASE = "base"  # method id and training set name of an untrained model
_STEP = ".step"
_SEED = ".seed"
_GROUP = re.compile(r"(.+)\.n([0-9]+)")
_SAFE_STR = re.compile(r"[A-Za-z0-9.+-]+")


class MethodError(ValueError):
    """A method id or parameter value that the grammar cannot represent; the message says why."""


def format_value(value: Any) -> str:
    """The id form of a parameter value: ``2``, ``0.5``, ``1e-06``, ``true``, ``sum-mean``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


def _parse_value(text: str, param: estimators.Param) -> Any:
    if param.type is bool:
        if text not in ("true", "false"):
            raise MethodError(f"parameter {param.name!r}: expected true or false, got {text!r}")
        return text == "true"
    if param.type is int:
        return int(text)
    if param.type is float:
        return float(text)
    return text


@dataclass(frozen=True)
class Method:
    """An estimator with explicit parameter values (defaults left out, so equal methods have equal ids)."""

    estimator: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, estimator: str, params: dict | None = None, where: str | None = None) -> Method:
        """Validated method; parameters equal to their declared default are dropped (they do not name a method)."""
        checked = estimators.check_params(estimator, dict(params or {}), where=where)
        spec = estimators.spec(estimator)
        kept = tuple(
            (p.name, checked[p.name])
            for p in spec.params
            if p.name in checked and (p.required or checked[p.name] != p.default)
        )
        m = cls(estimator, kept)
        m._check_round_trip(where)
        return m

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    @property
    def id(self) -> str:
        return "_".join([self.estimator] + [f"{k}{format_value(v)}" for k, v in self.params])

    @property
    def label(self) -> str:
        spec = estimators.spec(self.estimator)
        if not self.params:
            return spec.label
        parts = [
            f"{spec.param(k).symbol or k}={v:.6g}"
            if isinstance(v, float)
            else f"{spec.param(k).symbol or k}={format_value(v)}"
            for k, v in self.params
        ]
        return f"{spec.label} ({', '.join(parts)})"

    @property
    def params_json(self) -> str:
        """The parameters as a canonical JSON object (the ``params`` column of the tables)."""
        return json.dumps(self.param_dict, sort_keys=True)

    def _check_round_trip(self, where: str | None) -> None:
        for k, v in self.params:
            if isinstance(v, str) and (not _SAFE_STR.fullmatch(v) or _STEP in v or _SEED in v):
                raise MethodError(
                    f"{where or self.estimator}: parameter {k}={v!r} cannot be part of a method name "
                    "(use letters, digits, '.', '+' and '-' only)"
                )
        back = parse(self.id)
        if back != self:
            raise MethodError(
                f"{where or self.estimator}: parameters {self.param_dict} do not round trip through "
                f"the method name {self.id!r} (read back as {back.param_dict})"
            )


def parse(method_id: str) -> Method:
    """The :class:`Method` named by ``method_id`` (no ``.seed`` or ``.step`` suffix); raises :class:`MethodError`."""
    if _STEP in method_id or _SEED in method_id:
        raise MethodError(f"{method_id!r} is a run or snapshot id; use method_of")
    names = sorted(estimators.names(), key=len, reverse=True)
    est = next((n for n in names if method_id == n or method_id.startswith(n + "_")), None)
    if est is None:
        raise MethodError(f"method {method_id!r} names no registered estimator; registered: {estimators.names()}")
    spec = estimators.spec(est)
    rest = method_id[len(est) :]
    values: dict[str, Any] = {}
    declared = list(spec.params)
    i = 0
    while rest:
        starts = [(j, p) for j, p in enumerate(declared) if j >= i and rest.startswith("_" + p.name)]
        if not starts:
            raise MethodError(
                f"method {method_id!r}: cannot read {rest!r}; parameters of {est!r} are {spec.param_names}"
            )
        j, p = max(starts, key=lambda t: len(t[1].name))  # the longest declared name that matches
        rest = rest[1 + len(p.name) :]
        # The value runs to the next `_<later declared param>` (values never contain '_').
        end = rest.find("_")
        text, rest = (rest, "") if end < 0 else (rest[:end], rest[end:])
        try:
            values[p.name] = _parse_value(text, p)
        except ValueError as exc:
            raise MethodError(f"method {method_id!r}: bad value {text!r} for parameter {p.name!r} ({exc})") from None
        i = j + 1
    return Method(est, tuple((p.name, values[p.name]) for p in spec.params if p.name in values))


# --------------------------------------------------------------------------------------------------------------
# Checkpoints: final models, step snapshots and base models.


@dataclass(frozen=True)
class Checkpoint:
    """What one evaluation scores: a trained cell's final model (step None), a snapshot, or a base model."""

    model: str
    train_set: str
    method: str  # run id (method id, with .seed<s> for a seeded cell), or BASE
    step: int | None = None

    @property
    def id(self) -> str:
        """The checkpoint's name in paths and tables: ``rs_beta2``, ``rs_beta2.step20``, ``grpo.seed1``, ``base``."""
        return snapshot_id(self.method, self.step) if self.step is not None else self.method

    @property
    def is_base(self) -> bool:
        return self.method == BASE

    @property
    def seed(self) -> int | None:
        """The training seed named by the run id (None for a cell without ``seeds`` and for base models)."""
        return split_run(self.method)[1]

    @property
    def label(self) -> str:
        return label(self.id)


def run_id(method_id: str, seed: int | None, group_size: int | None = None) -> str:
    """``grpo`` with seed None -> ``grpo``; with seed 1 -> ``grpo.seed1``; with group size 4 -> ``grpo.n4``."""
    run = method_id if group_size is None else f"{method_id}.n{int(group_size)}"
    return run if seed is None else f"{run}{_SEED}{int(seed)}"


def split_group(run: str) -> tuple[str, int | None]:
    """``grpo.n4`` -> (``grpo``, 4); ``grpo.n4.seed1`` -> (``grpo.seed1``, 4); ``grpo`` -> (``grpo``, None)."""
    head, suffix = run, ""
    if _SEED in run:
        head, seed = run.rsplit(_SEED, 1)
        suffix = _SEED + seed
    m = _GROUP.fullmatch(head)
    return (run, None) if m is None else (m.group(1) + suffix, int(m.group(2)))


def snapshot_id(run: str, step: int) -> str:
    return f"{run}{_STEP}{int(step)}"


def split_checkpoint(checkpoint_id: str) -> tuple[str, int | None]:
    """``rs_beta2.step100`` -> (``rs_beta2``, 100); ``grpo.seed1`` -> (``grpo.seed1``, None)."""
    if _STEP in checkpoint_id:
        base, step = checkpoint_id.rsplit(_STEP, 1)
        if step.isdigit():
            return base, int(step)
        raise MethodError(f"checkpoint {checkpoint_id!r}: expected <run>.step<integer>")
    return checkpoint_id, None


def split_run(run: str) -> tuple[str, int | None]:
    """``grpo.seed1`` -> (``grpo``, 1); ``grpo`` -> (``grpo``, None); a group size ``.n<N>`` is dropped."""
    run = split_group(run)[0]
    if _SEED in run:
        base, seed = run.rsplit(_SEED, 1)
        if seed.isdigit():
            return base, int(seed)
        raise MethodError(f"run {run!r}: expected <method>.seed<non-negative integer>")
    return run, None


def parts(checkpoint_id: str) -> tuple[str, int | None, int | None]:
    """(method id, seed, step) of a checkpoint id: ``grpo.seed1.step30`` -> (``grpo``, 1, 30)."""
    run, step = split_checkpoint(checkpoint_id)
    method, seed = split_run(run)
    return method, seed, step


def method_of(checkpoint_id: str) -> Method | None:
    """The :class:`Method` of a checkpoint id (None for the base model)."""
    base = parts(checkpoint_id)[0]
    return None if base == BASE else parse(base)


def label(checkpoint_id: str) -> str:
    """Display name: ``Base model``, ``GRPO``, ``RS-GRPO (β=4)``, ``GRPO, seed 1, step 20``."""
    base, seed, step = parts(checkpoint_id)
    text = "Base model" if base == BASE else parse(base).label
    n = split_group(split_checkpoint(checkpoint_id)[0])[1]
    if n is not None:
        text += f", N={n}"
    if seed is not None:
        text += f", seed {seed}"
    return f"{text}, step {step}" if step is not None else text


def sort_key(checkpoint_id: str) -> tuple:
    """Base first, then estimators in registration order, then by parameter values, then seed, then step."""
    base, seed, step = parts(checkpoint_id)
    if base == BASE:
        return (-1, (), -1, step or 0)
    m = parse(base)
    values = tuple((0, v) if isinstance(v, (int, float)) else (1, str(v)) for _, v in m.params)
    n = split_group(split_checkpoint(checkpoint_id)[0])[1]
    return (
        estimators.spec(m.estimator).order,
        values,
        -1 if n is None else n,
        -1 if seed is None else seed,
        -1 if step is None else step,
    )
