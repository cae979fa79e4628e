"""Resumable state under work/ and the export of step snapshots."""

from __future__ import annotations

import pytest

from rsrl.train.snapshots import export_step, prepare_work, snapshot_dir


def test_prepare_work_keeps_state_of_the_same_run_and_drops_another(tmp_path):
    work = tmp_path / "work"
    assert prepare_work(work, {"lr": 1e-6}) is False
    (work / "ckpt").mkdir()
    assert prepare_work(work, {"lr": 1e-6}) is True and (work / "ckpt").exists()
    assert prepare_work(work, {"lr": 2e-6}) is False and not (work / "ckpt").exists()


def test_export_step_copies_a_snapshot_and_names_a_missing_one(tmp_path):
    snap = snapshot_dir(tmp_path / "w", 4)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    export_step(tmp_path / "w", 4, tmp_path / "out" / "step4")
    assert (tmp_path / "out" / "step4" / "config.json").read_text() == "{}"
    with pytest.raises(FileNotFoundError, match="step 6"):
        export_step(tmp_path / "w", 6, tmp_path / "out" / "step6")
