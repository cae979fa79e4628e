"""The ``rsrl`` command.

    rsrl plan [--config FILE ...]     cells, jobs per stage, GPU- and node-hours requested, samples and tokens
"""

from __future__ import annotations

import argparse
import sys

from rsrl import config as rcfg
from rsrl import grid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rsrl", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="what `snakemake all` would run for a config, and what it would cost")
    p.add_argument("--config", nargs="+", default=["config/config.yaml"],
                   help="config file(s), later ones updating earlier ones (default: the paper config)")
    p.add_argument("--csv", help="also write the per-rule table (stage, rule, jobs, gpu_hours, node_hours) here")
    a = ap.parse_args(argv)
    try:
        cfg = grid.load(*a.config)
    except rcfg.ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    from rsrl import plan

    p = plan.build(cfg)
    print(plan.render(cfg, p), end="")
    if a.csv:
        from rsrl.io import write_table

        write_table(a.csv, plan.table(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
