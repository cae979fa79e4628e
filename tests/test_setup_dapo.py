"""DAPO's clip-higher and dynamic sampling on the TRL path: the kept groups and TRL's own clip bounds."""

from __future__ import annotations

import numpy as np
import pytest

from rsrl import config as rcfg
from rsrl import dapo


def test_kept_groups_are_those_whose_rewards_differ():
    r = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]])
    assert dapo.kept_groups(r).tolist() == [False, True, False, True, True]  # 0 < mean < 1, strictly
    assert dapo.kept_groups(r, (0.3, 1.0)).tolist() == [False, False, False, True, True]
    torch = pytest.importorskip("torch")
    assert dapo.kept_groups(torch.tensor(r)).tolist() == [False, True, False, True, True]


def test_clip_bounds_default_to_symmetric():
    assert dapo.clip_bounds({"eps_clip": 0.2}) == (0.2, 0.2)
    assert dapo.clip_bounds({"eps_clip": 0.2, "eps_clip_high": 0.28}) == (0.2, 0.28)
    assert dapo.dynamic_sampling({}) == {"enable": False, "reward_range": (0.0, 1.0), "prompt_factor": 1.0}


def test_trl_config_gets_the_clip_bounds(repo, tmp_path):
    pytest.importorskip("trl")
    from rsrl.train.trl_trainer import grpo_config

    cfg = rcfg.load(repo / "config" / "demo.yaml")
    cfg["training"].update(eps_clip=0.2, eps_clip_high=0.28)
    args, _, _ = grpo_config(cfg, tmp_path, use_cpu=True)
    assert (args.epsilon, args.epsilon_high) == (0.2, 0.28)
    cfg["training"].pop("eps_clip_high")
    args, _, _ = grpo_config(cfg, tmp_path, use_cpu=True)
    assert args.epsilon_high in (None, 0.2)  # symmetric: TRL reads None as epsilon


@pytest.mark.slow
def test_trl_drops_the_all_equal_groups_from_the_loss(tmp_path):
    """Dynamic sampling on TRL: the loss mask is zero exactly on the samples of groups whose rewards are all equal,
    and the loss's token count is that of the kept samples."""
    pytest.importorskip("torch")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rsrl import estimators
    from rsrl.train import trl_trainer
    from test_train_trl import _cfg, _tiny

    df, path = _tiny(tmp_path)
    args, steps_per_rollout, _ = trl_trainer.grpo_config(_cfg(), tmp_path / "work", use_cpu=True)

    def reward(prompts, completions, **kw):  # half the prompts: all wrong (a filtered group)
        return [float(sum(map(ord, c)) % 2) if sum(map(ord, p)) % 2 else 0.0 for p, c in zip(prompts, completions)]

    seen_rewards, seen_loss = [], []

    class Probe(trl_trainer._trainer_class()):
        def _calculate_rewards(self, *a, **k):
            r = super()._calculate_rewards(*a, **k)
            seen_rewards.append(r[:, 0].clone())
            return r

        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            seen_loss.append((out["tool_mask"].clone(), out["completion_mask"].clone(), out["num_items_in_batch"]))
            return out

    trainer = Probe(
        model=AutoModelForCausalLM.from_pretrained(path),
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_pandas(df[["id", "prompt", "answer"]], preserve_index=False),
        processing_class=AutoTokenizer.from_pretrained(path),
        estimator=estimators.get("grpo"),
        steps_per_rollout=steps_per_rollout,
        keep_range=(0.0, 1.0),
    )
    trainer.train()
    assert seen_rewards and len(seen_rewards) == len(seen_loss)
    dropped = 0
    for r, (mask, completion, items) in zip(seen_rewards, seen_loss):
        groups = r.view(-1, 4)
        kept = ((groups.mean(1) > 0) & (groups.mean(1) < 1)).repeat_interleave(4)
        assert mask.amax(1).bool().tolist() == kept.tolist()
        assert int(items) == int((completion * kept.unsqueeze(1)).sum())
        dropped += int((~kept).sum())
    assert dropped > 0
