"""On the local Slurm cluster (tests/test_slurm.py's machinery): the smoke target runs every engine path of the demo
through the slurm profile, and a training job that Slurm requeues while it runs resumes from its last checkpoint,
with every step trained exactly once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from test_slurm import (  # noqa: F401  (slurm_cluster is a fixture)
    DEMO_CONFIG,
    FAST_STATUS,
    REPO,
    cluster_caps,
    copy_repo,
    job_env,
    slurm_cluster,
    snakemake_args,
    squeue,
)


def _demo(**training) -> dict:
    cfg = yaml.safe_load((REPO / DEMO_CONFIG).read_text())
    (model,) = cfg["models"]
    cfg["models"][model]["build"]["warmstart_steps"] = 30  # the smoke run tests paths, not the warm start
    cfg["size_classes"]["cpu"]["cpus_per_gpu"] = 1
    cfg["evaluation"]["grader"]["workers"] = 1
    cfg["training"].update(training)
    return cfg


@pytest.mark.slow
def test_smoke_target_runs_every_engine_path_through_slurm(slurm_cluster, tmp_path):  # noqa: F811
    from rsrl import grid, smoke

    wd = copy_repo(tmp_path / "repo")
    demo_cfg = _demo()
    # Three estimator families of the demo (group baseline, RS-GRPO, a pass@k method) keep the run short; the
    # smoke run's one-cell-per-(trainer, estimator) rule is checked against this grid below.
    demo_cfg["grid"] = [
        {**demo_cfg["grid"][0], "methods": [{"estimator": "grpo"}], "seeds": [1]},
        {
            **demo_cfg["grid"][1],
            "methods": [{"estimator": "rs", "params": {"beta": 2}}, {"estimator": "pkpo", "params": {"k": 4}}],
        },
    ]
    (wd / "config/smoke-test.yaml").write_text(yaml.safe_dump(demo_cfg))
    # The nested run's profile (RSRL_SMOKE_PROFILE): the slurm profile, with the test cluster's settings that
    # snakemake_args gives the outer run (quick status checks, threads capped at the node's CPUs).
    profile = yaml.safe_load((wd / "slurm/config.yaml").read_text())
    caps = cluster_caps()
    profile.update(
        {
            "slurm-init-seconds-before-status-checks": int(FAST_STATUS[1]),
            **({"max-threads": int(caps[1])} if caps else {}),
        }
    )
    (wd / "slurm-test").mkdir()
    (wd / "slurm-test/config.yaml").write_text(yaml.safe_dump(profile))
    args = snakemake_args(["smoke"], configfile="config/smoke-test.yaml")
    t0 = time.monotonic()
    env = job_env(wd, {"RSRL_SMOKE_PROFILE": str(wd / "slurm-test")})
    proc = subprocess.run(args, cwd=wd, env=env, capture_output=True, text=True, timeout=3000)
    seconds = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    log = (wd / "logs/smoke/run.log").read_text() if (wd / "logs/smoke/run.log").exists() else ""
    assert proc.returncode == 0, (out[-3000:], log[-6000:])
    print(f"\nsmoke target through Slurm: {seconds:.0f} s")
    scfg = grid.load(wd / smoke.SMOKE_DIR / "config.yaml")
    run = wd / smoke.SMOKE_DIR
    # one cell per (trainer, estimator) of the demo grid, each trained for the smoke run's steps, in Slurm jobs
    cells = grid.cells(scfg)
    demo = grid.load(wd / "config/smoke-test.yaml")
    assert {(c.trainer, c.estimator) for c in cells} == {(c.trainer, c.estimator) for c in grid.cells(demo)}
    for c in cells:
        m = pd.read_csv(run / grid.train_metrics(c.model, c.train_set, c.run_id))
        assert m["step"].tolist() == list(range(1, scfg["training"]["max_steps"] + 1))
    passk = pd.read_csv(run / grid.PASSK_TABLE)
    assert set(passk["benchmark"]) == set(scfg["benchmarks"])
    assert (passk["n_samples"] == scfg["smoke"]["samples"]).all()
    assert (passk["n_problems"] == scfg["smoke"]["problems"]).all()
    for fig in ("table2.md", "training_curves.csv"):
        assert (run / grid.TABLES / fig).stat().st_size > 0
    assert "has been submitted with SLURM jobid" in log  # the nested run submitted its jobs to Slurm
    # The report's training curves hold every smoke cell; `rsrl status` on the finished run: every stage done.
    curves = pd.read_csv(run / grid.TABLES / "training_curves.csv")
    assert set(curves["method"]) == {c.run_id for c in cells}
    from rsrl import status

    rows = status.run(scfg, run, wd / "Snakefile", [str(run / "config.yaml")])
    assert rows and {r.state for r in rows} == {"done"}, status.render(rows, run)
    assert all(r.seconds is not None and r.seconds > 0 for r in rows if r.stage == "train")


@pytest.mark.slow
def test_requeued_training_job_resumes_without_lost_or_repeated_steps(slurm_cluster, tmp_path):  # noqa: F811
    from rsrl import grid

    steps = 12
    cfg = _demo(max_steps=steps, save_steps=2, eval_steps=[])
    cfg["grid"] = [{**cfg["grid"][1], "methods": [{"estimator": "rs", "params": {"beta": 2}}]}]
    wd = copy_repo(tmp_path / "repo")
    (wd / "config/requeue.yaml").write_text(yaml.safe_dump(cfg))
    vcfg = grid.load(wd / "config/requeue.yaml")
    (cell,) = grid.cells(vcfg)
    metrics = grid.train_metrics(cell.model, cell.train_set, cell.run_id)
    work = wd / grid.work_dir(cell.model, cell.train_set, cell.run_id)
    args = snakemake_args([metrics], configfile="config/requeue.yaml")
    proc = subprocess.Popen(args, cwd=wd, env=job_env(wd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Requeue the training job once it has saved a checkpoint and trained on past it.
    job = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        ckpts = list((work / "trl").glob("checkpoint-*")) if (work / "trl").exists() else []
        records = (work / "rollouts.jsonl").read_text().splitlines() if (work / "rollouts.jsonl").exists() else []
        if ckpts and len(records) >= 5:
            running = [r for r in squeue("%i|%T|%k") if r[1] == "RUNNING" and "train_cell" in r[2]]
            if running:
                job = running[0][0]
                break
        time.sleep(0.5)
    assert job is not None, "the training job never reached a checkpoint while running"
    trained_before = len((work / "rollouts.jsonl").read_text().splitlines())
    subprocess.run(["scontrol", "requeue", job], check=True)
    # Slurm holds a requeued job back for a while (its BeginTime); release it as soon as it is pending again.
    hold_deadline = time.monotonic() + 60
    while time.monotonic() < hold_deadline and proc.poll() is None:
        if any(r[0] == job and r[1] == "PENDING" for r in squeue("%i|%T|%k")):
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)
            break
        time.sleep(0.5)
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out[-6000:]
    assert trained_before < steps, "the job had finished before it was requeued"
    # The job ran again under the same Slurm job id and resumed from its checkpoint.
    log = (wd / f"logs/train/{cell.key}.log").read_text()
    assert "resume from None" not in log and "resume from " in log and "checkpoint-" in log, log[-3000:]
    m = pd.read_csv(wd / metrics)
    assert m["step"].tolist() == list(range(1, steps + 1))
    assert m["reward_mean"].notna().all()
    state = json.loads(
        Path(
            max((work / "trl").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])).joinpath(
                "trainer_state.json"
            )
        ).read_text()
    )
    assert state["global_step"] == steps
    logged = [e["step"] for e in state["log_history"] if "reward" in e]
    assert logged == list(range(1, steps + 1)), logged  # each step trained once: none lost, none repeated
    assert (wd / grid.model_dir(cell.model, cell.train_set, cell.run_id) / "model.safetensors").exists()
