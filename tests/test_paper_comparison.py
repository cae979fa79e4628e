"""The reproduction beside the paper: the reference data, the comparison table, its summary and figure."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from rsrl import config as rcfg
from rsrl.report import paper_comparison as pc

SHARED_TABLE = REPO.parent / "shared" / "paper" / "table2.csv"


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures are closed after it."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_reference_table_equals_the_transcription_value_for_value():
    if not SHARED_TABLE.exists():
        pytest.skip(
            f"{SHARED_TABLE} (the transcription the reference data was copied from) is not beside the repository"
        )
    ours = pd.read_csv(REPO / "reference" / "rs_grpo_table2.csv")
    theirs = pd.read_csv(SHARED_TABLE)
    pd.testing.assert_frame_equal(ours, theirs)


def test_reference_rows_agree_with_their_average_column():
    wide = pd.read_csv(REPO / "reference" / "rs_grpo_table2.csv")
    for k in (1, 32):
        cols = [c for c in wide.columns if c.endswith(f"_p{k}") and not c.startswith("average")]
        assert len(cols) == 6
        assert np.all(np.abs(wide[cols].mean(axis=1) - wide[f"average_p{k}"]) <= 0.05 + 1e-9)
    long = pc.read_reference(REPO / "reference" / "rs_grpo_table2.csv")
    assert len(long) == len(wide) * 6 * 2 and set(long["k"]) == {1, 32}


def _cfg(paper_config) -> dict:
    cfg = copy.deepcopy(paper_config)
    cfg.pop("setup_record")  # a synthetic grid: not the paper's setup
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-Math-1.5B"],
            "train_sets": ["deepmath103k"],
            "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": [2, 8]}}],
        }
    ]
    cfg["report"] = {
        "paper_methods": {"grpo": {"estimator": "grpo"}, "rs_grpo": {"estimator": "rs", "params": {"beta": 2}}}
    }
    return rcfg.validate(cfg)


REFERENCE = pd.DataFrame(
    {
        "model": ["Qwen2.5-Math-1.5B"] * 3 + ["Qwen3-4B-Base"],
        "train_set": ["deepmath103k"] * 3 + ["math12k"],
        "method": ["base", "grpo", "rs_grpo", "rs_grpo"],
        "benchmark": ["aime24"] * 4,
        "k": [32] * 4,
        "paper": [32.6, 36.4, 40.0, 50.0],
    }
)


def _passk(rows):
    cols = [
        "model",
        "train_set",
        "method",
        "estimator",
        "params",
        "step",
        "benchmark",
        "k",
        "pass_at_k",
        "ci_low",
        "ci_high",
        "n_problems",
        "n_samples",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["step"] = df["step"].astype("Int64")
    return df


def test_comparison_matches_cells_and_flags_values_outside_the_interval(paper_config):
    cfg = _cfg(paper_config)
    passk = _passk(
        [
            # the base model (train_set base) matches the paper's base row of any block
            ("Qwen2.5-Math-1.5B", "base", "base", "", "", None, "aime24", 32, 0.30, 0.25, 0.35, 30, 1024),
            # grpo: the paper's 36.4 lies outside [20, 30]
            ("Qwen2.5-Math-1.5B", "deepmath103k", "grpo", "grpo", "{}", None, "aime24", 32, 0.25, 0.20, 0.30, 30, 1024),
            # rs_grpo is beta = 2 (not 8); a snapshot row must not be used
            (
                "Qwen2.5-Math-1.5B",
                "deepmath103k",
                "rs_beta8",
                "rs",
                '{"beta": 8.0}',
                None,
                "aime24",
                32,
                0.9,
                0.8,
                1.0,
                30,
                1024,
            ),
            (
                "Qwen2.5-Math-1.5B",
                "deepmath103k",
                "rs_beta2.step100",
                "rs",
                '{"beta": 2.0}',
                100,
                "aime24",
                32,
                0.9,
                0.8,
                1.0,
                30,
                1024,
            ),
            (
                "Qwen2.5-Math-1.5B",
                "deepmath103k",
                "rs_beta2",
                "rs",
                '{"beta": 2.0}',
                None,
                "aime24",
                32,
                0.41,
                0.35,
                0.47,
                30,
                1024,
            ),
        ]
    )
    table = pc.compare(cfg, REFERENCE, passk)
    assert list(table.columns) == pc.COLUMNS
    by = table.set_index("method")
    base = table[table["method"] == "base"].iloc[0]
    assert base["ours"] == pytest.approx(30.0) and bool(base["within_ci"])
    assert base["delta"] == pytest.approx(30.0 - 32.6)
    g = by.loc["grpo"]
    assert g["ours"] == pytest.approx(25.0) and not bool(g["within_ci"]) and g["delta"] == pytest.approx(-11.4)
    rs = table[(table["method"] == "rs_grpo") & (table["model"] == "Qwen2.5-Math-1.5B")].iloc[0]
    assert rs["ours"] == pytest.approx(41.0) and bool(rs["within_ci"])
    unmatched = table[table["model"] == "Qwen3-4B-Base"].iloc[0]
    assert np.isnan(unmatched["ours"]) and pd.isna(unmatched["within_ci"]) and np.isnan(unmatched["delta"])
    md = pc.summary(cfg, table)
    assert "3 of the paper's 4 values" in md and "2 of them (67 %)" in md
    assert "grpo: 11.4" in md  # mean |delta| per method
    fig = pc.make_figure(cfg, table)
    assert len(fig.axes) == 2


def test_comparison_on_a_grid_without_the_papers_cells_says_so(paper_config):
    cfg = _cfg(paper_config)
    table = pc.compare(cfg, REFERENCE, _passk([]))
    assert table["ours"].isna().all()
    assert "not the paper's" in pc.summary(cfg, table)


def test_unknown_paper_label_fails_naming_the_config_key(paper_config):
    cfg = _cfg(paper_config)
    ref = REFERENCE.assign(method=["base", "grpo", "chen", "rs_grpo"])
    with pytest.raises(ValueError, match=r"report.paper_methods"):
        pc.compare(cfg, ref, _passk([]))


def test_bandit_comparison():
    ref = pd.DataFrame({"beta": [0, 4, 64], "final_reward": [0.600, 0.999, 0.965]})
    final = pd.DataFrame(
        {
            "estimator": "rs",
            "beta": [0.0, 0.0, 4.0, 4.0],
            "seed": [0, 1, 0, 1],
            "final_reward": [0.59, 0.61, 0.98, 0.99],
        }
    )
    out = pc.compare_bandit(ref, final)
    assert list(out.columns) == pc.BANDIT_COLUMNS
    r0, r4, r64 = (out.iloc[i] for i in range(3))
    assert r0["ours_mean"] == pytest.approx(0.60) and bool(r0["within_range"]) and r0["n_seeds"] == 2
    assert r4["ours_max"] == pytest.approx(0.99) and not bool(r4["within_range"])
    assert np.isnan(r64["ours_mean"]) and r64["n_seeds"] == 0


# ------------------------------------------------------------------------------------------------------------
# Seeds: runs <method>.seed<s> are matched by method id; ours is their mean, with the interval over seeds

# Student-t quantiles t_{0.975, df} in closed form (independent of scipy): df = 1 is Cauchy, tan(π (p − 1/2));
# df = 2 is (2p − 1) · √(2 / (4 p (1 − p))).
T975_1 = math.tan(math.pi * 0.475)
T975_2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))


def _seeded_passk(rows):
    """Like _passk, with the seed of each row last (None for an unseeded run)."""
    df = _passk([r[:-1] for r in rows])
    df["seed"] = pd.array([r[-1] for r in rows], dtype="Int64")
    return df


def test_unseeded_runs_have_one_seed_and_no_interval_over_seeds(paper_config):
    cfg = _cfg(paper_config)
    passk = _passk(
        [
            ("Qwen2.5-Math-1.5B", "deepmath103k", "grpo", "grpo", "{}", None, "aime24", 32, 0.25, 0.20, 0.30, 30, 1024),
        ]
    )
    table = pc.compare(cfg, REFERENCE, passk)
    g = table[table["method"] == "grpo"].iloc[0]
    assert (g["ours"], g["ours_ci_low"], g["ours_ci_high"]) == (25.0, 20.0, 30.0)  # exactly the run's values
    assert g["n_seeds"] == 1 and np.isnan(g["ours_seed_ci_low"]) and np.isnan(g["ours_seed_ci_high"])
    unmatched = table[table["method"] != "grpo"]
    assert unmatched["n_seeds"].isna().all() and unmatched["ours_seed_ci_low"].isna().all()
    md = pc.summary(cfg, table)
    # the Markdown of a grid without seeds: no seeds column, no interval over seeds and no sentence about seeds
    assert (
        "| model | training set | method | benchmark | k | paper | ours (95 % CI) | Δ |\n"
        "|---|---|---|---|---:|---:|---:|---:|"
    ) in md
    assert "| Qwen2.5-Math-1.5B | deepmath103k | grpo | aime24 | 32 | 36.4 | 25.0 (20.0–30.0) | -11.4 |" in md
    assert "[" not in md.split("| Δ |")[-1] and "seed" not in md.replace("a seed effect", "")
    fig = pc.make_figure(cfg, table)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["ours = paper", "grpo (GRPO)"]


def test_seeded_runs_are_matched_by_method_id_and_pooled(paper_config):
    cfg = _cfg(paper_config)
    M, D = "Qwen2.5-Math-1.5B", "deepmath103k"
    passk = _seeded_passk(
        [
            ("Qwen2.5-Math-1.5B", "base", "base", "", "", None, "aime24", 32, 0.30, 0.25, 0.35, 30, 1024, None),
            # grpo over three seeds: pass@32 0.2, 0.4, 0.6 (paper: 36.4)
            (M, D, "grpo.seed1", "grpo", "{}", None, "aime24", 32, 0.2, 0.1, 0.3, 30, 1024, 1),
            (M, D, "grpo.seed2", "grpo", "{}", None, "aime24", 32, 0.4, 0.3, 0.5, 30, 1024, 2),
            (M, D, "grpo.seed3", "grpo", "{}", None, "aime24", 32, 0.6, 0.5, 0.7, 30, 1024, 3),
            # a snapshot of a seed is not a final model
            (M, D, "grpo.seed1.step100", "grpo", "{}", 100, "aime24", 32, 0.9, 0.8, 1.0, 30, 1024, 1),
            # rs_grpo is beta = 2: seeds 1 and 2 only evaluated here (paper: 40.0), beta 8 is another method
            (M, D, "rs_beta2.seed1", "rs", '{"beta": 2.0}', None, "aime24", 32, 0.44, 0.40, 0.48, 30, 1024, 1),
            (M, D, "rs_beta2.seed2", "rs", '{"beta": 2.0}', None, "aime24", 32, 0.50, 0.46, 0.54, 30, 1024, 2),
            (M, D, "rs_beta8.seed1", "rs", '{"beta": 8.0}', None, "aime24", 32, 0.9, 0.8, 1.0, 30, 1024, 1),
        ]
    )
    table = pc.compare(cfg, REFERENCE, passk)
    assert list(table.columns) == pc.COLUMNS
    g = table[table["method"] == "grpo"].iloc[0]
    hw = T975_2 * 20.0 / math.sqrt(3)  # sd of (20, 40, 60) is 20 percentage points
    assert g["ours"] == pytest.approx(40.0, abs=1e-9) and g["n_seeds"] == 3
    # 40 - hw < 0: the interval over seeds is clipped to the range of pass@k (it already holds the seeds' bounds)
    assert 40.0 - hw < 0
    assert (g["ours_seed_ci_low"], g["ours_seed_ci_high"]) == pytest.approx((0.0, 40.0 + hw), abs=1e-9)
    # the bootstrap bracket is the mean of the seeds' bounds; the paper's 36.4 lies in [30, 50]
    assert (g["ours_ci_low"], g["ours_ci_high"]) == pytest.approx((30.0, 50.0), abs=1e-9)
    assert g["delta"] == pytest.approx(40.0 - 36.4, abs=1e-9) and bool(g["within_ci"])
    rs = table[(table["method"] == "rs_grpo") & (table["model"] == M)].iloc[0]
    hw2 = T975_1 * 3.0  # sd of (44, 50) is 3·√2, over √2 seeds
    assert rs["ours"] == pytest.approx(47.0, abs=1e-9) and rs["n_seeds"] == 2
    assert rs["ours_seed_ci_high"] - rs["ours"] == pytest.approx(hw2, abs=1e-9)
    assert (rs["ours_ci_low"], rs["ours_ci_high"]) == pytest.approx((43.0, 51.0), abs=1e-9)
    assert not bool(rs["within_ci"])  # 40.0 is below 43
    base = table[table["method"] == "base"].iloc[0]
    assert base["ours"] == pytest.approx(30.0) and base["n_seeds"] == 1 and np.isnan(base["ours_seed_ci_low"])

    md = pc.summary(cfg, table)
    assert "| ours (95 % CI) | seeds | Δ |" in md
    assert f"| grpo | aime24 | 32 | 36.4 | 40.0 [0.0, {40 + hw:.1f}] (30.0–50.0) | 3 | +3.6 |" in md
    assert f"| rs_grpo | aime24 | 32 | 40.0 | 47.0 [{47 - hw2:.1f}, {47 + hw2:.1f}] (43.0–51.0) | 2 | +7.0 |" in md
    assert "| base | aime24 | 32 | 32.6 | 30.0 (25.0–35.0) | 1 | -2.6 |" in md
    assert "2 of the matched values are of methods trained with several seeds (2 or 3)" in md
    fig = pc.make_figure(cfg, table)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "ours = paper",
        "base (Base model)",
        "grpo (GRPO, mean of 3 seeds)",
        "rs_grpo (RS-GRPO (β=2), mean of 2 seeds)",
    ]
    # a duplicated run is an error, not a fourth seed
    with pytest.raises(ValueError, match="appears twice"):
        pc.compare(cfg, REFERENCE, pd.concat([passk, passk.iloc[[1]]], ignore_index=True))


def test_paper_command_on_a_synthetic_seeded_grid(tmp_path, paper_config):
    from report_inputs import MODEL, TS, passk_file, seeded_config, write_synthetic
    from rsrl.report import __main__ as cli
    from rsrl.report.inputs import read_passk

    cfg = seeded_config(paper_config)
    cfg["report"]["paper_methods"] = {
        "grpo": {"estimator": "grpo"},
        "rs_grpo": {"estimator": "rs", "params": {"beta": 4}},
        "rs_flat": {"estimator": "rs", "params": {"beta": 0}},
    }
    results = tmp_path / "results"
    write_synthetic(cfg, results, seed=4, n_boot=10, n_problems={"math500": 12, "aime24": 8})
    ref = pd.DataFrame(
        {
            "model": [MODEL] * 4,
            "train_set": [TS] * 4,
            "method": ["base", "grpo", "rs_grpo", "rs_flat"],
            **{f"{b}_p{k}": [10.0, 20.0, 30.0, 40.0] for b in ("math500", "aime24") for k in (1, 32)},
        }
    )
    ref.to_csv(tmp_path / "ref.csv", index=False)
    (tmp_path / "bandit_final.csv").write_text("estimator,beta,seed,final_reward\nrs,0,0,0.6\n")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "paper",
                "--config",
                str(tmp_path / "config.json"),
                "--passk",
                str(passk_file(results)),
                "--reference",
                str(tmp_path / "ref.csv"),
                "--bandit-reference",
                str(REPO / "reference" / "rs_grpo_bandit.csv"),
                "--bandit-final",
                str(tmp_path / "bandit_final.csv"),
                "--out",
                str(out / "paper_comparison"),
                "--figure",
                str(out / "paper_fig"),
                "--bandit-out",
                str(out / "bandit.csv"),
            ]
        )
        == 0
    )
    csv = pd.read_csv(out / "paper_comparison.csv")
    assert list(csv.columns) == pc.COLUMNS
    passk = read_passk(passk_file(results))
    final = passk[passk["step"].isna()]
    for label, mid, n_seeds in [
        ("grpo", "grpo", 3),
        ("rs_grpo", "rs_beta4", 3),
        ("rs_flat", "rs_beta0", 1),
        ("base", "base", 1),
    ]:
        for b, k in [("math500", 1), ("aime24", 1), ("aime24", 32)]:
            runs = final[(final["method_id"] == mid) & (final["benchmark"] == b) & (final["k"] == k)]
            assert len(runs) == n_seeds
            v = 100 * runs["pass_at_k"].to_numpy()
            row = csv[(csv["method"] == label) & (csv["benchmark"] == b) & (csv["k"] == k)].iloc[0]
            assert row["ours"] == pytest.approx(v.mean(), abs=1e-9) and row["n_seeds"] == n_seeds
            assert row["ours_ci_low"] == pytest.approx(100 * runs["ci_low"].mean(), abs=1e-9)
            if n_seeds == 1:
                assert row["ours"] == v[0] and np.isnan(row["ours_seed_ci_low"]) and np.isnan(row["ours_seed_ci_high"])
            else:
                # t over seeds, widened to the seeds' mean bounds over problems, clipped to 0-100 %
                hw = T975_2 * np.std(v, ddof=1) / math.sqrt(3)
                lo = max(0.0, min(v.mean() - hw, 100 * runs["ci_low"].mean()))
                hi = min(100.0, max(v.mean() + hw, 100 * runs["ci_high"].mean()))
                assert (row["ours_seed_ci_low"], row["ours_seed_ci_high"]) == pytest.approx((lo, hi), abs=1e-9)
        # math500 has n = 16: pass@32 is not ours
        assert csv[(csv["method"] == label) & (csv["benchmark"] == "math500") & (csv["k"] == 32)]["ours"].isna().all()
    md = (out / "paper_comparison.md").read_text()
    assert "| Qwen2.5-Math-1.5B | math12k | grpo | aime24 | 32 | 20.0 | " in md and " [" in md


def test_summary_says_which_grpo_the_paper_row_is(paper_config):
    """The paper config compares the paper's GRPO with the authors' mean-baseline form; a config choosing the
    std-normalised one says so instead."""
    paper = rcfg.validate(paper_config)
    assert pc.method_map(paper)["grpo"] == "drgrpo"
    table = pc.compare(paper, REFERENCE, _passk([]))
    assert "mean baseline r − mean" in pc.summary(paper, table)
    cfg = _cfg(paper_config)  # report.paper_methods.grpo: {estimator: grpo}
    assert "std-normalised" in pc.summary(cfg, pc.compare(cfg, REFERENCE, _passk([])))
