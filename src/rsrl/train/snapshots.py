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
        raise FileNotFoundError(
            f"{src}: no snapshot at step {step} (training.eval_steps lists it, but training did "
            "not save it: is training.max_steps smaller, or did the run end early? See "
            "logs/train/)."
        )
    with atomic_path(out) as tmp:
        shutil.copytree(src, tmp)


def move_aside(work: str | Path, reason: str) -> Path:
    """Rename a cell's work directory to ``<work>.stale-<time>`` (never delete it) and log why."""
    import logging
    import time

    work = Path(work)
    aside = work.with_name(f"{work.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        aside = aside.with_name(f"{aside.name}-{n}")
        n += 1
    logging.getLogger(__name__).warning(
        "%s: %s; its state was moved aside to %s (delete it when it is no longer "
        "needed) and the cell trains from scratch",
        work,
        reason,
        aside,
    )
    work.rename(aside)
    return aside


def prepare_work(work: str | Path, run_key: dict) -> bool:
    """Make `work` the resumable state of exactly this run; return True when earlier state is kept (a resume).

    `run_key` holds everything the trajectory depends on. State written under a different key (the config
    changed, so Snakemake reruns the cell) is moved aside (:func:`move_aside`; its ``run.json`` says what it was),
    never deleted: resuming from it would silently mix two runs, deleting it could lose days of work.
    """
    import json

    work = Path(work)
    stamp = work / "run.json"
    text = json.dumps(run_key, sort_keys=True, default=str)
    if stamp.exists() and stamp.read_text() == text:
        return True
    if work.exists():
        move_aside(work, "it holds the state of a different run configuration")
    work.mkdir(parents=True)
    stamp.write_text(text)
    return False


EXPORTED = "exported.json"


def mark_exported(work: str | Path, step: int) -> None:
    """Record that the cell's outputs were written from its state at ``step`` (the run is complete)."""
    from rsrl.io import write_json

    write_json(Path(work) / EXPORTED, {"step": int(step)})


def restart_if_exported(work: str | Path, run_key: dict, finished_step: int | None) -> bool:
    """A finished run whose outputs were exported before is being run again: Snakemake reruns a training job only
    when it is forced (``--forcerun``/``-R``) or its outputs were removed, and both mean "train this cell again".
    Move its state aside and start afresh; return True when that happened. A run that finished but never exported
    (interrupted while writing its outputs) or that is unfinished (interrupted, requeued) resumes as before."""
    import json

    marker = Path(work) / EXPORTED
    if finished_step is None or not marker.exists():
        return False
    if json.loads(marker.read_text()).get("step") != int(finished_step):
        return False
    move_aside(
        work,
        f"the run finished at step {finished_step} and its outputs were written before, and the job "
        "runs again (a forced rerun, or its outputs were removed)",
    )
    prepare_work(work, run_key)
    return True
