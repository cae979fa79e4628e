"""TRL training: the pinned GRPOTrainer internals, and that TRL's loss receives exactly the registry's advantages."""

from __future__ import annotations

import json
import random

import pytest
import torch

from rsrl import estimators
from rsrl.train import trl_trainer


def test_trl_is_the_pinned_version_with_unchanged_internals(monkeypatch):
    trl_trainer.check_trl()
    monkeypatch.setitem(trl_trainer.PINNED_SOURCE_SHA256, "_calculate_rewards", "0" * 64)
    with pytest.raises(trl_trainer.TRLDriftError, match="_calculate_rewards"):
        trl_trainer.check_trl()


def test_trl_trainer_imports_without_vllm():
    # In a fresh process (this one may have imported TRL already): the probe is replaced before TRL's trainer
    # modules load, so importing GRPOTrainer does not import vLLM, which is installed in this environment.
    import importlib.util
    import subprocess
    import sys

    assert importlib.util.find_spec("vllm") is not None
    code = (
        "import sys; from rsrl.train import trl_trainer as t; t.hide_vllm_from_trl(); "
        "from trl import GRPOTrainer; print('vllm' in sys.modules)"
    )
    import os
    from pathlib import Path

    import rsrl

    env = {**os.environ, "PYTHONPATH": str(Path(rsrl.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    # the last line: a tracking library may print a notice on import (e.g. W&B's offline mode)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def _tiny(tmp_path):
    import pandas as pd

    from rsrl.models.tiny import TinySpec, build
    from rsrl.prompts import build_prompt

    rng = random.Random(0)
    rows = []
    for i in range(64):
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
    df = pd.DataFrame(rows)
    build(df, TinySpec(warmstart_steps=0, max_context=256), tmp_path / "model")
    return df, tmp_path / "model"


def _cfg(**training):
    t = {
        "trainer": "trl",
        "n_samples_per_prompt": 4,
        "rollout_batch_size": 4,
        "train_batch_size": 8,
        "micro_train_batch_size": 4,
        "learning_rate": 1e-3,
        "max_new_tokens": 8,
        "max_steps": 2,
        "save_steps": 2,
        "seed": 0,
        "temperature": 1.0,
    }
    t.update(training)
    return {"training": t, "evaluation": {"grader": {"boxed_only": True, "timeout_s": 5}}}


# Every registered estimator with its last example parameters (drgrpo is TRL's own default, so the check that the
# override changed the advantages cannot apply to it).
TRL_CASES = [(n, estimators.spec(n).examples[-1]) for n in estimators.names() if n != "drgrpo"]


@pytest.mark.slow
@pytest.mark.parametrize("name,params", TRL_CASES, ids=[n for n, _ in TRL_CASES])
def test_trl_loss_receives_registry_advantages(tmp_path, name, params):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    df, path = _tiny(tmp_path)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    args, steps_per_rollout, _ = trl_trainer.grpo_config(_cfg(), tmp_path / "work", use_cpu=True)
    # Rewards in {0, 0.5, 1} from the completion text, so groups differ and advantages are not all zero.
    binary = estimators.spec(name).binary_only

    def reward(prompts, completions, **kw):
        return [float(sum(map(ord, c)) % 2) if binary else float(sum(map(ord, c)) % 3) / 2 for c in completions]

    if "B" in params:  # RiskPO bundles consecutive prompts; a rollout here has 4
        params = {**params, "B": 2}
    if "k" in params:  # groups of N = 4 here; k = N leaves Chen et al.'s advantage zero
        params = {**params, "k": 2}
    est = estimators.get(name, **params)
    cls = trl_trainer._trainer_class()
    seen_rewards, seen_out, seen_loss = [], [], []

    def rows(batch):
        """(prompt ids, completion ids) of each row, without padding: identifies a sample after TRL shuffles."""
        keys = []
        for p, pm, c, cm in zip(
            batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["completion_mask"]
        ):
            keys.append((tuple(p[pm.bool()].tolist()), tuple(c[cm.bool()].tolist())))
        return keys

    class Probe(cls):
        def _calculate_rewards(self, *a, **k):
            r = super()._calculate_rewards(*a, **k)
            seen_rewards.append(r.clone())
            return r

        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            seen_out.append((rows(out), out["advantages"].clone()))
            return out

        def _compute_loss(self, model, inputs):
            seen_loss.append((rows(inputs), inputs["advantages"].clone()))
            return super()._compute_loss(model, inputs)

    trainer = Probe(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_pandas(df[["id", "prompt", "answer"]], preserve_index=False),
        processing_class=tok,
        estimator=est,
        record_path=str(tmp_path / "rollouts.jsonl"),
        steps_per_rollout=steps_per_rollout,
    )
    trainer.train()
    assert len(seen_rewards) == len(seen_out) == 2  # one generation batch per rollout
    # Each rollout's advantages are the registry's, on TRL's own reward matrix grouped [prompts, generations].
    for r, (_, adv) in zip(seen_rewards, seen_out):
        expected = est(r[:, 0].view(-1, 4)).reshape(-1)
        torch.testing.assert_close(adv, expected, rtol=0, atol=0)
        trl_default = r[:, 0] - r[:, 0].view(-1, 4).mean(1).repeat_interleave(4)
        assert not torch.allclose(adv, trl_default)  # the override changed what TRL would have used
        assert adv.abs().sum() > 0
    # TRL shuffles a rollout and splits it into micro-batches; every loss call sees each sample's registry value.
    value = {}
    for keys, adv in seen_out:
        value.update(zip(keys, adv.tolist()))
    n_loss_rows = 0
    for keys, adv in seen_loss:
        assert adv.tolist() == [value[k] for k in keys]
        n_loss_rows += len(keys)
    assert n_loss_rows == 2 * 16
    records = [json.loads(x) for x in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(records) == 2
    # the effective step size each rollout trains with: mean |advantage| of its samples
    for rec, (_, adv) in zip(records, seen_out):
        assert rec["advantage_abs_mean"] == pytest.approx(adv.double().abs().mean().item(), rel=1e-6)


def test_grpo_config_maps_batches_to_rollouts(tmp_path):
    args, spr, _ = trl_trainer.grpo_config(_cfg(rollout_batch_size=8, train_batch_size=16), tmp_path, True)
    assert args.generation_batch_size == 32 and args.num_generations == 4
    assert args.gradient_accumulation_steps == 4 and spr == 2 and args.max_steps == 4
    with pytest.raises(ValueError, match="train_batch_size"):
        trl_trainer.grpo_config(_cfg(train_batch_size=7), tmp_path, True)


def test_reward_function_grades_boxed_answers_against_gold():
    f = trl_trainer.reward_function(boxed_only=True, timeout_s=5)
    got = f(
        prompts=["p"] * 4,
        completions=["so \\boxed{5}", "5", "\\boxed{6}", [{"role": "assistant", "content": "\\boxed{5}"}]],
        answer=["5", "5", "5", "5"],
    )
    assert got == [1.0, 0.0, 0.0, 1.0]
