"""One evaluation sampling job on CPU as Snakemake runs it: the pipeline's process settings against vLLM's defaults.

Snakemake exports ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` (the job's threads) to every job. Both variants run
in a child process with that environment, on a tiny Qwen2 (random weights) and the same seeded requests:

- ``pipeline``: ``rsrl.evaluate.sample.build_engine`` (``prepare_cpu_process``: engine in the process, the two
  thread counts dropped so that vLLM serves with one torch thread);
- ``vllm defaults``: ``vllm.LLM`` with the same engine arguments, engine core and worker in spawned processes,
  thread counts inherited.

The table gives engine start-up, generation time and tokens/s, and whether both produced the same completions.

    python benchmarks/bench_sample_job.py
    python benchmarks/bench_sample_job.py --prompts 64 --n 64 --max-tokens 32 --threads 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))


def child(mode: str, model_dir: str, prompts: list[str], n: int, max_tokens: int) -> dict:
    """Runs in the child process: start the engine, sample, report times and a digest of the completions."""
    t0 = time.perf_counter()
    from bench_vllm import tiny_config
    from vllm import LLM, SamplingParams

    from rsrl.evaluate.sample import build_engine, engine_kwargs

    cfg = tiny_config()
    t1 = time.perf_counter()
    llm = build_engine(cfg, "tiny", model_dir) if mode == "pipeline" else LLM(**engine_kwargs(cfg, "tiny", model_dir))
    t2 = time.perf_counter()
    params = [
        SamplingParams(n=n, seed=1000 * i, temperature=1.0, max_tokens=max_tokens, ignore_eos=True)
        for i in range(len(prompts))
    ]
    outs = llm.generate(prompts, params, use_tqdm=False)
    t3 = time.perf_counter()
    ids = [list(c.token_ids) for o in outs for c in sorted(o.outputs, key=lambda c: c.index)]
    return {
        "import_s": t1 - t0,
        "start_s": t2 - t1,
        "generate_s": t3 - t2,
        "tokens": sum(map(len, ids)),
        "digest": hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="the job's threads, exported as Snakemake does")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        prompts = json.loads(sys.stdin.read())
        print("RESULT " + json.dumps(child(args.child, args.model_dir, prompts, args.n, args.max_tokens)))
        return 0

    from bench_vllm import build_model

    with tempfile.TemporaryDirectory(prefix="bench_sample_job_") as tmp:
        model_dir = Path(tmp) / "tiny"
        prompts = build_model(model_dir, Path(args.data_dir), 1024)[: args.prompts]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
        rows = {}
        for mode in ("vllm defaults", "pipeline"):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--model-dir",
                    str(model_dir),
                    "--n",
                    str(args.n),
                    "--max-tokens",
                    str(args.max_tokens),
                ],
                input=json.dumps(prompts),
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - t0
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"{mode}: child failed (exit {proc.returncode})")
            rows[mode] = {**json.loads(line[len("RESULT ") :]), "wall_s": wall}

    print(
        f"{args.prompts} prompts x {args.n} samples x {args.max_tokens} tokens, OMP_NUM_THREADS=MKL_NUM_THREADS="
        f"{args.threads}, vLLM CPU"
    )
    print(f"{'variant':<16}{'job wall s':>11}{'start s':>9}{'gen s':>8}{'tokens/s':>10}")
    for mode, r in rows.items():
        print(
            f"{mode:<16}{r['wall_s']:>11.1f}{r['start_s']:>9.1f}{r['generate_s']:>8.1f}"
            f"{r['tokens'] / r['generate_s']:>10.0f}"
        )
    a, b = rows["vllm defaults"], rows["pipeline"]
    print(
        f"speed-up: job {a['wall_s'] / b['wall_s']:.1f}x, generation {a['generate_s'] / b['generate_s']:.1f}x; "
        f"identical completions: {a['digest'] == b['digest']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
