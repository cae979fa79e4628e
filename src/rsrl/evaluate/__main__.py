"""Command line of the evaluation stage (one subcommand per Snakemake rule).

    python -m rsrl.evaluate sample    --config CFG --benchmark B --bench-file F --model M --model-path PATH \
                                      --p P --s S --out samples/pP_sS.parquet
    python -m rsrl.evaluate sample-run --config CFG --model M --train-set T --run R
    python -m rsrl.evaluate grade     --config CFG --samples samples/pP_sS.parquet --bench-file F \
                                      --out graded/pP_sS.parquet [--workers N]
    python -m rsrl.evaluate score     --config CFG --benchmark B --bench-file F --graded G [G ...] \
                                      --problems problems.parquet --metrics metrics.csv
    python -m rsrl.evaluate aggregate --config CFG --metrics M [M ...] --passk passk.csv --summary eval_summary.csv
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m rsrl.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("sample", help="sample one shard with vLLM")
    p.add_argument("--config", required=True)
    p.add_argument("--benchmark", required=True)
    p.add_argument("--bench-file", required=True)
    p.add_argument("--model", default=None, help="model name in the config (engine settings)")
    p.add_argument("--model-path", required=True, help="HF directory or hub id")
    p.add_argument("--problem-shard", type=int, required=True, help="problem shard p (see rsrl.evaluate.shards)")
    p.add_argument("--sample-block", type=int, required=True, help="sample block s (see rsrl.evaluate.shards)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the checkpoint's evaluation seed (rsrl.grid.sample_seed; default evaluation.seed)",
    )
    p.add_argument("--out", required=True)

    p = sub.add_parser("sample-run", help="sample every shard of one run (evaluation.sample_jobs: run)")
    p.add_argument("--config", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--train-set", required=True, help="training set, or 'base' for a base model")
    p.add_argument("--run", required=True, help="run id (rsrl.methods), or 'base'")

    p = sub.add_parser("grade", help="grade one sample shard")
    p.add_argument("--config", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--bench-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=None)

    p = sub.add_parser("score", help="per-problem table and metrics of one checkpoint x benchmark")
    p.add_argument("--config", required=True)
    p.add_argument("--benchmark", required=True)
    p.add_argument("--bench-file", required=True)
    p.add_argument("--graded", nargs="+", required=True)
    p.add_argument("--problems", required=True)
    p.add_argument("--metrics", required=True)

    p = sub.add_parser("aggregate", help="passk.csv and eval_summary.csv over all checkpoints and benchmarks")
    p.add_argument("--config", required=True)
    p.add_argument("--metrics", nargs="*", default=[], help="metrics.csv of every evaluation, in grid order")
    p.add_argument("--problems", nargs="*", default=[], help="problems.parquet of every evaluation, same order")
    p.add_argument("--passk", required=True)
    p.add_argument("--summary", required=True)
    return ap


def main(argv: list[str] | None = None) -> int:
    from rsrl.io import load_config_json, setup_logging

    args = _parser().parse_args(argv)
    setup_logging()
    cfg = load_config_json(args.config)
    if args.cmd == "sample":
        from rsrl.evaluate.sample import sample_shard

        sample_shard(
            cfg,
            benchmark=args.benchmark,
            bench_file=args.bench_file,
            model=args.model,
            model_path=args.model_path,
            p=args.problem_shard,
            s=args.sample_block,
            out=args.out,
            seed=args.seed,
        )
    elif args.cmd == "sample-run":
        from rsrl.evaluate.sample import sample_run

        sample_run(cfg, args.model, args.train_set, args.run)
    elif args.cmd == "grade":
        from rsrl.evaluate.grade import grade_shard

        grade_shard(cfg, samples_file=args.samples, bench_file=args.bench_file, out=args.out, workers=args.workers)
    elif args.cmd == "score":
        from rsrl.evaluate.metrics import score

        score(
            cfg,
            graded_files=args.graded,
            bench_file=args.bench_file,
            problems_out=args.problems,
            metrics_out=args.metrics,
            benchmark=args.benchmark,
        )
    elif args.cmd == "aggregate":
        from rsrl.evaluate.aggregate import aggregate

        aggregate(cfg, args.metrics, args.problems, args.passk, args.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
