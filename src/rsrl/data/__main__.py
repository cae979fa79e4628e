"""Data stage command line.

    python -m rsrl.data prepare --config CONFIG_JSON --kind train|bench --name NAME --out PARQUET \
        --manifest JSON [--benchmarks BENCH_PARQUET ...] [--workers N]
    python -m rsrl.data manifest --out results/data/manifest.json MANIFEST_JSON ...
"""

from __future__ import annotations

import argparse
import sys

from rsrl import io as rio
from rsrl.config import ConfigError
from rsrl.data.schema import DataError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rsrl.data", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="prepare one training set or benchmark")
    p.add_argument("--config", required=True, help="validated config as JSON (or YAML config file)")
    p.add_argument("--kind", required=True, choices=["train", "bench"])
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument("--manifest", required=True, help="output manifest JSON")
    p.add_argument(
        "--benchmarks",
        nargs="*",
        default=[],
        help="prepared benchmark Parquet files (decontamination and exclude_benchmark)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes for checking gold answers")
    p.add_argument("--log", help="also log to this file")
    m = sub.add_parser("manifest", help="merge per-output manifests")
    m.add_argument("--out", required=True)
    m.add_argument("manifests", nargs="+")
    args = ap.parse_args(argv)
    log = rio.setup_logging(getattr(args, "log", None))
    try:
        if args.cmd == "prepare":
            from rsrl.data.prepare import prepare

            if args.config.endswith((".yaml", ".yml")):
                from rsrl.config import load

                cfg = load(args.config)
            else:
                cfg = rio.load_config_json(args.config)
            prepare(cfg, args.kind, args.name, args.out, args.manifest, args.benchmarks, args.workers)
        else:
            from rsrl.data.manifest import write

            write(args.out, args.manifests)
    except (DataError, ConfigError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
