"""Command line of the report stage: ``python -m rsrl.report <product> --config C --out STEM [inputs]``.

The products are the ``COMMAND`` of each module of :mod:`rsrl.report` (:func:`rsrl.report.command.commands`).
``--out`` is a path stem: figures are written as ``STEM.png`` and ``STEM.svg``, tables as ``STEM.csv`` and
``STEM.md`` (a suffix such as ``.png`` or ``.csv`` is dropped). Every input file is named on the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rsrl.io import load_config_json, setup_logging
from rsrl.report.command import commands

log = logging.getLogger("rsrl.report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rsrl.report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, cmd in commands().items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        p.add_argument("--config", required=True, help="validated config as JSON (written by common.smk)")
        p.add_argument("--out", required=True, help="output path stem")
        p.add_argument("--log", default=None, help="also log to this file")
        for arg in cmd.arguments:
            p.add_argument(*arg.flags, **arg.kwargs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log)
    cfg = load_config_json(args.config)
    for p in commands()[args.command].run(args, cfg):
        log.info("wrote %s", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
