"""Report rules end to end: Snakemake builds every report output and the HTML report from synthetic inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from conftest import run_snakemake
from report_inputs import paired_problems_files, seeded_config, write_synthetic
from rsrl import config as rcfg

REPO = Path(__file__).resolve().parents[1]


def _config(paper_config: dict) -> dict:
    cfg = copy.deepcopy(paper_config)
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-Math-1.5B", "Qwen2.5-Math-7B"],
            "train_sets": ["math12k"],
            "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": [0, 4]}}],
        }
    ]
    cfg["benchmarks"] = {b: cfg["benchmarks"][b] for b in ("math500", "aime24")}
    cfg["evaluation"]["per_benchmark"] = {"math500": {"n": 16}, "aime24": {"n": 64}}
    cfg["training"]["max_steps"] = 20
    cfg["training"]["eval_steps"] = [10, 20]
    cfg["training"]["save_steps"] = 10
    cfg["report"] = {"k_table": [1, 32], "ablation": {"model": "Qwen2.5-Math-1.5B", "train_set": "math12k"}}
    return rcfg.validate(cfg)


def _report_snakefile(tmp_path: Path, cfg: dict) -> tuple[Path, Path]:
    """A Snakefile with the report rules only, for `cfg`, and an empty working directory."""
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'configfile: "{tmp_path / "config.json"}"\n'
        f'include: "{REPO / "workflow" / "rules" / "common.smk"}"\n'
        f'include: "{REPO / "workflow" / "rules" / "report.smk"}"\n'
    )
    work = tmp_path / "work"
    work.mkdir()
    return snakefile, work


def _bandit_final(work: Path) -> None:
    """The theory stage's bandit results, compared with the authors' in the report (not built by this Snakefile)."""
    (work / "results" / "theory").mkdir(parents=True)
    (work / "results" / "theory" / "bandit_final.csv").write_text(
        "rewards,estimator,method,beta,seed,final_reward\n"
        "deterministic,rs,rs_beta0,0,0,0.6\ndeterministic,rs,rs_beta4,4,0,0.99\n"
    )


def test_report_plans_the_paired_comparison_with_every_problems_file(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    snakefile, work = _report_snakefile(tmp_path, cfg)
    write_synthetic(cfg, work / "results", seed=3, n_boot=10, n_problems={"math500": 6, "aime24": 4})
    _bandit_final(work)
    dry = run_snakemake(work, "-n", "-p", "report", snakefile=snakefile, cwd=work, timeout=600)
    assert dry.returncode == 0, dry.stderr[-4000:]
    out = dry.stdout + dry.stderr
    assert "rule report_paired:" in out and "results/tables/paired_diff.csv" in out
    cmd = next(line for line in out.splitlines() if "python -m rsrl.report paired" in line)
    files = [str(Path(f).relative_to(work)) for f in paired_problems_files(cfg, work / "results")]
    assert len(files) == 7 * 2  # the 7 runs of the (model, train set) with GRPO, on both benchmarks
    assert sorted(cmd.split("--problems ")[1].split(" --out")[0].split()) == sorted(files)
    # Fig. 7(b) and the effective step size are planned with their inputs
    assert "rule report_fig7b:" in out and "results/tables/fig7b_unsolved.csv" in out
    adv = next(line for line in out.splitlines() if "python -m rsrl.report advantage" in line)
    metrics = adv.split("--train-metrics ")[1].split(" --out")[0].split()
    assert len(metrics) == 7 and all(m.endswith("/metrics.csv") for m in metrics)


@pytest.mark.slow
def test_report_rule_and_html_report(tmp_path, paper_config):
    cfg = _config(paper_config)
    snakefile, work = _report_snakefile(tmp_path, cfg)

    # Without evaluation outputs the DAG names what the report needs from the evaluation stage.
    dry = run_snakemake(work, "-n", "report", snakefile=snakefile, cwd=work, timeout=600)
    assert dry.returncode != 0
    assert "results/tables/passk.csv" in dry.stdout + dry.stderr

    write_synthetic(cfg, work / "results", seed=3, n_boot=50, n_problems={"math500": 30, "aime24": 10})
    _bandit_final(work)
    run = run_snakemake(work, "report", snakefile=snakefile, cwd=work, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    for rel in [
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/figures/fig4_passk.png",
        "results/figures/fig4_passk.svg",
        "results/figures/fig4_passk_Qwen2.5-Math-7B.png",
        "results/figures/fig5_beta_ablation.png",
        "results/figures/fig6_baselines.png",
        "results/figures/fig7_diversity.svg",
        "results/tables/paper_comparison.md",
        "results/figures/paper_comparison.png",
        "results/tables/bandit_comparison.csv",
        "results/tables/paired_diff.csv",
        "results/tables/paired_diff.md",
        "results/figures/fig7b_transitions.png",
        "results/tables/fig7b_unsolved.md",
        "results/tables/fig7b_transitions.csv",
        "results/tables/advantage_scale.md",
    ]:
        assert (work / rel).stat().st_size > 0, rel
    # the ablation snapshots reach the report through the aggregated pass@k table
    import pandas as pd

    passk = pd.read_csv(work / "results" / "tables" / "passk.csv")
    assert ((passk["method"] == "rs_beta4.step10") & (passk["step"] == 10)).any()

    html = run_snakemake(work, "--report", "results/report.html", "report", snakefile=snakefile, cwd=work, timeout=600)
    assert html.returncode == 0, html.stderr[-4000:]
    assert (work / "results" / "report.html").stat().st_size > 100_000
