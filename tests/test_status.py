"""`rsrl status`: every cell and stage from Snakemake's records and the results folder, on a real small run: done
(with the time its jobs took), stale after a training edit, running while a job runs, failed with its log."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import run_snakemake
from rsrl import cli, grid, status
from test_train_snakemake import DEMO

REPO = Path(__file__).resolve().parents[1]


def test_a_folder_without_results_says_so(tmp_path, capsys):
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump(DEMO))
    assert cli.main(["status", "--config", str(conf), "--directory", str(tmp_path), "--no-summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No results under") and "not started" in out
    rows = status.collect(grid.load(conf), tmp_path)
    assert {r.state for r in rows} == {"not started"}
    assert {r.stage for r in rows} >= {"train", "evaluate synth_test"}


def test_records_are_read_by_output_path(tmp_path):
    """Snakemake's file backend names a record by the base64 of the output path, split into '@' folders."""
    long = "results/eval/" + "m" * 300 + "/metrics.csv"
    enc = status._b64(long)
    parts = [enc[i : i + 99] for i in range(0, len(enc), 99)]
    d = tmp_path / ".snakemake" / "metadata"
    target = d.joinpath(*["@" + p for p in parts[:-1]])
    target.mkdir(parents=True)
    (target / parts[-1]).write_text(json.dumps({"starttime": 10.0, "endtime": 25.5}))
    (d / status._b64("results/x")).write_text("{}")
    recs = status.read_records(tmp_path, "metadata")
    assert set(recs) == {long, "results/x"}
    assert status._duration(recs[long]) == (10.0, 25.5)


def _cfg(**training):
    cfg = copy.deepcopy(DEMO)
    cfg["grid"][0]["methods"] = [{"estimator": "rs", "params": {"beta": 2}}]
    cfg["training"].update(max_steps=2, save_steps=2, eval_steps=[], **training)
    return cfg


def _row(rows, cell, stage):
    (row,) = [r for r in rows if r.cell == cell and r.stage == stage]
    return row


@pytest.mark.slow
def test_status_of_a_small_run(tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text("".join(f'include: "{REPO}/workflow/rules/{s}.smk"\n' for s in ("common", "data", "train")))
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump(_cfg()))
    wd = tmp_path / "wd"
    t0 = time.time()
    run_snakemake(wd, "train", snakefile=snakefile, configfile=conf, check=True)
    wall = time.time() - t0
    cfg = grid.load(conf)
    cell = "tiny/synth/rs_beta2"

    rows = status.run(cfg, wd, snakefile, [str(conf)])
    train = _row(rows, cell, "train")
    assert train.state == "done" and train.log is None
    assert 1 < train.seconds < wall
    assert _row(rows, f"{cell}", "evaluate synth_test").state == "not started"
    assert _row(rows, "tiny/base/base", "evaluate synth_test").state == "not started"
    table = status.render(rows, wd)
    assert cell in table and "not started" in table
    assert "1 done" in table

    # A training setting edited: Snakemake would retrain the cell, so the stage is stale.
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(_cfg(learning_rate=2.0e-3)))
    rows = status.run(grid.load(edited), wd, snakefile, [str(edited)])
    assert _row(rows, cell, "train").state == "stale"

    # A second cell whose job runs for a while and then fails: running while it runs, failed with its log after.
    two = _cfg()
    two["grid"][0]["methods"] = [{"estimator": "rs", "params": {"beta": [0, 2]}}]
    conf2 = tmp_path / "two.yaml"
    conf2.write_text(yaml.safe_dump(two))
    # The jobs' `python` (the rules call it by name): training runs 20 s, then fails; anything else runs as usual.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f"""#!/bin/sh
case "$*" in *rsrl.train*) echo training broke; sleep 20; exit 3;; esac
exec {sys.executable} "$@"
""")
    (fake / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(snakefile),
        "-d",
        str(wd),
        "--cores",
        "1",
        "train",
        "--configfile",
        str(conf2),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfg2 = grid.load(conf2)
    seen = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        seen = _row(status.collect(cfg2, wd), "tiny/synth/rs_beta0", "train")
        if seen.state == "running":
            break
        time.sleep(1)
    assert seen is not None and seen.state == "running", seen
    assert seen.log == "logs/train/tiny/synth/rs_beta0.log"
    assert proc.wait(timeout=180) != 0
    rows = status.run(cfg2, wd, snakefile, [str(conf2)])
    failed = _row(rows, "tiny/synth/rs_beta0", "train")
    assert failed.state == "failed" and failed.log == "logs/train/tiny/synth/rs_beta0.log"
    assert "training broke" in (wd / failed.log).read_text()
    assert _row(rows, cell, "train").state == "done"

    # --json for scripts: the same rows.
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rsrl.cli",
            "status",
            "--config",
            str(conf2),
            "--directory",
            str(wd),
            "--no-summary",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    by_key = {(r["cell"], r["stage"]): r for r in json.loads(out.stdout)}
    assert by_key[("tiny/synth/rs_beta0", "train")]["state"] == "failed"
    assert by_key[(cell, "train")]["seconds"] == pytest.approx(train.seconds)
