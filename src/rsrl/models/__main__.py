"""Build locally defined models.

python -m rsrl.models build --config C --model M --train results/data/train/T.parquet --out results/models/M/base
"""

from __future__ import annotations

import argparse
import sys

from rsrl.io import atomic_path, load_config_json, setup_logging


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rsrl.models", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="tokenizer + tiny Qwen2 + supervised warm start (models.<m>.build)")
    p.add_argument("--config", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True, help="training set parquet the tokenizer and warm start learn from")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--log")
    a = ap.parse_args(argv)
    setup_logging(a.log)
    import pandas as pd
    import torch

    from rsrl.models.tiny import TinySpec, build

    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = load_config_json(a.config)
    spec = TinySpec.from_config(cfg, a.model)
    from rsrl.prompts import for_model

    df = for_model(pd.read_parquet(a.train), cfg, a.model)
    with atomic_path(a.out) as tmp:
        build(df, spec, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
