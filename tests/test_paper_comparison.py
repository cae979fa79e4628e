"""The reproduction beside the paper: the reference data, the comparison table, its summary and figure."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from rsrl import config as rcfg
from rsrl.report import paper_comparison as pc

SHARED_TABLE = REPO.parent / "shared" / "paper" / "table2.csv"


def test_reference_table_equals_the_transcription_value_for_value():
    if not SHARED_TABLE.exists():
        pytest.skip(f"{SHARED_TABLE} (the transcription the reference data was copied from) is not beside the "
                    "repository")
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
    cfg["grid"] = [{"models": ["Qwen2.5-Math-1.5B"], "train_sets": ["deepmath103k"],
                    "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": [2, 8]}}]}]
    cfg["report"] = {"paper_methods": {"grpo": {"estimator": "grpo"},
                                       "rs_grpo": {"estimator": "rs", "params": {"beta": 2}}}}
    return rcfg.validate(cfg)


REFERENCE = pd.DataFrame({
    "model": ["Qwen2.5-Math-1.5B"] * 3 + ["Qwen3-4B-Base"],
    "train_set": ["deepmath103k"] * 3 + ["math12k"],
    "method": ["base", "grpo", "rs_grpo", "rs_grpo"],
    "benchmark": ["aime24"] * 4,
    "k": [32] * 4,
    "paper": [32.6, 36.4, 40.0, 50.0],
})


def _passk(rows):
    cols = ["model", "train_set", "method", "estimator", "params", "step", "benchmark", "k", "pass_at_k", "ci_low",
            "ci_high", "n_problems", "n_samples"]
    df = pd.DataFrame(rows, columns=cols)
    df["step"] = df["step"].astype("Int64")
    return df


def test_comparison_matches_cells_and_flags_values_outside_the_interval(paper_config):
    cfg = _cfg(paper_config)
    passk = _passk([
        # the base model (train_set base) matches the paper's base row of any block
        ("Qwen2.5-Math-1.5B", "base", "base", "", "", None, "aime24", 32, 0.30, 0.25, 0.35, 30, 1024),
        # grpo: the paper's 36.4 lies outside [20, 30]
        ("Qwen2.5-Math-1.5B", "deepmath103k", "grpo", "grpo", "{}", None, "aime24", 32, 0.25, 0.20, 0.30, 30, 1024),
        # rs_grpo is beta = 2 (not 8); a snapshot row must not be used
        ("Qwen2.5-Math-1.5B", "deepmath103k", "rs_beta8", "rs", '{"beta": 8.0}', None, "aime24", 32, 0.9, 0.8, 1.0,
         30, 1024),
        ("Qwen2.5-Math-1.5B", "deepmath103k", "rs_beta2.step100", "rs", '{"beta": 2.0}', 100, "aime24", 32, 0.9,
         0.8, 1.0, 30, 1024),
        ("Qwen2.5-Math-1.5B", "deepmath103k", "rs_beta2", "rs", '{"beta": 2.0}', None, "aime24", 32, 0.41, 0.35,
         0.47, 30, 1024),
    ])
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
    final = pd.DataFrame({"estimator": "rs", "beta": [0.0, 0.0, 4.0, 4.0], "seed": [0, 1, 0, 1],
                          "final_reward": [0.59, 0.61, 0.98, 0.99]})
    out = pc.compare_bandit(ref, final)
    assert list(out.columns) == pc.BANDIT_COLUMNS
    r0, r4, r64 = (out.iloc[i] for i in range(3))
    assert r0["ours_mean"] == pytest.approx(0.60) and bool(r0["within_range"]) and r0["n_seeds"] == 2
    assert r4["ours_max"] == pytest.approx(0.99) and not bool(r4["within_range"])
    assert np.isnan(r64["ours_mean"]) and r64["n_seeds"] == 0
