"""Shared test fixtures and helpers: the repository root, the paper config, the local data directory, and
:func:`run_snakemake`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Local evaluation data: $RSRL_DATA_DIR, else ../shared/data beside the repository."""
    return Path(os.environ.get("RSRL_DATA_DIR", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def paper_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def data_dir() -> Path:
    d = shared_data_dir()
    if not (d / "eval").is_dir():
        pytest.skip(f"local evaluation data not found at {d} (set RSRL_DATA_DIR to a copy of shared/data)")
    return d


def run_snakemake(
    workdir: Path,
    *args: str,
    snakefile: Path | None = None,
    configfile: Path | None = None,
    cores: int = 2,
    env: dict | None = None,
    check: bool = False,
    timeout: float = 1500,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Snakemake of this environment on ``snakefile`` (default ``workdir/Snakefile``) in ``workdir``; with
    ``check``, a failure raises with the end of its output."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(snakefile or Path(workdir) / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        str(cores),
        *args,
    ]
    if configfile is not None:  # last: --configfile takes every value that follows it
        cmd += ["--configfile", str(configfile)]
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        )
    return res
