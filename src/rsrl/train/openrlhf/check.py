"""Check the advantage seam against OpenRLHF's own advantage code.

    python -m rsrl.train.openrlhf.check [--stub-missing] [--json out.json]

Builds rollouts the way OpenRLHF 0.11.2 does (its ``SamplesGenerator._process_response_into_experience`` on
vLLM-style responses, then ``RemoteExperienceMaker.split_rollout_samples`` into micro-batches, with and without
sequence-length balancing, which permutes samples across micro-batches), runs the real
``RemoteExperienceMaker.compute_advantages_and_returns`` with the seam installed, and compares the per-token
advantages with ``rsrl.estimators.get(...)`` applied to the ``[prompts, samples]`` reward matrix, for every
estimator. It also runs a negative control: without the seam, OpenRLHF's ``dr_grpo`` must *not* reproduce grpo.

On a GPU node it runs against the real imports (a pre-flight before a long run); on CPU, ``--stub-missing``
replaces the CUDA-only packages (flash_attn, deepspeed, ray, vllm) by inert stub modules first. Exit status 0 when
every case matches.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from types import ModuleType, SimpleNamespace
from unittest.mock import MagicMock

STUBBED = ("flash_attn", "deepspeed", "ray", "vllm")

#: (estimator, params) cases: every registry estimator, rs at several betas.


def cases() -> list[tuple[str, dict, bool]]:
    """(estimator, params, binary_only) for every registered estimator and each of its example parameter sets."""
    from rsrl import estimators

    return [
        (name, ex, estimators.spec(name).binary_only)
        for name in estimators.names()
        for ex in estimators.spec(name).examples
    ]


class _StubModule(ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = MagicMock(name=f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots):
        self.roots = set(roots)

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = _StubModule(spec.name)
        mod.__path__ = []
        return mod

    def exec_module(self, module):
        pass


def stub_missing(names=STUBBED) -> list[str]:
    """Register inert stub modules for those of `names` that are not installed; return the stubbed names."""
    missing = [n for n in names if n not in sys.modules and importlib.util.find_spec(n) is None]
    if missing:
        sys.meta_path.append(_StubFinder(missing))
    return missing


def _args(n_samples: int, dynamic: bool, micro: int):
    return SimpleNamespace(
        rollout=SimpleNamespace(
            n_samples_per_prompt=n_samples, micro_batch_size=micro, max_new_tokens=64, max_tokens_per_gpu=96
        ),
        reward=SimpleNamespace(
            clip_range=(-1e4, 1e4),
            overlong_buffer_len=None,
            overlong_penalty_factor=1.0,
            stop_properly_penalty_coef=None,
        ),
        data=SimpleNamespace(max_len=128),
        algo=SimpleNamespace(advantage=SimpleNamespace(estimator="dr_grpo", gamma=1.0, lambd=1.0, no_std_norm=False)),
        train=SimpleNamespace(dynamic_batch_enable=dynamic),
        actor=SimpleNamespace(num_nodes=1, num_gpus_per_node=2),
        ds=SimpleNamespace(ring_attn_size=1, tensor_parallel_size=1),
        ckpt=SimpleNamespace(load_enable=False, path="/nonexistent"),
    )


def make_rollout(n_prompts: int, n_samples: int, seed: int, binary: bool = True):
    """vLLM-style responses (prompt-major, as the samples generator returns them) and their rewards [G, N]."""
    import torch
    from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator

    g = torch.Generator().manual_seed(seed)
    if binary:
        # Mixed groups: some all-wrong, some all-right, most with a few correct samples.
        p = torch.rand(n_prompts, 1, generator=g) ** 2
        p[0] = 0.0
        if n_prompts > 1:
            p[1] = 1.0
        rewards = (torch.rand(n_prompts, n_samples, generator=g) < p).float()
    else:
        rewards = torch.rand(n_prompts, n_samples, generator=g)
    samples = []
    for i in range(n_prompts):
        prompt_len = int(torch.randint(5, 20, (1,), generator=g))
        prompt_tokens = torch.randint(3, 500, (prompt_len,), generator=g).tolist()
        for j in range(n_samples):
            resp_len = int(torch.randint(1, 40, (1,), generator=g))
            resp = torch.randint(3, 500, (resp_len,), generator=g).tolist()
            r = float(rewards[i, j])
            response = {
                "observation_tokens": prompt_tokens + resp,
                "action_ranges": [(prompt_len, prompt_len + resp_len)],
                "reward": r,
                "scores": r,
                "prompt": f"prompt {i}",
                "label": str(i),
                "rollout_log_probs": None,
                "truncated": resp_len >= 39,
                "extra_logs": {},
            }
            samples.append(SamplesGenerator._process_response_into_experience(None, response, max_len=128))
    return samples, rewards


def run_case(
    estimator: str,
    params: dict,
    *,
    patched: bool,
    dynamic: bool,
    n_prompts=6,
    n_samples=8,
    seed=0,
    binary=True,
    micro=5,
) -> dict:
    """One rollout through OpenRLHF's code; returns the largest deviation from the registry's advantages."""
    import torch
    from openrlhf.trainer.ppo_utils import experience_maker as em

    from rsrl import estimators
    from rsrl.train.openrlhf import patch as seam

    args = _args(n_samples, dynamic, micro)
    maker = em.RemoteExperienceMaker.__new__(em.RemoteExperienceMaker)
    maker.strategy = SimpleNamespace(args=args)
    maker.args = args
    maker.advantage_estimator = args.algo.advantage.estimator
    maker.kl_ctl = SimpleNamespace(value=0.0)
    maker.tokenizer = SimpleNamespace(pad_token_id=0)
    samples, rewards = make_rollout(n_prompts, n_samples, seed, binary)
    experiences = maker.split_rollout_samples(samples)
    for e in experiences:  # as make_experience does: KL of the (absent) reference model is zero
        e.kl = torch.zeros_like(e.action_mask, dtype=torch.float32)
    if patched:
        seam.patch(em, estimator, params, record=None)
    try:
        out = maker.compute_advantages_and_returns(experiences)
    finally:
        seam.unpatch(em)
    expected = estimators.get(estimator, **params)(rewards).reshape(-1)
    # The policy loss reads advantages only where action_mask is set (the response tokens).
    worst = 0.0
    for e in out:
        mask = e.action_mask.bool()
        for row, idx in enumerate(e.index):
            adv = e.advantages[row][mask[row]]
            worst = max(worst, float((adv - expected[idx]).abs().max()))
    return {
        "estimator": estimator,
        "params": params,
        "patched": patched,
        "dynamic_batch": dynamic,
        "binary": binary,
        "micro_batches": len(experiences),
        "max_abs_diff": worst,
    }


def check_hook(record: str) -> dict:
    """The Ray worker hook path: install() before OpenRLHF is imported patches it on import, and records."""
    import os

    from rsrl.train.openrlhf import patch as seam

    if seam.TARGET_MODULE in sys.modules:
        raise RuntimeError("check_hook must run before OpenRLHF's experience maker is imported")
    from rsrl.estimators.risk_sensitive import NAME as RS

    os.environ.update(seam.runtime_env(RS, {"beta": 2.0}, record)["env_vars"])
    try:
        seam.install()
        from openrlhf.trainer.ppo_utils import experience_maker as em

        hooked = getattr(em.apply_length_penalties, "rsrl_estimator", None)
        ok = hooked is not None and hooked.estimator == RS and hooked.params == {"beta": 2.0}
        # One rollout through the hooked module writes one record.
        args = _args(4, False, 4)
        maker = em.RemoteExperienceMaker.__new__(em.RemoteExperienceMaker)
        maker.strategy, maker.args, maker.advantage_estimator = SimpleNamespace(args=args), args, "dr_grpo"
        maker.kl_ctl, maker.tokenizer = SimpleNamespace(value=0.0), SimpleNamespace(pad_token_id=0)
        samples, rewards = make_rollout(3, 4, 123)
        experiences = maker.split_rollout_samples(samples)
        for e in experiences:
            e.kl = torch_zeros_like(e.action_mask)
        maker.compute_advantages_and_returns(experiences)
        seam.unpatch(em)
        with open(record) as f:
            lines = [json.loads(x) for x in f]
        solved = sorted(c > 0 for _, c, _ in lines[-1]["groups"])
        expect = sorted(bool(x) for x in (rewards.sum(-1) > 0).tolist())
        ok = ok and len(lines) == 1 and lines[0]["step"] == 1 and solved == expect
        return {"hook_installed": hooked is not None, "records": lines, "ok": ok}
    finally:
        for k in seam.runtime_env(RS, {}, record)["env_vars"]:
            os.environ.pop(k, None)


def torch_zeros_like(mask):
    import torch

    return torch.zeros_like(mask, dtype=torch.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stub-missing", action="store_true", help="stub flash_attn/deepspeed/ray/vllm if absent")
    ap.add_argument("--json", help="write the case results here")
    ap.add_argument("--atol", type=float, default=1e-5)
    a = ap.parse_args(argv)
    stubbed = stub_missing() if a.stub_missing else []
    import tempfile

    from rsrl.train.openrlhf import patch as seam

    seam.check_openrlhf()
    with tempfile.TemporaryDirectory() as tmp:
        hook = check_hook(f"{tmp}/rollouts.jsonl")
    results = []
    for dynamic in (False, True):
        for binary in (True, False):
            for est, params, binary_only in cases():
                if binary_only and not binary:
                    continue
                results.append(run_case(est, params, patched=True, dynamic=dynamic, binary=binary, seed=len(results)))
    from rsrl.estimators.group_baselines import GRPO

    control = run_case(GRPO, {}, patched=False, dynamic=False)
    ok = all(r["max_abs_diff"] <= a.atol for r in results)
    control_ok = control["max_abs_diff"] > 0.1
    report = {
        "ok": ok and control_ok and hook["ok"],
        "stubbed": stubbed,
        "cases": results,
        "negative_control": control,
        "hook": hook,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    for r in results + [control]:
        print(
            f"{r['estimator']:7s} {json.dumps(r['params']):16s} patched={r['patched']!s:5s} "
            f"dynamic={r['dynamic_batch']!s:5s} binary={r['binary']!s:5s} max|diff|={r['max_abs_diff']:.3g}"
        )
    print(f"worker hook: installed={hook['hook_installed']} ok={hook['ok']}")
    print("OK" if report["ok"] else "MISMATCH")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
