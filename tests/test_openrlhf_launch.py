"""After an OpenRLHF run: snapshots at eval steps, the final model and the metrics table are exported."""

from __future__ import annotations

import json

import pandas as pd

from rsrl.train.openrlhf.command import RunPaths
from rsrl.train.openrlhf.launch import export
from rsrl.train.progress import COLUMNS, append_record


def test_export_keeps_eval_step_snapshots_and_writes_outputs(tmp_path):
    work = tmp_path / "work"
    paths = RunPaths(model="m", prompts=str(work / "prompts.jsonl"), reward_file="r.py", work=str(work))
    for step in (50, 100, 150):
        d = work / "ckpt" / f"global_step{step}_hf"
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"step": step}))
    (work / "final").mkdir()
    (work / "final" / "config.json").write_text("{}")
    append_record(paths.rollouts, 1, [("a", 1, 8), ("b", 0, 8)], 1 / 16)
    append_record(paths.rollouts, 2, [("c", 0, 8), ("b", 0, 8)], 0.0)
    export(paths, tmp_path / "out", eval_steps=[100])
    assert json.loads((work / "snapshots" / "step100" / "config.json").read_text()) == {"step": 100}
    assert not list((work / "ckpt").glob("*_hf"))  # others dropped
    assert (tmp_path / "out" / "model" / "config.json").exists()
    m = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert list(m.columns) == COLUMNS
    assert m["solve_rate"].tolist() == [0.5, 0.0] and m["cumulative_solve_rate"].tolist() == [0.5, 1 / 3]
