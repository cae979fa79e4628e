"""`rsrl plan`: its job counts equal `snakemake -n all` on a fresh directory, for the paper and the demo config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rsrl import config as rcfg
from rsrl import plan as rplan


def _dry_run_counts(repo, tmp_path, configfile) -> dict[str, int]:
    r = subprocess.run([sys.executable, "-m", "snakemake", "-n", "all", "--configfile", str(configfile),
                        "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
                        "--quiet", "rules"], cwd=repo, capture_output=True, text=True, timeout=900)
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
    n_small = sum(1 for c in __import__("rsrl.grid", fromlist=["cells"]).cells(cfg)
                  if cfg["models"][c.model]["size"] == "small")
    assert p.gpu_hours["train_cell"] == pytest.approx(
        n_small * small["nodes"] * small["gpus_per_node"] * small["runtime_min"] / 60)
    from rsrl.cli import main

    assert main(["plan", "--config", str(repo / "config" / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "GPU-hours" in out and "train_cell_multinode" in out and f"{sum(p.jobs.values()):8d}" in out
