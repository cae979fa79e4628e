"""The training-curves product: every trained cell's reward, solve rate, response length, entropy and mean
|advantage| per step, grouped by (model, training set), a method's seeds pooled into a mean with a t-interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from report_inputs import seeded_config, under, write_synthetic
from rsrl import grid
from rsrl.report import __main__ as report_cli
from rsrl.report.training_curves import QUANTITIES, curves, match_metrics


@pytest.fixture
def run(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    write_synthetic(cfg, tmp_path / "results", seed=3, n_boot=20)
    files = [
        str(under(tmp_path / "results", grid.train_metrics(c.model, c.train_set, c.run_id))) for c in grid.cells(cfg)
    ]
    return cfg, tmp_path, files


def test_pooled_seeds_are_the_mean_and_t_interval_of_the_runs(run):
    cfg, root, files = run
    table = curves(cfg, files[::-1])  # any order
    assert set(table["quantity"]) == {q for q, _, _ in QUANTITIES}
    runs = {c.run_id: pd.read_csv(f) for c, f in zip(grid.cells(cfg), files)}
    grpo = table[(table["method"] == "grpo") & (table["quantity"] == "reward_mean")].set_index("step")
    seeds = np.stack([runs[f"grpo.seed{s}"]["reward_mean"].to_numpy() for s in (1, 2, 3)])
    # 20 steps: a moving window of max(1, 20 // 25) = 1 step, the raw values.
    assert grpo["value"].to_numpy() == pytest.approx(seeds.mean(0))
    lo, hi = stats.t.interval(0.95, 2, loc=seeds.mean(0), scale=seeds.std(0, ddof=1) / np.sqrt(3))
    assert grpo["ci_low"].to_numpy() == pytest.approx(lo) and grpo["ci_high"].to_numpy() == pytest.approx(hi)
    assert (grpo["n_seeds"] == 3).all()
    single = table[(table["method"] == "rs_beta0") & (table["quantity"] == "reward_mean")]
    assert single["value"].to_numpy() == pytest.approx(runs["rs_beta0"]["reward_mean"].to_numpy())
    assert single["ci_low"].isna().all() and (single["n_seeds"] == 1).all()


def test_bands_are_clipped_to_each_quantitys_range_only(run):
    """Shares (reward, solve rate) are clipped to [0, 1]; a response length, an entropy or a mean |advantage| is
    only non-negative, so its band is the plain t-interval above zero."""
    cfg, root, files = run
    table = curves(cfg, files)
    runs = {c.run_id: pd.read_csv(f) for c, f in zip(grid.cells(cfg), files)}
    for q in ("advantage_abs_mean", "reward_mean", "solve_rate"):
        band = table[(table["method"] == "grpo") & (table["quantity"] == q)].set_index("step")
        seeds = np.stack([runs[f"grpo.seed{s}"][q].to_numpy(dtype=float) for s in (1, 2, 3)])
        lo, hi = stats.t.interval(0.95, 2, loc=seeds.mean(0), scale=seeds.std(0, ddof=1) / np.sqrt(3))
        top, floor = (1.0, 0.0) if q != "advantage_abs_mean" else (np.inf, 0.0)
        assert band["ci_high"].to_numpy() == pytest.approx(np.minimum(hi, top))
        assert band["ci_low"].to_numpy() == pytest.approx(np.maximum(lo, floor))
        if q == "advantage_abs_mean":
            assert (hi > 1).any()  # the data reach above 1, where a share would have been clipped


def test_every_trained_cell_needs_its_metrics_file(run):
    cfg, _, files = run
    with pytest.raises(ValueError, match="not those of the grid's trained cells"):
        match_metrics(cfg, files[1:])
    assert len(match_metrics(cfg, files)) == len(grid.cells(cfg))


def test_long_runs_are_smoothed_before_pooling(run, tmp_path):
    cfg, _, files = run
    steps = np.arange(1, 101)
    rng = np.random.default_rng(0)
    for f in files:
        pd.DataFrame({"step": steps, "reward_mean": rng.random(100), "cumulative_solve_rate": 0.5}).to_csv(
            f, index=False
        )
    table = curves(cfg, files)
    one = table[(table["method"] == "rs_beta0") & (table["quantity"] == "reward_mean")]["value"].to_numpy()
    raw = pd.read_csv(files[-1])["reward_mean"]
    assert one == pytest.approx(raw.rolling(4, min_periods=1, center=True).mean().to_numpy())
    # A quantity an old metrics.csv lacks is empty, not an error.
    assert table[table["quantity"] == "advantage_abs_mean"]["value"].isna().all()


def test_command_writes_the_figure_and_its_values(run):
    cfg, root, files = run
    conf = root / "config.json"
    conf.write_text(json.dumps(cfg))
    out = root / "results" / "figures" / "training_curves.png"
    table = root / "results" / "tables" / "training_curves.csv"
    assert (
        report_cli.main(
            [
                "training_curves",
                "--config",
                str(conf),
                "--out",
                str(out),
                "--table",
                str(table),
                "--train-metrics",
                *files,
            ]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.with_suffix(".svg").exists()
    written = pd.read_csv(table)
    assert set(written["method"]) == {"grpo", "rs_beta4", "rs_beta0"}
