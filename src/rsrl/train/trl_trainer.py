"""Single-machine training (CPU or one GPU) with TRL's GRPOTrainer and the estimators of :mod:`rsrl.estimators`.

TRL 1.16.0 computes advantages inline in ``GRPOTrainer._generate_and_score_completions`` (group mean, optional
std scaling) and has no hook for other estimators. :class:`RegistryGRPOTrainer` keeps TRL's code path and
replaces only its result: it remembers the reward matrix TRL computed (``_calculate_rewards``, gathered over
processes), and after TRL returns it overwrites ``advantages`` with the registry's advantages of the same rewards,
grouped ``[prompts, num_generations]`` as TRL groups them (each prompt's generations are consecutive), and sliced to
this process as TRL slices them. The policy loss (``_compute_loss``) then reads exactly the registry's values.

DAPO's parts (:mod:`rsrl.dapo`): clip-higher is TRL's own ``epsilon_high``. Dynamic sampling cannot refill in
TRL (the generation batch is drawn before the rewards are known); with ``training.dynamic_sampling.enable`` the
groups whose mean reward lies outside the range are dropped from the loss instead (a zero loss mask, TRL's
``tool_mask`` input of ``_compute_loss``; ``num_items_in_batch`` recounted), so an update has fewer samples.

:data:`TRL_VERSION` and :data:`PINNED_SOURCE_SHA256` (of the two overridden methods) guard the override: a
different TRL fails at start-up (and in the drift test).

One *step* is one rollout (a generation batch of ``rollout_batch_size`` prompts x ``n_samples_per_prompt``), as for
OpenRLHF. TRL batch sizes count completions: ``per_device_train_batch_size = micro_train_batch_size``,
``gradient_accumulation_steps = train_batch_size / micro_train_batch_size`` and ``generation_batch_size =
rollout_batch_size * n_samples_per_prompt``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import logging
import os
from pathlib import Path

import pandas as pd

from rsrl import dapo, estimators, grid, tracking
from rsrl import prompts as templates
from rsrl import resources as rsrc
from rsrl import stops as rstops
from rsrl.config import check_trl_training
from rsrl.io import atomic_path, write_table
from rsrl.train import progress as tm
from rsrl.train.snapshots import mark_exported, prepare_work, restart_if_exported

log = logging.getLogger(__name__)

TRL_VERSION = "1.16.0"
#: sha256 of the source of the GRPOTrainer methods the override relies on, in TRL 1.16.0.
PINNED_SOURCE_SHA256 = {
    "_generate_and_score_completions": "1fa48922792dcd5c72da155cfe99db477771a7c61cde15519fe8c86d0cdc0b65",
    "_calculate_rewards": "736ae29b083840b5da2638b55ad1258659c644589991fe6a494131354952efef",
}


class TRLDriftError(RuntimeError):
    pass


def hide_vllm_from_trl() -> None:
    """Make TRL treat vLLM as absent in this process, before TRL's trainer modules are imported.

    The cells here sample with transformers' ``generate`` (TRL's ``use_vllm`` is off), but with vLLM installed
    TRL 1.16 imports it when ``trl.GRPOTrainer`` is first imported: about 6 of the 13 s that import takes on the
    CI machine, once per training job. TRL's modules read the probe ``trl.import_utils.is_vllm_available`` by name
    at import time, so replacing it first is enough; a TRL without that probe only loses the saving."""
    import importlib
    import sys

    if "trl.trainer.grpo_trainer" not in sys.modules:
        importlib.import_module("trl.import_utils").is_vllm_available = lambda min_version=None: False


def source_sha256(name: str) -> str:
    from trl import GRPOTrainer

    return hashlib.sha256(inspect.getsource(getattr(GRPOTrainer, name)).encode()).hexdigest()


def check_trl() -> None:
    version = importlib.metadata.version("trl")
    if version != TRL_VERSION:
        raise TRLDriftError(
            f"trl {version} is installed; {__name__} overrides GRPOTrainer internals of trl "
            f"{TRL_VERSION} (envs/cpu.txt pins it). Re-read GRPOTrainer._generate_and_score_completions "
            "and update the override and PINNED_SOURCE_SHA256."
        )
    for name, pinned in PINNED_SOURCE_SHA256.items():
        got = source_sha256(name)
        if got != pinned:
            raise TRLDriftError(
                f"trl GRPOTrainer.{name} differs from the code {__name__} was written against "
                f"(sha256 {got}, pinned {pinned}); re-check the override before updating the pin."
            )


def _trainer_class():
    import torch
    from trl import GRPOTrainer

    class RegistryGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose advantages come from ``rsrl.estimators`` (see the module docstring)."""

        def __init__(self, *args, estimator, record_path=None, steps_per_rollout: int = 1, keep_range=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.rsrl_keep_range = keep_range  # dynamic sampling: (min, max) of a kept group's mean reward
            self.rsrl_estimator = estimator
            self.rsrl_record_path = record_path
            self.rsrl_steps_per_rollout = steps_per_rollout
            self._rsrl_rewards = None

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._rsrl_rewards = rewards_per_func
            return rewards_per_func

        def _generate_and_score_completions(self, inputs):
            self._rsrl_rewards = None
            output = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return output
            if self._rsrl_rewards is None:
                raise RuntimeError(
                    "TRL did not compute rewards through _calculate_rewards; the override in "
                    f"{__name__} does not match this TRL version."
                )
            per_func = self._rsrl_rewards
            rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
            grouped = torch.nan_to_num(rewards, nan=0.0).view(-1, self.num_generations)
            adv = self.rsrl_estimator(grouped).reshape(-1)
            n_local = len(inputs)
            start = self.accelerator.process_index * n_local
            output["advantages"] = adv[start : start + n_local].to(output["advantages"].dtype)
            if self.rsrl_keep_range is not None:
                self._rsrl_filter(output, grouped, start, n_local)
            if self.accelerator.is_main_process:
                self._rsrl_record(inputs, grouped, float(adv.double().abs().mean()))
            return output

        def _rsrl_filter(self, output, grouped, start, n_local):
            """Dynamic sampling without refills: the dropped groups' samples leave the loss (see the module doc)."""
            keep = dapo.kept_groups(grouped, self.rsrl_keep_range).repeat_interleave(self.num_generations)
            keep = keep[start : start + n_local].to(output["completion_mask"].dtype).unsqueeze(1)
            loss_mask = output.get("tool_mask", torch.ones_like(output["completion_mask"])) * keep
            output["tool_mask"] = loss_mask
            output["num_items_in_batch"] = self.accelerator.gather((output["completion_mask"] * loss_mask).sum()).sum()

        def _rsrl_record(self, inputs, grouped, advantage_abs_mean: float):
            if not self.rsrl_record_path:
                return
            step = self.state.global_step // self.rsrl_steps_per_rollout + 1
            n = self.num_generations
            prompts = [x["prompt"] for x in inputs]
            groups = [
                (tm.prompt_key(prompts[g * n]), int((grouped[g] >= 0.5).sum()), n) for g in range(grouped.shape[0])
            ]
            tm.append_record(self.rsrl_record_path, step, groups, float(grouped.float().mean()), advantage_abs_mean)

    return RegistryGRPOTrainer


def reward_function(boxed_only: bool, timeout_s: float):
    """TRL reward function: the evaluation's grader on the gold ``answer`` column."""
    from rsrl.grading.reward import rewards

    def correct(prompts, completions, answer, **kwargs):
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return rewards(texts, [str(a) for a in answer], boxed_only=boxed_only, timeout_s=timeout_s)

    correct.__name__ = "correct"
    return correct


def generation_stop_ids(stops: rstops.Stops, model: str) -> list[int]:
    """The end-of-sequence ids TRL generates with: every stop sequence of `model` (:mod:`rsrl.stops`).

    TRL 1.16 samples with transformers' ``generate``, which stops on ``generation_config.eos_token_id``; TRL reads
    the same ids from the policy's generation config to cut each completion after its first stop token. A stop text
    that is no special token of the tokenizer cannot be expressed as such an id, so it fails here."""
    if stops.text_only:
        raise ValueError(
            f"model {model!r}: stop sequence(s) {list(stops.text_only)} are no single special token of "
            "its tokenizer, and the TRL trainer (transformers generate) stops on token ids only. Train "
            f"this model with the openrlhf trainer, or set models.{model}.stop to special tokens of its "
            "tokenizer."
        )
    return list(stops.token_ids)


def _snapshot_callback(work: Path, eval_steps: set[int], steps_per_rollout: int, tokenizer):
    from transformers import TrainerCallback

    class Snapshots(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % steps_per_rollout:
                return
            step = state.global_step // steps_per_rollout
            if step in eval_steps and state.is_world_process_zero:
                with atomic_path(work / "snapshots" / f"step{step}") as tmp:
                    model.save_pretrained(tmp)
                    tokenizer.save_pretrained(tmp)

    return Snapshots()


def last_checkpoint(output_dir: Path) -> str | None:
    ckpts = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    if not ckpts:
        return None
    return str(max(ckpts, key=lambda p: int(p.name.split("-")[-1])))


def grpo_config(cfg: dict, work: Path, use_cpu: bool):
    from trl import GRPOConfig

    t = cfg["training"]
    n = t["n_samples_per_prompt"]
    rbs = t.get("rollout_batch_size", 1)
    tbs = t.get("train_batch_size", rbs * n)
    micro = t.get("micro_train_batch_size", min(tbs, 8))
    check_trl_training(t)
    steps_per_rollout = rbs * n // tbs
    grader = cfg["evaluation"]["grader"]
    kwargs = dict(
        output_dir=str(work / "trl"),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=tbs // micro,
        generation_batch_size=rbs * n,
        num_generations=n,
        num_iterations=1,
        max_completion_length=t.get("max_new_tokens", 256),
        temperature=t.get("temperature", 1.0),
        top_p=t.get("top_p", 1.0),
        learning_rate=t["learning_rate"],
        lr_scheduler_type="constant",
        warmup_steps=0,
        beta=t.get("init_kl_coef", 0.0) if t.get("use_kl_loss") else 0.0,
        epsilon=dapo.clip_bounds(t)[0],
        epsilon_high=dapo.clip_bounds(t)[1],
        max_steps=t["max_steps"] * steps_per_rollout,
        save_steps=t.get("save_steps", t["max_steps"]) * steps_per_rollout,
        save_total_limit=2,
        logging_steps=1,
        seed=t["seed"],
        report_to=tracking.report_to(cfg),  # the config's tracking block (rsrl.tracking); none by default
        use_cpu=use_cpu,
        bf16=not use_cpu,  # mixed precision on a GPU; fp32 weights and optimizer state either way
        scale_rewards="none",  # replaced by the registry's advantages anyway
        log_completions=False,
        disable_tqdm=False,
        dataloader_num_workers=0,
        gradient_checkpointing=t.get("gradient_checkpointing", True),
        use_vllm=False,  # transformers' generate (see hide_vllm_from_trl)
    )
    return GRPOConfig(**kwargs), steps_per_rollout, grader


def train(
    cfg: dict,
    model: str,
    train_set: str,
    method: str,
    data: str | Path,
    base_model: str,
    work: str | Path,
    out: str | Path,
    threads: int | None = None,
) -> None:
    """Train one cell: prompts from ``data``, policy from ``base_model`` (directory or hub id), resumable state
    under ``work``, outputs (model/, metrics.csv) under ``out``."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerState

    hide_vllm_from_trl()
    check_trl()
    if threads:
        torch.set_num_threads(threads)
    cell = grid.cell(cfg, model, train_set, method)
    cfg = grid.for_cell(cfg, cell)  # training.seed: the cell's
    estimator = estimators.get(cell.estimator, **cell.params)
    work = Path(work)
    # Longer runs (max_steps), other snapshot steps and memory-only settings resume; anything else starts afresh.
    t = {
        k: v
        for k, v in cfg["training"].items()
        if k not in ("max_steps", "save_steps", "eval_steps", *rsrc.TRAINING_MEMORY_ONLY)
    }
    run_key = {
        "trainer": "trl",
        "training": t,
        "model": cfg["models"][model],
        "estimator": cell.estimator,
        "params": cell.params,
    }
    prepare_work(work, run_key)
    out = Path(out)
    source = base_model
    df = pd.read_parquet(data, columns=["id", "problem", "prompt", "answer"])
    df = templates.for_model(df, cfg, model)[["id", "prompt", "answer"]]
    dataset = Dataset.from_pandas(df, preserve_index=False)
    use_cpu = not torch.cuda.is_available()
    args, steps_per_rollout, grader = grpo_config(cfg, work, use_cpu)
    tokenizer = AutoTokenizer.from_pretrained(source)
    stop_ids = generation_stop_ids(rstops.resolve(cfg, model, source), model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eval_steps = set(cfg["training"]["eval_steps"])
    resume = last_checkpoint(work / "trl")
    state = TrainerState.load_from_json(str(Path(resume) / "trainer_state.json")) if resume else None
    finished = state is not None and state.global_step >= args.max_steps
    if restart_if_exported(work, run_key, state.global_step if finished else None):
        resume, state, finished = None, None, False
    if resume is None:
        (work / "rollouts.jsonl").unlink(missing_ok=True)
    # A cell that finished training but was interrupted while writing its outputs is not trained further: Trainer
    # resumed from its final checkpoint would run one optimizer step more.
    policy = AutoModelForCausalLM.from_pretrained(resume if finished else source, dtype=torch.float32)
    policy.generation_config.eos_token_id = stop_ids  # TRL generates with, and cuts completions at, these ids
    run = _open_tracking(cfg, cell)
    if run is not None:
        args.run_name = tracking.run_name(model, train_set, cell.run_id)
    cls = _trainer_class()
    dynamic = dapo.dynamic_sampling(cfg["training"])
    trainer = cls(
        model=policy,
        reward_funcs=[reward_function(grader["boxed_only"], grader["timeout_s"])],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[_snapshot_callback(work, eval_steps, steps_per_rollout, tokenizer)],
        estimator=estimator,
        record_path=str(work / "rollouts.jsonl"),
        steps_per_rollout=steps_per_rollout,
        keep_range=dynamic["reward_range"] if dynamic["enable"] else None,
    )
    log.info(
        "TRL GRPO: cell %s, estimator %s %s, %d rollouts, resume from %s",
        cell.key,
        cell.estimator,
        cell.params,
        cfg["training"]["max_steps"],
        resume,
    )
    if finished:
        log.info("already trained to step %d: outputs from %s", state.global_step, resume)
        trainer.state = state
    else:
        trainer.train(resume_from_checkpoint=resume)
    if torch.cuda.is_available():
        log.info("peak GPU memory %.2f GiB", torch.cuda.max_memory_allocated() / 2**30)
    records = tm.read_records(work / "rollouts.jsonl")
    scalars = tm.trl_scalars(trainer.state.log_history, steps_per_rollout)
    write_table(out / "metrics.csv", tm.metrics_table(records, scalars, tm.TRL_LOGS))
    with atomic_path(out / "model") as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(tmp)
    mark_exported(work, trainer.state.global_step)
    if run is not None:
        run.finish()
    log.info("saved %s", out / "model")


def _open_tracking(cfg: dict, cell):
    """Point TRL's tracker integration at the cell's run (environment variables, no credentials) and open the run
    with the cell's config, which TRL's callback then reuses; None when tracking is off."""
    if not tracking.enabled(cfg):
        return None
    name = tracking.run_name(cell.model, cell.train_set, cell.run_id)
    os.environ.update(tracking.env(cfg, name))
    config = tracking.run_config(cfg, cell.model, cell.train_set, cell.run_id, cell.estimator, cell.params)
    run = tracking.open_run(cfg, name, config, group=f"{cell.model}.{cell.train_set}")
    if tracking.settings(cfg)["backend"] == "wandb":
        return run
    run.finish()  # the config is recorded; TRL's callback writes the scalars
    return _Finished()


class _Finished:
    """The handle of a run that the trainer's own integration opens and closes."""

    def finish(self) -> None:
        pass
