"""The paired comparison with a reference method (results/tables/paired_diff.*), from synthetic problems files."""

from __future__ import annotations

import copy
import json
from math import comb

import numpy as np
import pandas as pd
import pytest

from report_inputs import MODEL, TS, eval_path, paired_problems_files, seeded_config, write_synthetic
from rsrl import config as rcfg
from rsrl import grid
from rsrl.report import __main__ as cli
from rsrl.report.paired import COLUMNS, reference_method, targets


@pytest.fixture
def seeded(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    write_synthetic(cfg, tmp_path / "results", seed=4, n_boot=20, n_problems={"math500": 24, "aime24": 12})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return cfg, tmp_path


def run_paired(cfg_path, files, out) -> tuple[pd.DataFrame, str]:
    assert cli.main(["paired", "--config", str(cfg_path), "--problems", *map(str, files), "--out", str(out)]) == 0
    return pd.read_csv(out.with_suffix(".csv")), out.with_suffix(".md").read_text()


def _per_problem(results, run: str, bench: str, k: int) -> pd.Series:
    """pass@k of each problem of one run, from its (n, c) by the binomial formula."""
    from rsrl.methods import Checkpoint

    df = pd.read_parquet(eval_path(results, grid.PROBLEMS_PATTERN, Checkpoint(MODEL, TS, run), bench))
    return pd.Series(
        [1 - comb(int(n) - int(c), k) / comb(int(n), k) for n, c in zip(df["n"], df["c"])], index=df["problem_id"]
    ).sort_index()


def test_targets_are_the_final_models_of_rows_with_the_reference(seeded, paper_config):
    cfg, _ = seeded
    assert reference_method(cfg) == "grpo"
    got = [(c.id, c.step, b) for c, b in targets(cfg)]
    runs = ["grpo.seed1", "grpo.seed2", "grpo.seed3", "rs_beta0", "rs_beta4.seed1", "rs_beta4.seed2", "rs_beta4.seed3"]
    assert got == [(r, None, b) for r in runs for b in ("math500", "aime24")]
    other = copy.deepcopy(cfg)
    other["report"]["paired"]["reference"] = {"estimator": "rs", "params": {"beta": 0}}
    assert reference_method(other) == "rs_beta0" and len(targets(other)) == len(got)
    other["report"]["paired"]["reference"] = {"estimator": "pkpo", "params": {"k": 4}}
    assert targets(other) == []
    other["report"]["paired"]["reference"] = {"estimator": "rs", "params": {"beta": [0, 4]}}
    with pytest.raises(ValueError, match="report.paired.reference.*2 methods"):
        reference_method(other)


def _welch_newcombe(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """The interval of rsrl.passk.seed_t_diff written out one term at a time: Welch over seeds plus the paired
    problem variance, hull with Newcombe's hybrid score interval of each method's mean Wilson bounds."""
    from scipy import stats

    sa, sb, n = len(a), len(b), a.shape[1]
    diff = a.mean() - b.mean()
    terms = [np.var(a.mean(1), ddof=1) / sa, np.var(b.mean(1), ddof=1) / sb, np.var(a.mean(0) - b.mean(0), ddof=1) / n]
    var = sum(terms)
    df = var**2 / (terms[0] ** 2 / (sa - 1) + terms[1] ** 2 / (sb - 1) + terms[2] ** 2 / (n - 1))
    t = stats.t.ppf(0.975, df)
    z = stats.norm.ppf(0.975)

    def wilson(x):
        m = x.mean()
        centre = (m + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(m * (1 - m) / n + z * z / (4 * n * n))
        return max(0.0, centre - half), min(1.0, centre + half)

    la, ua = np.mean([wilson(x) for x in a], axis=0)
    lb, ub = np.mean([wilson(x) for x in b], axis=0)
    ma, mb = a.mean(), b.mean()
    low = min(diff - t * np.sqrt(var), diff - np.sqrt((ma - la) ** 2 + (ub - mb) ** 2))
    high = max(diff + t * np.sqrt(var), diff + np.sqrt((ua - ma) ** 2 + (mb - lb) ** 2))
    p = 2 * stats.t.sf(abs(diff) / np.sqrt(var), df)
    return max(-1.0, low), min(1.0, high), min(1.0, p)


def test_paired_differences_over_problems_and_seeds(seeded):
    cfg, root = seeded
    results = root / "results"
    table, md = run_paired(root / "config.json", paired_problems_files(cfg, results), root / "out" / "paired_diff")
    assert list(table.columns) == COLUMNS
    # k = 32 > n = 16 on math500: only pass@1 there
    assert list(zip(table["method"], table["benchmark"], table["k"])) == [
        ("rs_beta0", "math500", 1),
        ("rs_beta0", "aime24", 1),
        ("rs_beta0", "aime24", 32),
        ("rs_beta4", "math500", 1),
        ("rs_beta4", "aime24", 1),
        ("rs_beta4", "aime24", 32),
    ]
    assert (table["reference"] == "grpo").all() and (table["reference_n_seeds"] == 3).all()
    assert table.set_index("method")["n_seeds"].to_dict() == {"rs_beta0": 1, "rs_beta4": 3}
    assert table.loc[table["benchmark"] == "aime24", "n_problems"].eq(12).all()
    assert table.loc[table["benchmark"] == "math500", "n_samples"].eq(16).all()
    for _, r in table.iterrows():
        runs = ["rs_beta0"] if r["method"] == "rs_beta0" else [f"rs_beta4.seed{s}" for s in (1, 2, 3)]
        a = np.stack([_per_problem(results, x, r["benchmark"], r["k"]).to_numpy() for x in runs])
        b = np.stack([_per_problem(results, f"grpo.seed{s}", r["benchmark"], r["k"]).to_numpy() for s in (1, 2, 3)])
        assert r["pass_at_k"] == pytest.approx(a.mean(), abs=1e-12)
        assert r["reference_pass_at_k"] == pytest.approx(b.mean(), abs=1e-12)
        assert r["diff"] == pytest.approx(a.mean() - b.mean(), abs=1e-12)
        if len(runs) == 1:  # one seed: no interval, no p-value
            assert np.isnan(r["diff_ci_low"]) and np.isnan(r["diff_ci_high"]) and np.isnan(r["p_value"])
            continue
        low, high, p = _welch_newcombe(a, b)
        assert (r["diff_ci_low"], r["diff_ci_high"], r["p_value"]) == pytest.approx((low, high, p), abs=1e-9)
    assert md.startswith("# Paired comparison with GRPO")
    assert "## Qwen2.5-Math-1.5B, trained on math12k: pass@1 (GRPO: 3 seeds)" in md
    row = next(x for x in md.splitlines() if x.startswith("| RS-GRPO (β=4) | 3 |"))
    r = table[(table["method"] == "rs_beta4") & (table["benchmark"] == "math500") & (table["k"] == 1)].iloc[0]
    assert f"{100 * r['diff']:+.1f}".replace("-", "−") in row
    one = next(x for x in md.splitlines() if x.startswith("| RS-GRPO (β=0) | 1 |"))
    assert "[–]" in one and "cannot be estimated" in md


def test_paired_without_the_reference_writes_an_empty_table(tmp_path, paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg["grid"] = [{"models": [MODEL], "train_sets": [TS], "methods": [{"estimator": "rs", "params": {"beta": 2}}]}]
    cfg["benchmarks"] = {b: cfg["benchmarks"][b] for b in ("math500", "aime24")}
    cfg["evaluation"]["per_benchmark"] = {"math500": {"n": 4}, "aime24": {"n": 4}}
    cfg["report"] = {"k_table": [1, 4]}
    cfg = rcfg.validate(cfg)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert targets(cfg) == []
    table, md = run_paired(tmp_path / "config.json", [], tmp_path / "paired_diff")
    assert list(table.columns) == COLUMNS and table.empty
    assert "nothing to compare" in md


def test_paired_names_a_missing_or_unexpected_file(seeded):
    cfg, root = seeded
    files = paired_problems_files(cfg, root / "results")
    with pytest.raises(ValueError, match="paired --problems.*missing"):
        run_paired(root / "config.json", files[1:], root / "x")
