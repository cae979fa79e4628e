"""Table 1: what each estimator does, computed by running the registry functions on groups of rewards.

The RS-GRPO paper's Table 1 compares the methods by properties; here every property is measured on the
estimator itself, so the table cannot disagree with the code. Each method of the theory stage
(:mod:`rsrl.theory.estimator_set`) is evaluated on one group at a time, of ``N`` samples
(``theory.table1.group_size``, default 16):

* binary groups ``1^c 0^(N-c)`` for every ``c = 0..N`` (prompt accuracy ``c/N``);
* continuous groups: for each mean ``m`` in 0.1, 0.2, ..., 0.9, the ``N`` rewards ``F_m^-1((i + 1/2) / N)`` of a
  Beta distribution with mean ``m`` and ``a + b = 4`` (deterministic, spread over [0, 1]).

Properties (an advantage counts as non-zero above 1e-12 in absolute value):

``continuous_rewards``       the function accepts every continuous group and returns finite, not all-zero
                             advantages (a binary-only estimator raises instead);
``signal_when_solved_often`` the group with ``N - 1`` correct samples (accuracy ``(N-1)/N``) gets a non-zero
                             advantage;
``no_signal_accuracies``     the mixed accuracies ``0 < c/N < 1`` whose group gets no signal at all;
``penalises_wrong_samples``  some mixed binary group gives an incorrect sample a negative advantage;
``rewards_correct_samples``  some mixed binary group gives a correct sample a positive advantage;
``centred``                  every group's advantages sum to zero (OpenRLHF's dr_grpo carrier in
                             :mod:`rsrl.train.openrlhf.patch` requires it);
``zero_on_equal_rewards``    groups whose rewards are all equal (all wrong, all right, constant 0.5) get zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from rsrl import estimators
from rsrl.methods import Method

TOL = 1e-12
DEFAULT_GROUP_SIZE = 16  # N when the config has no theory.table1.group_size
CONTINUOUS_MEANS = tuple(round(0.1 * i, 1) for i in range(1, 10))
PROPERTY_COLUMNS = [
    "continuous_rewards",
    "signal_when_solved_often",
    "no_signal_accuracies",
    "penalises_wrong_samples",
    "rewards_correct_samples",
    "centred",
    "zero_on_equal_rewards",
]
COLUMNS = ["method", "estimator", "label", "binary_only"] + PROPERTY_COLUMNS
HEADERS = {
    "continuous_rewards": "Continuous rewards",
    "signal_when_solved_often": "Signal at accuracy (N−1)/N",
    "no_signal_accuracies": "No signal at accuracy",
    "penalises_wrong_samples": "Penalises wrong samples",
    "rewards_correct_samples": "Rewards correct samples",
    "centred": "Centred",
    "zero_on_equal_rewards": "Zero on equal rewards",
}


def binary_groups(n: int) -> np.ndarray:
    """[n + 1, n]: row ``c`` holds ``c`` correct samples first, then ``n - c`` incorrect ones."""
    return (np.arange(n)[None, :] < np.arange(n + 1)[:, None]).astype(np.float64)


def continuous_groups(n: int, means=CONTINUOUS_MEANS, concentration: float = 4.0) -> np.ndarray:
    """[len(means), n]: Beta(m c, (1 - m) c) quantiles at (i + 1/2) / n, one group per mean ``m``."""
    q = (np.arange(n) + 0.5) / n
    return np.stack([beta_dist.ppf(q, m * concentration, (1 - m) * concentration) for m in means])


def _one_at_a_time(fn, groups: np.ndarray) -> np.ndarray:
    """The estimator on each group as its own single-prompt batch."""
    return np.concatenate([np.asarray(fn(g[None, :]), dtype=np.float64) for g in groups])


def method_properties(method: Method, n: int) -> dict:
    """The properties of one method on groups of ``n`` samples (see the module docstring)."""
    fn = estimators.get(method.estimator, **method.param_dict)
    binary = binary_groups(n)
    adv = _one_at_a_time(fn, binary)
    nonzero = np.abs(adv) > TOL
    mixed = np.arange(1, n)
    correct = binary[mixed] == 1
    try:
        cont = _one_at_a_time(fn, continuous_groups(n))
        continuous = bool(np.all(np.isfinite(cont)) and np.all((np.abs(cont) > TOL).any(-1)))
    except estimators.EstimatorError:
        cont, continuous = None, False
    sums = [np.abs(a.sum(-1)) <= 1e-9 * max(1.0, float(np.abs(a).max())) for a in (adv, cont) if a is not None]
    equal = np.array([[0.5] * n])
    equal_adv = [adv[0], adv[n]] + ([_one_at_a_time(fn, equal)[0]] if continuous else [])
    silent = [c for c in mixed if not nonzero[c].any()]
    return {
        "method": method.id,
        "estimator": method.estimator,
        "label": method.label,
        "binary_only": estimators.spec(method.estimator).binary_only,
        "continuous_rewards": continuous,
        "signal_when_solved_often": bool(nonzero[n - 1].any()),
        "no_signal_accuracies": " ".join(f"{c}/{n}" for c in silent),
        "penalises_wrong_samples": bool((adv[mixed] < -TOL)[~correct].any()),
        "rewards_correct_samples": bool((adv[mixed] > TOL)[correct].any()),
        "centred": bool(all(np.all(s) for s in sums)),
        "zero_on_equal_rewards": bool(all(np.all(np.abs(a) <= TOL) for a in equal_adv)),
    }


def estimator_table(methods: list[Method], n: int) -> pd.DataFrame:
    """Table 1: one row per method, in the order given (registration order)."""
    return pd.DataFrame([method_properties(m, n) for m in methods], columns=COLUMNS)


def to_markdown(table: pd.DataFrame, n: int) -> str:
    """Table 1 as Markdown: ✓/✗ for the yes/no properties, accuracies as c/N."""
    cols = ["label"] + PROPERTY_COLUMNS
    head = ["Method"] + [HEADERS[c] for c in PROPERTY_COLUMNS]
    lines = [
        f"Estimator properties measured on single groups of N = {n} samples (rsrl.theory.properties).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("✓" if v else "✗")
            else:
                cells.append(str(v) if str(v) else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
