"""Seeds in the report: the across-seed summary (mean, 95 % Student-t interval over seeds), Table 2's summary rows
and the seed-pooled curves of Figs. 4, 5 and 6, on synthetic per-seed values with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from report_inputs import MODEL, TS, passk_file, seeded_config, train_metrics_files, write_synthetic
from rsrl import grid
from rsrl.report import __main__ as cli
from rsrl.report.baselines import make_fig6
from rsrl.report.beta_ablation import make_fig5
from rsrl.report.inputs import read_passk
from rsrl.report.passk_curves import make_fig4
from rsrl.report.seeds import group_runs, summarize, t_interval
from rsrl.report.table2 import make_table2

# Student-t quantiles t_{0.975, df} from printed tables (independent of scipy).
T975 = {1: 12.706204736174705, 2: 4.302652729911275}


# ------------------------------------------------------------------------------------------------------------
# The summary


def test_summary_over_seeds_has_the_closed_form():
    rows = pd.DataFrame(
        {
            "model": ["m"] * 6,
            "benchmark": ["a", "a", "a", "b", "b", "c"],
            "step": pd.array([pd.NA] * 6, dtype="Int64"),
            "method": ["x.seed1", "x.seed2", "x.seed3", "x.seed1", "x.seed2", "x.seed1"],
            "seed": pd.array([1, 2, 3, 1, 2, 1], dtype="Int64"),
            "value": [0.2, 0.4, 0.6, 0.1, 0.3, 0.5],
        }
    )
    out = summarize(rows, "value")
    assert list(out.columns) == ["model", "benchmark", "step", "value", "value_ci_low", "value_ci_high", "n_seeds"]
    out = out.set_index("benchmark")
    hw3 = T975[2] * 0.2 / math.sqrt(3)  # sd of (0.2, 0.4, 0.6) is 0.2
    assert out.loc["a", "value"] == pytest.approx(0.4, abs=1e-12)
    hw2 = T975[1] * math.sqrt(0.02) / math.sqrt(2)  # sd of (0.1, 0.3) is sqrt(0.02)
    # both intervals reach past the range of a share (0.4 - hw3 < 0, 0.2 + hw2 > 1): they are clipped to [0, 1]
    assert 0.4 - hw3 < 0 and 0.2 + hw2 > 1
    assert (out.loc["a", "value_ci_low"], out.loc["a", "value_ci_high"]) == pytest.approx((0.0, 0.4 + hw3), abs=1e-9)
    assert (out.loc["b", "value"], out.loc["b", "value_ci_low"], out.loc["b", "value_ci_high"]) == pytest.approx(
        (0.2, 0.0, 1.0), abs=1e-9
    )
    unclipped = summarize(rows, "value", limits=None).set_index("benchmark")
    assert (unclipped.loc["a", "value_ci_low"], unclipped.loc["b", "value_ci_high"]) == pytest.approx(
        (0.4 - hw3, 0.2 + hw2), abs=1e-9
    )
    # each run's own interval widens the interval over seeds to at least the mean of the runs' bounds
    wide = summarize(
        rows.assign(lo=rows["value"] - 0.01, hi=rows["value"] + 0.5),
        "value",
        by=["model", "benchmark", "step"],
        bounds={"value": ("lo", "hi")},
        limits=None,
    )
    wide = wide.set_index("benchmark")
    assert (wide.loc["a", "value_ci_low"], wide.loc["a", "value_ci_high"]) == pytest.approx((0.4 - hw3, 0.9))
    assert (wide.loc["b", "value_ci_low"], wide.loc["b", "value_ci_high"]) == pytest.approx((0.2 - hw2, 0.2 + hw2))
    # one seed: the mean is that value, the interval is undefined (NaN), not zero
    assert out.loc["c", "value"] == 0.5 and np.isnan(out.loc["c", "value_ci_low"])
    assert np.isnan(out.loc["c", "value_ci_high"])
    assert out["n_seeds"].tolist() == [3, 2, 1]
    assert out["step"].isna().all() and str(out["step"].dtype) == "Int64"
    # a seed without a value leaves the summary empty rather than averaging the others
    mean, hw, n = t_interval([0.2, np.nan, 0.6])
    assert np.isnan(mean) and np.isnan(hw) and n == 3
    with pytest.raises(ValueError, match="seed 1 appears twice"):
        summarize(pd.concat([rows, rows.iloc[:1]]), "value")


def test_runs_pool_by_method_id():
    series = group_runs(["base", "grpo.seed1", "grpo.seed2", "rs_beta0", "rs_beta4.seed3"])
    assert [(s.key, s.runs) for s in series] == [
        ("base", ("base",)),
        ("grpo", ("grpo.seed1", "grpo.seed2")),
        ("rs_beta0", ("rs_beta0",)),
        ("rs_beta4.seed3", ("rs_beta4.seed3",)),
    ]
    assert [s.label for s in series] == [
        "Base model",
        "GRPO, mean of 2 seeds",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), seed 3",
    ]


# ------------------------------------------------------------------------------------------------------------
# A seeded grid: GRPO and RS-GRPO (β=4) with seeds 1-3, RS-GRPO (β=0) without seeds, one (model, train set)


@pytest.fixture
def seeded(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    write_synthetic(cfg, tmp_path / "results", seed=2, n_boot=20, n_problems={"math500": 24, "aime24": 10})
    return cfg, tmp_path / "results", read_passk(passk_file(tmp_path / "results"))


def _by_hand(values) -> tuple[float, float]:
    """mean and half-width over three seeds, from the closed form."""
    v = np.asarray(values, dtype=float)
    assert v.size == 3
    return float(v.mean()), T975[2] * float(np.std(v, ddof=1)) / math.sqrt(3)


def _interval(passk, runs, bench, k, step=None) -> tuple[float, float, float]:
    """mean, low, high over three seeds: the t-interval widened to the mean of the runs' own bounds (from
    passk.csv) and clipped to [0, 1], by hand."""
    mean, hw = _by_hand([_value(passk, r, bench, k, step) for r in runs])
    lo = np.mean([_value(passk, r, bench, k, step, "ci_low") for r in runs])
    hi = np.mean([_value(passk, r, bench, k, step, "ci_high") for r in runs])
    return mean, max(0.0, min(mean - hw, lo)), min(1.0, max(mean + hw, hi))


def _value(passk, method, bench, k, step=None, column="pass_at_k"):
    sel = passk[(passk["method"] == method) & (passk["benchmark"] == bench) & (passk["k"] == k)]
    sel = sel[sel["step"].isna()] if step is None else sel[sel["step"] == step]
    assert len(sel) == 1
    return float(sel[column].iloc[0])


def test_table2_keeps_every_seed_and_adds_a_summary_row(seeded, tmp_path):
    cfg, results, passk = seeded
    table, md = make_table2(cfg, passk)
    p1 = table[table["metric"] == "pass@1"]
    assert p1["method"].tolist() == [
        "base",
        "grpo.seed1",
        "grpo.seed2",
        "grpo.seed3",
        "grpo",
        "rs_beta0",
        "rs_beta4.seed1",
        "rs_beta4.seed2",
        "rs_beta4.seed3",
        "rs_beta4",
    ]
    summary = p1[p1["n_seeds"].notna()]
    assert summary["method"].tolist() == ["grpo", "rs_beta4"] and summary["n_seeds"].tolist() == [3, 3]
    assert (
        p1.loc[p1["n_seeds"].isna(), [c for c in p1.columns if c.endswith(("_ci_low", "_ci_high"))]].isna().all().all()
    )
    row = summary.iloc[0]
    assert (row["estimator"], row["params"]) == ("grpo", "{}")
    grpo = [f"grpo.seed{s}" for s in (1, 2, 3)]
    for b in ("math500", "aime24"):
        mean, lo, hi = _interval(passk, grpo, b, 1)
        assert row[b] == pytest.approx(mean, abs=1e-12)
        assert (row[f"{b}_ci_low"], row[f"{b}_ci_high"]) == pytest.approx((lo, hi), abs=1e-9)
    avg = [(_value(passk, r, "math500", 1) + _value(passk, r, "aime24", 1)) / 2 for r in grpo]
    mean, hw = _by_hand(avg)
    run_hi = np.mean(
        [
            (_value(passk, r, "math500", 1, column="ci_high") + _value(passk, r, "aime24", 1, column="ci_high")) / 2
            for r in grpo
        ]
    )
    assert (row["average"], row["average_ci_high"]) == pytest.approx((mean, min(1, max(mean + hw, run_hi))), abs=1e-9)
    # pass@32: math500 has n = 16, so only aime24 (and the average over it) is defined
    r32 = table[(table["metric"] == "pass@32") & (table["method"] == "rs_beta4")].iloc[0]
    assert np.isnan(r32["math500"]) and np.isnan(r32["math500_ci_low"])
    mean, lo, _ = _interval(passk, [f"rs_beta4.seed{s}" for s in (1, 2, 3)], "aime24", 32)
    assert (r32["aime24"], r32["average"], r32["aime24_ci_low"]) == pytest.approx((mean, mean, lo), abs=1e-9)
    assert ((table.filter(like="_ci_low") >= 0) | table.filter(like="_ci_low").isna()).all().all()
    assert ((table.filter(like="_ci_high") <= 1) | table.filter(like="_ci_high").isna()).all().all()
    # Markdown: each seed by name, the summary as mean [low, high] in percent
    assert "| GRPO, seed 2 |" in md
    line = next(x for x in md.splitlines() if x.startswith("| GRPO, mean of 3 seeds |"))
    mean, lo, hi = _interval(passk, grpo, "aime24", 1)
    assert f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" in line
    assert "Student-t interval over seeds" in md
    # the CSV written by the command line has the same columns, the seed counts as integers
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert (
        cli.main(
            [
                "table2",
                "--config",
                str(tmp_path / "config.json"),
                "--passk",
                str(passk_file(results)),
                "--out",
                str(tmp_path / "out" / "table2"),
            ]
        )
        == 0
    )
    csv = pd.read_csv(tmp_path / "out" / "table2.csv")
    assert list(csv.columns) == list(table.columns)
    assert csv["n_seeds"].dropna().tolist() == [3, 3, 3, 3]


def _band_at(ax, x: float) -> tuple[float, float]:
    """(low, high) of the first shaded band of ``ax`` at ``x``."""
    ys = [y for coll in ax.collections for path in coll.get_paths() for xx, y in path.vertices if abs(xx - x) < 1e-9]
    return min(ys), max(ys)


def test_fig4_draws_the_mean_over_seeds_with_a_band(seeded):
    cfg, _, passk = seeded
    fig = make_fig4(cfg, passk)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "Base model",
        "GRPO, mean of 3 seeds",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), mean of 3 seeds",
    ]
    ax = fig.axes[1]  # aime24, n = 64
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert len(lines) == 4
    grpo = lines["GRPO, mean of 3 seeds"]
    for x, y in zip(grpo.get_xdata(), grpo.get_ydata()):
        mean, _ = _by_hand([_value(passk, f"grpo.seed{s}", "aime24", int(x)) for s in (1, 2, 3)])
        assert y == pytest.approx(100 * mean, abs=1e-9)
    # GRPO's band is its interval over seeds (bands are drawn in legend order: base, GRPO, ...)
    grpo_band = ax.collections[1]
    ys = [y for xx, y in grpo_band.get_paths()[0].vertices if abs(xx - 8) < 1e-9]
    _, lo, hi = _interval(passk, [f"grpo.seed{s}" for s in (1, 2, 3)], "aime24", 8)
    assert (min(ys), max(ys)) == pytest.approx((100 * lo, 100 * hi), abs=1e-9)
    assert "t-interval over seeds" in fig._suptitle.get_text() and "clipped to 0–100%" in fig._suptitle.get_text()
    for a in fig.axes:  # no band outside 0-100 %
        for coll in a.collections:
            for path in coll.get_paths():
                assert (path.vertices[:, 1] >= -1e-9).all() and (path.vertices[:, 1] <= 100 + 1e-9).all()


def test_fig5_and_fig6_pool_seeds_over_training(seeded):
    cfg, results, passk = seeded
    fig5 = make_fig5(cfg, passk, train_metrics_files(cfg, results))
    assert [t.get_text() for t in fig5.legends[0].get_texts()] == [
        "GRPO, mean of 3 seeds",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), mean of 3 seeds",
    ]
    test_ax = next(a for a in fig5.axes if a.get_title().startswith("(c) Test pass@1"))
    line = next(ln for ln in test_ax.get_lines() if ln.get_label() == "GRPO, mean of 3 seeds")
    assert list(line.get_xdata()) == [0, 10, 20]
    base = np.mean([_value(passk, "base", b, 1) for b in ("math500", "aime24")])
    per_seed = {
        step: [
            np.mean(
                [
                    _value(
                        passk,
                        f"grpo.seed{s}" + (f".step{step}" if step < 20 else ""),
                        b,
                        1,
                        step if step < 20 else None,
                    )
                    for b in ("math500", "aime24")
                ]
            )
            for s in (1, 2, 3)
        ]
        for step in (10, 20)
    }
    want = [base] + [_by_hand(per_seed[s])[0] for s in (10, 20)]
    assert list(line.get_ydata()) == pytest.approx([100 * w for w in want], abs=1e-9)
    # training curves: cumulative solve rate is the mean over the seeds' metrics.csv
    solve_ax = next(a for a in fig5.axes if a.get_title().startswith("(b)"))
    solve = next(ln for ln in solve_ax.get_lines() if ln.get_label() == "RS-GRPO (β=4), mean of 3 seeds")
    runs = [pd.read_csv(results / "train" / MODEL / TS / f"rs_beta4.seed{s}" / "metrics.csv") for s in (1, 2, 3)]
    expected = np.mean([r["cumulative_solve_rate"].to_numpy() for r in runs], axis=0)
    assert solve.get_ydata() == pytest.approx(100 * expected, abs=1e-9)
    fig6 = make_fig6(cfg, passk)
    assert [t.get_text() for t in fig6.legends[0].get_texts()] == [
        "GRPO, mean of 3 seeds",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), mean of 3 seeds",
    ]
    assert all(len(ax.get_lines()) == 3 for ax in fig6.axes if ax.get_visible())


def test_grid_targets_of_a_seeded_grid(seeded):
    cfg, _, _ = seeded
    assert grid.methods_of(cfg, MODEL, TS) == [
        "grpo.seed1",
        "grpo.seed2",
        "grpo.seed3",
        "rs_beta0",
        "rs_beta4.seed1",
        "rs_beta4.seed2",
        "rs_beta4.seed3",
    ]


def test_one_problem_per_benchmark_draws_every_figure_in_range(tmp_path, paper_config):
    """Bad input: a single problem per benchmark. Every figure is drawn, no band is NaN or outside 0-100 %."""
    from report_inputs import problems_files
    from rsrl.report.diversity import make_fig7

    cfg = seeded_config(paper_config)
    results = tmp_path / "results"
    write_synthetic(cfg, results, seed=9, n_boot=10, n_problems={"math500": 1, "aime24": 1})
    passk = read_passk(passk_file(results))
    figs = [
        make_fig4(cfg, passk),
        make_fig5(cfg, passk, train_metrics_files(cfg, results)),
        make_fig6(cfg, passk),
        make_fig7(cfg, problems_files(cfg, results)),
    ]
    drawn = 0
    for fig in figs:
        for ax in fig.axes:
            for coll in ax.collections:
                for path in coll.get_paths():
                    y = path.vertices[:, 1]
                    if ax.get_ylabel().endswith("(%)"):
                        assert np.isfinite(y).all() and (y >= -1e-9).all() and (y <= 100 + 1e-9).all()
                        drawn += 1
    assert drawn > 0
    table, _ = make_table2(cfg, passk)
    lows = table.filter(like="_ci_low").to_numpy(dtype=float)
    assert np.nanmin(lows) >= 0 and np.nanmax(table.filter(like="_ci_high").to_numpy(dtype=float)) <= 1
