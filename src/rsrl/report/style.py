"""Shared plotting style: one colour, marker and label per method, identical in every figure.

Colours depend only on the method id (and, for RS-GRPO, on β), never on which other methods a figure shows,
so "RS-GRPO (β=4)" has the same colour in Fig. 4, Fig. 5 and Fig. 7.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from rsrl.config import parse_method_id  # noqa: E402

# Fixed colours for the baselines (Okabe-Ito palette, readable for colour-blind readers).
_FIXED = {
    "base": "#7f7f7f",
    "grpo": "#0072B2",
    "drgrpo": "#009E73",
    "rloo": "#CC79A7",
}
_LABELS = {"base": "Base model", "grpo": "GRPO", "drgrpo": "Dr. GRPO", "rloo": "RLOO"}
_OTHER = ["#56B4E9", "#F0E442", "#000000", "#8c564b"]
# RS-GRPO: amber → red → magenta → violet as β grows (log scale, saturating at β = 32).
_RS_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "rs_beta", ["#E6A100", "#E66100", "#D62728", "#B5179E", "#6A0DAD", "#2E0854"])
_RS_BETA_MAX = 32.0


def split_method(method: str) -> tuple[str, int | None]:
    """`rs_beta2.step100` → (`rs_beta2`, 100); `grpo` → (`grpo`, None)."""
    if ".step" in method:
        base, step = method.rsplit(".step", 1)
        if step.isdigit():
            return base, int(step)
    return method, None


def method_beta(method: str) -> float | None:
    est, params = parse_method_id(split_method(method)[0])
    return params.get("beta") if est == "rs" else None


def is_rs(method: str) -> bool:
    return method_beta(method) is not None


def method_label(method: str) -> str:
    """Human-readable method name, e.g. ``RS-GRPO (β=4)``."""
    base, step = split_method(method)
    beta = method_beta(base)
    label = f"RS-GRPO (β={beta:g})" if beta is not None else _LABELS.get(base, base)
    return f"{label}, step {step}" if step is not None else label


def method_color(method: str) -> str:
    base, _ = split_method(method)
    beta = method_beta(base)
    if beta is not None:
        x = min(math.log2(1.0 + max(beta, 0.0)) / math.log2(1.0 + _RS_BETA_MAX), 1.0)
        return mcolors.to_hex(_RS_CMAP(x))
    if base in _FIXED:
        return _FIXED[base]
    return _OTHER[sum(map(ord, base)) % len(_OTHER)]


def method_marker(method: str) -> str:
    base, _ = split_method(method)
    if base == "base":
        return "s"
    if is_rs(base):
        return "o"
    return {"grpo": "^", "drgrpo": "v", "rloo": "D"}.get(base, "x")


def method_linestyle(method: str) -> str:
    base, _ = split_method(method)
    if base == "base":
        return ":"
    return "-" if is_rs(base) else "--"


def method_sort_key(method: str) -> tuple:
    """Base first, then baselines, then RS-GRPO by increasing β."""
    base, step = split_method(method)
    beta = method_beta(base)
    if base == "base":
        group = 0
    elif beta is None:
        group = 1 + (list(_FIXED).index(base) if base in _FIXED else len(_FIXED))
    else:
        group = 100
    return (group, beta if beta is not None else 0.0, base, step or 0)


def apply_style() -> None:
    """Matplotlib defaults for all report figures."""
    plt.rcParams.update({
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
    })


def note(ax, text: str) -> None:
    """Write an explanatory note in an empty panel (e.g. a method missing from the grid)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#555555",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
