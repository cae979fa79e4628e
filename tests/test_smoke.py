"""The smoke run's config (rsrl.smoke): the grid's smallest model, one cell per (trainer, estimator), a few steps
and samples; its cost in `rsrl plan`; the `smoke` target in the DAG."""

from __future__ import annotations

from pathlib import Path

from rsrl import cli, grid, shard_plan, smoke

REPO = Path(__file__).resolve().parents[1]


def test_smoke_config_covers_every_trainer_and_estimator_on_the_smallest_model():
    cfg = grid.load(REPO / "config/config.yaml")
    s = smoke.smoke_config(cfg)
    sizes = {m: cfg["size_classes"][cfg["models"][m]["size"]] for m in grid.models(cfg)}
    gpus = {m: z["nodes"] * z["gpus_per_node"] for m, z in sizes.items()}
    model = smoke.smallest_model(cfg)
    assert gpus[model] == min(gpus.values())
    cells = grid.cells(s)
    assert {c.model for c in cells} == {model}
    assert {(c.trainer, c.estimator) for c in cells} == {(c.trainer, c.estimator) for c in grid.cells(cfg)}
    assert s["training"]["max_steps"] == cfg["smoke"]["max_steps"]
    assert (
        s["training"]["train_batch_size"] == cfg["smoke"]["rollout_batch_size"] * cfg["smoke"]["n_samples_per_prompt"]
    )
    for b in s["benchmarks"]:
        assert shard_plan.eval_settings(s, b)["n"] == cfg["smoke"]["samples"]
        assert s["benchmarks"][b]["limit"] == cfg["smoke"]["problems"]
    assert Path(s["data_dir"]).is_absolute()  # the smoke run works in results/smoke/


def test_smoke_sizes_come_from_the_config():
    cfg = grid.load(REPO / "config/demo.yaml", overrides={"smoke": {"max_steps": 3, "samples": 2}})
    s = smoke.smoke_config(cfg)
    assert s["training"]["max_steps"] == 3 and s["training"]["eval_steps"] == [1]
    assert s["report"]["k_table"] == [1, 2]


def test_plan_shows_the_smoke_runs_cost(capsys):
    assert cli.main(["plan", "--config", str(REPO / "config/demo.yaml")]) == 0
    out = capsys.readouterr().out
    cfg = grid.load(REPO / "config/demo.yaml")
    n_cells = len(grid.cells(smoke.smoke_config(cfg)))
    assert "Smoke run (`snakemake smoke`" in out and f"{n_cells} cells on tiny-qwen2" in out


def test_smoke_target_plans_the_nested_run(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "smoke",
            "--configfile",
            str(REPO / "config/demo.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rule smoke_config:" in out.stdout and "rule smoke:" in out.stdout
