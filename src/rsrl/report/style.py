"""Shared plotting style: one colour, marker and label per method, identical in every figure.

Colours depend only on the method (its estimator, and for RS-GRPO its β), never on which other methods a figure
shows, so "RS-GRPO (β=4)" has the same colour in Fig. 2 to 7. Labels come from :mod:`rsrl.methods`.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from rsrl import estimators  # noqa: E402
from rsrl import methods as mth  # noqa: E402

# Estimator colours and markers by registration order (Okabe-Ito palette, readable for colour-blind readers).
_PALETTE = ["#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000", "#8c564b", "#999933"]
_MARKERS = ["^", "v", "D", "o", "P", "X", "*", "h", "<"]
_BASE_COLOR = "#7f7f7f"
# RS-GRPO: amber → red → magenta → violet as β grows (log scale, saturating at β = 32), in every figure.
_RS_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "rs_beta", ["#E6A100", "#E66100", "#D62728", "#B5179E", "#6A0DAD", "#2E0854"]
)
_RS_BETA_MAX = 32.0


def split_method(checkpoint_id: str) -> tuple[str, int | None]:
    """`rs_beta2.step100` → (`rs_beta2`, 100); `grpo` → (`grpo`, None)."""
    return mth.split_checkpoint(checkpoint_id)


def method_beta(checkpoint_id: str) -> float | None:
    """The value of the parameter that shades a checkpoint's colour (its estimator's ``shade_by``: RS-GRPO's β);
    None for other estimators and the base model."""
    m = mth.method_of(checkpoint_id)
    shade = estimators.spec(m.estimator).shade_by if m is not None else None
    return float(m.param_dict[shade]) if shade else None


def is_rs(checkpoint_id: str) -> bool:
    return method_beta(checkpoint_id) is not None


def method_label(checkpoint_id: str) -> str:
    """Human-readable method name, e.g. ``RS-GRPO (β=4)`` (see :func:`rsrl.methods.label`)."""
    return mth.label(checkpoint_id)


def rs_color(beta: float) -> str:
    """The colour of RS-GRPO with this β (every figure, theory included)."""
    x = min(math.log2(1.0 + max(float(beta), 0.0)) / math.log2(1.0 + _RS_BETA_MAX), 1.0)
    return mcolors.to_hex(_RS_CMAP(x))


def method_color(checkpoint_id: str) -> str:
    m = mth.method_of(checkpoint_id)
    if m is None:
        return _BASE_COLOR
    shade = estimators.spec(m.estimator).shade_by
    if shade:
        return rs_color(m.param_dict[shade])
    return _PALETTE[estimators.spec(m.estimator).order % len(_PALETTE)]


def method_marker(checkpoint_id: str) -> str:
    m = mth.method_of(checkpoint_id)
    if m is None:
        return "s"
    return _MARKERS[estimators.spec(m.estimator).order % len(_MARKERS)]


def method_linestyle(checkpoint_id: str) -> str:
    m = mth.method_of(checkpoint_id)
    if m is None:
        return ":"
    return "-" if estimators.spec(m.estimator).shade_by else "--"


def method_sort_key(checkpoint_id: str) -> tuple:
    """Base first, then estimators in registration order, then by parameter values (see rsrl.methods)."""
    return mth.sort_key(checkpoint_id)


def apply_style() -> None:
    """Matplotlib defaults for all report figures."""
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 10,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "legend.fontsize": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",
        }
    )


def note(ax, text: str) -> None:
    """Write an explanatory note in an empty panel (e.g. a method missing from the grid)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#555555", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
