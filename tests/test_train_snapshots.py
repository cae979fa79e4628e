"""Resumable state under work/ and the export of step snapshots."""

from __future__ import annotations

import pytest

from rsrl.train.snapshots import export_step, prepare_work, snapshot_dir


def test_prepare_work_keeps_state_of_the_same_run_and_moves_another_aside(tmp_path):
    work = tmp_path / "work"
    assert prepare_work(work, {"lr": 1e-6}) is False
    (work / "ckpt").mkdir()
    assert prepare_work(work, {"lr": 1e-6}) is True and (work / "ckpt").exists()
    assert prepare_work(work, {"lr": 2e-6}) is False and not (work / "ckpt").exists()
    (aside,) = tmp_path.glob("work.stale-*")
    assert (aside / "ckpt").is_dir() and '"lr": 1e-06' in (aside / "run.json").read_text()


def test_memory_only_settings_do_not_invalidate_a_run(paper_config):
    from rsrl import config as rcfg
    from rsrl import grid
    from rsrl import resources as rsrc

    cfg = rcfg.validate(paper_config)
    cell = grid.cells(cfg)[0]
    before = rsrc.train_fingerprint(cfg, cell)
    for key, value in (("training", {**cfg["training"], "micro_train_batch_size": 1}),):
        cfg[key] = value
    size = cfg["size_classes"][cfg["models"][cell.model]["size"]]
    size.update(runtime_min=size["runtime_min"] * 2, mem_mb_per_node=1, cpus_per_gpu=1)
    cfg["evaluation"]["grader"].update(workers=1, deadline_s=999)
    assert rsrc.train_fingerprint(cfg, cell) == before
    cfg["training"]["learning_rate"] *= 2
    assert rsrc.train_fingerprint(cfg, cell) != before


def test_export_step_copies_a_snapshot_and_names_a_missing_one(tmp_path):
    snap = snapshot_dir(tmp_path / "w", 4)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    export_step(tmp_path / "w", 4, tmp_path / "out" / "step4")
    assert (tmp_path / "out" / "step4" / "config.json").read_text() == "{}"
    with pytest.raises(FileNotFoundError, match="step 6"):
        export_step(tmp_path / "w", 6, tmp_path / "out" / "step6")
