"""pass@k benchmark: every k = 1..n for many problems, vectorised vs the per-problem reference loop.

    python benchmarks/bench_passk.py [--problems 650] [--n 1024]

Baselines: the human-eval style per-problem loop (``1 - prod(1 - k / arange(n - c + 1, n + 1))`` per (problem, k),
the widely used reference) and exact ``math.comb`` ratios per (problem, k). The comb baseline runs on a subset of
problems and is extrapolated (it takes minutes in full).
"""

from __future__ import annotations

import argparse
import time
from math import comb

import numpy as np

from rsrl.passk import bootstrap_ci, pass_at_k_curve


def reference_loop(n: int, c: int, k: int) -> float:
    """The human-eval reference estimator (returns 1.0 whenever n - c < k, also for k > n)."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def comb_exact(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=650)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--subset", type=int, default=20, help="problems timed with the slow baselines")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    P, n = args.problems, args.n
    # accuracies spread like a hard benchmark: many unsolved, some partly solved, a few solved
    acc = np.where(rng.random(P) < 0.3, 0.0, rng.beta(0.5, 2.0, P))
    c = rng.binomial(n, acc)
    ks = np.arange(1, n + 1)

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        curve = pass_at_k_curve(np.full(P, n), c, ks)
        times.append(time.perf_counter() - t0)
    t_vec = min(times)

    sub = rng.choice(P, size=min(args.subset, P), replace=False)
    t0 = time.perf_counter()
    ref = np.array([[reference_loop(n, int(c[i]), int(k)) for k in ks] for i in sub])
    t_ref = (time.perf_counter() - t0) * P / len(sub)
    t0 = time.perf_counter()
    ex = np.array([[comb_exact(n, int(c[i]), int(k)) for k in ks] for i in sub])
    t_comb = (time.perf_counter() - t0) * P / len(sub)

    err_ref = np.abs(curve.per_problem[sub] - ref).max()
    err_comb = np.abs(curve.per_problem[sub] - ex).max()

    t0 = time.perf_counter()
    ci = bootstrap_ci(curve.per_problem[:, [0, 31, n - 1]], n_boot=10000, seed=0)
    t_boot = time.perf_counter() - t0

    print(f"pass@k for {P} problems x n={n} x all k=1..{n} ({P * n:,} values)")
    print(f"{'method':<38}{'time (s)':>12}{'speed-up':>10}{'max |diff|':>14}")
    print(f"{'rsrl.passk.pass_at_k_curve':<38}{t_vec:>12.4f}{1.0:>10.0f}{'-':>14}")
    print(f"{'human-eval loop (extrapolated)':<38}{t_ref:>12.2f}{t_ref / t_vec:>10.0f}{err_ref:>14.2e}")
    print(f"{'math.comb per (problem, k) (extrap.)':<38}{t_comb:>12.2f}{t_comb / t_vec:>10.0f}{err_comb:>14.2e}")
    print(
        f"bootstrap CI (10,000 resamples, 3 k's): {t_boot:.3f} s;  pass@1 = {ci.mean[0]:.4f} "
        f"[{ci.low[0]:.4f}, {ci.high[0]:.4f}], pass@{n} = {ci.mean[2]:.4f}"
    )
    status = "OK" if t_vec < 0.5 else "SLOWER THAN TARGET"
    print(f"target: under 0.5 s -> {status}")


if __name__ == "__main__":
    main()
