"""The data stage through Snakemake: the paper config's DAG, and a full offline build from local files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "data"


def snakefile(tmp: Path) -> Path:
    """A Snakefile with only the shared definitions and the data stage."""
    path = tmp / "Snakefile"
    path.write_text(f'include: "{REPO}/workflow/rules/common.smk"\ninclude: "{REPO}/workflow/rules/data.smk"\n')
    return path


def snakemake(tmp: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python` in rules = this one
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile(tmp)), "-d", str(tmp / "wd"), *args]
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)


def job_counts(stdout: str) -> dict[str, int]:
    block = stdout.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}


def test_paper_config_dry_run_has_one_job_per_dataset(tmp_path, paper_config):
    res = snakemake(tmp_path, "-n", "data", "--configfile", str(REPO / "config" / "config.yaml"))
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    assert counts["prepare_train"] == len(paper_config["train_sets"]) == 3
    assert counts["prepare_bench"] == len(paper_config["benchmarks"]) == 6
    assert counts["data_manifest"] == 1 and counts["data"] == 1
    for name in [*paper_config["train_sets"], *paper_config["benchmarks"]]:
        assert f"/{name}.parquet" in res.stdout


@pytest.mark.slow
def test_snakemake_builds_data_offline(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    data = tmp_path / "data"
    shutil.copytree(FIX, data, ignore=shutil.ignore_patterns("*.py"))
    shared_eval = Path(os.environ.get("RSRL_DATA_DIR", REPO.parent / "shared" / "data")) / "eval"
    if shared_eval.is_dir():  # the real benchmark problems
        shutil.copytree(shared_eval, data / "eval")
        benchmarks = {
            b: {"loader": "columns", "local": f"eval/{b}.jsonl"}
            for b in ("math500", "aime24", "aime25", "hmmt_feb24", "hmmt_feb25")
        }
        # A real MATH-500 problem in the training data, to be found by decontamination.
        first = json.loads((shared_eval / "math500.jsonl").read_text().splitlines()[0])
        with open(data / "deepmath.jsonl", "a") as fh:
            fh.write(
                json.dumps(
                    {
                        "question": first["problem"],
                        "final_answer": first["answer"],
                        "difficulty": 2.0,
                        "topic": "Mathematics -> Precalculus",
                    }
                )
                + "\n"
            )
    else:
        benchmarks = {
            "math500": {"loader": "columns", "local": "math500.jsonl"},
            "aime24": {"loader": "columns", "local": "aime24.jsonl"},
        }
    benchmarks["cmimc25"] = {"loader": "columns", "hub": {"id": "MathArena/cmimc_2025"}, "local": "cmimc25.jsonl"}
    spec = {"task": "add", "terms": [2, 3], "min_value": 0, "max_value": 99}
    benchmarks["add_test"] = {"loader": "synthetic", "synthetic": {**spec, "split": "test", "size": 50, "seed": 1}}
    cfg["train_sets"]["math12k"]["local"] = "math_lighteval.jsonl"
    cfg["train_sets"]["dapo17k"]["local"] = "dapo17k.parquet"
    cfg["train_sets"]["deepmath103k"]["local"] = "deepmath.jsonl"
    cfg["train_sets"]["add_train"] = {
        "loader": "synthetic",
        "synthetic": {**spec, "split": "train", "size": 500, "seed": 0},
    }
    cfg.update(data_dir=str(data), data_source="local", benchmarks=benchmarks)
    cfg["evaluation"]["per_benchmark"] = {}
    cfg["report"]["k_table"] = [1]  # one sample per problem without per_benchmark entries
    for src in cfg["train_sets"].values():  # fixtures, not the published datasets
        src.pop("expected_rows", None)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))

    res = snakemake(tmp_path, "--cores", "2", "data", "--configfile", str(tmp_path / "config.yaml"))
    assert res.returncode == 0, res.stderr[-5000:]
    wd = tmp_path / "wd"
    doc = json.loads((wd / "results" / "data" / "manifest.json").read_text())
    expected = {f"train/{t}" for t in cfg["train_sets"]} | {f"bench/{b}" for b in benchmarks}
    assert set(doc["outputs"]) == expected
    for key, m in doc["outputs"].items():
        df = pd.read_parquet(wd / "results" / "data" / f"{key}.parquet")
        assert len(df) == m["rows_kept"] > 0 and df["id"].is_unique, key
        assert (wd / "logs" / "data" / f"{key}.log").exists()
    assert doc["outputs"]["train/dapo17k"]["rows_dropped"]["duplicate_prompt"] == 594
    assert doc["outputs"]["train/add_train"]["rows_kept"] == 500
    assert doc["outputs"]["train/deepmath103k"]["rows_dropped"] == {"contaminated_exact": 1}
    if shared_eval.is_dir():
        assert doc["outputs"]["bench/math500"]["rows_kept"] == 500
        assert doc["outputs"]["bench/aime25"]["rows_kept"] == 30
    assert not list((wd / "results").rglob("*.tmp"))

    # Nothing to redo; a config edit outside the data stage does not rerun it either.
    cfg["training"]["learning_rate"] = 0.5
    (tmp_path / "config2.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "data", "--configfile", str(tmp_path / "config2.yaml"))
    assert res.returncode == 0, res.stderr
    assert "Nothing to be done" in res.stdout + res.stderr
    # A data-stage setting does rerun every preparation.
    cfg["prompt_template"] = "plain"
    (tmp_path / "config3.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "data", "--configfile", str(tmp_path / "config3.yaml"))
    assert res.returncode == 0, res.stderr
    counts = job_counts(res.stdout)
    assert counts["prepare_train"] == len(cfg["train_sets"]) and counts["prepare_bench"] == len(benchmarks)
