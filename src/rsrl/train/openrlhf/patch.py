"""The one place where rsrl changes OpenRLHF: group advantages from :func:`rsrl.estimators.get`, and the stop
sequences of rollouts (:mod:`rsrl.stops`).

OpenRLHF 0.11.2 has no plugin mechanism for advantage estimators. Its advantages are computed in
``RemoteExperienceMaker.compute_advantages_and_returns`` (``openrlhf/trainer/ppo_utils/experience_maker.py``),
inside the PPO trainer's Ray actor, in this order:

1. ``apply_length_penalties(experiences, args)`` -- a module-level function, looked up in the module's globals at
   call time, that edits ``experience.rewards`` in place;
2. rewards are gathered by ``experience.index`` into ``[num_prompts, n_samples_per_prompt]`` and shaped per
   ``--algo.advantage.estimator`` (``dr_grpo``: subtract the group mean, nothing else);
3. the shaped scalar is placed on each response's last token (``compute_reward``, KL coefficient 0 here) and
   spread over the response as the undiscounted return (``gamma = 1``), which is the token advantage; ``dr_grpo``
   is not whitened across the batch.

The seam
--------
Runs launch OpenRLHF with ``--algo.advantage.estimator dr_grpo`` (the *carrier*) and replace the module attribute
``experience_maker.apply_length_penalties`` by a wrapper that calls the original, then groups the penalised
rewards exactly as step 2 does and overwrites them with the registry's advantages
``rsrl.estimators.get(name, **params)(rewards[G, N])``. Step 2 then subtracts their group mean, which is zero for
a centred estimator (grpo, drgrpo, rloo, rs -- for rs, ``mean exp(beta (r - Z)) = 1`` by the definition of Z --,
passk_chen, passk_mahdavi) up to float rounding, and not zero for the others (pkpo's weights are never negative,
riskpo's never positive). The seam's second half, a wrapper of the module-level ``compute_reward`` (step 3, called
once per experience in experience order), therefore replaces each re-centred reward vector by the exact advantages
queued by the first half, after checking that it received the rows it expects: OpenRLHF trains on the registry's
advantages exactly. ``--reward.clip_range`` clamps after the seam; the command line widens it so it never binds.

How the patch reaches the actor: Ray starts fresh worker processes that import OpenRLHF from disk, so a patch in
the driver alone never reaches the trainer actor. The driver (:mod:`rsrl.train.openrlhf.launch`) initialises Ray
with a job ``runtime_env`` whose ``worker_process_setup_hook`` is :func:`install` and whose env vars name the
estimator (``RSRL_ADVANTAGE_ESTIMATOR``, ``RSRL_ADVANTAGE_PARAMS`` as JSON). :func:`install` runs at the start of
every worker process of the job; it registers an import hook that patches the module right after it is first
imported (or patches it at once if it already is), so no worker imports OpenRLHF earlier than it would anyway.

Guards: the patch refuses to apply unless the installed OpenRLHF is exactly :data:`OPENRLHF_VERSION` and the source of
``compute_advantages_and_returns`` matches :data:`PINNED_FINGERPRINT` (the code whose order of operations this
docstring describes). An upgrade therefore fails loudly at start-up, never silently at step 300.

Removing it: delete this module and the ``runtime_env`` in ``launch.py``; pass an OpenRLHF estimator name instead.

Stop sequences
--------------
OpenRLHF 0.11.2 has no flag for stop strings or stop token ids: ``SamplesGenerator._dispatch_prompts_to_vllm``
(``openrlhf/trainer/ppo_utils/samples_generator.py``, run in the PPO trainer's Ray actor) builds the rollouts'
``vllm.SamplingParams`` from temperature, top-p, top-k, token limits and ``skip_special_tokens`` only, through the
module attribute ``SamplingParams``. :func:`patch_stops` replaces that attribute by a factory that adds the
model's ``stop`` strings and ``stop_token_ids`` (:class:`rsrl.stops.Stops`, as JSON in ``RSRL_STOP``), so a rollout
ends where an evaluation sample ends. Guarded like the advantage seam: version and :data:`STOP_FINGERPRINT` of
the method that builds the parameters. :func:`install` applies it in every worker of the job when ``RSRL_STOP``
is set.

The wrapper also appends one JSON line per rollout (step, mean |advantage| of the registry's advantages, per
prompt: id hash, correct samples, samples) to ``RSRL_ROLLOUT_RECORD`` when that is set; the metrics table derives
solve rates and the effective step size from it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

OPENRLHF_VERSION = "0.11.2"
TARGET_MODULE = "openrlhf.trainer.ppo_utils.experience_maker"
TARGET_CLASS = "RemoteExperienceMaker"
TARGET_METHOD = "compute_advantages_and_returns"
SEAM_ATTR = "apply_length_penalties"
REWARD_ATTR = "compute_reward"  # module-level, looked up at call time, called once per experience after step 2
#: The OpenRLHF estimator name that carries the registry's advantages through unchanged (group-mean subtraction
#: only; no std division, no batch whitening).
CARRIER_ESTIMATOR = "dr_grpo"
#: sha256 of the source of ``RemoteExperienceMaker.compute_advantages_and_returns`` in OpenRLHF 0.11.2.
PINNED_FINGERPRINT = "1ca04eaeb7190ec872ac601ccf9cee47fb18d42ce2975eddee1475c412be7808"
STOP_MODULE = "openrlhf.trainer.ppo_utils.samples_generator"
STOP_CLASS = "SamplesGenerator"
STOP_METHOD = "_dispatch_prompts_to_vllm"
STOP_ATTR = "SamplingParams"
#: sha256 of the source of ``SamplesGenerator._dispatch_prompts_to_vllm`` in OpenRLHF 0.11.2.
STOP_FINGERPRINT = "a5b0d5d17e1a1504f04e6cb74fe8e6c2914d74d088dc9c3a2f9df19d2e200b49"

ENV_ESTIMATOR = "RSRL_ADVANTAGE_ESTIMATOR"
ENV_PARAMS = "RSRL_ADVANTAGE_PARAMS"
ENV_RECORD = "RSRL_ROLLOUT_RECORD"
ENV_STOP = "RSRL_STOP"
HOOK = f"{__name__}.install"

#: Tolerance of the centring check: |group mean of advantages| <= CENTRED_ATOL * (1 + max |advantage|).
CENTRED_ATOL = 1e-5


class OpenRLHFDriftError(RuntimeError):
    """The installed OpenRLHF is not the version whose internals the seam was written against."""


# ---------------------------------------------------------------------------------------------------------------
# Guards


def method_fingerprint(source: str, cls: str = TARGET_CLASS, method: str = TARGET_METHOD) -> str:
    """sha256 of the source text of ``cls.method`` (its lines as written, decorators included).

    The text, not ``ast.dump``, so the fingerprint is the same under every Python version.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    first = min([item.lineno] + [d.lineno for d in item.decorator_list])
                    text = "\n".join(lines[first - 1 : item.end_lineno])
                    return hashlib.sha256(text.encode()).hexdigest()
    raise OpenRLHFDriftError(
        f"{cls}.{method} not found in the OpenRLHF source; the seam in {__name__} needs OpenRLHF {OPENRLHF_VERSION}."
    )


def target_source_path(module: str = TARGET_MODULE) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise OpenRLHFDriftError(f"cannot find {module}; install openrlhf=={OPENRLHF_VERSION}.")
    return Path(spec.origin)


def check_stop_target(path: str | Path | None = None) -> None:
    """Raise :class:`OpenRLHFDriftError` unless the code that builds the rollouts' sampling parameters is the
    pinned one (the stop seam relies on it; see the module docstring)."""
    path = Path(path) if path else target_source_path(STOP_MODULE)
    fp = method_fingerprint(path.read_text(), STOP_CLASS, STOP_METHOD)
    if fp != STOP_FINGERPRINT:
        raise OpenRLHFDriftError(
            f"{path}: {STOP_CLASS}.{STOP_METHOD} differs from the code the stop seam was written "
            f"against (source fingerprint {fp}, pinned {STOP_FINGERPRINT}); re-check the seam in "
            f"{__name__} before updating the fingerprint."
        )


def check_openrlhf(path: str | Path | None = None) -> None:
    """Raise :class:`OpenRLHFDriftError` unless OpenRLHF is the pinned version with the pinned advantage code (at
    `path`, default: the installed module) and, for the installed OpenRLHF, the pinned rollout sampling code."""
    try:
        version = importlib.metadata.version("openrlhf")
    except importlib.metadata.PackageNotFoundError:
        raise OpenRLHFDriftError(
            f"openrlhf is not installed; install openrlhf=={OPENRLHF_VERSION} (envs/openrlhf-gpu.txt)."
        ) from None
    if version != OPENRLHF_VERSION:
        raise OpenRLHFDriftError(
            f"openrlhf {version} is installed but the advantage seam ({__name__}) was written "
            f"against {OPENRLHF_VERSION}; re-read {TARGET_MODULE}.{TARGET_CLASS}."
            f"{TARGET_METHOD}, update the seam and PINNED_FINGERPRINT."
        )
    installed = not path
    path = Path(path) if path else target_source_path()
    fp = method_fingerprint(path.read_text())
    if fp != PINNED_FINGERPRINT:
        raise OpenRLHFDriftError(
            f"{path}: {TARGET_CLASS}.{TARGET_METHOD} differs from the code the seam was written "
            f"against (source fingerprint {fp}, pinned {PINNED_FINGERPRINT}); re-check the seam in "
            f"{__name__} before updating the fingerprint."
        )
    if installed:
        check_stop_target()


# ---------------------------------------------------------------------------------------------------------------
# The seam


def grouped_rewards(experiences: list, n_samples: int, rewards: list | None = None):
    """Rewards of all experiences as ``[num_prompts, n_samples]`` ordered by ``experience.index``, as OpenRLHF does.

    `rewards` (one tensor per experience) replaces ``experience.rewards``. Returns (grouped, indices, lengths)
    where ``indices``/``lengths`` undo the grouping.
    """
    import torch

    lengths = [len(e.index) for e in experiences]
    indices = torch.tensor(list(itertools.chain.from_iterable(e.index for e in experiences)))
    flat = torch.cat([e.rewards for e in experiences] if rewards is None else list(rewards), dim=0)
    grouped = torch.empty_like(flat)
    grouped[indices] = flat
    return grouped.reshape(-1, n_samples), indices, lengths


class _Pending:
    """The registry's advantages of the current rollout, per experience, between the two halves of the seam."""

    def __init__(self):
        self.queue: deque = deque()


def apply_registry_advantages(
    experiences: list, args: Any, estimator: Callable, pending: _Pending | None = None
) -> Any:
    """Overwrite each ``experience.rewards`` with the registry advantages of its group; return them [G, N].

    The carrier then subtracts each group's mean: nothing for a centred estimator up to float rounding, the group
    mean for one that is not centred (``pkpo``, ``riskpo``). With ``pending`` the exact advantages are queued and
    put back by the ``compute_reward`` half of the seam, which receives each experience's rewards next, in
    experience order, so OpenRLHF trains on the registry's values bit for bit.
    """
    if args.algo.advantage.estimator != CARRIER_ESTIMATOR:
        raise RuntimeError(
            f"the rsrl advantage seam needs --algo.advantage.estimator {CARRIER_ESTIMATOR}; got "
            f"{args.algo.advantage.estimator!r} (see {__name__})."
        )
    rewards, indices, lengths = grouped_rewards(experiences, args.rollout.n_samples_per_prompt)
    adv = estimator(rewards)
    if adv.shape != rewards.shape or adv.dtype != rewards.dtype:
        raise RuntimeError(
            f"estimator {getattr(estimator, '__name__', estimator)} returned {tuple(adv.shape)} "
            f"{adv.dtype} for rewards {tuple(rewards.shape)} {rewards.dtype}"
        )
    mean = adv.double().mean(-1).abs().max().item() if adv.numel() else 0.0
    scale = 1.0 + (adv.double().abs().max().item() if adv.numel() else 0.0)
    centred = mean <= CENTRED_ATOL * scale
    if not centred and pending is None:
        raise RuntimeError(
            f"estimator {getattr(estimator, '__name__', estimator)} is not centred (largest |group "
            f"mean| {mean:.3g}); OpenRLHF's {CARRIER_ESTIMATOR} would re-centre it unless the "
            "compute_reward half of the seam is installed (patch() installs both)."
        )
    per_exp = adv.reshape(-1)[indices].split(lengths)
    for e, a in zip(experiences, per_exp):
        e.rewards = a.clone()
    if pending is not None:
        pending.queue.clear()
        centred_adv = (adv - adv.mean(-1, keepdim=True)).reshape(-1)[indices].split(lengths)
        pending.queue.extend(zip(per_exp, centred_adv))
    return adv


def make_reward_seam(original: Callable, pending: _Pending) -> Callable:
    """The replacement for ``experience_maker.compute_reward``: the rewards the carrier re-centred are replaced by
    the queued exact advantages (checked to be the same rows, in the same order)."""

    def compute_reward_with_registry_advantages(reward, *args, **kwargs):
        import torch

        if pending.queue:
            exact, carried = pending.queue.popleft()
            if carried.shape != reward.shape or not torch.allclose(
                carried.double(), reward.double(), rtol=1e-5, atol=1e-6
            ):
                pending.queue.clear()
                raise RuntimeError(
                    "the rsrl advantage seam lost track of OpenRLHF's experience order (compute_reward "
                    "received other rewards than the carrier's); re-check the seam against the "
                    f"pinned OpenRLHF {OPENRLHF_VERSION}."
                )
            reward = exact.to(reward.dtype)
        return original(reward, *args, **kwargs)

    compute_reward_with_registry_advantages.__wrapped__ = original  # type: ignore[attr-defined]
    return compute_reward_with_registry_advantages


class _Recorder:
    """Appends per-rollout outcomes to a JSONL file; numbers steps as OpenRLHF's global_step does (from 1)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.step: int | None = None

    def _start_step(self, args: Any) -> int:
        # After a resume OpenRLHF continues from the DeepSpeed checkpoint's global step; records written after
        # that checkpoint are superseded (readers keep the last record per step).
        try:
            if args.ckpt.load_enable:
                latest = Path(args.ckpt.path) / "_actor" / "latest"
                if latest.exists():
                    tag = latest.read_text().strip()
                    return int(tag.removeprefix("global_step"))
        except (AttributeError, ValueError):
            pass
        return 0

    def record(self, experiences: list, raw_rewards: list, args: Any, advantage_abs_mean: float | None = None) -> None:
        from rsrl.train.progress import append_record, prompt_key

        if self.step is None:
            self.step = self._start_step(args)
        self.step += 1
        n = args.rollout.n_samples_per_prompt
        rewards, _, _ = grouped_rewards(experiences, n, raw_rewards)
        prompts = [""] * rewards.numel()
        for e in experiences:
            for i, p in zip(e.index, e.prompts or [""] * len(e.index)):
                prompts[i] = p
        # A reward of at least 0.5 counts as solved (the reward is 1 for a correct answer, 0 otherwise).
        groups = [
            (prompt_key(prompts[g * n]), int((rewards[g] >= 0.5).sum().item()), n) for g in range(rewards.shape[0])
        ]
        append_record(self.path, self.step, groups, float(rewards.float().mean().item()), advantage_abs_mean)


def make_seam(
    original: Callable, estimator: Callable, record: str | Path | None = None, pending: _Pending | None = None
) -> Callable:
    """The replacement for ``experience_maker.apply_length_penalties``."""
    recorder = _Recorder(record) if record else None

    def apply_length_penalties_then_registry_advantages(experiences, args):
        raw = [e.rewards.detach().clone() for e in experiences]
        out = original(experiences, args)
        adv = apply_registry_advantages(experiences, args, estimator, pending)
        if recorder is not None:
            try:
                scale = float(adv.double().abs().mean().item()) if adv.numel() else None
                recorder.record(experiences, raw, args, scale)
            except Exception:  # bookkeeping must never stop training
                log.exception("could not record rollout outcomes to %s", recorder.path)
        return out

    apply_length_penalties_then_registry_advantages.__wrapped__ = original  # type: ignore[attr-defined]
    apply_length_penalties_then_registry_advantages.rsrl_estimator = estimator  # type: ignore[attr-defined]
    return apply_length_penalties_then_registry_advantages


def patch(
    module: ModuleType | None = None,
    estimator: str | None = None,
    params: dict | None = None,
    record: str | Path | None = None,
    check: bool = True,
) -> ModuleType:
    """Install the seam in `module` (default: the imported OpenRLHF experience maker). Idempotent.

    `estimator`/`params` default to the environment (``RSRL_ADVANTAGE_ESTIMATOR``, ``RSRL_ADVANTAGE_PARAMS``).
    """
    from rsrl import estimators

    if module is None:
        module = importlib.import_module(TARGET_MODULE)
    if check:
        check_openrlhf(getattr(module, "__file__", None))
    name = estimator or os.environ.get(ENV_ESTIMATOR)
    if not name:
        raise ValueError(
            f"no estimator given (set {ENV_ESTIMATOR} to a registry name, one of "
            f"{estimators.names()}, and {ENV_PARAMS} to its parameters as JSON)."
        )
    if params is None:
        params = json.loads(os.environ.get(ENV_PARAMS) or "{}")
    record = record if record is not None else os.environ.get(ENV_RECORD) or None
    fn = estimators.get(name, **params)
    current = getattr(module, SEAM_ATTR)
    original = getattr(current, "__wrapped__", current)
    pending = _Pending()
    setattr(module, SEAM_ATTR, make_seam(original, fn, record, pending))
    current = getattr(module, REWARD_ATTR)
    setattr(module, REWARD_ATTR, make_reward_seam(getattr(current, "__wrapped__", current), pending))
    log.info("rsrl advantage seam installed in %s: %s %s", module.__name__, name, params)
    return module


def unpatch(module: ModuleType) -> None:
    for attr in (SEAM_ATTR, REWARD_ATTR):
        current = getattr(module, attr)
        setattr(module, attr, getattr(current, "__wrapped__", current))


def stop_env(stops) -> str:
    """The ``RSRL_STOP`` value for :class:`rsrl.stops.Stops`."""
    return json.dumps({"stop": list(stops.strings), "stop_token_ids": list(stops.token_ids)})


def with_stops(factory: Callable, stop: list[str], stop_token_ids: list[int]) -> Callable:
    """`factory` (``vllm.SamplingParams``) with the given stop strings and stop token ids added to every call."""

    def sampling_params_with_stops(*args, **kwargs):
        kwargs["stop"] = list(dict.fromkeys([*(kwargs.get("stop") or []), *stop]))
        kwargs["stop_token_ids"] = list(dict.fromkeys([*(kwargs.get("stop_token_ids") or []), *stop_token_ids]))
        return factory(*args, **kwargs)

    sampling_params_with_stops.__wrapped__ = factory  # type: ignore[attr-defined]
    return sampling_params_with_stops


def patch_stops(module: ModuleType | None = None, stops: dict | None = None, check: bool = True) -> ModuleType:
    """Make every rollout's ``SamplingParams`` carry the stop sequences (default: ``RSRL_STOP``). Idempotent."""
    if module is None:
        module = importlib.import_module(STOP_MODULE)
    if check:
        check_openrlhf(target_source_path())
        check_stop_target(getattr(module, "__file__", None))
    if stops is None:
        stops = json.loads(os.environ.get(ENV_STOP) or "{}")
    current = getattr(module, STOP_ATTR)
    original = getattr(current, "__wrapped__", current)
    setattr(module, STOP_ATTR, with_stops(original, list(stops.get("stop", [])), list(stops.get("stop_token_ids", []))))
    log.info("rsrl stop seam installed in %s: %s", module.__name__, stops)
    return module


class _PatchOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: load the target module normally, then patch it before anyone uses it."""

    def __init__(self, target: str = TARGET_MODULE, apply: Callable | None = None):
        self.target = target
        self.apply = apply or patch

    def find_spec(self, fullname, path, target=None):
        if fullname != self.target:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None:
            return None
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        self.apply(module)


def _install_one(target: str, apply: Callable) -> None:
    if target in sys.modules:
        apply(sys.modules[target])
    elif not any(isinstance(f, _PatchOnImport) and f.target == target for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport(target, apply))


def install() -> None:
    """Ray ``worker_process_setup_hook``: patch OpenRLHF in this process where an estimator (advantage seam) or
    stop sequences (stop seam) are configured."""
    if os.environ.get(ENV_ESTIMATOR):
        _install_one(TARGET_MODULE, patch)
    if os.environ.get(ENV_STOP):
        _install_one(STOP_MODULE, patch_stops)


def runtime_env(
    estimator: str, params: dict, record: str | Path | None = None, extra_env: dict | None = None, stops=None
) -> dict:
    """Ray job ``runtime_env`` carrying the seams to every worker process (`stops`: :class:`rsrl.stops.Stops`)."""
    env = {ENV_ESTIMATOR: estimator, ENV_PARAMS: json.dumps(params, sort_keys=True)}
    if record:
        env[ENV_RECORD] = str(record)
    if stops is not None:
        env[ENV_STOP] = stop_env(stops)
    env.update(extra_env or {})
    return {"env_vars": env, "worker_process_setup_hook": HOOK}
