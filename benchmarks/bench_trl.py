"""Training throughput of the single-machine path (TRL GRPOTrainer with the registry's RS-GRPO advantage).

Builds the synthetic sums task and a locally built Qwen2 in a temporary directory (no hub), trains one cell
(`rs_beta2`) for `--steps` steps with the project's CLI, and prints wall time per step, samples per second
and, on a GPU, peak GPU memory. The model is the demo's tiny Qwen2 by default; `--hidden`/`--layers` scale it
up to see how the path behaves on a real accelerator. Runs on CPU or on one GPU (picked automatically).

    python benchmarks/bench_trl.py                       # the demo's tiny model
    python benchmarks/bench_trl.py --hidden 1024 --layers 8 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def config(args) -> dict:
    import yaml

    from rsrl.config import validate

    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg["benchmarks"] = {"sums_test": cfg["benchmarks"]["sums_test"]}
    cfg["evaluation"]["per_benchmark"] = {"sums_test": {"n": 8}}
    cfg["report"] = {"ablation": {"model": "tiny-qwen2", "train_set": "sums"}}
    build = cfg["models"]["tiny-qwen2"]["build"]
    build.update(
        hidden_size=args.hidden, layers=args.layers, heads=max(2, args.hidden // 64), warmstart_steps=args.warmstart
    )
    cfg["training"].update(max_steps=args.steps, save_steps=args.steps, eval_steps=[])
    return validate(cfg)


def run(cmd: list[str], cwd: Path, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}"},
        )
    if proc.returncode:
        sys.stdout.write(log.read_text()[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--warmstart", type=int, default=50)
    ap.add_argument("--workdir", default=None, help="keep the run here (default: a temporary directory)")
    args = ap.parse_args()

    import pandas as pd
    import torch

    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(args.workdir or tmp)
        wd.mkdir(parents=True, exist_ok=True)
        cfg_path = wd / "config.json"
        cfg_path.write_text(json.dumps(config(args)))
        c = ["--config", str(cfg_path)]
        t_data = run(
            [
                py,
                "-m",
                "rsrl.data",
                "prepare",
                *c,
                "--kind",
                "bench",
                "--name",
                "sums_test",
                "--out",
                "results/data/bench/sums_test.parquet",
                "--manifest",
                "m/b.json",
            ],
            wd,
            wd / "bench.log",
        )
        t_data += run(
            [
                py,
                "-m",
                "rsrl.data",
                "prepare",
                *c,
                "--kind",
                "train",
                "--name",
                "sums",
                "--out",
                "results/data/train/sums.parquet",
                "--manifest",
                "m/t.json",
                "--benchmarks",
                "results/data/bench/sums_test.parquet",
            ],
            wd,
            wd / "train_data.log",
        )
        t_build = run(
            [
                py,
                "-m",
                "rsrl.models",
                "build",
                *c,
                "--model",
                "tiny-qwen2",
                "--train",
                "results/data/train/sums.parquet",
                "--out",
                "results/models/tiny-qwen2/base",
            ],
            wd,
            wd / "build.log",
        )
        out = wd / "results/train/tiny-qwen2/sums/rs_beta2"
        t_train = run(
            [
                py,
                "-m",
                "rsrl.train",
                "trl",
                *c,
                "--model",
                "tiny-qwen2",
                "--train-set",
                "sums",
                "--method",
                "rs_beta2",
                "--out",
                str(out),
                "--threads",
                str(os.cpu_count() or 1),
            ],
            wd,
            wd / "train.log",
        )
        metrics = pd.read_csv(out / "metrics.csv")
        tr = config(args)["training"]
        samples = args.steps * tr["rollout_batch_size"] * tr["n_samples_per_prompt"]
        n_params = sum(
            p.numel()
            for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(out / "model").parameters()
        )
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        print(
            f"\nTRL path, {device}, model {n_params / 1e6:.2f}M parameters, {args.steps} steps of "
            f"{tr['rollout_batch_size']} prompts x {tr['n_samples_per_prompt']} samples"
        )
        print(f"{'stage':<28}{'seconds':>10}")
        print(f"{'data (2 sets)':<28}{t_data:>10.1f}")
        print(f"{'build + warm start':<28}{t_build:>10.1f}")
        print(f"{'train (incl. start-up)':<28}{t_train:>10.1f}")
        print(f"{'samples / s (incl. start)':<28}{samples / t_train:>10.1f}")
        print(f"final mean reward {metrics['reward_mean'].iloc[-1]:.3f}, steps logged {len(metrics)}")
        log = (wd / "train.log").read_text()
        for line in log.splitlines():
            if "peak" in line.lower() and "memory" in line.lower():
                print(line.strip())


if __name__ == "__main__":
    main()
