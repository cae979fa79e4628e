"""rsrl.grader: verdicts equal a plain math-verify loop; dedup; timeouts and hung workers; the RL reward; the
end-of-turn cut, the known math-verify weaknesses and answer classes."""

from __future__ import annotations

import itertools
import json
import logging
import random
import string
import threading
import time

import numpy as np
import pandas as pd
import pytest

from rsrl import grader as gr
from rsrl.grading import batch as batch_mod
from rsrl.grading import reward as reward_mod
from rsrl.grading.classes import cannot_verify
from rsrl.grading.pool import WorkerCrashed
from rsrl.grading.verify import parse_answer

logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # the reference loop logs every timeout with its input


def _load(data_dir, name):
    return [json.loads(line) for line in (data_dir / "eval" / f"{name}.jsonl").read_text().splitlines() if line]


def _cases(gold: str, other: str) -> dict[str, str]:
    """Completions of one problem covering the grading edge cases (name -> text)."""
    reasoning = "Let us think. First $x^2 + 3x = 10$, hence $x = 2$ or $x = -5$.\n\n"
    return {
        "right": f"{reasoning}Therefore the answer is $\\boxed{{{gold}}}$.",
        "right_plain_box": f"{reasoning}\\boxed{{{gold}}}",
        "wrong": f"{reasoning}So the answer is $\\boxed{{{other}}}$.",
        "unboxed": f"{reasoning}So the result is {gold}.",
        "unboxed_dollar": f"{reasoning}So the result is ${gold}$.",
        "final_answer_anchor": f"{reasoning}The final answer is ${gold}$. I hope it is correct.",
        "truncated": f"{reasoning}Therefore the answer is $\\boxed{{{gold}",
        "truncated_mid": f"{reasoning}We now compute $\\frac{{3}}{{",
        "multi_box_last_right": f"First guess $\\boxed{{{other}}}$, corrected: $\\boxed{{{gold}}}$.",
        "multi_box_last_wrong": f"First guess $\\boxed{{{gold}}}$, corrected: $\\boxed{{{other}}}$.",
        "two_in_one": f"$\\boxed{{{gold}}}$ and $\\boxed{{{other}}}$",
        "self_correction": f"So $\\boxed{{{other}}}$, wait, that is wrong: $\\boxed{{{gold}}}$.",
        "next_turn": f"{reasoning}$\\boxed{{{gold}}}$<|im_end|>\n<|im_start|>user\nNext: $\\boxed{{{other}}}$",
        "empty_box": f"{reasoning}\\boxed{{}}",
        "empty": "",
    }


SYMBOLIC = [  # (gold, completion, expected verdict)
    ("0.5", "$\\boxed{\\frac{1}{2}}$", True),
    ("\\frac{1}{2}", "$\\boxed{0.5}$", True),
    ("\\frac{\\sqrt{2}}{2}", "$\\boxed{\\sqrt{2}/2}$", True),
    ("\\sqrt{2}/2", "$\\boxed{\\frac{\\sqrt2}{2}}$", True),
    ("\\frac{\\sqrt{2}}{2}", "$\\boxed{\\frac{1}{\\sqrt{2}}}$", True),
    ("2\\pi", "$\\boxed{\\pi \\cdot 2}$", True),
    ("\\frac{1}{2}", "$\\boxed{0.51}$", False),
    ("x^2+2x+1", "$\\boxed{(x+1)^2}$", True),
]


@pytest.fixture(scope="module")
def grader():
    with gr.Grader(workers=2, boxed_only=True, timeout_s=5, deadline_s=30) as g:
        yield g


@pytest.fixture
def real_items(data_dir):
    """Edge-case completions for real problems of every local benchmark."""
    comps, golds, names = [], [], []
    rng = random.Random(0)
    for bench, take in (("math500", 12), ("aime24", 4), ("aime25", 4), ("hmmt_feb24", 4), ("hmmt_feb25", 8)):
        rows = _load(data_dir, bench)
        answers = [str(r["answer"]) for r in rows]
        for r in rng.sample(rows, take):
            gold = str(r["answer"])
            other = rng.choice([a for a in answers if a != gold])
            for name, text in _cases(gold, other).items():
                comps.append(text)
                golds.append(gold)
                names.append(name)
    for gold, text, _ in SYMBOLIC:
        comps.append(text)
        golds.append(gold)
        names.append("symbolic")
    return comps, golds, names


@pytest.mark.parametrize("boxed_only", [True, False])
def test_verdicts_equal_sequential_math_verify(real_items, boxed_only):
    comps, golds, names = real_items
    ref = gr.grade_sequential(comps, golds, boxed_only=boxed_only)
    with gr.Grader(workers=2, boxed_only=boxed_only) as g:
        got = g.grade(comps, golds)
    mismatch = [(names[i], golds[i], comps[i][-80:]) for i in range(len(comps)) if got["correct"][i] != ref[i]]
    assert not mismatch, mismatch[:5]
    assert not got["timeout"].any()
    by = {}
    for n, v in zip(names, ref):
        by.setdefault(n, []).append(v)
    assert all(by["right"]) and all(by["right_plain_box"]) and all(by["final_answer_anchor"])
    assert not any(by["wrong"]) and not any(by["truncated_mid"]) and not any(by["empty"])
    assert all(by["multi_box_last_right"]) and not any(by["multi_box_last_wrong"])
    assert all(by["self_correction"]) and all(by["next_turn"])
    if boxed_only:  # an answer merely mentioned in the text does not count
        assert not any(by["unboxed"]) and not any(by["unboxed_dollar"])
    else:
        assert np.mean(by["unboxed_dollar"]) > 0.8


def test_symbolic_equivalents(grader):
    df = grader.grade([c for _, c, _ in SYMBOLIC], [g for g, _, _ in SYMBOLIC])
    assert df["correct"].tolist() == [e for _, _, e in SYMBOLIC]
    assert df["correct"].tolist() == gr.grade_sequential([c for _, c, _ in SYMBOLIC], [g for g, _, _ in SYMBOLIC])


def test_extraction_key_identifies_parses():
    a = gr.extraction_key("Long reasoning ... so $\\boxed{42}$.")
    b = gr.extraction_key("Other words entirely; so $\\boxed{42}$.")
    c = gr.extraction_key("Long reasoning ... so $\\boxed{43}$.")
    assert a == b != c
    assert gr.extraction_key("no answer here at all 42") == b""


def test_dedup_verifies_each_distinct_answer_once():
    golds = ["7"] * 300 + ["\\frac{1}{3}"] * 300
    thirds = ["1/3", "0.5", "\\frac13"]
    comps = [f"step {i}: so \\boxed{{{7 + i % 3}}}" for i in range(300)] + [
        f"attempt {i} gives $\\boxed{{{thirds[i % 3]}}}$" for i in range(300)
    ]
    with gr.Grader(workers=2) as g:
        df = g.grade(comps, golds)
        assert g.stats.verified == 6 and g.stats.items == 600
        again = g.grade(comps[:10], golds[:10])  # cached verdicts: no new verification
        assert g.stats.verified == 6
    assert df["correct"].tolist() == gr.grade_sequential(comps, golds)
    assert again["correct"].tolist() == df["correct"].tolist()[:10]
    assert df["correct"].sum() == 100 + 200  # '7' in a third; '1/3' and '\frac13' are right


def test_pathological_inputs_finish_and_agree(grader):
    rng = random.Random(1)
    garbage = "".join(rng.choice(string.printable) for _ in range(100_000))
    cases = {
        "huge_exponent": ("$\\boxed{9^{9^{9^9}}}$", "3"),
        "nested_braces": ("\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}", "1"),
        "garbage_100k": (garbage, "1"),
        "garbage_boxed": (garbage[:50_000] + " \\boxed{5} " + garbage[50_000:], "5"),
        "many_open_boxes": ("\\boxed{" * 2000, "1"),
    }
    t0 = time.perf_counter()
    df = grader.grade([c for c, _ in cases.values()], [g for _, g in cases.values()])
    elapsed = time.perf_counter() - t0
    assert elapsed < 2 * grader.deadline_s
    got = dict(zip(cases, df["correct"]))
    assert not got["huge_exponent"] and not got["nested_braces"] and not got["many_open_boxes"]
    assert not got["garbage_100k"]
    # Where the plain loop terminates quickly, it agrees.
    for name in ("garbage_100k", "garbage_boxed"):
        assert got[name] == gr.grade_sequential([cases[name][0]], [cases[name][1]])[0], name


def test_hung_worker_is_replaced_and_counted():
    # math-verify's own alarm fires after 5 s; a 1 s deadline kills the worker first.
    comps = ["$\\boxed{9^{9^{9^9}}}$", "so \\boxed{2}", "so \\boxed{3}"]
    with gr.Grader(workers=1, timeout_s=5, deadline_s=1.5) as g:
        g.grade(["\\boxed{1}"], ["1"])  # start the worker outside the deadline under test
        df = g.grade(comps, ["2", "2", "2"])
        assert g.stats.workers_replaced >= 1
    assert df["timeout"].tolist() == [True, False, False]
    assert df["correct"].tolist() == [False, True, False]


def test_math_verify_timeout_is_reported():
    # The alarm (1 s) fires inside the worker before the deadline: counted as a timeout, graded wrong.
    with gr.Grader(workers=1, timeout_s=1, deadline_s=30) as g:
        df = g.grade(["\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"], ["1"])
        assert g.stats.workers_replaced == 0
    assert df["timeout"].tolist() == [True] and df["correct"].tolist() == [False]


def test_reward_single_calls_and_threads():
    assert gr.reward("so $\\boxed{\\frac{1}{2}}$", "0.5") == 1.0
    assert gr.reward("so $\\boxed{3}$", "0.5") == 0.0
    assert gr.reward("the answer is 0.5", "0.5") == 0.0
    assert gr.reward("the answer is $0.5$", "0.5", boxed_only=False) == 1.0
    assert gr.reward(None, "1") == 0.0 and gr.reward("\\boxed{1}", None) == 0.0 and gr.reward("\\boxed{1}", "") == 0.0
    items = [(f"\\boxed{{{i % 5}}}", str(i % 3)) for i in range(40)]
    expected = [1.0 if i % 5 == i % 3 else 0.0 for i in range(40)]
    out = [None] * len(items)

    def work(j):
        out[j] = gr.reward(*items[j])

    threads = [threading.Thread(target=work, args=(j,)) for j in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == expected


def test_rewards_of_a_batch_equal_single_rewards(monkeypatch):
    items = [(f"so \\boxed{{{i % 5}}}", str(i % 3)) for i in range(40)]
    items += [(None, "1"), ("\\boxed{1}", None), ("\\boxed{1}", ""), (12345, "1"), ("\\boxed{\\frac{1}{2}}", "0.5")]
    texts, golds = [c for c, _ in items], [g for _, g in items]
    expected = [1.0 if i % 5 == i % 3 else 0.0 for i in range(40)] + [0.0, 0.0, 0.0, 0.0, 1.0]
    assert gr.rewards(texts, golds) == expected == [gr.reward(c, g) for c, g in items]
    assert gr.rewards([], []) == []
    # a failed batch call falls back to one call per distinct pair, with the same results
    pool = reward_mod._reward_pool()
    real_call, funcs = pool.call, []

    def batch_fails(func, *a, **k):
        funcs.append(func)
        if func.endswith(":grade_many"):
            raise WorkerCrashed("test")
        return real_call(func, *a, **k)

    monkeypatch.setattr(pool, "call", batch_fails)
    assert gr.rewards(texts[:10], golds[:10]) == expected[:10]
    assert funcs == ["rsrl.grading.reward:grade_many"] + ["rsrl.grading.verify:grade_one"] * len(
        set(zip(texts[:10], golds[:10]))
    )
    with pytest.raises(ValueError, match="completions"):
        gr.rewards(["a"], [])


def test_reward_never_raises_or_hangs():
    t0 = time.perf_counter()
    assert gr.reward("$\\boxed{9^{9^{9^9}}}$", "3", timeout_s=2.0) == 0.0
    assert time.perf_counter() - t0 < 8
    assert gr.reward(12345, "1") == 0.0


def test_broken_worker_environment_raises(monkeypatch):
    # Workers that cannot even start must not silently grade everything as wrong.
    monkeypatch.setenv("RSRL_GRADER_MEMORY_MB", "1")
    with gr.Grader(workers=1) as g:
        with pytest.raises(gr.WorkerStartError, match="did not start"):
            g.grade(["\\boxed{1}"], ["1"])


# --------------------------------------------------------------------------------------------------------------
# Settings


def test_defaults_are_the_config_schemas(paper_config):
    from rsrl.config import validate

    cfg = dict(paper_config, evaluation={k: v for k, v in paper_config["evaluation"].items() if k != "grader"})
    assert validate(cfg)["evaluation"]["grader"] == gr.DEFAULTS
    assert set(gr.DEFAULTS) == {"boxed_only", "timeout_s", "deadline_s", "workers"}


# --------------------------------------------------------------------------------------------------------------
# End of turn


def test_cut_at_end_of_turn():
    from rsrl.prompts import END_OF_TURN_MARKERS

    assert gr.END_OF_TURN_MARKERS is END_OF_TURN_MARKERS
    assert gr.cut_at_end_of_turn("so \\boxed{1}") == ("so \\boxed{1}", False)
    text = "so \\boxed{70}<|im_end|>\n<|im_start|>user\nWhat is 2+2? \\boxed{4}"
    assert gr.cut_at_end_of_turn(text) == ("so \\boxed{70}", True)
    # The earliest marker wins, whichever it is; a custom marker list is honoured.
    assert gr.cut_at_end_of_turn("a<|eot_id|>b<|im_end|>c") == ("a", True)
    assert gr.cut_at_end_of_turn("x\nQuestion: next", markers=("<|im_end|>",)) == ("x\nQuestion: next", False)
    assert gr.cut_at_end_of_turn("x\nQuestion: next") == ("x", True)
    assert gr.prepare(text) == "so \\boxed{70}"


def test_cut_applies_to_evaluation_and_both_rewards():
    prompt = (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nCompute 7 * 10.<|im_end|>\n<|im_start|>assistant\n"
    )
    response = "7 * 10 = 70, so \\boxed{70}<|im_end|>\n<|im_start|>user\nAnd 2 + 2?<|im_end|>\n\\boxed{4}"
    from rsrl.train.openrlhf.reward import score
    from rsrl.train.trl_trainer import reward_function

    assert score(prompt + response, prompt, "70") == 1.0
    assert score(prompt + response, prompt, "4") == 0.0
    assert gr.reward(response, "70") == 1.0
    assert reward_function(boxed_only=True, timeout_s=5)(prompts=[prompt], completions=[response], answer=["70"]) == [
        1.0
    ]
    with gr.Grader(workers=1) as g:
        df = g.grade([response, "\\boxed{70}"], ["70", "70"])
        assert g.stats.cut == 1
    assert df["correct"].tolist() == [True, True] and df["cut"].tolist() == [True, False]


# --------------------------------------------------------------------------------------------------------------
# Known math-verify weaknesses: each measured with math-verify alone, then with the grader.


def _raw_math_verify(text: str, gold: str) -> bool:
    from math_verify import parse
    from math_verify import verify as mv_verify

    from rsrl.grading.normalize import gold_latex

    return bool(mv_verify(parse(gold_latex(gold)), parse(text, extraction_config=list(gr.extraction_config(True)))))


def _grade(items):
    with gr.Grader(workers=1) as g:
        df = g.grade([t for t, _ in items], [a for _, a in items])
        return df["correct"].tolist(), g.stats


def test_plus_minus_against_the_hmmt_feb25_pair(data_dir):
    gold = next(str(r["answer"]) for r in _load(data_dir, "hmmt_feb25") if "\\sqrt{17}" in str(r["answer"]))
    assert gold == "\\frac{-1+\\sqrt{17}}{2}, \\frac{-1-\\sqrt{17}}{2}"
    text = "Hence $a + b + c = \\boxed{\\frac{-1\\pm\\sqrt{17}}{2}}$."
    assert not _raw_math_verify(text, gold)  # math-verify reads \pm only at the top level
    wrong = "$\\boxed{\\frac{-1\\pm\\sqrt{15}}{2}}$"
    got, _ = _grade(
        [
            (text, gold),
            (wrong, gold),
            ("$\\boxed{\\frac{1\\mp\\sqrt{17}}{-2}}$", gold),
            ("$\\boxed{1 \\pm \\sqrt{19}}$", "1 \\pm \\sqrt{19}"),
            ("$\\boxed{-2, 1+\\sqrt{5}, 1-\\sqrt{5}}$", "\\{1\\pm\\sqrt{5},-2\\}"),
        ]
    )
    assert got == [True, False, True, True, True]
    # Two ± or a list with ± inside are left to math-verify.
    assert gr.prepare("\\boxed{a \\pm b \\pm c}") == "\\boxed{a \\pm b \\pm c}"
    assert gr.prepare("\\boxed{\\{1\\pm\\sqrt{5},-2\\}}") == "\\boxed{\\{1\\pm\\sqrt{5},-2\\}}"


def test_underlined_answer():
    text = "The number is $\\boxed{\\underline{3375}}$."
    assert not _raw_math_verify(text, "3375")
    assert _grade([(text, "3375"), ("$\\boxed{\\underline{3376}}$", "3375")])[0] == [True, False]


def test_inequality_against_interval():
    text = "So the solution set is $\\boxed{2\\le x<5}$."
    assert not _raw_math_verify(text, "[2,5)")
    got, _ = _grade(
        [
            (text, "[2,5)"),
            ("$\\boxed{2 < x < 5}$", "[2,5)"),
            ("$\\boxed{x \\geq 2}$", "[2,\\infty)"),
            ("$\\boxed{[2,5)}$", "2\\le x<5"),
            ("$\\boxed{x=2}$", "2"),
        ]
    )
    assert got == [True, False, True, True, True]


def test_self_correction_is_graded_on_its_last_box():
    text = "So \\boxed{3}, hmm, wait: that is wrong, it must be \\boxed{5}"
    assert not _raw_math_verify(text, "5")  # merged into the set {3, 5}
    got, _ = _grade(
        [
            (text, "5"),
            (text, "3"),
            ("\\boxed{3}\n\nWait, I made an error. \\boxed{5}", "5"),
            # An answer list (boxes joined by a bare separator) is still one answer.
            ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3"),
            ("The roots are $x = \\boxed{2}$, $x = \\boxed{3}$.", "2, 3"),
            ("$\\boxed{2}, \\boxed{3}$", "2, 3"),
        ]
    )
    assert got == [True, False, True, True, True, True]


def test_percent_is_accepted_and_counted():
    # Kept: problems asking "by what percent" have gold answers without the sign (MATH-500 has three).
    got, stats = _grade(
        [("$\\boxed{10\\%}$", "10"), ("$\\boxed{10}$", "10"), ("$\\boxed{10\\%}$", "10\\%"), ("$\\boxed{11\\%}$", "10")]
    )
    assert got == [True, True, True, False]
    assert stats.percent_credit == 1


def test_prepare_leaves_plain_completions_alone():
    for text in [
        "",
        "no answer",
        "so $\\boxed{42}$.",
        "\\boxed{\\frac{1}{2}} and more text",
        "\\boxed{5",
        "$\\boxed{2}$ and $\\boxed{3}$",
        "first \\boxed{1}, then \\boxed{2",
    ]:
        assert gr.prepare(text) == text


# --------------------------------------------------------------------------------------------------------------
# Answer classes


def test_answer_classes_group_equivalent_answers():
    answers = ["x=2", "2", "3", "\\frac{1}{\\sqrt3}", "\\frac{\\sqrt3}{3}", "3", None, "2.0", "2"]
    pids = ["a"] * 3 + ["b"] * 2 + ["a", "a", "c", "c"]
    correct = [False, True, False, False, False, False, False, False, True]
    with gr.Grader(workers=2) as g:
        df = g.answer_classes(pids, answers, correct)
        assert g.stats.class_fallbacks == 0 and g.stats.class_checks >= 1
    assert df["answer_class"].tolist()[:6] == ["x=2", "2", "3", "\\frac{1}{\\sqrt3}", "\\frac{1}{\\sqrt3}", "3"]
    assert pd.isna(df["answer_class"].iloc[6]) and not df["class_fallback"].any()
    # Wrong answers never join the correct class, even when equivalent to a correct answer.
    assert df["answer_class"].tolist()[7:] == ["2.0", "2"]


def test_answer_classes_cap_and_budget_fall_back(monkeypatch):
    monkeypatch.setattr(batch_mod, "CLASS_CAP", 3)
    answers = ["1", "1", "1.0", "2", "3", "4", "5"]
    with gr.Grader(workers=1) as g:
        df = g.answer_classes(["p"] * 7, answers, [False] * 7)
        assert g.stats.class_fallbacks == 3
    assert df["answer_class"].tolist() == ["1", "1", "1", "2", "3", "4", "5"]
    assert df["class_fallback"].tolist() == [False] * 4 + [True] * 3
    # Past its time budget a task stops comparing: the rest is not grouped (None).
    ids, checks = gr.answer_class_ids(["1", "1.0", "2"], [None] * 3, timeout_s=5, budget_s=0)
    assert ids == [None, None, None] and checks == 0
    ids, _ = gr.answer_class_ids(["1", "1.0", "2", "x = 1"], [None] * 4, timeout_s=5, budget_s=30)
    assert ids == [0, 0, 1, 0]


def test_pairs_skipped_before_math_verify_never_verify(data_dir):
    # The shortcuts of answer_class_ids against math-verify itself, on real answers and forms of them.
    rng = random.Random(3)
    golds = rng.sample([str(r["answer"]) for r in _load(data_dir, "math500")], 16)
    forms = [
        "x=2",
        "2",
        "2.0",
        "\\frac{4}{2}",
        "y = 3",
        "3",
        "(3,4]",
        "\\{1,2\\}",
        "1, 2",
        "0.333333",
        "\\frac13",
        "10\\%",
        "0.1",
        "\\text{even}",
        "2k+2",
        "2(k+1)",
        "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
        "{{1-\\frac{2}",
    ]
    answers = list(dict.fromkeys(golds + forms))
    parsed = [parse_answer(a, 5) for a in answers]
    skipped = both = 0
    for i, j in itertools.combinations(range(len(answers)), 2):
        if cannot_verify(parsed[i], parsed[j]):
            skipped += 1
            assert not (gr.verify(parsed[i], parsed[j], 5) and gr.verify(parsed[j], parsed[i], 5)), (
                answers[i],
                answers[j],
            )
        else:
            both += 1
    assert skipped > both  # most pairs need no math-verify call
