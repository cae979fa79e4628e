"""Training stage command line.

python -m rsrl.train trl       --config C --model M --train-set T --method X --data D --base-model B --work W --out O
python -m rsrl.train openrlhf  --config C --model M --train-set T --method X --data D --base-model B --work W --out O
                               --nodes N --gpus-per-node G
python -m rsrl.train command   --config C --model M --train-set T --method X [--nodes N --gpus-per-node G]
python -m rsrl.train export-step --work work/train/M/T/X --step K --out results/train/M/T/X/steps/stepK
"""

from __future__ import annotations

import argparse
import sys

from rsrl.io import load_config_json, setup_logging


def _cell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="validated config JSON (see workflow/rules/common.smk)")
    p.add_argument("--model", required=True)
    p.add_argument("--train-set", required=True)
    p.add_argument("--method", required=True, help="method id (rsrl.methods), e.g. grpo, rs_beta2")
    p.add_argument("--log", help="also log to this file")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="prepared training set (Parquet)")
    p.add_argument("--base-model", required=True, help="base policy: a model directory or a hub id")
    p.add_argument("--work", required=True, help="resumable state (checkpoints, snapshots, rollout records)")
    p.add_argument("--out", required=True, help="output directory: model/ and metrics.csv")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rsrl.train", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("trl", help="train one cell with TRL GRPOTrainer (CPU or one GPU)")
    _cell_args(p)
    _run_args(p)
    p.add_argument("--threads", type=int, default=None)
    p = sub.add_parser("openrlhf", help="train one cell with OpenRLHF on a running Ray cluster")
    _cell_args(p)
    _run_args(p)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--gpus-per-node", type=int, required=True)
    p = sub.add_parser("command", help="print a cell's OpenRLHF command line")
    _cell_args(p)
    p.add_argument("--nodes", type=int, default=None, help="default: the model's size class")
    p.add_argument("--gpus-per-node", type=int, default=None)
    p = sub.add_parser("export-step", help="copy a snapshot from work/ to results/")
    p.add_argument("--work", required=True)
    p.add_argument("--step", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log")
    a = ap.parse_args(argv)
    setup_logging(a.log)
    if a.cmd == "export-step":
        from rsrl.train.snapshots import export_step

        export_step(a.work, a.step, a.out)
        return 0
    cfg = load_config_json(a.config)
    if a.cmd == "trl":
        from rsrl.train.trl_trainer import train

        train(cfg, a.model, a.train_set, a.method, a.data, a.base_model, a.work, a.out, threads=a.threads)
    elif a.cmd == "openrlhf":
        from rsrl.train.openrlhf.launch import run

        run(cfg, a.model, a.train_set, a.method, a.data, a.base_model, a.work, a.out, a.nodes, a.gpus_per_node)
    elif a.cmd == "command":
        from rsrl.train.openrlhf.launch import dump_command

        size = cfg["size_classes"][cfg["models"][a.model]["size"]]
        print(
            dump_command(
                cfg, a.model, a.train_set, a.method, a.nodes or size["nodes"], a.gpus_per_node or size["gpus_per_node"]
            ),
            end="",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
