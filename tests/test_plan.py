"""`rsrl plan`: its job counts equal `snakemake -n all` on a fresh directory, for the paper and the demo config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rsrl import config as rcfg
from rsrl import plan as rplan


def _dry_run_counts(repo, tmp_path, configfile) -> dict[str, int]:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "all",
            "--configfile",
            str(configfile),
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--cores",
            "1",
            "--quiet",
            "rules",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    counts = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo.yaml", "config.yaml"])
def test_plan_counts_equal_the_dry_run(repo, tmp_path, name):
    cfg = rcfg.load(repo / "config" / name)
    assert rplan.build(cfg).jobs == _dry_run_counts(repo, tmp_path, repo / "config" / name)


def test_plan_requests_follow_the_size_classes(repo, capsys):
    cfg = rcfg.load(repo / "config" / "config.yaml")
    p = rplan.build(cfg)
    small = cfg["size_classes"]["small"]
    n_small = sum(
        1 for c in __import__("rsrl.grid", fromlist=["cells"]).cells(cfg) if cfg["models"][c.model]["size"] == "small"
    )
    assert p.gpu_hours["train_cell"] == pytest.approx(
        n_small * small["nodes"] * small["gpus_per_node"] * small["runtime_min"] / 60
    )
    from rsrl.cli import main

    assert main(["plan", "--config", str(repo / "config" / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "GPU-hours" in out and "train_cell_multinode" in out and f"{sum(p.jobs.values()):8d}" in out


def _runs_per_size(cfg) -> dict:
    """Enabled runs per size class, counted from the blocks: models x train_sets x methods (a list of betas is one
    run per beta)."""
    runs: dict = {}
    for b in cfg["grid"]:
        if b.get("enabled", True):
            n_methods = sum(
                len(v) if isinstance(v := (m.get("params") or {}).get("beta"), list) else 1 for m in b["methods"]
            )
            for model in b["models"]:
                size = cfg["models"][model]["size"]
                runs[size] = runs.get(size, 0) + len(b["train_sets"]) * n_methods
    return runs


def _expected_by_hand(cfg) -> dict:
    """Expected training GPU-hours of the paper config recomputed from its values: per run, max_steps x prompts x N
    samples of response_share x max_new_tokens tokens, generated prompt_factor times over (dynamic sampling) and
    trained once."""
    t, cm = cfg["training"], cfg["cost_model"]
    share, tps = cm["response_share"], cm["tokens_per_gpu_second"]
    factor = t["dynamic_sampling"]["prompt_factor"]
    run_tokens = t["max_steps"] * t["rollout_batch_size"] * t["n_samples_per_prompt"] * share * t["max_new_tokens"]
    runs = _runs_per_size(cfg)
    train = sum(runs[s] * (run_tokens * factor / tps[s]["generate"] + run_tokens / tps[s]["train"]) for s in runs)
    return {"train": train / 3600, "runs": runs}


def test_plan_expected_cost_of_the_paper_config(repo, capsys):
    cfg = rcfg.load(repo / "config" / "config.yaml")
    p = rplan.build(cfg)
    want = _expected_by_hand(cfg)
    assert want["runs"] == {"small": 11, "medium": 20}  # 31 enabled runs; Qwen2.5-Math-1.5B and Qwen3-4B are "small"
    assert p.expected["train"] == pytest.approx(want["train"], rel=1e-12)
    # evaluation: every checkpoint's samples at the expected length, through the generation throughput
    share, tps = cfg["cost_model"]["response_share"], cfg["cost_model"]["tokens_per_gpu_second"]
    ev = (
        sum(
            rplan.problem_count(cfg, b)
            * cfg["evaluation"]["per_benchmark"][b]["n"]
            * share
            * cfg["evaluation"]["max_tokens"]
            / tps[cfg["models"][c.model]["size"]]["generate"]
            for c, b in __import__("rsrl.grid", fromlist=["x"]).eval_targets(cfg)
        )
        / 3600
    )
    assert p.expected["evaluate"] == pytest.approx(ev, rel=1e-12)
    upper = sum(p.gpu_hours.values())
    assert 0 < p.expected["train"] + p.expected["evaluate"] < upper
    # blocks: the enabled ones add up to the stages but for the base models' evaluation; Fig. 11 is priced apart
    blocks = {b.name: b for b in p.blocks}
    assert not blocks["fig11_group_size"].enabled and blocks["fig11_group_size"].runs == 6
    on = sum(b.expected for b in p.blocks if b.enabled)
    assert p.expected["train"] < on < p.expected["train"] + p.expected["evaluate"]
    # Fig. 11's runs sample total_batch per rollout whatever N: each costs as much training as a Table 2 7B run
    tb = __import__("rsrl.cost", fromlist=["x"])
    g = __import__("rsrl.grid", fromlist=["x"])
    n4 = next(c for c in g.cells(cfg, include_disabled=True) if c.run_id == "drgrpo.n4")
    assert tb.train_hours(cfg, n4) == pytest.approx(
        tb.train_hours(cfg, g.cell(cfg, "Qwen2.5-Math-7B", "dapo17k", "drgrpo"))
    )
    from rsrl.cli import main

    assert main(["plan", "--config", str(repo / "config" / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "expected GPU-h" in out and "upper GPU-h" in out and "switched off" in out and "fig11_group_size" in out
    assert f"{p.expected['train'] + p.expected['evaluate']:15,.0f}" in out


def test_plan_throughput_is_overridable(repo):
    cfg = rcfg.load(repo / "config" / "config.yaml")
    base = rplan.build(cfg).expected
    fast = {s: {k: 2 * v for k, v in tp.items()} for s, tp in cfg["cost_model"]["tokens_per_gpu_second"].items()}
    cfg["cost_model"]["tokens_per_gpu_second"] = fast
    twice = rplan.build(cfg).expected
    assert twice["train"] == pytest.approx(base["train"] / 2) and twice["evaluate"] == pytest.approx(
        base["evaluate"] / 2
    )
    cfg.pop("cost_model")
    assert rplan.build(cfg).expected["train"] is None  # no throughput table: unknown, not zero
