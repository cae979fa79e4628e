"""Command line of the theory stage: ``python -m rsrl.theory <subcommand> --config CONFIG_JSON ...``.

Subcommands:
  bandit           results/theory/bandit_curves.csv, bandit_final.csv
  advantage-shape  results/theory/advantage_shape.csv
  lemmas           results/theory/lemmas.csv
  table1           results/tables/table1_estimators.{csv,md}
  figures          results/figures/fig2_advantage_shape.{png,svg}, fig3_bandit.{png,svg},
                   fig3b_bandit_estimators.{png,svg}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger("rsrl.theory")


def _config(path):
    from rsrl.io import load_config_json

    return load_config_json(path) if path else {}


def cmd_bandit(args) -> None:
    import resource

    from rsrl.io import write_table
    from rsrl.theory.bandit import BanditConfig, bandit_runs, run_bandit
    from rsrl.theory.estimator_set import theory_methods

    config = _config(args.config)
    cfg = BanditConfig.from_config(config, seeds=args.seeds, samples=args.samples)
    runs = bandit_runs(theory_methods(config, cfg.batch_size), cfg.rewards)
    log.info(
        "bandit: %s; %d runs (%s), %d worker(s)",
        cfg,
        len(runs),
        ", ".join(f"{r.method.id}/{r.rewards}" for r in runs),
        args.workers,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_bandit(cfg, runs, workers=args.workers, progress=args.workers == 1)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    write_table(args.curves, res.curves.round({"mean_reward": 8, "entropy": 8}))  # 1e-8: far below plot resolution
    write_table(args.final, res.final)
    g = res.final.groupby(["rewards", "method"], sort=False)
    summary = g.final_reward.agg(["mean", "min", "max"])
    summary["escaped"] = g.escape_samples.count()
    summary["median_escape_samples"] = g.escape_samples.median()
    log.info(
        "final reward (mean of R over the last %d samples) and escapes (E_pi[R] >= 0.8) over %d seeds:\n%s",
        cfg.final_window,
        cfg.seeds,
        summary.to_string(float_format=lambda v: f"{v:.4f}"),
    )
    log.info(
        "bandit: %d runs x %d seeds x %d updates in %.1f s wall (%.1f s CPU in the main process), peak RSS %.0f MB",
        len(runs),
        cfg.seeds,
        cfg.updates,
        dt,
        cpu,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def cmd_advantage_shape(args) -> None:
    from rsrl.io import write_table
    from rsrl.theory.advantage_shape import DEFAULT_BETAS, advantage_shape

    betas = tuple(args.betas) if args.betas else DEFAULT_BETAS
    df = advantage_shape(betas, n_binary=args.group_size)
    write_table(args.out, df)
    log.info("advantage shape: %d rows, betas %s -> %s", len(df), list(betas), args.out)


def cmd_lemmas(args) -> None:
    from rsrl.io import write_table
    from rsrl.theory.lemmas import LemmaConfig, run_lemmas, summary

    cfg = LemmaConfig.from_config(_config(args.config))
    df = run_lemmas(cfg)
    write_table(args.out, df)
    s = summary(df)
    log.info("lemmas: %s", json.dumps(s))
    if not s["lemma1_holds"]:
        log.warning(
            "lemma 1: no instance where the standard policy gradient lowers the optimal arm's probability "
            "(besides the constructed one)"
        )
    if not s["lemma2_holds_all"]:
        raise SystemExit(f"lemma 2 failed on some instance; see rows with lemma == 2 and holds == False in {args.out}")


def cmd_table1(args) -> None:
    from rsrl.io import write_table, write_text
    from rsrl.theory.estimator_set import theory_methods
    from rsrl.theory.properties import DEFAULT_GROUP_SIZE, estimator_table, to_markdown

    config = _config(args.config)
    n = int(((config.get("theory") or {}).get("table1") or {}).get("group_size", DEFAULT_GROUP_SIZE))
    table = estimator_table(theory_methods(config, n), n)
    write_table(args.csv, table)
    write_text(args.md, to_markdown(table, n))
    log.info("table 1 (%d methods, N = %d) -> %s, %s\n%s", len(table), n, args.csv, args.md, to_markdown(table, n))


def cmd_figures(args) -> None:
    from rsrl.theory.figures import make_figures

    paths = make_figures(args.advantage_shape, args.bandit_curves, args.bandit_final, args.fig2, args.fig3, args.fig3b)
    log.info("figures: %s", ", ".join(map(str, paths)))


def main(argv=None) -> None:
    from rsrl import layout

    p = argparse.ArgumentParser(
        prog="python -m rsrl.theory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("bandit", help="run the 100-armed bandit for every estimator, reward variant and seed")
    b.add_argument("--config", help="validated config JSON (theory.estimators, theory.bandit)")
    b.add_argument("--curves", default=layout.theory_table("bandit_curves"))
    b.add_argument("--final", default=layout.theory_table("bandit_final"))
    b.add_argument("--seeds", type=int, help="override theory.bandit.seeds")
    b.add_argument("--samples", type=int, help="override theory.bandit.samples")
    b.add_argument("--workers", type=int, default=1, help="processes sharing the runs (the rule passes {threads})")
    b.set_defaults(fn=cmd_bandit)

    a = sub.add_parser("advantage-shape", help="Fig. 2 data from the estimator registry")
    a.add_argument("--config", help="validated config JSON (unused; accepted for uniformity)")
    a.add_argument("--out", default=layout.theory_table("advantage_shape"))
    a.add_argument("--betas", type=float, nargs="+")
    a.add_argument("--group-size", type=int, default=16)
    a.set_defaults(fn=cmd_advantage_shape)

    lm = sub.add_parser("lemmas", help="check Lemma 1 and Lemma 2 on random softmax bandits")
    lm.add_argument("--config", help="validated config JSON (theory.lemmas)")
    lm.add_argument("--out", default=layout.theory_table("lemmas"))
    lm.set_defaults(fn=cmd_lemmas)

    t1 = sub.add_parser("table1", help="Table 1: estimator properties measured on the registry functions")
    t1.add_argument("--config", help="validated config JSON (theory.estimators, theory.table1)")
    t1.add_argument("--csv", default=layout.table("table1_estimators", "csv"))
    t1.add_argument("--md", default=layout.table("table1_estimators", "md"))
    t1.set_defaults(fn=cmd_table1)

    f = sub.add_parser("figures", help="Fig. 2, Fig. 3 and Fig. 3b")
    f.add_argument("--config", help="validated config JSON (unused; accepted for uniformity)")
    f.add_argument("--advantage-shape", default=layout.theory_table("advantage_shape"))
    f.add_argument("--bandit-curves", default=layout.theory_table("bandit_curves"))
    f.add_argument("--bandit-final", default=layout.theory_table("bandit_final"))
    f.add_argument("--fig2", default=layout.figure_stem("fig2_advantage_shape"), help="output stem (.png and .svg)")
    f.add_argument("--fig3", default=layout.figure_stem("fig3_bandit"), help="output stem (.png and .svg)")
    f.add_argument("--fig3b", default=layout.figure_stem("fig3b_bandit_estimators"), help="output stem (.png and .svg)")
    f.set_defaults(fn=cmd_figures)

    args = p.parse_args(argv)
    from rsrl.io import setup_logging

    setup_logging()
    args.fn(args)


if __name__ == "__main__":
    main(sys.argv[1:])
