"""Effective step size: the mean |advantage| both trainers log per step, and the report's table of it."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from report_inputs import seeded_config, under, write_synthetic
from rsrl import estimators, grid
from rsrl.report import __main__ as cli
from rsrl.report.advantage import COLUMNS, make_advantage
from rsrl.train import progress as tm
from rsrl.train.openrlhf import patch as seam
from test_openrlhf_seam import _args, _experiences


def _rs_abs_mean_binary(c: int, n: int, beta: float) -> float:
    """RS-GRPO's mean |A| over a group of n binary rewards with c correct, in closed form."""
    if c in (0, n):
        return 0.0
    m = (c * math.exp(beta) + (n - c)) / n
    a_right, a_wrong = (math.exp(beta) / m - 1) / beta, (1 / m - 1) / beta
    return (c * abs(a_right) + (n - c) * abs(a_wrong)) / n


def test_openrlhf_seam_records_the_mean_absolute_advantage(tmp_path):
    rec = tmp_path / "rollouts.jsonl"
    beta = 8.0
    wrapped = seam.make_seam(lambda e, a: None, estimators.get("rs", beta=beta), rec)
    rewards = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    wrapped(_experiences(rewards, 3), _args(4))
    (line,) = [json.loads(x) for x in rec.read_text().splitlines()]
    want = np.mean([_rs_abs_mean_binary(c, 4, beta) for c in (1, 4, 2)])
    assert line["advantage_abs_mean"] == pytest.approx(want, rel=1e-6)
    # the per-step table carries it
    table = tm.metrics_table(tm.read_records(rec), {}, tm.TRL_LOGS)
    assert table.loc[0, "advantage_abs_mean"] == pytest.approx(want, rel=1e-6)
    # records written before it was logged leave it empty
    old = {1: {"step": 1, "reward_mean": 0.5, "groups": [["a", 1, 2]]}}
    assert math.isnan(tm.metrics_table(old, {}, tm.TRL_LOGS).loc[0, "advantage_abs_mean"])


def test_rs_advantage_shrinks_about_as_one_over_beta():
    # the closed form the report's README advice rests on: at fixed c/n, beta * mean|A| stays bounded
    scaled = [b * _rs_abs_mean_binary(1, 8, b) for b in (4.0, 8.0, 16.0, 32.0)]
    assert all(1.4 < s < 1.75 for s in scaled) and scaled == sorted(scaled)  # -> 2 (n - 1) / n = 1.75
    r = torch.tensor([[0.0] * 7 + [1.0]], dtype=torch.float64)
    for b in (4.0, 32.0):
        got = estimators.get("rs", beta=b)(r).abs().mean().item()
        assert got == pytest.approx(_rs_abs_mean_binary(1, 8, b), rel=1e-9)


def test_advantage_table_per_cell_and_relative_to_the_reference(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    root = tmp_path / "results"
    write_synthetic(cfg, root, seed=6, n_boot=10, n_problems={"math500": 4, "aime24": 4})
    files = [under(root, grid.train_metrics(c.model, c.train_set, c.run_id)) for c in grid.cells(cfg)]
    table, md = make_advantage(cfg, files[::-1])
    assert list(table.columns) == COLUMNS and len(table) == 7
    raw = {c.run_id: pd.read_csv(f)["advantage_abs_mean"].to_numpy() for c, f in zip(grid.cells(cfg), files)}
    t = table.set_index("run")
    for run, v in raw.items():
        q = len(v) // 4
        assert t.loc[run, "advantage_abs_mean"] == pytest.approx(v.mean())
        assert (t.loc[run, "first_quarter"], t.loc[run, "last_quarter"]) == pytest.approx((v[:q].mean(), v[-q:].mean()))
        assert t.loc[run, "steps"] == len(v)
    ref = np.mean([raw[f"grpo.seed{s}"].mean() for s in (1, 2, 3)])
    assert t.loc["rs_beta4.seed2", "relative_to_reference"] == pytest.approx(raw["rs_beta4.seed2"].mean() / ref)
    assert "× GRPO" in md and "| RS-GRPO (β=4) | 3 |" in md
    # a run trained before the column existed: no value, and the table says so
    pd.read_csv(files[0]).drop(columns=["advantage_abs_mean"]).to_csv(files[0], index=False)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out" / "advantage_scale"
    assert (
        cli.main(
            [
                "advantage",
                "--config",
                str(tmp_path / "config.json"),
                "--train-metrics",
                *map(str, files),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    csv = pd.read_csv(out.with_suffix(".csv"))
    assert csv.loc[0, "steps"] == 0 and np.isnan(csv.loc[0, "advantage_abs_mean"])
    assert "before mean |advantage| was logged" in out.with_suffix(".md").read_text()
    with pytest.raises(ValueError, match="missing"):
        make_advantage(cfg, files[1:])
