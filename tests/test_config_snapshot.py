"""Jobs read a frozen config: a snapshot addressed by its content, which no later Snakemake call rewrites."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rsrl import config as rcfg

REPO = Path(__file__).resolve().parents[1]


def test_a_snapshot_is_addressed_by_its_content_and_never_rewritten(tmp_path):
    cfg = rcfg.validate(yaml.safe_load((REPO / "config" / "demo.yaml").read_text()))
    a = rcfg.write_config_snapshot(cfg, tmp_path)
    stamp = a.stat().st_mtime_ns
    time.sleep(0.01)
    assert rcfg.write_config_snapshot(cfg, tmp_path) == a and a.stat().st_mtime_ns == stamp
    other = copy.deepcopy(cfg)
    other["evaluation"]["seed"] += 1
    b = rcfg.write_config_snapshot(other, tmp_path)
    assert b != a and rcfg.validate(__import__("json").loads(a.read_text())) == cfg


def test_every_rule_reads_the_snapshot_of_its_own_invocation():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for m in re.finditer(r"--config ([$.{/]\S*)", text):
            assert m.group(1) == "$RSRL_CONFIG", f"{smk.name}: a job reads {m.group(1)!r}"


@pytest.mark.slow
def test_a_dry_run_with_another_config_leaves_a_running_job_its_own(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(cfg))
    cfg["evaluation"]["seed"] = 4321
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(cfg))
    # A rule that reads its config only once told to (after the dry run), the way every pipeline rule reads it.
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'include: "{REPO}/workflow/rules/common.smk"\n\n'
        'rule probe:\n    output: "probe.txt"\n    shell:\n'
        '        "while [ ! -f go ]; do sleep 0.1; done; '
        "python -c 'import sys; from rsrl.io import load_config_json; "
        'print(load_config_json(sys.argv[1])[\\"evaluation\\"][\\"seed\\"])\' $RSRL_CONFIG > {output}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(tmp_path), "-c", "1"]
    job = subprocess.Popen(
        [*cmd, "probe", "--configfile", str(tmp_path / "a.yaml")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while not (tmp_path / ".snakemake" / "incomplete").exists() or not any(
            (tmp_path / ".snakemake" / "incomplete").iterdir()
        ):
            assert job.poll() is None and time.time() < deadline, "the probe job never started"
            time.sleep(0.2)
        dry = subprocess.run(
            [*cmd, "-n", "probe", "--configfile", str(tmp_path / "b.yaml")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dry.returncode == 0, dry.stderr[-2000:]
        (tmp_path / "go").touch()
        out, _ = job.communicate(timeout=120)
    finally:
        job.kill()
    assert job.returncode == 0, out[-3000:]
    assert (tmp_path / "probe.txt").read_text().strip() == str(
        yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["evaluation"]["seed"]
    )
    assert len(list((tmp_path / ".snakemake" / "rsrl" / "config").glob("*.json"))) == 2
