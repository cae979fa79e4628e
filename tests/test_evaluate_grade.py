"""rsrl.evaluate.grade: grading a sample shard, with full completions or only stored answers."""

from __future__ import annotations

import pandas as pd
import pytest

from rsrl.evaluate.grade import GRADED_COLUMNS, grade_samples
from rsrl.grading.batch import Grader
from rsrl.grading.boxes import last_boxed


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=2, timeout_s=3, deadline_s=20) as g:
        yield g


def _samples():
    bench = pd.DataFrame({"id": ["a", "b"], "answer": ["\\frac{1}{2}", "12"], "prompt": ["", ""]})
    comps = ["so $\\boxed{0.5}$", "so $\\boxed{1/3}$", "no answer", "\\boxed{12}", "\\boxed{12", "$\\boxed{ 12 }$"]
    samples = pd.DataFrame(
        {
            "problem_id": ["a", "a", "a", "b", "b", "b"],
            "sample_idx": [0, 1, 2, 0, 1, 2],
            "completion": comps,
            "extracted": [last_boxed(c) for c in comps],
            "n_tokens": [5] * 6,
            "finish_reason": ["stop"] * 4 + ["length", "stop"],
            "seed": range(6),
        }
    )
    return bench, samples


def test_grade_samples_full_and_answers(grader):
    bench, samples = _samples()
    full = grade_samples(samples, bench, grader, progress=False)
    assert list(full.columns) == GRADED_COLUMNS
    assert full["correct"].tolist() == [True, False, False, True, False, True]
    assert full["answer"].isna().tolist() == [False, False, True, False, True, False]
    answers = grade_samples(samples.drop(columns=["completion"]), bench, grader, progress=False)
    assert answers["correct"].tolist() == full["correct"].tolist()


def test_grade_samples_unknown_problem(grader):
    bench, samples = _samples()
    with pytest.raises(ValueError, match="missing from the benchmark"):
        grade_samples(samples, bench[bench.id == "a"], grader, progress=False)
