"""Boxed-answer extraction, gold-answer parseability and prompt templates."""

from __future__ import annotations

import pytest

from rsrl.grading.boxes import last_boxed
from rsrl.grading.gold import is_parseable
from rsrl.grading.normalize import gold_latex
from rsrl.prompts import TEMPLATES, build_prompt


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so $\boxed{5}$.", "5"),
        (r"$\boxed{\frac{1}{\sqrt{2}}}$", r"\frac{1}{\sqrt{2}}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"so $y = \boxed 6$.", "6"),
        (r"\fbox{x^{2}}", "x^{2}"),
        (r"\boxed {7}", "7"),
        (r"\boxed{\text{(B)}} and then \boxed{a", None),  # the last one never closes (truncated output)
        ("no box here", None),
        ("", None),
        (None, None),
        (r"\boxedx", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "answer",
    ["5", r"\frac{3\sqrt{2}}{4}", r"(3, \frac{\pi}{2})", r"\text{Evelyn}", "-1", r"\{-2, 2\}", r"[2, 5)", r"10\%"],
)
def test_parseable_answers(answer):
    assert is_parseable(answer)


@pytest.mark.parametrize("answer", ["???", r"\text{}", "", "   ", None, r"\\"])
def test_unparseable_answers(answer):
    assert not is_parseable(answer)


def test_gold_latex_is_boxed():
    assert gold_latex("42") == r"\boxed{42}"
    assert last_boxed(gold_latex(r"\frac{1}{2}")) == r"\frac{1}{2}"


def test_qwen_math_boxed_template_literal():
    got = build_prompt("What is $1+{2}$?", "qwen_math_boxed")
    assert got == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}."
        "<|im_end|>\n<|im_start|>user\nWhat is $1+{2}$?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_plain_template():
    got = build_prompt("What is 2+2?", "plain")
    assert got.startswith("Question: What is 2+2?\n") and got.endswith("Answer:")
    assert "\\boxed{}" in got


def test_unknown_template_lists_allowed():
    with pytest.raises(ValueError) as exc:
        build_prompt("x", "chatml")
    assert "chatml" in str(exc.value)
    for name in TEMPLATES:
        assert name in str(exc.value)


def test_templates_match_config_schema(repo):
    import json

    schema = json.loads((repo / "workflow" / "schemas" / "config.schema.json").read_text())
    assert set(schema["properties"]["prompt_template"]["enum"]) == set(TEMPLATES)


def test_last_boxed_recovers_every_math500_answer(data_dir):
    import json

    rows = [json.loads(line) for line in (data_dir / "eval" / "math500.jsonl").read_text().splitlines()]
    assert len(rows) == 500
    assert [last_boxed(r["solution"]) for r in rows] == [r["answer"] for r in rows]


def test_check_answers_in_worker_processes():
    from rsrl.data.prepare import check_answers

    answers = ["1", "???", r"\frac{1}{2}", "1", r"\text{}"]
    expected = {"1": True, "???": False, r"\frac{1}{2}": True, r"\text{}": False}
    assert check_answers(answers, workers=1) == expected
    assert check_answers(answers, workers=2, min_parallel=0) == expected
