"""The ``rsrl`` command.

rsrl plan [--config FILE ...]     cells, jobs per stage, GPU- and node-hours requested, samples and tokens
rsrl status [--config FILE ...]   every cell and stage: done, stale, running, failed (with its log), not started
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
    p.add_argument(
        "--config",
        nargs="+",
        default=["config/config.yaml"],
        help="config file(s), later ones updating earlier ones (default: the paper config)",
    )
    p.add_argument("--csv", help="also write the per-rule table (stage, rule, jobs, gpu_hours, node_hours) here")
    p = sub.add_parser("status", help="every cell and stage of a config: done, stale, running, failed, not started")
    p.add_argument(
        "--config",
        nargs="+",
        default=["config/config.yaml"],
        help="config file(s) the run was started with (default: the paper config)",
    )
    p.add_argument("--directory", default=".", help="the run's working directory (default: here)")
    p.add_argument("--json", action="store_true", help="one JSON object per stage, for scripts")
    p.add_argument(
        "--no-summary", action="store_true", help="skip `snakemake --summary` (faster; stale stages then show as done)"
    )
    a = ap.parse_args(argv)
    try:
        cfg = grid.load(*a.config)
    except rcfg.ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    if a.cmd == "status":
        return _status(cfg, a)
    from rsrl import plan

    p = plan.build(cfg)
    print(plan.render(cfg, p), end="")
    print("\n" + plan.render_smoke(cfg), end="")
    if a.csv:
        from rsrl.io import write_table

        write_table(a.csv, plan.table(p))
    return 0


def _status(cfg: dict, a) -> int:
    from rsrl import status

    rows = status.run(cfg, a.directory, rcfg.REPO_ROOT / "Snakefile", a.config, summary=not a.no_summary)
    print(status.to_json(rows) if a.json else status.render(rows, a.directory), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
