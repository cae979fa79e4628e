"""The per-step training table built from rollout records and trainer logs."""

from __future__ import annotations

import math

from rsrl.train import progress as tm


def test_solve_rates_and_resume_duplicates(tmp_path):
    p = tmp_path / "r.jsonl"
    tm.append_record(p, 1, [("a", 0, 4), ("b", 2, 4)], 0.125)
    tm.append_record(p, 2, [("a", 0, 4), ("c", 0, 4)], 0.0)
    tm.append_record(p, 2, [("a", 1, 4), ("c", 0, 4)], 0.125)  # a resumed run redid step 2: the last wins
    with open(p, "a") as f:
        f.write('{"step": 3, "gro')  # a job killed mid-write
    recs = tm.read_records(p)
    assert list(recs) == [1, 2]
    rows = tm.solve_rates(recs)
    assert [r["solve_rate"] for r in rows] == [0.5, 0.5]
    assert [r["cumulative_solve_rate"] for r in rows] == [0.5, 2 / 3]


def test_metrics_table_columns_and_sources():
    recs = {1: {"step": 1, "reward_mean": 0.25, "groups": [["a", 1, 4]]}}
    scalars = {1: {"entropy": 0.5, "completions/mean_length": 9.0}, 2: {"entropy": 0.4}}
    df = tm.metrics_table(recs, scalars, tm.TRL_LOGS)
    assert list(df.columns) == tm.COLUMNS
    assert df["step"].tolist() == [1, 2]
    assert df.loc[0, "reward_mean"] == 0.25 and df.loc[0, "response_length"] == 9.0
    assert df.loc[1, "entropy"] == 0.4 and math.isnan(df.loc[1, "solve_rate"]) and math.isnan(df.loc[0, "kl"])


def test_trl_log_history_maps_optimizer_steps_to_rollouts():
    hist = [
        {"step": 1, "loss": 0.0, "reward": 0.1},
        {"step": 2, "loss": 0.0, "reward": 0.3},
        {"step": 2, "train_runtime": 5.0},
    ]
    out = tm.trl_scalars(hist, optimizer_steps_per_rollout=2)
    assert list(out) == [1] and out[1]["reward"] == 0.3
