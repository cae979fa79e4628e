"""Command line of the theory stage: ``python -m rsrl.theory <subcommand> --config CONFIG_JSON ...``.

Subcommands:
  bandit           results/theory/bandit_curves.csv, bandit_final.csv
  advantage-shape  results/theory/advantage_shape.csv
  lemmas           results/theory/lemmas.csv
  figures          results/figures/fig2_advantage_shape.{png,svg}, fig3_bandit.{png,svg}
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
    from rsrl.theory.bandit import BanditConfig, run_bandit

    cfg = BanditConfig.from_config(_config(args.config), seeds=args.seeds, samples=args.samples)
    log.info("bandit: %s", cfg)
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_bandit(cfg, progress=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    write_table(args.curves, res.curves)
    write_table(args.final, res.final)
    summary = res.final.groupby("beta").final_reward.agg(["mean", "min", "max"])
    log.info("final reward (mean of the last %d samples) per beta over %d seeds:\n%s", cfg.final_window,
             cfg.seeds, summary.to_string(float_format=lambda v: f"{v:.4f}"))
    log.info("bandit: %d betas x %d seeds x %d updates in %.1f s wall (%.1f s CPU), peak RSS %.0f MB",
             len(cfg.betas), cfg.seeds, cfg.updates, dt, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


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
        log.warning("lemma 1: no instance where the standard policy gradient lowers the optimal arm's probability "
                    "(besides the constructed one)")
    if not s["lemma2_holds_all"]:
        raise SystemExit(f"lemma 2 failed on some instance; see rows with lemma == 2 and holds == False in {args.out}")


def cmd_figures(args) -> None:
    from rsrl.theory.figures import make_figures

    paths = make_figures(args.advantage_shape, args.bandit_curves, args.bandit_final, args.fig2, args.fig3)
    log.info("figures: %s", ", ".join(map(str, paths)))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m rsrl.theory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("bandit", help="run the 100-armed bandit for every beta and seed")
    b.add_argument("--config", help="validated config JSON (theory.bandit)")
    b.add_argument("--curves", default="results/theory/bandit_curves.csv")
    b.add_argument("--final", default="results/theory/bandit_final.csv")
    b.add_argument("--seeds", type=int, help="override theory.bandit.seeds")
    b.add_argument("--samples", type=int, help="override theory.bandit.samples")
    b.set_defaults(fn=cmd_bandit)

    a = sub.add_parser("advantage-shape", help="Fig. 2 data from the estimator registry")
    a.add_argument("--config", help="validated config JSON (unused; accepted for uniformity)")
    a.add_argument("--out", default="results/theory/advantage_shape.csv")
    a.add_argument("--betas", type=float, nargs="+")
    a.add_argument("--group-size", type=int, default=16)
    a.set_defaults(fn=cmd_advantage_shape)

    lm = sub.add_parser("lemmas", help="check Lemma 1 and Lemma 2 on random softmax bandits")
    lm.add_argument("--config", help="validated config JSON (theory.lemmas)")
    lm.add_argument("--out", default="results/theory/lemmas.csv")
    lm.set_defaults(fn=cmd_lemmas)

    f = sub.add_parser("figures", help="Fig. 2 and Fig. 3")
    f.add_argument("--config", help="validated config JSON (unused; accepted for uniformity)")
    f.add_argument("--advantage-shape", default="results/theory/advantage_shape.csv")
    f.add_argument("--bandit-curves", default="results/theory/bandit_curves.csv")
    f.add_argument("--bandit-final", default="results/theory/bandit_final.csv")
    f.add_argument("--fig2", default="results/figures/fig2_advantage_shape", help="output stem (.png and .svg)")
    f.add_argument("--fig3", default="results/figures/fig3_bandit", help="output stem (.png and .svg)")
    f.set_defaults(fn=cmd_figures)

    args = p.parse_args(argv)
    from rsrl.io import setup_logging

    setup_logging()
    args.fn(args)


if __name__ == "__main__":
    main(sys.argv[1:])
