"""Fig. 6: RS-GRPO against GRPO and the pass@k-training baselines over training (test pass@k per step).

For the comparison cell (:func:`rsrl.grid.comparison_cell`), one panel per k of ``report.k_table``: mean test
pass@k over the comparison's benchmarks at step 0 (base model), at each evaluated snapshot and at the final model,
one curve per method (GRPO, Walder & Karkhanis, Mahdavi et al., Chen et al., RS-GRPO, RiskPO — whichever the grid
trains on that cell). A method trained with several seeds is one curve, the mean over its seeds, with the 95 %
Student-t interval over seeds as its band (:mod:`rsrl.report.over_training`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from rsrl import grid
from rsrl.report.command import PASSK, Command, write_figure
from rsrl.report.inputs import k_table
from rsrl.report.over_training import pass_at_k_panel
from rsrl.report.seeds import group_runs
from rsrl.report.style import apply_style, note


def make_fig6(cfg: dict, passk: pd.DataFrame) -> plt.Figure:
    apply_style()
    ks = k_table(cfg)
    fig, axes = plt.subplots(1, len(ks), figsize=(5.2 * len(ks), 4.6), squeeze=False)
    cell = grid.comparison_cell(cfg)
    if cell is None:
        for ax in axes.flat:
            note(
                ax,
                "no comparison cell: the grid trains no (model, training set) with three or more estimators\n"
                "(set report.comparison, or add the baselines to a grid block)",
            )
        fig.suptitle("Fig. 6: comparison with pass@k training methods (no data)")
        return fig
    model, ts = cell
    methods = grid.methods_of(cfg, model, ts)
    for j, k in enumerate(ks):
        pass_at_k_panel(
            axes[0, j], cfg, passk, model, ts, methods, k, grid.comparison_benchmarks(cfg), f"({chr(ord('a') + j)})"
        )
    bands = (
        "\nbands (a mean of seeds): 95% interval over seeds, clipped to 0–100%; one run: no band"
        if any(sr.pooled for sr in group_runs(methods))
        else ""
    )
    top = 1 - (1.15 if bands else 0.9) / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="lower center",
            ncol=min(len(labels), 4),
            bbox_to_anchor=(0.5, top),
            frameon=False,
            fontsize=8,
        )
    fig.suptitle(
        f"Fig. 6: RS-GRPO and pass@k training methods over training — {model} trained on {ts}{bands}",
        fontsize=12,
        y=0.995,
        va="top",
    )
    return fig


def _run(args, cfg: dict) -> list:
    from rsrl.report.inputs import read_passk

    return write_figure(make_fig6(cfg, read_passk(args.passk)), args.out)


COMMAND = Command("fig6", "Fig. 6: pass@k training methods over training", _run, (PASSK,))
