"""Snapshots of the policy at ``training.eval_steps``: kept under ``work/train/{cell}/snapshots/step{k}`` by the
trainers (resumable state, outside Snakemake's declared outputs) and exported to
``results/train/{cell}/steps/step{k}/`` by their own rule."""

from __future__ import annotations

import shutil
from pathlib import Path

from rsrl.io import atomic_path


def snapshot_dir(work: str | Path, step: int) -> Path:
    """Where a trainer keeps the snapshot of step ``step`` inside a cell's work directory."""
    return Path(work) / "snapshots" / f"step{step}"


def export_step(work: str | Path, step: int, out: str | Path) -> None:
    src = snapshot_dir(work, step)
    if not (src / "config.json").exists():
        raise FileNotFoundError(f"{src}: no snapshot at step {step} (training.eval_steps lists it, but training did "
                                "not save it: is training.max_steps smaller, or did the run end early? See "
                                "logs/train/).")
    with atomic_path(out) as tmp:
        shutil.copytree(src, tmp)


def prepare_work(work: str | Path, run_key: dict) -> bool:
    """Make `work` the resumable state of exactly this run; return True when earlier state is kept (a resume).

    `run_key` holds everything the trajectory depends on. State written under a different key (the config
    changed, so Snakemake reruns the cell) is moved aside to ``<work>.stale-<time>`` (its ``run.json`` says what
    it was), never deleted: resuming from it would silently mix two runs, deleting it could lose days of work.
    """
    import json
    import logging
    import time

    work = Path(work)
    stamp = work / "run.json"
    text = json.dumps(run_key, sort_keys=True, default=str)
    if stamp.exists() and stamp.read_text() == text:
        return True
    if work.exists():
        aside = work.with_name(f"{work.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
        logging.getLogger(__name__).warning(
            "%s holds state of a different run configuration; moved it aside to %s and starting afresh "
            "(delete it when it is no longer needed)", work, aside)
        work.rename(aside)
    work.mkdir(parents=True)
    stamp.write_text(text)
    return False
