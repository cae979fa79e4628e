"""End to end on CPU: Snakemake builds the tiny model, trains it with TRL for rs beta 0 and beta 2, exports step
snapshots; a longer rerun resumes from the work/ checkpoint instead of restarting; a finished cell interrupted before
its outputs were written rebuilds them without training, one whose outputs were written retrains from scratch."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import run_snakemake
from rsrl import grid
from rsrl.train.progress import COLUMNS

REPO = Path(__file__).resolve().parents[1]

DEMO = {
    "data_source": "local",
    "prompt_template": "qwen_math_boxed",
    "models": {
        "tiny": {
            "build": {
                "hidden_size": 128,
                "layers": 2,
                "heads": 2,
                "vocab_size": 512,
                "warmstart_steps": 40,
                "warmstart_lr": 3.0e-3,
                "seed": 0,
            },
            "size": "cpu",
            "max_context": 256,
        }
    },
    "size_classes": {
        "cpu": {"nodes": 1, "gpus_per_node": 0, "cpus_per_gpu": 2, "mem_mb_per_node": 8000, "runtime_min": 60}
    },
    "train_sets": {
        "synth": {
            "loader": "synthetic",
            "synthetic": {"split": "train", "size": 256, "terms": 2, "min_value": 10, "max_value": 99},
        }
    },
    "benchmarks": {
        "synth_test": {
            "loader": "synthetic",
            "synthetic": {"split": "test", "size": 16, "terms": 2, "min_value": 10, "max_value": 99},
        }
    },
    "grid": [
        {
            "models": ["tiny"],
            "train_sets": ["synth"],
            "methods": [{"estimator": "rs", "params": {"beta": [0, 2]}}],
            "trainer": "trl",
        }
    ],
    "training": {
        "trainer": "trl",
        "n_samples_per_prompt": 4,
        "rollout_batch_size": 4,
        "train_batch_size": 16,
        "micro_train_batch_size": 8,
        "micro_rollout_batch_size": 4,
        "learning_rate": 1.0e-3,
        "max_prompt_len": 128,
        "max_new_tokens": 12,
        "temperature": 1.0,
        "top_p": 1.0,
        "init_kl_coef": 0.0,
        "use_kl_loss": False,
        "entropy_coef": 0.0,
        "eps_clip": 0.2,
        "num_episodes": 1,
        "max_steps": 4,
        "save_steps": 2,
        "eval_steps": [2, 4],
        "seed": 42,
    },
    "evaluation": {"grader": {"boxed_only": True, "timeout_s": 5}},
    "report": {"k_table": [1]},  # n = 1 sample per problem (the default pass@32 needs n >= 32)
}


@pytest.mark.slow
def test_trl_cells_train_under_snakemake_and_resume(tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text("".join(f'include: "{REPO}/workflow/rules/{s}.smk"\n' for s in ("common", "data", "train")))
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(DEMO))
    wd = tmp_path / "wd"
    r = run_snakemake(wd, "train", snakefile=snakefile, configfile=config)
    assert r.returncode == 0, r.stderr[-6000:]
    assert (wd / "results/models/tiny/base/config.json").exists()
    for beta in (0, 2):
        cell = wd / f"results/train/tiny/synth/rs_beta{beta}"
        assert (cell / "model/model.safetensors").exists() and (cell / "model/tokenizer.json").exists()
        m = pd.read_csv(cell / "metrics.csv")
        assert list(m.columns) == COLUMNS and m["step"].tolist() == [1, 2, 3, 4]
        assert (
            m[["reward_mean", "solve_rate", "cumulative_solve_rate", "entropy", "response_length"]].notna().all().all()
        )
        assert ((m["solve_rate"] >= 0) & (m["solve_rate"] <= 1)).all()
        # Snapshots at the eval steps below max_steps (rsrl.grid.snapshot_steps); step 4 is the final model.
        assert (cell / "steps/step2/model.safetensors").exists() and not (cell / "steps/step4").exists()
        assert (wd / f"logs/train/tiny/synth/rs_beta{beta}.log").exists()
        assert list((wd / f"work/train/tiny/synth/rs_beta{beta}/trl").glob("checkpoint-*"))
        records = (wd / f"work/train/tiny/synth/rs_beta{beta}/rollouts.jsonl").read_text().splitlines()
        assert [json.loads(x)["step"] for x in records] == [1, 2, 3, 4]

    # Edits that change how jobs are scheduled, not what they compute, plan nothing; nor does a moved checkout.
    edited = copy.deepcopy(DEMO)
    edited["size_classes"]["cpu"].update(runtime_min=600, mem_mb_per_node=4000, cpus_per_gpu=1)
    edited["training"]["micro_train_batch_size"] = 4
    edited["evaluation"]["grader"].update(workers=1, deadline_s=99)
    edited_path = tmp_path / "edited.yaml"
    edited_path.write_text(yaml.safe_dump(edited))
    for cfg_file, where in ((edited_path, wd), (config, wd)):
        r = run_snakemake(where, "train", "-n", snakefile=snakefile, configfile=cfg_file)
        assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
    moved = tmp_path / "moved"
    shutil.copytree(wd, moved, symlinks=True)
    r = run_snakemake(moved, "train", "-n", snakefile=snakefile, configfile=config)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
    shutil.rmtree(moved)

    # Adding a benchmark rebuilds the training sets (decontamination), here to identical content: nothing retrains
    # or rebuilds the model. One that holds a training problem changes the set, and both cells retrain in the same
    # run. (In a copy, so that the checks below start from the first run.)
    copy_wd = tmp_path / "added"
    shutil.copytree(wd, copy_wd, symlinks=True)
    train_before = (copy_wd / grid.train_data("synth")).read_bytes()
    added = copy.deepcopy(DEMO)
    added["benchmarks"]["extra"] = {
        "loader": "synthetic",
        "synthetic": {"split": "test", "size": 8, "seed": 9, "terms": 2, "min_value": 10, "max_value": 99},
    }
    (tmp_path / "added.yaml").write_text(yaml.safe_dump(added))
    r = run_snakemake(copy_wd, "train", snakefile=snakefile, configfile=tmp_path / "added.yaml")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "checkpoint prepare_train:" in out, out[-4000:]
    for rule in ("build_model", "train_cell", "export_step"):
        assert f"rule {rule}:" not in out, out[-4000:]
    assert (copy_wd / grid.train_data("synth")).read_bytes() == train_before
    r = run_snakemake(copy_wd, "train", "-n", snakefile=snakefile, configfile=tmp_path / "added.yaml")
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
    # A changed training set (here: fewer problems) retrains both cells in the same run.
    smaller = copy.deepcopy(added)
    smaller["train_sets"]["synth"]["synthetic"]["size"] = 200
    (tmp_path / "smaller.yaml").write_text(yaml.safe_dump(smaller))
    r = run_snakemake(copy_wd, "train", snakefile=snakefile, configfile=tmp_path / "smaller.yaml")
    out = r.stdout + r.stderr
    assert r.returncode == 0 and out.count("rule train_cell:") == 2 and out.count("rule export_step:") == 2, out[-4000:]
    assert len(pd.read_parquet(copy_wd / grid.train_data("synth"))) == 200
    shutil.rmtree(copy_wd)

    # A setting that changes what is computed retrains (dry run: both cells planned).
    lr = copy.deepcopy(DEMO)
    lr["training"]["learning_rate"] = 2.0e-3
    (tmp_path / "lr.yaml").write_text(yaml.safe_dump(lr))
    r = run_snakemake(wd, "train", "-n", "--quiet", "rules", snakefile=snakefile, configfile=tmp_path / "lr.yaml")
    planned = {
        ln.split()[0]: int(ln.split()[1])
        for ln in r.stdout.splitlines()
        if len(ln.split()) == 2 and ln.split()[1].isdigit()
    }
    assert r.returncode == 0 and planned.get("train_cell") == 2, r.stdout[-2000:]

    # --forcerun of one cell retrains it from scratch through Snakemake (its old state moved aside, logged).
    first_ckpts = sorted(p.name for p in (wd / grid.work_dir("tiny", "synth", "rs_beta0") / "trl").glob("checkpoint-*"))
    r = run_snakemake(
        wd, "train", "--forcerun", "results/train/tiny/synth/rs_beta0/model", snakefile=snakefile, configfile=config
    )
    assert r.returncode == 0, r.stderr[-4000:]
    log = (wd / "logs/train/tiny/synth/rs_beta0.log").read_text()
    assert "moved aside" in log and "resume from None" in log and "already trained" not in log
    (stale0,) = (wd / "work/train/tiny/synth").glob("rs_beta0.stale-*")
    assert sorted(p.name for p in (stale0 / "trl").glob("checkpoint-*")) == first_ckpts
    records = (wd / grid.work_dir("tiny", "synth", "rs_beta0") / "rollouts.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in records] == [1, 2, 3, 4]  # trained afresh, every step logged
    assert not list((wd / "work/train/tiny/synth").glob("rs_beta2.stale-*"))  # the other cell is untouched

    # A longer run of the same cell resumes from its work/ checkpoint at step 4 instead of starting over.
    cfg = grid.validate(copy.deepcopy(DEMO))  # what the jobs read (their config snapshot)
    cfg["training"]["max_steps"] = 6
    longer = tmp_path / "longer.json"
    longer.write_text(json.dumps(cfg))
    first = pd.read_csv(wd / "results/train/tiny/synth/rs_beta2/metrics.csv")
    cell_args = [
        "--config",
        str(longer),
        "--model",
        "tiny",
        "--train-set",
        "synth",
        "--method",
        "rs_beta2",
        "--data",
        grid.train_data("synth"),
        "--base-model",
        grid.model_source(cfg, "tiny"),
        "--work",
        grid.work_dir("tiny", "synth", "rs_beta2"),
        "--threads",
        "2",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "rsrl.train", "trl", *cell_args, "--out", "out"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert "resume from" in r.stderr and "checkpoint-4" in r.stderr
    again = pd.read_csv(wd / "out/metrics.csv")
    assert again["step"].tolist() == [1, 2, 3, 4, 5, 6]
    pd.testing.assert_frame_equal(
        again.iloc[:4][["step", "reward_mean", "solve_rate"]], first[["step", "reward_mean", "solve_rate"]]
    )

    # A run that finished training but was interrupted before writing its outputs (no exported.json): the outputs
    # are rebuilt from the final checkpoint, with no extra step.
    work = wd / grid.work_dir("tiny", "synth", "rs_beta2")
    (work / "exported.json").unlink()
    r = subprocess.run(
        [sys.executable, "-m", "rsrl.train", "trl", *cell_args, "--out", "out2"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert "already trained to step 6" in r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(wd / "out2/metrics.csv"), again)
    steps = sorted(int(p.name.split("-")[1]) for p in (work / "trl").glob("checkpoint-*"))
    assert steps[-1] == 6, steps
    from safetensors.numpy import load_file

    a, b = load_file(wd / "out/model/model.safetensors"), load_file(wd / "out2/model/model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)

    # The job of a finished and exported cell runs again (forced, or its outputs removed): its state is moved
    # aside, never deleted, and the cell trains from scratch.
    r = subprocess.run(
        [sys.executable, "-m", "rsrl.train", "trl", *cell_args, "--out", "out3"],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert "moved aside" in r.stderr and "resume from None" in r.stderr
    (stale,) = work.parent.glob("rs_beta2.stale-*")
    assert sorted(p.name for p in (stale / "trl").glob("checkpoint-*"))[-1] == "checkpoint-6"
    assert pd.read_csv(wd / "out3/metrics.csv")["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert [json.loads(x)["step"] for x in (work / "rollouts.jsonl").read_text().splitlines()] == list(range(1, 7))
