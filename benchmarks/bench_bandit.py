"""Bandit benchmark: the vectorised run of every estimator (1 and 2 workers) vs a plain per-(run, seed) loop, and
the whole theory target.

    python benchmarks/bench_bandit.py [--samples 400000] [--baseline-runs 2] [--target]

Each variant runs in its own subprocess so that its peak resident memory (``ru_maxrss``) is its own. The plain
loop (``run_bandit_single``: per-update draws, the registry function on the group, a per-sample gradient loop)
runs on seed 0 for the first ``--baseline-runs`` runs; its time is extrapolated to the full grid of runs x seeds.
``--target`` also times ``snakemake theory --cores 2 -F --configfile config/config.yaml`` from the repository root
(it rewrites results/theory, results/tables/table1_estimators.* and the theory figures); the goal is under 30 s on
2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _runs(samples: int):
    import yaml

    from rsrl.theory.bandit import BanditConfig, bandit_runs
    from rsrl.theory.estimator_set import theory_methods

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    bcfg = BanditConfig.from_config(cfg, samples=samples)
    return bcfg, bandit_runs(theory_methods(cfg, bcfg.batch_size), bcfg.rewards)


def worker(kind: str, samples: int, baseline_runs: int) -> None:
    from rsrl.theory.bandit import run_bandit, run_bandit_single

    cfg, runs = _runs(samples)
    t0, c0 = time.perf_counter(), time.process_time()
    if kind.startswith("vectorised"):
        workers = int(kind.split("-")[1])
        res = run_bandit(cfg, runs, workers=workers)
        finals = res.final.groupby(["rewards", "method"], sort=False).final_reward.mean()
        finals = {f"{v}/{m}": x for (v, m), x in finals.items()}
        done = len(runs) * cfg.seeds
    else:
        finals = {f"{r.rewards}/{r.method.id}": run_bandit_single(cfg, r, 0) for r in runs[:baseline_runs]}
        done = min(baseline_runs, len(runs))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"time": dt, "cpu": cpu, "rss_mb": rss, "runs": done, "finals": finals, "grid_runs": len(runs) * cfg.seeds}
        )
    )


def _run(kind: str, samples: int, baseline_runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--samples", str(samples), "--baseline-runs", str(baseline_runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _target() -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "theory", "--cores", "2", "-F", "--configfile", "config/config.yaml"],
        check=True,
        cwd=REPO,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=400_000)
    ap.add_argument("--baseline-runs", type=int, default=2)
    ap.add_argument("--target", action="store_true", help="also time `snakemake theory --cores 2 -F`")
    ap.add_argument("--worker")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.samples, args.baseline_runs)
        return

    vec1 = _run("vectorised-1", args.samples, args.baseline_runs)
    vec2 = _run("vectorised-2", args.samples, args.baseline_runs)
    loop = _run("loop", args.samples, args.baseline_runs)
    per_run = loop["time"] / loop["runs"]
    loop_full = per_run * vec1["grid_runs"]
    print(
        f"100-armed bandit, {args.samples:,} samples per run, {vec1['grid_runs']} (run, seed) pairs "
        f"(every estimator x reward variant x 16 seeds)"
    )
    print(f"{'variant':<44}{'runs':>6}{'wall (s)':>10}{'CPU (s)':>9}{'s / run':>9}{'peak RSS (MB)':>15}")
    for name, v in (("vectorised, 1 process", vec1), ("vectorised, 2 processes", vec2)):
        print(
            f"{name:<44}{v['runs']:>6}{v['time']:>10.1f}{v['cpu']:>9.1f}{v['time'] / v['runs']:>9.3f}"
            f"{v['rss_mb']:>15.0f}"
        )
    print(
        f"{'plain loop, seed 0, first runs':<44}{loop['runs']:>6}{loop['time']:>10.1f}{loop['cpu']:>9.1f}"
        f"{per_run:>9.3f}{loop['rss_mb']:>15.0f}"
    )
    print(
        f"{'plain loop, full grid (extrapolated)':<44}{vec1['grid_runs']:>6}{loop_full:>10.0f}{'-':>9}"
        f"{per_run:>9.3f}{'-':>15}"
    )
    print(
        f"speed-up on the full grid: {loop_full / vec1['time']:.0f}x (1 process), "
        f"{loop_full / vec2['time']:.0f}x (2 processes)"
    )
    print("seed-0 final reward (plain loop): " + ", ".join(f"{k}: {v:.3f}" for k, v in loop["finals"].items()))
    print("mean final reward over seeds (vectorised):")
    for k, v in vec1["finals"].items():
        print(f"  {k:<36}{v:.3f}")
    if args.target:
        dt = _target()
        print(f"snakemake theory --cores 2 -F: {dt:.1f} s wall -> {'OK' if dt < 30 else 'MISSED'} (goal: under 30 s)")


if __name__ == "__main__":
    main()
