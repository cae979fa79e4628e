"""Experiment tracking (rsrl.tracking) in offline mode: the W&B offline run directory and TensorBoard's event files
hold the training scalars of both trainers' paths and the evaluation's pass@k; bad input fails at DAG build."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import pandas as pd
import pytest

from rsrl import config as rcfg
from rsrl import grid, tracking

REPO = Path(__file__).resolve().parents[1]


def _cfg(path="config/demo.yaml", **block):
    return grid.load(REPO / path, overrides={"tracking": {"backend": "wandb", "mode": "offline", **block}})


# ---------------------------------------------------------------------------------------------------------------
# Reading what the trackers wrote


def wandb_records(run_file: Path):
    """Records of a W&B ``.wandb`` file (a LevelDB-style log of protobuf records: 7-byte file header, 32 KiB
    blocks, 7-byte record headers: crc32, length, type 1 full / 2 first / 3 middle / 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(buf)
            out.append(rec)
    return out


def wandb_offline(root: Path, run_id: str) -> tuple[list[dict], dict]:
    """History rows and config of every offline run directory of `run_id` under `root` (resumed runs merged)."""
    history, config = [], {}
    for f in sorted(root.rglob(f"offline-run-*-{run_id}/run-{run_id}.wandb")):
        for rec in wandb_records(f):
            kind = rec.WhichOneof("record_type")
            if kind == "history":
                history.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item})
            elif kind == "config":
                config.update({i.key: json.loads(i.value_json) for i in rec.config.update})
            elif kind == "run":
                config.update({i.key: json.loads(i.value_json) for i in rec.run.config.update})
    return history, config


def tensorboard_scalars(logdir: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for f in sorted(logdir.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({int(e.step): float(e.value) for e in acc.Scalars(tag)})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Bad input fails when the DAG is built


def test_tracking_is_off_by_default_and_checks_nothing():
    cfg = grid.load(REPO / "config/demo.yaml")
    assert cfg["tracking"]["backend"] == "none" and not tracking.enabled(cfg)
    tracking.check_environment(cfg, online_env={})
    assert tracking.report_to(cfg) == []


def test_online_wandb_without_a_key_names_the_variable():
    cfg = _cfg(mode="online")
    with pytest.raises(rcfg.ConfigError, match="WANDB_API_KEY"):
        tracking.check_environment(cfg, online_env={})
    tracking.check_environment(cfg, online_env={"WANDB_API_KEY": "k" * 40})
    tracking.check_environment(_cfg(mode="offline"), online_env={})


@pytest.mark.parametrize("backend", ["mlflow", "trackio"])
def test_a_backend_that_is_not_installed_names_its_package(backend):
    if importlib.util.find_spec(backend) is not None:
        pytest.skip(f"{backend} is installed here")
    with pytest.raises(rcfg.ConfigError, match=f"pip install {backend}"):
        tracking.check_environment(_cfg(backend=backend), online_env={})


def test_a_backend_openrlhf_cannot_log_to_is_refused_for_its_cells():
    cfg = _cfg("config/config.yaml", backend="mlflow")
    with pytest.raises(rcfg.ConfigError, match="OpenRLHF"):
        tracking.check_environment(cfg, online_env={})


def test_an_unknown_backend_is_a_config_error():
    with pytest.raises(rcfg.ConfigError, match="tracking.backend"):
        _cfg(backend="neptune")


def test_snakemake_refuses_the_dag_without_credentials(tmp_path):
    import os
    import subprocess
    import sys

    conf = tmp_path / "c.yaml"
    text = (REPO / "config/demo.yaml").read_text() + "\ntracking: {backend: wandb, mode: online}\n"
    conf.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--configfile",
            str(conf),
            "--directory",
            str(tmp_path),
            "data",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode != 0
    assert "WANDB_API_KEY" in out.stdout + out.stderr


# ---------------------------------------------------------------------------------------------------------------
# OpenRLHF: its own logger flags (OpenRLHF needs CUDA; the command line is what this pipeline controls)


def _openrlhf_command(cfg, tmp_path):
    from rsrl.train.openrlhf import command

    cell = grid.cells(cfg)[0]
    return cell, command.render(command.openrlhf_args(cfg, cell, command.default_paths(cfg, cell, tmp_path), 1, 8))


def test_openrlhf_command_enables_wandb_without_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", "secret-key-0123456789")
    cfg = grid.load(
        REPO / "config/config.yaml", overrides={"tracking": {"backend": "wandb", "entity": "lab", "project": "rs"}}
    )
    cell, text = _openrlhf_command(cfg, tmp_path)
    assert "secret-key" not in text
    name = tracking.run_name(cell.model, cell.train_set, cell.run_id)
    flat = " ".join(text.split())
    for flag, value in [
        ("key", "WANDB_API_KEY"),
        ("project", "rs"),
        ("org", "lab"),
        ("run_name", name),
        ("group", f"{cell.model}.{cell.train_set}"),
    ]:
        assert f"--logger.wandb.{flag} {value}" in flat
    # Tracking off: no W&B flag enables W&B (an empty key leaves OpenRLHF's logger off).
    _, off = _openrlhf_command(grid.load(REPO / "config/config.yaml"), tmp_path)
    assert "--logger.wandb.key" not in off


def test_openrlhf_command_writes_tensorboard_to_the_tracking_dir(tmp_path):
    from rsrl.train.openrlhf import command

    cfg = grid.load(
        REPO / "config/config.yaml", overrides={"tracking": {"backend": "tensorboard", "dir": str(tmp_path / "tb")}}
    )
    cell = grid.cells(cfg)[0]
    argv = command.openrlhf_args(cfg, cell, command.default_paths(cfg, cell, tmp_path), 1, 8)
    name = tracking.run_name(cell.model, cell.train_set, cell.run_id)
    last = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--logger.")}
    # argparse keeps the last value: OpenRLHF writes its events to <tensorboard_dir>/<run_name>.
    assert Path(last["--logger.tensorboard_dir"]) / last["--logger.wandb.run_name"] == (
        tracking.tensorboard_dir(cfg, name).resolve()
    )


# ---------------------------------------------------------------------------------------------------------------
# The evaluation stage's pass@k, into each cell's run


def _passk(cfg):
    cell = grid.cells(cfg)[0]
    rows = []
    for step, method in [(None, cell.run_id), (30, f"{cell.run_id}.step30")]:
        for bench in ("sums_train", "sums_test"):
            for k in (1, 32):
                rows.append(
                    {
                        "model": cell.model,
                        "train_set": cell.train_set,
                        "method": method,
                        "estimator": cell.estimator,
                        "params": json.dumps(cell.params),
                        "seed": cell.seed,
                        "step": step,
                        "benchmark": bench,
                        "k": k,
                        "pass_at_k": (0.5 if step else 0.75) + k / 100 + (bench == "sums_test") / 10,
                    }
                )
    rows.append({**rows[0], "train_set": "base", "method": "base", "step": None})
    df = pd.DataFrame(rows)
    df["step"] = df["step"].astype("Int64")
    return cell, df


def test_passk_reaches_the_cells_wandb_offline_run(tmp_path):
    cfg = _cfg(dir=str(tmp_path))
    cell, df = _passk(cfg)
    assert tracking.log_passk(cfg, df) == 1  # one trained cell; the base model has no run
    history, config = wandb_offline(tmp_path, tracking.run_name(cell.model, cell.train_set, cell.run_id))
    by_step = {h["passk/step"]: h for h in history if "passk/step" in h}
    final = cfg["training"]["max_steps"]
    assert sorted(by_step) == [30, final]
    for _, r in df[df["train_set"] != "base"].iterrows():
        step = final if pd.isna(r["step"]) else int(r["step"])
        assert by_step[step][f"passk/{r['benchmark']}/pass_at_{r['k']}"] == pytest.approx(r["pass_at_k"])
    assert config["estimator"] == cell.estimator and config["run"] == cell.run_id


def test_passk_reaches_the_cells_tensorboard_run(tmp_path):
    cfg = _cfg(backend="tensorboard", dir=str(tmp_path))
    cell, df = _passk(cfg)
    tracking.log_passk(cfg, df)
    got = tensorboard_scalars(tracking.tensorboard_dir(cfg, tracking.run_name(cell.model, cell.train_set, cell.run_id)))
    trained = df[df["train_set"] != "base"]
    assert len(got) == trained.groupby(["benchmark", "k"]).ngroups
    assert got["passk/sums_test/pass_at_32"][30] == pytest.approx(0.5 + 0.32 + 0.1)


# ---------------------------------------------------------------------------------------------------------------
# TRL: report_to, for real, on a tiny model


def _train_trl(tmp_path, cfg):
    from rsrl.models.tiny import TinySpec, build
    from rsrl.prompts import build_prompt
    from rsrl.train import trl_trainer

    rows = [
        {
            "id": f"t{a}{b}",
            "problem": f"What is {a} + {b}?",
            "answer": str(a + b),
            "source": "t",
            "prompt": build_prompt(f"What is {a} + {b}?", "qwen_math_boxed"),
        }
        for a in range(8)
        for b in range(8)
    ]
    df = pd.DataFrame(rows)
    df.to_parquet(tmp_path / "train.parquet")
    build(df, TinySpec(warmstart_steps=0, max_context=128), tmp_path / "model")
    cell = grid.cells(cfg)[0]
    trl_trainer.train(
        cfg,
        cell.model,
        cell.train_set,
        cell.run_id,
        tmp_path / "train.parquet",
        str(tmp_path / "model"),
        tmp_path / "work",
        tmp_path / "out",
        threads=1,
    )
    return cell, pd.read_csv(tmp_path / "out" / "metrics.csv")


def _small(backend, tmp_path):
    cfg = grid.load(REPO / "config/demo.yaml")
    training = {
        **cfg["training"],
        "max_steps": 2,
        "save_steps": 2,
        "eval_steps": [],
        "rollout_batch_size": 4,
        "n_samples_per_prompt": 4,
        "train_batch_size": 16,
        "micro_train_batch_size": 16,
        "max_new_tokens": 8,
    }
    block = {**cfg["grid"][0], "methods": [{"estimator": "rs", "params": {"beta": 2}}], "seeds": [1]}
    return grid.load(
        REPO / "config/demo.yaml",
        overrides={
            "training": training,
            "grid": [block],
            "tracking": {"backend": backend, "mode": "offline", "dir": str(tmp_path / "tracking")},
        },
    )


@pytest.mark.slow
def test_trl_training_scalars_reach_wandb_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    cfg = _small("wandb", tmp_path)
    cell, metrics = _train_trl(tmp_path, cfg)
    history, config = wandb_offline(tmp_path / "tracking", tracking.run_name(cell.model, cell.train_set, cell.run_id))
    rewards = {h["train/global_step"]: h["train/reward"] for h in history if "train/reward" in h}
    assert rewards == pytest.approx(dict(zip(metrics["step"], metrics["reward_mean"])))
    assert config["estimator"] == "rs" and config["params"] == {"beta": 2}
    # The mean |advantage| the loss received is logged per step beside TRL's own scalars.
    assert metrics["advantage_abs_mean"].notna().all() and (metrics["advantage_abs_mean"] >= 0).all()


@pytest.mark.slow
def test_trl_training_scalars_reach_tensorboard(tmp_path):
    cfg = _small("tensorboard", tmp_path)
    cell, metrics = _train_trl(tmp_path, cfg)
    got = tensorboard_scalars(tracking.tensorboard_dir(cfg, tracking.run_name(cell.model, cell.train_set, cell.run_id)))
    assert got["train/reward"] == pytest.approx(dict(zip(metrics["step"], metrics["reward_mean"])))
    assert set(got["train/entropy"]) == set(metrics["step"])
