"""Shared test fixtures: the repository root, the paper config, and the local data directory."""

from __future__ import annotations

import os
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
