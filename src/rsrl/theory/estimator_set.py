"""The methods the theory stage compares: every registry estimator, with the parameters of ``theory.estimators``.

``theory.estimators`` maps an estimator name to its parameters in the theory stage (the bandit comparison and
Table 1); list values expand as in the training grid, so ``rs: {beta: [0, 2, 4]}`` is the β sweep ``rs_beta0``,
``rs_beta2``, ``rs_beta4``. An estimator that is not listed runs with its registry defaults, once; one with a
required parameter must be listed. The theory stage evaluates single-prompt batches (the bandit has one state, Table 1
scores one group at a time), so every method is checked against ``prompts_per_batch = 1`` and the group size.
"""

from __future__ import annotations

from rsrl import estimators
from rsrl.grid import GridError, expand_methods
from rsrl.methods import Method


def theory_methods(cfg: dict, group_size: int) -> list[Method]:
    """Every registered estimator, in registration order, expanded over the configured parameter lists."""
    given = dict((cfg.get("theory") or {}).get("estimators") or {})
    unknown = sorted(set(given) - set(estimators.names()))
    if unknown:
        raise ValueError(
            f"config key theory.estimators: unknown estimator(s) {unknown}; registered estimators are "
            f"{estimators.names()}"
        )
    context = {"group_size": int(group_size), "prompts_per_batch": 1}
    out: list[Method] = []
    for name in estimators.names():
        where = f"config key theory.estimators.{name}"
        try:
            methods = expand_methods([{"estimator": name, "params": given.get(name) or {}}], where=where)
        except GridError as exc:  # expand_methods names the entry as a list item; here it is a mapping key
            raise ValueError(str(exc).replace(f"{where}[0]", where)) from None
        for m in methods:
            estimators.check_params(name, m.param_dict, context=context, where=where)
            out.append(m)
    return out
