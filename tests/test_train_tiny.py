"""The locally built tiny policy: tokenizer, architecture, warm start, config handling."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from rsrl import config as rcfg
from rsrl.models import tiny
from rsrl.prompts import build_prompt


def _data(n=48, seed=0):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        p = f"What is {a} + {b}?"
        rows.append(
            {
                "id": f"t{i}",
                "problem": p,
                "answer": str(a + b),
                "source": "test",
                "prompt": build_prompt(p, "qwen_math_boxed"),
            }
        )
    return pd.DataFrame(rows)


def test_tokenizer_keeps_chat_tokens_whole_and_round_trips():
    df = _data()
    tok = tiny.train_tokenizer(df["prompt"].tolist(), 400)
    assert len(tok) <= 400
    for t in tiny.SPECIAL_TOKENS:
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == t
    text = df["prompt"][0] + "The answer is \\boxed{123}<|im_end|>"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_build_saves_a_loadable_qwen2(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = tiny.build(_data(), tiny.TinySpec(vocab_size=400, warmstart_steps=0, max_context=128), tmp_path / "m")
    assert info["warmstart_loss_last"] is None and 300_000 < info["parameters"] < 400_000
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    c = model.config
    assert c.model_type == "qwen2" and c.head_dim == 64 and c.num_key_value_heads == 1 and c.tie_word_embeddings
    assert c.eos_token_id == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert c.vocab_size == len(tok)


@pytest.mark.slow
def test_warm_start_learns_the_answer_format(tmp_path):
    spec = tiny.TinySpec(vocab_size=400, warmstart_steps=30, warmstart_lr=3e-3, max_context=128, batch_size=16)
    info = tiny.build(_data(), spec, tmp_path / "m")
    assert info["warmstart_loss_last"] < info["warmstart_loss_first"] / 2


def test_warmstart_targets_are_boxed_with_some_wrong_answers():
    df = _data(200)
    pairs = tiny.warmstart_targets(df, 0.5, random.Random(0))
    assert all(t.endswith("<|im_end|>") and "\\boxed{" in t for _, t in pairs)
    wrong = sum(f"\\boxed{{{a}}}" not in t for (_, t), a in zip(pairs, df["answer"]))
    assert 60 < wrong < 140
    assert all(
        f"\\boxed{{{a}}}" in t for (_, t), a in zip(tiny.warmstart_targets(df, 0.0, random.Random(0)), df["answer"])
    )


def _cfg(build, grid_sets=("a",)):
    return {
        "models": {"tiny": {"build": build, "size": "cpu"}},
        "size_classes": {"cpu": {"nodes": 1, "gpus_per_node": 0}},
        "train_sets": {"a": {"loader": "synthetic"}, "b": {"loader": "synthetic"}},
        "benchmarks": {"t": {"loader": "synthetic"}},
        "grid": [{"models": ["tiny"], "train_sets": list(grid_sets), "methods": [{"estimator": "grpo"}]}],
        "training": {"trainer": "trl", "n_samples_per_prompt": 2, "learning_rate": 1e-3, "max_steps": 1},
        "evaluation": {},
    }


def test_spec_and_warmstart_set_from_config():
    cfg = rcfg.validate(_cfg({"hidden_size": 128, "heads": 2, "warmstart_steps": 5}, ("b", "a")))
    spec = tiny.TinySpec.from_config(cfg, "tiny")
    assert spec.warmstart_steps == 5 and spec.hidden_size == 128
    assert tiny.warmstart_set(cfg, "tiny") == "b"
    cfg = rcfg.validate(_cfg({"warmstart_set": "a"}, ("b",)))
    assert tiny.warmstart_set(cfg, "tiny") == "a"
    with pytest.raises(ValueError, match="head_dim"):
        tiny.TinySpec.from_config(rcfg.validate(_cfg({"hidden_size": 96, "heads": 3})), "tiny")
