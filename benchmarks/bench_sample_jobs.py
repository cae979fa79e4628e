"""Sampling one run on a 2-core CPU: one job per shard against one job per run (``evaluation.sample_jobs``), and
shard jobs two at a time with the pipeline's CPU-sharing defaults against vLLM's automatic thread binding.

The run is shaped like one of the embedded default's: a final model sampled on two benchmarks (71 and 29 one-digit
sums) and its step snapshot on one, n = 32 each, so three shards. The models are a tiny Qwen2 with random weights,
built in a temporary directory. Every variant runs the pipeline's own commands in fresh processes, as Snakemake
does (``python -m rsrl.evaluate sample`` per shard, ``python -m rsrl.evaluate sample-run`` per run, each with
``OMP_NUM_THREADS=1``), and the samples of every variant must be the same. The obvious baseline is the first row:
one job per shard, one at a time.

    python benchmarks/bench_sample_jobs.py
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def make_workdir(wd: Path, n: int):
    """Benchmarks, models and the validated config of a two-cell grid; returns (config JSON path, config, the
    grpo run's sampling batch)."""
    import pandas as pd

    from rsrl import config as rcfg
    from rsrl import grid, shard_plan
    from rsrl.models import tiny
    from rsrl.prompts import build_prompt

    syn = {"task": "add", "terms": 2, "min_value": 0, "max_value": 9, "test_fraction": 0.3, "seed": 0}
    cfg = rcfg.validate(
        {
            "models": {"tiny": {"build": {}, "size": "cpu", "max_context": 256}},
            "size_classes": {"cpu": {"nodes": 1, "gpus_per_node": 0, "cpus_per_gpu": 1, "eval_gpus": 0}},
            "train_sets": {"ts": {"loader": "synthetic", "synthetic": {**syn, "split": "train", "size": 71}}},
            "benchmarks": {
                "train": {"loader": "synthetic", "synthetic": {**syn, "split": "train", "size": 71}},
                "test": {"loader": "synthetic", "synthetic": {**syn, "split": "test", "size": 29}},
            },
            "data": {"decontaminate": False},
            "grid": [
                {
                    "models": ["tiny"],
                    "train_sets": ["ts"],
                    "trainer": "trl",
                    "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": 8}}],
                }
            ],
            "training": {
                "trainer": "trl",
                "n_samples_per_prompt": 8,
                "learning_rate": 1e-3,
                "max_steps": 2,
                "save_steps": 1,
                "eval_steps": [1],
            },
            "evaluation": {
                "seed": 0,
                "max_tokens": 16,
                "samples_per_shard": n,
                "sample_jobs": "run",
                "per_benchmark": {"train": {"n": n}, "test": {"n": n}},
            },
            "report": {
                "k_table": [1],
                "ablation": {"model": "tiny", "train_set": "ts", "benchmarks": ["test"]},
                "comparison": {"model": "tiny", "train_set": "ts", "benchmarks": ["test"]},
            },
        }
    )
    batch = shard_plan.sample_batch(cfg, "tiny", "ts", "grpo")
    rows = {
        "train": [(a, b) for a in range(10) for b in range(10)][:71],
        "test": [(a, b) for a in range(10) for b in range(10)][71:],
    }
    prompts = []
    for bench, pairs in rows.items():
        df = pd.DataFrame(
            {
                "id": [f"{bench}-{a}-{b}" for a, b in pairs],
                "problem": [f"What is {a} + {b}?" for a, b in pairs],
                "answer": [str(a + b) for a, b in pairs],
                "source": bench,
            }
        )
        df["prompt"] = [build_prompt(p, "qwen_math_boxed") for p in df["problem"]]
        prompts += df["prompt"].tolist()
        path = wd / grid.bench_data(bench)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path)
    tok = tiny.train_tokenizer(prompts, 512)
    model = tiny.build_model(tiny.TinySpec(max_context=256), tok)
    for ckpt in batch.checkpoints():
        out = wd / grid.checkpoint_source(cfg, ckpt)
        model.save_pretrained(out)
        tok.save_pretrained(out)
    return rcfg.write_config_json(cfg, wd / "config.json"), cfg, batch


def run(cmd: list[str], wd: Path, env: dict) -> None:
    proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")


def digest(wd: Path, outputs: list[str]) -> str:
    import pandas as pd

    h = hashlib.sha256()
    for out in outputs:
        df = pd.read_parquet(wd / out)
        h.update(pd.util.hash_pandas_object(df[["problem_id", "sample_idx", "completion", "seed"]]).values.tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32, help="samples per problem")
    args = ap.parse_args(argv)

    from rsrl import grid

    base_env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    for k in ("VLLM_CPU_OMP_THREADS_BIND", "OMP_WAIT_POLICY"):
        base_env.pop(k, None)
    # vLLM's own defaults: automatic binding, and libgomp's default wait policy (an empty value is ignored by
    # libgomp and keeps rsrl.evaluate.sample.share_cpus from setting its default).
    auto_env = {**base_env, "VLLM_CPU_OMP_THREADS_BIND": "auto", "OMP_WAIT_POLICY": ""}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_sample_jobs_") as tmp:
        wd = Path(tmp)
        cfg_path, cfg, batch = make_workdir(wd, args.n)
        shards = [(c, b, p, s, grid.eval_file(grid.SAMPLES_PATTERN, c, b, p=p, s=s)) for c, b, p, s in batch.targets]
        outputs = [o for *_, o in shards]

        def shard_cmd(c, b, p, s, out):
            return [
                sys.executable,
                "-m",
                "rsrl.evaluate",
                "sample",
                "--config",
                str(cfg_path),
                "--benchmark",
                b,
                "--bench-file",
                grid.bench_data(b),
                "--model",
                c.model,
                "--model-path",
                grid.checkpoint_source(cfg, c),
                "--problem-shard",
                str(p),
                "--sample-block",
                str(s),
                "--seed",
                str(grid.sample_seed(cfg, c)),
                "--out",
                out,
            ]

        def variant(name, fn):
            shutil.rmtree(wd / "results" / "eval", ignore_errors=True)
            t0 = time.perf_counter()
            fn()
            rows.append((name, time.perf_counter() - t0, digest(wd, outputs)))

        def shards_at(parallel, env):
            def go():
                with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
                    list(ex.map(lambda t: run(shard_cmd(*t), wd, env), shards))

            return go

        variant("one job per shard, one at a time", shards_at(1, base_env))
        variant("one job per shard, two at a time", shards_at(2, base_env))
        variant("  same, vLLM's automatic binding", shards_at(2, auto_env))
        variant(
            "one job per run",
            lambda: run(
                [
                    sys.executable,
                    "-m",
                    "rsrl.evaluate",
                    "sample-run",
                    "--config",
                    str(cfg_path),
                    "--model",
                    "tiny",
                    "--train-set",
                    "ts",
                    "--run",
                    "grpo",
                ],
                wd,
                base_env,
            ),
        )

    print(
        f"one run: {len(shards)} shards ({', '.join(f'{c.id} on {b}' for c, b, *_ in shards)}), n = {args.n}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'variant':<36}{'wall s':>8}{'vs first':>10}  samples")
    for name, secs, dig in rows:
        print(f"{name:<36}{secs:>8.1f}{rows[0][1] / secs:>9.2f}x  {dig}")
    same = len({d for _, _, d in rows}) == 1
    print(f"identical samples in every variant: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
