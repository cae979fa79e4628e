"""Data of Fig. 2: how the RS advantage reshapes credit, computed with the estimator registry on actual groups.

* ``continuous``: one group of N rewards evenly spread on [0, 1]; the advantage of each sample against its reward.
  beta = 0 is the straight line ``r - mean``; larger beta bends it (little credit below the top, most at the top).
* ``binary``: groups of N = 16 rewards in {0, 1} with k correct samples (prompt accuracy p = k/N); series
  ``positive`` (advantage of a correct sample), ``negative`` (of an incorrect one) and ``cumulative`` (the group's
  total |advantage| = N (p A+ + (1 - p) |A-|)). For beta > 0 hard prompts (small p) get larger positive credit,
  and the total update concentrates on them.

Tidy table: panel, beta, x (reward or accuracy), series, value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rsrl import estimators
from rsrl.estimators import risk_sensitive

DEFAULT_BETAS = (0.0, 2.0, 4.0, 8.0)


def continuous_panel(betas=DEFAULT_BETAS, n: int = 101) -> pd.DataFrame:
    r = np.linspace(0.0, 1.0, n)[None, :]
    rows = []
    for beta in betas:
        adv = estimators.get(risk_sensitive.NAME, beta=float(beta))(r)[0]
        rows.append(
            pd.DataFrame({"panel": "continuous", "beta": float(beta), "x": r[0], "series": "advantage", "value": adv})
        )
    return pd.concat(rows, ignore_index=True)


def binary_panel(betas=DEFAULT_BETAS, n: int = 16) -> pd.DataFrame:
    k = np.arange(1, n)  # groups with at least one correct and one incorrect
    groups = (np.arange(n)[None, :] < k[:, None]).astype(np.float64)  # [n-1, n]: first k samples correct
    p = k / n
    rows = []
    for beta in betas:
        adv = estimators.get(risk_sensitive.NAME, beta=float(beta))(groups)
        pos = adv[np.arange(len(k)), 0]  # sample 0 is always correct
        neg = adv[np.arange(len(k)), -1]  # the last sample is always incorrect
        cum = np.abs(adv).sum(axis=1)
        for series, v in (("positive", pos), ("negative", neg), ("cumulative", cum)):
            rows.append(pd.DataFrame({"panel": "binary", "beta": float(beta), "x": p, "series": series, "value": v}))
    return pd.concat(rows, ignore_index=True)


def advantage_shape(betas=DEFAULT_BETAS, n_continuous: int = 101, n_binary: int = 16) -> pd.DataFrame:
    return pd.concat([continuous_panel(betas, n_continuous), binary_panel(betas, n_binary)], ignore_index=True)
