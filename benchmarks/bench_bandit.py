"""Bandit benchmark: the vectorised run (all betas x seeds at once) vs a plain per-(beta, seed) loop.

    python benchmarks/bench_bandit.py [--baseline-betas 0 4] [--samples 400000]

Each variant runs in its own subprocess so that its peak resident memory (``ru_maxrss``) is its own. The plain
loop (``run_bandit_single``: per-update ``rng.choice`` and a per-sample gradient loop, the structure of the
authors' script minus its per-sample histories) runs on seed 0 for a subset of betas; its time is extrapolated to
the full grid.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def worker(kind: str, samples: int, betas: list[float]) -> None:
    from rsrl.theory.bandit import BanditConfig, run_bandit, run_bandit_single

    cfg = BanditConfig(samples=samples)
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "vectorised":
        res = run_bandit(cfg)
        finals = res.final.groupby("beta").final_reward.mean().to_dict()
        runs = len(cfg.betas) * cfg.seeds
    else:
        finals = {b: run_bandit_single(cfg, b, 0) for b in betas}
        runs = len(betas)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"time": dt, "cpu": cpu, "rss_mb": rss, "runs": runs, "finals": {str(k): v for k, v in finals.items()},
                      "grid_runs": len(cfg.betas) * cfg.seeds}))


def _run(kind: str, samples: int, betas: list[float]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--samples", str(samples),
                          "--baseline-betas", *map(str, betas)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=400_000)
    ap.add_argument("--baseline-betas", type=float, nargs="+", default=[0.0, 4.0])
    ap.add_argument("--worker", choices=["vectorised", "loop"])
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.samples, args.baseline_betas)
        return

    vec = _run("vectorised", args.samples, args.baseline_betas)
    loop = _run("loop", args.samples, args.baseline_betas)
    per_run = loop["time"] / loop["runs"]
    loop_full = per_run * vec["grid_runs"]
    print(f"100-armed bandit, {args.samples:,} samples per run, grid of {vec['grid_runs']} (beta, seed) runs")
    print(f"{'variant':<44}{'runs':>6}{'wall (s)':>10}{'CPU (s)':>9}{'s / run':>9}{'peak RSS (MB)':>15}")
    print(f"{'vectorised (all betas x seeds, numpy)':<44}{vec['runs']:>6}{vec['time']:>10.1f}{vec['cpu']:>9.1f}"
          f"{vec['time'] / vec['runs']:>9.3f}{vec['rss_mb']:>15.0f}")
    print(f"{'plain loop, seed 0, betas ' + ','.join(f'{b:g}' for b in args.baseline_betas):<44}"
          f"{loop['runs']:>6}{loop['time']:>10.1f}{loop['cpu']:>9.1f}{per_run:>9.3f}{loop['rss_mb']:>15.0f}")
    print(f"{'plain loop, full grid (extrapolated)':<44}{vec['grid_runs']:>6}{loop_full:>10.0f}{'-':>9}"
          f"{per_run:>9.3f}{'-':>15}")
    print(f"speed-up on the full grid: {loop_full / vec['time']:.0f}x")
    print("seed-0 final reward (plain loop): " + ", ".join(f"beta={float(b):g}: {v:.3f}"
                                                           for b, v in loop["finals"].items()))
    print("mean final reward over seeds (vectorised): " + ", ".join(f"beta={float(b):g}: {v:.3f}"
                                                                     for b, v in vec["finals"].items()))
    ok = vec["time"] < 20 and vec["rss_mb"] < 1024
    print(f"target: full grid under 20 s and 1 GB -> {'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
