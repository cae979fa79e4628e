"""Group-baseline estimators: GRPO, Dr. GRPO and RLOO.

``grpo``    ``(r_i - mean) / (std + eps)``; ``std`` is the unbiased (N - 1) group standard deviation by default,
            as in OpenRLHF and TRL (``unbiased=False`` for the population one). Shao et al., DeepSeekMath (2024).
``drgrpo``  ``r_i - mean``: GRPO with a mean baseline and no std division (Dr. GRPO, Liu et al. 2025). It is also the
            RS-GRPO authors' own "GRPO": the ``beta == 0`` branch of ``compute_rs_grpo_advantage`` in
            ``codes/risk_sensitive_adv.py`` (Jackory/RS-GRPO, commit 5c476b5) computes ``r - mean``, the limit of
            ``rs`` as beta -> 0, and the paper labels GRPO "beta = 0" in its ablations.
``rloo``    ``r_i - mean of the other N - 1 rewards`` = ``N / (N - 1) * (r_i - mean)`` (Ahmadian et al. 2024).

A group whose rewards are all equal gets exactly zero advantage.
"""

from __future__ import annotations

import numpy as np

from rsrl.estimators import Param, centered, check_group, is_torch, register, to_work

#: The registry name of GRPO (std-normalised), the engine checks' negative control.
GRPO = "grpo"


@register(
    GRPO,
    label="GRPO",
    params=(
        Param("eps", float, default=1e-6, minimum=0, doc="added to the group std"),
        Param("unbiased", bool, default=True, doc="N - 1 (true) or N (false) in the std"),
    ),
)
def grpo(rewards, eps: float = 1e-6, unbiased: bool = True):
    """GRPO: group-standardised rewards."""
    x, back = to_work(rewards)
    check_group(x, "grpo", 2 if unbiased else 1)
    c = centered(x)
    n = x.shape[-1]
    ddof = 1 if unbiased else 0
    if is_torch(x):
        std = ((c * c).sum(-1, keepdim=True) / (n - ddof)).sqrt()
    else:
        std = np.sqrt((c * c).sum(-1, keepdims=True) / (n - ddof))
    return back(c / (std + eps))


@register("drgrpo", label="GRPO (mean baseline)")
def drgrpo(rewards):
    """GRPO with a mean baseline (Dr. GRPO; the RS-GRPO code's beta = 0): rewards minus the group mean."""
    x, back = to_work(rewards)
    check_group(x, "drgrpo")
    return back(centered(x))


@register("rloo", label="RLOO")
def rloo(rewards):
    """RLOO: rewards minus the mean of the other samples of the group."""
    x, back = to_work(rewards)
    check_group(x, "rloo", 2)
    n = x.shape[-1]
    return back(centered(x) * (n / (n - 1)))
