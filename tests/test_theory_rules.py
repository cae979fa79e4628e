"""The theory stage's command line end to end on a small config, and its Snakemake rules (dry run)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest

from rsrl.config import REPO_ROOT, load
from rsrl.theory.__main__ import main


@pytest.fixture
def small_config(tmp_path):
    cfg = load(REPO_ROOT / "config" / "config.yaml")
    # the paper config's estimators with a two-value beta sweep
    cfg["theory"] = {
        "estimators": {**cfg["theory"]["estimators"], "rs": {"beta": [0, 4]}},
        "bandit": {"seeds": 2, "samples": 3200, "batch_size": 16, "step_size": 0.1},
        "lemmas": {"instances": 5, "arms": 4, "seed": 1},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_cli_writes_every_theory_output(tmp_path, small_config):
    from rsrl.theory.bandit import REWARDS, bandit_runs
    from rsrl.theory.estimator_set import theory_methods

    r, f, t = (tmp_path / "results" / d for d in ("theory", "figures", "tables"))
    main(
        [
            "bandit",
            "--config",
            str(small_config),
            "--curves",
            str(r / "bandit_curves.csv"),
            "--final",
            str(r / "bandit_final.csv"),
        ]
    )
    main(["advantage-shape", "--config", str(small_config), "--out", str(r / "advantage_shape.csv")])
    main(["lemmas", "--config", str(small_config), "--out", str(r / "lemmas.csv")])
    main(
        [
            "table1",
            "--config",
            str(small_config),
            "--csv",
            str(t / "table1_estimators.csv"),
            "--md",
            str(t / "table1_estimators.md"),
        ]
    )
    main(
        [
            "figures",
            "--advantage-shape",
            str(r / "advantage_shape.csv"),
            "--bandit-curves",
            str(r / "bandit_curves.csv"),
            "--bandit-final",
            str(r / "bandit_final.csv"),
            "--fig2",
            str(f / "fig2_advantage_shape"),
            "--fig3",
            str(f / "fig3_bandit"),
            "--fig3b",
            str(f / "fig3b_bandit_estimators"),
        ]
    )
    cfg = json.loads(small_config.read_text())
    methods = theory_methods(cfg, 16)
    assert {"rs_beta0", "rs_beta4", "grpo"} <= {m.id for m in methods}
    runs = {(run.rewards, run.method.id) for run in bandit_runs(methods, REWARDS)}
    curves = pd.read_csv(r / "bandit_curves.csv")
    assert list(curves.columns) == [
        "rewards",
        "estimator",
        "method",
        "beta",
        "seed",
        "step",
        "samples",
        "mean_reward",
        "entropy",
    ]
    assert set(zip(curves.rewards, curves.method)) == runs
    assert (
        set(curves.loc[curves.estimator == "rs", "beta"]) == {0.0, 4.0}
        and curves.beta.notna().sum() == (curves.estimator == "rs").sum()
    )
    assert set(curves.seed) == {0, 1} and curves.step.max() == 200
    final = pd.read_csv(r / "bandit_final.csv")
    assert list(final.columns[:6]) == ["rewards", "estimator", "method", "beta", "seed", "final_reward"]
    assert len(final) == 2 * len(runs) and set(zip(final.rewards, final.method)) == runs
    lemmas = pd.read_csv(r / "lemmas.csv")
    assert len(lemmas) == 2 * 6 and set(lemmas.arms) == {3, 4}
    table1 = pd.read_csv(t / "table1_estimators.csv")
    assert table1["method"].tolist() == [m.id for m in methods]
    assert "RS-GRPO (β=4)" in (t / "table1_estimators.md").read_text()
    for stem in ("fig2_advantage_shape", "fig3_bandit", "fig3b_bandit_estimators"):
        for ext in ("png", "svg"):
            assert (f / f"{stem}.{ext}").stat().st_size > 10_000


def test_cli_rejects_unknown_subcommand():
    with pytest.raises(SystemExit):
        main(["nope"])


@pytest.mark.slow
def test_snakemake_dry_run_of_theory_target(tmp_path):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake is not installed")
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'configfile: "config/config.yaml"\n'
        f'include: "{REPO_ROOT}/workflow/rules/common.smk"\n'
        f'include: "{REPO_ROOT}/workflow/rules/theory.smk"\n'
    )
    out = subprocess.run(
        [
            "snakemake",
            "-s",
            str(snakefile),
            "-d",
            str(REPO_ROOT),
            "--workflow-profile",
            "none",
            "-n",
            "-F",
            "theory",
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    for rule in ("theory_bandit", "theory_advantage_shape", "theory_lemmas", "theory_table1", "theory_figures"):
        assert rule in text
    for path in (
        "results/theory/bandit_final.csv",
        "results/figures/fig3_bandit.svg",
        "results/figures/fig3b_bandit_estimators.svg",
        "results/tables/table1_estimators.md",
        "logs/theory/lemmas.log",
    ):
        assert path in text
