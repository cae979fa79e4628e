"""The reward file OpenRLHF loads by path: grades like evaluation, thread-safe, never raises, right return shape."""

from __future__ import annotations

import concurrent.futures
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REWARD_FILE = REPO / "src" / "rsrl" / "train" / "openrlhf" / "reward.py"
PROMPT = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.fixture(scope="module")
def reward_module():
    # Exactly how OpenRLHF 0.11.2 loads it (openrlhf/utils/agent.py).
    spec = importlib.util.spec_from_file_location("reward_func", REWARD_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_correct_wrong_and_unboxed(reward_module):
    f = reward_module.reward_func
    out = f([PROMPT + "2 + 3 = 5, so \\boxed{5}<|im_end|>"], [PROMPT], ["5"])
    assert out["rewards"] == 1.0 and out["scores"] == 1.0 and isinstance(out["rewards"], float)
    assert f([PROMPT + "\\boxed{6}<|im_end|>"], [PROMPT], ["5"])["rewards"] == 0.0
    # Unboxed answers do not count (boxed-only grading, as in evaluation) ...
    assert f([PROMPT + "the answer is 5"], [PROMPT], ["5"])["rewards"] == 0.0
    # ... and the prompt's own empty \boxed{} is never graded as the answer.
    assert f([PROMPT], [PROMPT], [""])["rewards"] == 0.0


def test_response_text_strips_the_prompt(reward_module):
    assert reward_module.response_text(PROMPT + "abc", PROMPT) == "abc"
    # A re-tokenised prompt may differ at the start; the tail still locates the response.
    assert reward_module.response_text("<s>" + PROMPT + "abc", PROMPT) == "abc"


def test_threads_and_garbage_never_raise(reward_module):
    f = reward_module.reward_func
    cases = [([PROMPT + f"\\boxed{{{i}}}"], [PROMPT], [str(i if i % 3 else i + 1)]) for i in range(48)]
    cases += [
        ([None], [PROMPT], ["1"]),
        ([PROMPT + "\\boxed{" * 50], [PROMPT], ["1"]),
        ([], [], []),
        ([PROMPT + "\\boxed{1}"], [None], [None]),
        ([b"bytes"], [PROMPT], ["x"]),
    ]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda c: f(*c), cases))
    for (q, _, lab), r in zip(cases[:48], results[:48]):
        want = 1.0 if q[0].endswith(f"{{{lab[0]}}}") else 0.0
        assert r["rewards"] == want
    assert all(set(r) == {"rewards", "scores", "extra_logs"} for r in results)
    assert all(r["rewards"] == 0.0 for r in results[48:])
