"""Grading a shard records answer classes and the end-of-turn cut; scoring counts votes per class (maj@k, distinct
answers) over all shards of a problem."""

from __future__ import annotations

import pandas as pd
import pytest

from rsrl.evaluate import metrics as mt
from rsrl.evaluate.grade import GRADED_COLUMNS, grade_samples
from rsrl.grading.batch import Grader


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=2) as g:
        yield g


def _shard(rows, start=0):
    return pd.DataFrame(
        {
            "problem_id": [p for p, _, _ in rows],
            "sample_idx": range(start, start + len(rows)),
            "completion": [c for _, c, _ in rows],
            "extracted": None,
            "n_tokens": 7,
            "finish_reason": [f for _, _, f in rows],
            "seed": 0,
        }
    )


def test_graded_shard_classes_cut_and_votes(grader):
    bench = pd.DataFrame({"id": ["a", "b"], "answer": ["2", "5"]})
    s0 = _shard(
        [
            ("a", "so $\\boxed{x=2}$", "stop"),
            ("a", "so $\\boxed{2}$", "stop"),
            ("a", "so $\\boxed{3}$<|im_end|>\n<|im_start|>user\n\\boxed{2}", "length"),
            ("b", "$\\boxed{\\frac{1}{\\sqrt3}}$", "stop"),
            ("b", "$\\boxed{5}$", "stop"),
            ("b", "$\\boxed{\\frac{\\sqrt3}{3}}$", "length"),
        ]
    )
    s1 = _shard([("a", "\\boxed{3.0}", "stop"), ("b", "$\\boxed{\\frac{\\sqrt3}{3}}$", "stop")], start=6)
    g0, g1 = (grade_samples(s, bench, grader, progress=False) for s in (s0, s1))
    assert list(g0.columns) == GRADED_COLUMNS
    assert g0["correct"].tolist() == [True, True, False, False, True, False]
    assert g0["finish_reason"].tolist() == ["stop", "stop", "cut", "stop", "stop", "length"]
    # (math-verify's extracted strings are normalised: \sqrt3 reads \sqrt{3}.)
    assert g0["answer_class"].tolist() == ["x=2", "x=2", "3", "\\frac{1}{\\sqrt{3}}", "5", "\\frac{1}{\\sqrt{3}}"]
    assert not g0["class_fallback"].any()

    graded = pd.concat([g0, g1], ignore_index=True)
    # Shard 1 alone cannot tell that "3.0" is "3", nor which class its "\frac{\sqrt{3}}{3}" joins: each is its own
    # label. Across shards "3" and "3.0" stay two answers, while the string "\frac{\sqrt{3}}{3}", in a class of
    # each shard, joins the two.
    probs = mt.problem_table(graded[graded["sample_idx"] < 6]).set_index("problem_id")
    assert probs.loc["a", "n_distinct"] == 2 and probs.loc["b", "n_distinct"] == 2
    assert probs.loc["a", "cut_share"] == pytest.approx(1 / 3)
    assert probs.loc["b", "length_share"] == pytest.approx(1 / 3)
    # maj@3 over the first three samples: a's two right votes win (strings would tie three ways: 2/3); b's two
    # equivalent wrong answers beat the right one (strings: 1/3).
    maj = mt.maj_table(graded[graded["sample_idx"] < 6], ["a", "b"], [1, 2, 3])
    assert maj[:, 2].tolist() == pytest.approx([1.0, 0.0])
    assert maj[:, 0].tolist() == pytest.approx([2 / 3, 1 / 3])
    full = mt.problem_table(graded).set_index("problem_id")
    assert full.loc["b", "n_distinct"] == 2 and full.loc["a", "n_distinct"] == 3


def test_a_shard_whose_answers_are_all_correct_grades():
    with Grader(workers=1) as g:
        df = g.answer_classes(["a", "a", "b", "b"], ["1", "1.0", "2", None], [True, True, True, False])
    assert df["answer_class"].tolist()[:3] == ["1", "1", "2"] and df["answer_class"].isna().tolist()[3]
    assert not df["class_fallback"].any()
