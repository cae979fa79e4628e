"""Command line of the report stage:
``python -m rsrl.report {fig4,table2,fig5,fig6,fig7,paper,paired,fig11} --config C --out STEM``.

``--out`` is a path stem: figures are written as ``STEM.png`` and ``STEM.svg``, tables (Table 2, the paired
comparison) as ``STEM.csv`` and ``STEM.md`` (a suffix such as ``.png`` or ``.csv`` is dropped). Every input file
is named on the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rsrl.io import load_config_json, save_figure, setup_logging, write_table, write_text

log = logging.getLogger("rsrl.report")

_SUFFIXES = {".png", ".svg", ".csv", ".md"}


def _stem(out: str) -> Path:
    p = Path(out)
    return p.with_suffix("") if p.suffix in _SUFFIXES else p


def _passk(args):
    from rsrl.report.inputs import read_passk

    return read_passk(args.passk)


def cmd_fig4(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt

    from rsrl.report.passk_curves import make_fig4

    fig = make_fig4(cfg, _passk(args), model=args.model)
    paths = save_figure(fig, _stem(args.out))
    plt.close(fig)
    return paths


def cmd_table2(args, cfg) -> list[Path]:
    from rsrl.report.table2 import make_table2

    table, md = make_table2(cfg, _passk(args))
    stem = _stem(args.out)
    write_table(stem.with_suffix(".csv"), table)
    write_text(stem.with_suffix(".md"), md + "\n")
    return [stem.with_suffix(".csv"), stem.with_suffix(".md")]


def cmd_fig5(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt

    from rsrl.report.beta_ablation import make_fig5

    if args.cell:  # one of Fig. 5's further rows (report.ablation_rows) drawn as the figure's cell
        row = next(r for r in cfg["report"]["ablation_rows"] if [r["model"], r["train_set"]] == list(args.cell))
        cfg = {**cfg, "report": {**cfg["report"], "ablation": row}}
    fig = make_fig5(cfg, _passk(args), args.train_metrics)
    paths = save_figure(fig, _stem(args.out))
    plt.close(fig)
    return paths


def cmd_fig11(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt

    from rsrl.report.group_size import make_fig11

    fig = make_fig11(cfg, _passk(args))
    paths = save_figure(fig, _stem(args.out))
    plt.close(fig)
    return paths


def cmd_fig6(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt

    from rsrl.report.baselines import make_fig6

    fig = make_fig6(cfg, _passk(args))
    paths = save_figure(fig, _stem(args.out))
    plt.close(fig)
    return paths


def cmd_fig7(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt

    from rsrl.report.diversity import make_fig7

    fig = make_fig7(cfg, args.problems, beta=args.beta)
    paths = save_figure(fig, _stem(args.out))
    plt.close(fig)
    return paths


def cmd_paper(args, cfg) -> list[Path]:
    import matplotlib.pyplot as plt
    import pandas as pd

    from rsrl.report import paper_comparison as pc

    table = pc.compare(cfg, pc.read_reference(args.reference), _passk(args))
    stem = _stem(args.out)
    write_table(stem.with_suffix(".csv"), table)
    write_text(stem.with_suffix(".md"), pc.summary(cfg, table))
    fig = pc.make_figure(cfg, table)
    paths = save_figure(fig, _stem(args.figure))
    plt.close(fig)
    bandit = pc.compare_bandit(pd.read_csv(args.bandit_reference), pd.read_csv(args.bandit_final))
    write_table(args.bandit_out, bandit)
    return [stem.with_suffix(".csv"), stem.with_suffix(".md"), *paths, Path(args.bandit_out)]


def cmd_paired(args, cfg) -> list[Path]:
    from rsrl.report.paired import make_paired

    table, md = make_paired(cfg, args.problems)
    stem = _stem(args.out)
    write_table(stem.with_suffix(".csv"), table)
    write_text(stem.with_suffix(".md"), md + "\n")
    return [stem.with_suffix(".csv"), stem.with_suffix(".md")]


COMMANDS = {"fig4": cmd_fig4, "table2": cmd_table2, "fig5": cmd_fig5, "fig6": cmd_fig6, "fig7": cmd_fig7,
            "paper": cmd_paper, "paired": cmd_paired, "fig11": cmd_fig11}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rsrl.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {"fig4": "Fig. 4: pass@k curves", "table2": "Table 2: pass@k table (CSV and Markdown)",
             "fig5": "Fig. 5: β ablation over training", "fig6": "Fig. 6: pass@k training methods over training",
             "fig7": "Fig. 7: answer diversity",
             "paper": "the reproduction beside the paper's Table 2 and bandit",
             "paired": "paired differences with the reference method (CSV and Markdown)",
             "fig11": "Fig. 11: group size N at a fixed total batch"}
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", required=True, help="validated config as JSON (written by common.smk)")
        p.add_argument("--out", required=True, help="output path stem")
        p.add_argument("--log", default=None, help="also log to this file")
        if name not in ("fig7", "paired"):
            p.add_argument("--passk", required=True, help="the aggregated pass@k table (results/tables/passk.csv)")
        if name == "fig4":
            p.add_argument("--model", default=None, help="draw only this model's rows")
        if name == "fig5":
            p.add_argument("--cell", nargs=2, default=None, metavar=("MODEL", "TRAIN_SET"),
                           help="draw this row of report.ablation_rows instead of report.ablation")
            p.add_argument("--train-metrics", nargs="+", required=True,
                           help="metrics.csv of each method of the focus cell, in display order")
        if name == "paper":
            p.add_argument("--reference", required=True, help="the paper's Table 2 (reference/rs_grpo_table2.csv)")
            p.add_argument("--bandit-reference", required=True, help="the authors' bandit rewards")
            p.add_argument("--bandit-final", required=True, help="results/theory/bandit_final.csv")
            p.add_argument("--figure", required=True, help="figure path stem")
            p.add_argument("--bandit-out", required=True, help="bandit comparison table (CSV)")
        if name == "fig7":
            p.add_argument("--problems", nargs="*", default=[],
                           help="problems.parquet of each rsrl.grid.diversity_targets entry, in that order")
            p.add_argument("--beta", type=float, default=None,
                           help="RS-GRPO β compared with GRPO in panel (b) (default: the largest in the grid)")
        if name == "paired":
            p.add_argument("--problems", nargs="*", default=[],
                           help="problems.parquet of each rsrl.report.paired.targets entry (any order)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log)
    cfg = load_config_json(args.config)
    paths = COMMANDS[args.command](args, cfg)
    for p in paths:
        log.info("wrote %s", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
