"""rsrl.evaluate.metrics and aggregate: per-problem table, pass@k / maj@k / mean@n tables, the tidy outputs."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

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
            rows.append(
                {
                    "problem_id": pid,
                    "sample_idx": j,
                    "correct": a is not None and a == gold[pid],
                    "timeout": a == "T",
                    "answer": None if a in (None, "T") else a,
                    "n_tokens": 10 + j,
                    "finish_reason": "length" if a is None else "stop",
                }
            )
    df = pd.DataFrame(rows)
    df["answer"] = df["answer"].astype("string")
    return df


@pytest.fixture
def graded():
    rng = np.random.default_rng(0)
    answers = {
        f"q{i}": list(rng.choice(["1", "2", "3", None], size=16, p=[0.1 * i, 0.5, 0.4 - 0.1 * i, 0.1]))
        for i in range(4)
    }
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
    expected_length = graded.assign(x=graded["finish_reason"] == "length").groupby("problem_id")["x"].mean()
    assert (pt.set_index("problem_id")["length_share"] == expected_length).all()
    assert (pt["cut_share"] == 0).all() and (pt["class_fallbacks"] == 0).all()
    with pytest.raises(ValueError, match="no graded samples"):
        mt.problem_table(graded, ["q0", "missing"])


def _maj_brute(counts, correct, n, k) -> Fraction:
    """maj@k by enumerating every k-subset of the n samples (ties: uniform, fractional credit)."""
    labels = [c for c, a in enumerate(counts) for _ in range(a)] + [-1] * (n - sum(counts))
    total, subsets = Fraction(0), 0
    for sub in itertools.combinations(range(n), k):
        subsets += 1
        votes = [labels[i] for i in sub if labels[i] >= 0]
        if not votes:
            continue
        tally = {c: votes.count(c) for c in set(votes)}
        top = max(tally.values())
        tied = [c for c, v in tally.items() if v == top]
        if correct in tied:
            total += Fraction(1, len(tied))
    return total / subsets


def _maj_counts(counts, correct, n, k) -> Fraction:
    """maj@k by enumerating count vectors under the multivariate hypergeometric law (exact rationals)."""
    z = n - sum(counts)
    total = Fraction(0)
    for xs in itertools.product(*(range(min(a, k) + 1) for a in [*counts, z])):
        if sum(xs) != k:
            continue
        p = Fraction(math.prod(math.comb(a, x) for a, x in zip([*counts, z], xs)), math.comb(n, k))
        votes = xs[:-1]
        if correct < 0 or votes[correct] == 0 or max(votes) > votes[correct]:
            continue
        total += p / sum(1 for v in votes if v == votes[correct])
    return total


def test_maj_at_k_small_cases_by_hand():
    # Answers A (right), B, B: maj@1 = 1/3, maj@2 = 2/3 * 1/2 (tie A-B) = 1/3, maj@3 = 0 (B wins).
    assert mt.maj_at_k([1, 2], 0, 3, [1, 2, 3]) == pytest.approx([1 / 3, 1 / 3, 0.0], abs=1e-14)
    # No answers at all, or no correct class: never right; one right class and a non-voter.
    assert mt.maj_at_k([], -1, 2, [1, 2]).tolist() == [0.0, 0.0]
    assert mt.maj_at_k([3], -1, 3, [1, 3]).tolist() == [0.0, 0.0]
    assert mt.maj_at_k([2], 0, 3, [1, 2, 3]) == pytest.approx([2 / 3, 1.0, 1.0], abs=1e-14)
    # The example: x=2, 2 (one class, right) and 3 -> maj@3 = 1.
    assert mt.maj_at_k([2, 1], 0, 3, [3])[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k <= n"):
        mt.maj_at_k([1, 1], 0, 2, [3])


def test_maj_at_k_equals_brute_force_over_all_subsets():
    rng = np.random.default_rng(7)
    cases = [
        ([1, 2], 0, 3),
        ([2, 2], 0, 4),
        ([2, 2, 2], 1, 7),
        ([3, 1, 1], 0, 6),
        ([1, 1, 1, 1], 2, 5),
        ([2, 3], 0, 6),
        ([4, 2, 2], 2, 9),
    ]
    for _ in range(12):
        m = int(rng.integers(1, 5))
        counts = rng.integers(0, 4, size=m).tolist()
        n = sum(counts) + int(rng.integers(0, 3))
        if n:
            cases.append((counts, int(rng.integers(-1, m)), n))
    for counts, correct, n in cases:
        ks = list(range(1, n + 1))
        got = mt.maj_at_k(counts, correct, n, ks)
        want = [float(_maj_brute(counts, correct, n, k)) for k in ks]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=str((counts, correct, n)))


def test_maj_at_k_larger_cases_against_count_enumeration():
    for counts, correct, n in [
        ([9, 7, 7, 3], 1, 30),
        ([12, 12, 4], 0, 31),
        ([5, 5, 5, 5], 3, 24),
        ([15, 2, 2, 2], 0, 28),
    ]:
        ks = [1, 2, 3, 4, 7, 8, 12, 16, n - 1, n]
        got = mt.maj_at_k(counts, correct, n, ks)
        want = [float(_maj_counts(counts, correct, n, k)) for k in ks]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=str((counts, correct, n)))


def test_maj_at_k_large_n_is_a_probability_and_fast():
    import time

    counts = [300, 250, 100] + [3] * 60 + [1] * 100
    t0 = time.perf_counter()
    got = mt.maj_at_k(counts, 1, 1024, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    assert time.perf_counter() - t0 < 20
    assert np.all((got >= 0) & (got <= 1)) and got[-1] == 0.0 and got[0] == pytest.approx(250 / 1024)
    # A clear plurality wins more often with more votes.
    top = mt.maj_at_k(counts, 0, 1024, [1, 16, 256, 1023])
    assert np.all(np.diff(top) > 0) and top[-1] == pytest.approx(1.0)


def test_classes_join_across_shards_and_count_once():
    # Shard 0 put "2" and "x=2" in one class; shard 1 "x=2" and "2.0": one class over both shards.
    g = pd.DataFrame(
        {
            "problem_id": "q",
            "sample_idx": range(8),
            "correct": [False, False, False, False, False, True, True, False],
            "answer": ["2", "x=2", "3", "x=2", "2.0", "7", "7.0", None],
            "answer_class": ["2", "2", "3", "x=2", "x=2", "7", "7", None],
        }
    ).astype({"answer": "string", "answer_class": "string"})
    codes, right, names = mt.class_codes(g)
    assert codes.tolist() == [0, 0, 1, 0, 0, 2, 2, -1]
    assert right.tolist() == [False, False, True] and names == ["x=2", "3", "7"]
    # Without classes (older shards) every string is its own answer.
    codes, _, names = mt.class_codes(g.drop(columns=["answer_class"]))
    assert len(names) == 5


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


def test_aggregate_tables(tmp_path, graded, monkeypatch):
    from rsrl.methods import Checkpoint

    targets = [
        (Checkpoint("M", "base", "base"), "aime24"),
        (Checkpoint("M", "math12k", "rs_beta2"), "aime24"),
        (Checkpoint("M", "math12k", "grpo", 100), "aime24"),
    ]
    monkeypatch.setattr(agg.grid, "eval_targets", lambda cfg: targets)
    graded = graded.assign(finish_reason=np.where(graded["sample_idx"] == 0, "cut", graded["finish_reason"]))
    metrics, problems = [], []
    for ckpt, bench in targets:
        d = tmp_path / agg.grid.eval_file(agg.grid.EVAL_PATTERN, ckpt, bench)
        d.mkdir(parents=True)
        pt = mt.problem_table(graded)
        pt.to_parquet(d / "problems.parquet")
        mt.metrics_table(graded, pt, n_boot=200).to_csv(d / "metrics.csv", index=False)
        metrics.append(str(d / "metrics.csv"))
        problems.append(str(d / "problems.parquet"))
    # passed in another order than the grid's: files are matched by their layout path, rows come in grid order
    agg.aggregate({}, metrics[::-1], problems[::-1], tmp_path / "passk.csv", tmp_path / "summary.csv")
    read = pd.read_csv(tmp_path / "passk.csv")
    assert list(read.columns) == agg.PASSK_COLUMNS
    assert len(read) == 3 * 5
    assert list(dict.fromkeys(read["method"])) == [c.id for c, _ in targets]
    assert (read["n_problems"] == 6).all() and (read["n_samples"] == 16).all()
    s = pd.read_csv(tmp_path / "summary.csv")
    assert len(s) == 3 and {
        "mean_at_n",
        "maj_at_n",
        "distinct_share",
        "timeouts",
        "pass_at_n",
        "length_share",
        "cut_share",
        "class_fallback_share",
    } <= set(s.columns)
    assert "truncated" not in s.columns
    assert (s["timeouts"] == 1).all()
    is_none = graded["answer"].isna() & (graded["sample_idx"] != 0)
    assert s["length_share"].iloc[0] == pytest.approx(is_none.mean())  # finish_reason "length" where no answer
    assert s["cut_share"].iloc[0] == pytest.approx(1 / 16) and (s["class_fallback_share"] == 0).all()


def test_cli_score_and_aggregate(tmp_path, graded, paper_config, monkeypatch):
    import json

    from rsrl.config import validate
    from rsrl.evaluate.__main__ import main
    from rsrl.methods import Checkpoint

    cfg = tmp_path / "cfg.json"
    paper_config["evaluation"].setdefault("per_benchmark", {})["math500"] = {"n": 16}
    cfg.write_text(json.dumps(validate(paper_config)))
    d = tmp_path / "results/eval/Qwen2.5-Math-1.5B/math12k/rs_beta4/math500"
    (d / "graded").mkdir(parents=True)
    half = graded["sample_idx"] < 8
    graded[half].to_parquet(d / "graded/p0_s0.parquet")
    graded[~half].to_parquet(d / "graded/p0_s1.parquet")
    bench = tmp_path / "math500.parquet"
    pd.DataFrame({"id": [f"q{i}" for i in range(6)], "answer": "1", "prompt": ""}).to_parquet(bench)
    assert (
        main(
            [
                "score",
                "--config",
                str(cfg),
                "--benchmark",
                "math500",
                "--bench-file",
                str(bench),
                "--graded",
                str(d / "graded/p0_s0.parquet"),
                str(d / "graded/p0_s1.parquet"),
                "--problems",
                str(d / "problems.parquet"),
                "--metrics",
                str(d / "metrics.csv"),
            ]
        )
        == 0
    )
    probs = pd.read_parquet(d / "problems.parquet")
    assert probs["problem_id"].tolist() == [f"q{i}" for i in range(6)] and (probs["n"] == 16).all()
    monkeypatch.setattr(
        agg.grid, "eval_targets", lambda c: [(Checkpoint("Qwen2.5-Math-1.5B", "math12k", "rs_beta4"), "math500")]
    )
    assert (
        main(
            [
                "aggregate",
                "--config",
                str(cfg),
                "--metrics",
                str(d / "metrics.csv"),
                "--problems",
                str(d / "problems.parquet"),
                "--passk",
                str(tmp_path / "t/passk.csv"),
                "--summary",
                str(tmp_path / "t/summary.csv"),
            ]
        )
        == 0
    )
    passk = pd.read_csv(tmp_path / "t/passk.csv")
    assert passk["estimator"].eq("rs").all() and passk["model"].eq("Qwen2.5-Math-1.5B").all()
    # A missing shard is an error, not a silently smaller n.
    with pytest.raises(ValueError, match="expected n = 16"):
        main(
            [
                "score",
                "--config",
                str(cfg),
                "--benchmark",
                "math500",
                "--bench-file",
                str(bench),
                "--graded",
                str(d / "graded/p0_s0.parquet"),
                "--problems",
                str(tmp_path / "x.parquet"),
                "--metrics",
                str(tmp_path / "x.csv"),
            ]
        )
    with pytest.raises(ValueError, match="no graded samples"):
        bench2 = tmp_path / "b2.parquet"
        pd.DataFrame({"id": [f"q{i}" for i in range(7)], "answer": "1", "prompt": ""}).to_parquet(bench2)
        main(
            [
                "score",
                "--config",
                str(cfg),
                "--benchmark",
                "math500",
                "--bench-file",
                str(bench2),
                "--graded",
                str(d / "graded/p0_s0.parquet"),
                "--problems",
                str(tmp_path / "x.parquet"),
                "--metrics",
                str(tmp_path / "x.csv"),
            ]
        )
