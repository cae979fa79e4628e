"""Sampling refuses, naming the problem, a prompt that does not fit the model's context."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from rsrl.evaluate.sample import check_prompt_lengths


class _Tok:
    def encode(self, text):
        return text.split()


def _llm(max_len):
    return SimpleNamespace(
        llm_engine=SimpleNamespace(model_config=SimpleNamespace(max_model_len=max_len)), get_tokenizer=lambda: _Tok()
    )


def test_a_prompt_beyond_the_context_is_named():
    req = pd.DataFrame({"problem_id": ["p1", "p1", "p2"], "prompt": ["a b", "a b", "x " * 50]})
    check_prompt_lengths(_llm(100), req, {}, "aime24")
    with pytest.raises(ValueError, match=r"aime24: the prompt of problem 'p2' has 50 tokens.*context of 10"):
        check_prompt_lengths(_llm(10), req, {}, "aime24")
