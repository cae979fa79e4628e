"""scripts/train_openrlhf_slurm.sh on one node: starts Ray, runs the command against it, stops Ray on exit and
passes the command's exit status through (here a failing command, on CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PORT = "6397"


def _ray_processes(port: str) -> list[str]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"gcs_server_port={port}" in cmd or "--gcs-address=" in cmd and f":{port}" in cmd:
                found.append(cmd)
    return found


@pytest.mark.slow
def test_ray_is_started_and_stopped_around_a_failing_command(tmp_path):
    pytest.importorskip("ray")
    env = {**os.environ, "RSRL_OPENRLHF_PYTHON": sys.executable, "GPUS_PER_NODE": "0", "RSRL_RAY_PORT": PORT}
    env.pop("SLURM_JOB_ID", None)
    code = (
        "import os, ray; ray.init(address=os.environ['RAY_ADDRESS']); "
        "print('CPUS', ray.cluster_resources().get('CPU')); raise SystemExit(3)"
    )
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "train_openrlhf_slurm.sh"), sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 3, out[-3000:]
    assert "CPUS" in out and "[ray] stopping Ray (exit status 3)" in out
    assert _ray_processes(PORT) == []
