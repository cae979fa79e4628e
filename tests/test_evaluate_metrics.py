"""rsrl.evaluate.metrics and aggregate: per-problem table, pass@k / maj@k / mean@n tables, the tidy outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rsrl.evaluate import aggregate as agg
from rsrl.evaluate import metrics as mt
from rsrl.passk import pass_at_k


def _graded(answers: dict[str, list], gold: dict[str, str]) -> pd.DataFrame:
    rows = []
    for pid, ans in answers.items():
        for j, a in enumerate(ans):
            rows.append({"problem_id": pid, "sample_idx": j, "correct": a is not None and a == gold[pid],
                         "timeout": a == "T", "answer": None if a in (None, "T") else a, "n_tokens": 10 + j,
                         "finish_reason": "length" if a is None else "stop"})
    df = pd.DataFrame(rows)
    df["answer"] = df["answer"].astype("string")
    return df


@pytest.fixture
def graded():
    rng = np.random.default_rng(0)
    answers = {f"q{i}": list(rng.choice(["1", "2", "3", None], size=16, p=[0.1 * i, 0.5, 0.4 - 0.1 * i, 0.1]))
               for i in range(4)}
    answers["q4"] = ["9"] * 16
    answers["q5"] = ["T"] + ["1"] * 15
    gold = {f"q{i}": "1" for i in range(6)}
    gold["q4"] = "9"
    return _graded(answers, gold)


def test_problem_table(graded):
    pt = mt.problem_table(graded, [f"q{i}" for i in range(6)])
    assert list(pt.columns) == mt.PROBLEM_COLUMNS
    g = graded.groupby("problem_id")
    assert (pt.set_index("problem_id")["c"] == g["correct"].sum()).all()
    assert (pt["n"] == 16).all()
    q4 = pt.set_index("problem_id").loc["q4"]
    assert q4["n_distinct"] == 1 and q4["majority_answer"] == "9" and q4["majority_correct"] and q4["accuracy"] == 1
    q5 = pt.set_index("problem_id").loc["q5"]
    assert q5["timeouts"] == 1 and q5["c"] == 15 and q5["n_distinct"] == 1
    expected_distinct = graded.groupby("problem_id")["answer"].nunique()
    assert (pt.set_index("problem_id")["n_distinct"] == expected_distinct).all()
    with pytest.raises(ValueError, match="no graded samples"):
        mt.problem_table(graded, ["q0", "missing"])


def test_maj_at_k_exact_cases():
    # Answers A (right), B, B: maj@1 = 1/3, maj@2 = 2/3 * 1/2 (tie A-B) = 1/3, maj@3 = 0 (B wins).
    codes, right = np.array([0, 1, 1]), np.array([True, False])
    est = mt.maj_at_k(codes, right, [1, 2, 3], draws=20000, rng=0)
    assert est == pytest.approx([1 / 3, 1 / 3, 0.0], abs=0.02)
    # No answers at all: never right; all the same right answer: always right.
    assert mt.maj_at_k(np.array([-1, -1]), np.array([], dtype=bool), [1, 2]).tolist() == [0.0, 0.0]
    assert mt.maj_at_k(np.array([0, 0, -1]), np.array([True]), [1, 3], rng=0)[1] == 1.0
    assert mt.maj_at_k(np.array([0, 0, -1]), np.array([True]), [1], draws=20000, rng=0)[0] == pytest.approx(2 / 3,
                                                                                                          abs=0.02)


def test_metrics_table(graded):
    pt = mt.problem_table(graded)
    m = mt.metrics_table(graded, pt, seed=0, n_boot=500)
    assert list(m.columns) == mt.METRIC_COLUMNS
    pk = m[m.metric == "pass@k"]
    assert pk["k"].tolist() == [1, 2, 4, 8, 16]
    expect = pass_at_k(pt["n"].to_numpy()[:, None], pt["c"].to_numpy()[:, None], np.array([[1, 2, 4, 8, 16]]))
    np.testing.assert_allclose(pk["value"], expect.mean(0))
    assert (pk["ci_low"] <= pk["value"] + 1e-12).all() and (pk["value"] <= pk["ci_high"] + 1e-12).all()
    assert np.all(np.diff(pk["value"]) >= 0)
    mean = m[m.metric == "mean@n"].iloc[0]
    assert mean["k"] == 16 and mean["value"] == pytest.approx(pt["accuracy"].mean())
    assert mean["value"] == pytest.approx(pk[pk.k == 1]["value"].iloc[0])
    assert m[m.metric == "maj@k"]["k"].tolist() == [1, 2, 4, 8, 16]
    maj16 = m[(m.metric == "maj@k") & (m.k == 16)]["value"].iloc[0]
    assert maj16 == pytest.approx(pt["majority_correct"].mean(), abs=0.1)
    ds = m[m.metric == "distinct_share"].iloc[0]
    assert ds["value"] == pytest.approx((pt["n_distinct"] / 16).mean())


def test_aggregate_tables(tmp_path, graded):
    files = []
    for model, ts, method in [("M", "base", "base"), ("M", "math12k", "rs_beta2"), ("M", "math12k", "grpo.step100")]:
        d = tmp_path / "results/eval" / model / ts / method / "aime24"
        d.mkdir(parents=True)
        pt = mt.problem_table(graded)
        pt.to_parquet(d / "problems.parquet")
        mt.metrics_table(graded, pt, n_boot=200).to_csv(d / "metrics.csv", index=False)
        files.append(str(d / "metrics.csv"))
    passk, summary = agg.aggregate(files, tmp_path / "passk.csv", tmp_path / "summary.csv")
    read = pd.read_csv(tmp_path / "passk.csv")
    assert list(read.columns) == agg.PASSK_COLUMNS
    assert len(read) == 3 * 5
    beta = read.groupby("method")["beta"].first()
    assert np.isnan(beta["base"]) and beta["rs_beta2"] == 2.0 and np.isnan(beta["grpo.step100"])
    assert (read["n_problems"] == 6).all() and (read["n_samples"] == 16).all()
    s = pd.read_csv(tmp_path / "summary.csv")
    assert len(s) == 3 and {"mean_at_n", "maj_at_n", "distinct_share", "timeouts", "pass_at_n"} <= set(s.columns)
    assert (s["timeouts"] == 1).all()
    assert agg.method_beta("rs_beta0.5.step20") == 0.5


def test_cli_score_and_aggregate(tmp_path, graded, paper_config):
    import json

    from rsrl.config import validate
    from rsrl.evaluate.__main__ import main

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(validate(paper_config)))
    d = tmp_path / "results/eval/Qwen2.5-Math-1.5B/math12k/rs_beta4/math500"  # n = 16
    (d / "graded").mkdir(parents=True)
    half = graded["sample_idx"] < 8
    graded[half].to_parquet(d / "graded/p0_s0.parquet")
    graded[~half].to_parquet(d / "graded/p0_s1.parquet")
    bench = tmp_path / "math500.parquet"
    pd.DataFrame({"id": [f"q{i}" for i in range(6)], "answer": "1", "prompt": ""}).to_parquet(bench)
    assert main(["score", "--config", str(cfg), "--benchmark", "math500", "--bench-file", str(bench), "--graded",
                 str(d / "graded/p0_s0.parquet"), str(d / "graded/p0_s1.parquet"), "--problems",
                 str(d / "problems.parquet"), "--metrics", str(d / "metrics.csv")]) == 0
    probs = pd.read_parquet(d / "problems.parquet")
    assert probs["problem_id"].tolist() == [f"q{i}" for i in range(6)] and (probs["n"] == 16).all()
    assert main(["aggregate", "--config", str(cfg), "--metrics", str(d / "metrics.csv"), "--passk",
                 str(tmp_path / "t/passk.csv"), "--summary", str(tmp_path / "t/summary.csv")]) == 0
    passk = pd.read_csv(tmp_path / "t/passk.csv")
    assert (passk["beta"] == 4.0).all() and passk["model"].eq("Qwen2.5-Math-1.5B").all()
    # A missing shard is an error, not a silently smaller n.
    with pytest.raises(ValueError, match="expected n = 16"):
        main(["score", "--config", str(cfg), "--benchmark", "math500", "--bench-file", str(bench), "--graded",
              str(d / "graded/p0_s0.parquet"), "--problems", str(tmp_path / "x.parquet"), "--metrics",
              str(tmp_path / "x.csv")])
    with pytest.raises(ValueError, match="no graded samples"):
        bench2 = tmp_path / "b2.parquet"
        pd.DataFrame({"id": [f"q{i}" for i in range(7)], "answer": "1", "prompt": ""}).to_parquet(bench2)
        main(["score", "--config", str(cfg), "--benchmark", "math500", "--bench-file", str(bench2), "--graded",
              str(d / "graded/p0_s0.parquet"), "--problems", str(tmp_path / "x.parquet"), "--metrics",
              str(tmp_path / "x.csv")])
