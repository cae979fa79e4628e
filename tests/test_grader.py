"""rsrl.grader: verdicts equal a plain math-verify loop; dedup; timeouts and hung workers; the RL reward."""

from __future__ import annotations

import json
import logging
import random
import string
import threading
import time

import numpy as np
import pytest

from rsrl import grader as gr

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
    comps = [f"step {i}: so \\boxed{{{7 + i % 3}}}" for i in range(300)] + \
            [f"attempt {i} gives $\\boxed{{{thirds[i % 3]}}}$" for i in range(300)]
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


def test_pool_kills_computation_ignoring_alarm():
    with gr.WorkerPool(1) as pool:
        assert pool.call("rsrl.grader:grade_one", "\\boxed{2}", "2", deadline=30)[0] is True
        pid = pool.pids()[0]
        t0 = time.perf_counter()
        with pytest.raises(gr.TaskTimeout):
            pool.call("rsrl.grader:_stall", 60, deadline=1.0)
        assert time.perf_counter() - t0 < 5
        assert pool.killed == 1
        assert pool.call("rsrl.grader:grade_one", "\\boxed{2}", "2", deadline=30)[0] is True
        assert pool.pids() and pool.pids()[0] != pid
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            pool.call("operator:truediv", 1, 0, deadline=30)


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
