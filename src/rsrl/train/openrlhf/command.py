"""The OpenRLHF 0.11.2 command line of one grid cell, built from the config.

Every value of the config's ``training:`` block reaches a flag here (flag names checked against the argparse
of ``openrlhf/cli/train_ppo_ray.py`` 0.11.2; all flags are dotted since 0.10.2). Values that are properties of
the cluster rather than of the experiment (colocation, sleep mode, ZeRO stage, vLLM memory share) are the
constants below. Stop sequences have no flag in 0.11.2; they travel in the job's ``runtime_env``
(:func:`rollout_stops`, :mod:`rsrl.train.openrlhf.patch`).

OpenRLHF has no step limit: a run makes one rollout per ``rollout.batch_size`` prompts of its prompt file. The
launcher therefore writes a prompt file of exactly ``max_steps / num_episodes * rollout_batch_size`` prompts
(:func:`prompt_rows`), so the run makes ``max_steps`` rollouts. With dynamic sampling (:mod:`rsrl.dapo`)
OpenRLHF replaces each filtered prompt by the next one of the file, so the file holds ``prompt_factor`` times as
many prompts and the number of rollouts depends on the filter's pass rate: about ``max_steps`` when the pass rate
is ``1 / prompt_factor``, fewer when it is lower (the run ends when its prompts are used up), more when higher.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path

from rsrl import dapo, grid, tracking
from rsrl import stops as rstops
from rsrl.config import check_openrlhf_training
from rsrl.train.openrlhf.patch import CARRIER_ESTIMATOR

#: Reward clip range: wide enough never to bind, so OpenRLHF does not clamp the registry's advantages.
REWARD_CLIP = (-10000.0, 10000.0)
#: Cluster-side settings (not part of the experiment's science).
VLLM_GPU_MEMORY_UTILIZATION = 0.6
ZERO_STAGE = 3


@dataclass(frozen=True)
class RunPaths:
    """Where one cell's run reads and writes (all under ``work/train/{cell}/`` except the prompt/reward files)."""

    model: str  # HF directory or hub id of the base policy
    prompts: str  # prompt file (jsonl: prompt, answer, id)
    reward_file: str  # rsrl/train/openrlhf/reward.py
    work: str  # work/train/{model}/{train_set}/{method}

    @property
    def ckpt(self) -> str:
        return f"{self.work}/ckpt"

    @property
    def final(self) -> str:
        return f"{self.work}/final"

    @property
    def tensorboard(self) -> str:
        return f"{self.work}/tensorboard"

    @property
    def rollouts(self) -> str:
        return f"{self.work}/rollouts.jsonl"


def steps_per_episode(training: dict) -> int:
    return math.ceil(training["max_steps"] / training.get("num_episodes", 1))


def prompt_rows(training: dict) -> int:
    """Prompts in the run's prompt file: ``max_steps`` rollouts of ``rollout_batch_size`` prompts over the episodes,
    times ``dynamic_sampling.prompt_factor`` when dynamic sampling draws refills from the file."""
    rows = steps_per_episode(training) * training["rollout_batch_size"]
    ds = dapo.dynamic_sampling(training)
    return math.ceil(rows * ds["prompt_factor"]) if ds["enable"] else rows


def openrlhf_args(
    cfg: dict,
    cell,
    paths: RunPaths,
    nodes: int,
    gpus_per_node: int,
    max_context: int | None = None,
    tensor_parallel: int = 1,
) -> list[str]:
    """Arguments for ``python -m openrlhf.cli.train_ppo_ray`` (without the interpreter and module)."""
    t = grid.for_cell(cfg, cell)["training"]  # training.seed: the cell's
    check_openrlhf_training(t)
    gpus = nodes * gpus_per_node
    max_len = t["max_prompt_len"] + t["max_new_tokens"]
    if max_context:
        max_len = min(max_len, max_context)
    a: list[str] = []

    def flag(name, *values):
        a.append(f"--{name}")
        a.extend(str(v) for v in values)

    # Models and data
    flag("actor.model_name_or_path", paths.model)
    flag("data.prompt_dataset", paths.prompts)
    flag("data.input_key", "prompt")  # prompts are rendered by the data stage (no chat template here)
    flag("data.label_key", "answer")
    flag("data.max_samples", prompt_rows(t))
    flag("data.max_len", max_len)
    flag("reward.remote_url", paths.reward_file)
    flag("reward.clip_range", *REWARD_CLIP)
    # Rollouts
    flag("rollout.n_samples_per_prompt", t["n_samples_per_prompt"])
    flag("rollout.batch_size", t["rollout_batch_size"])
    flag("rollout.micro_batch_size", t["micro_rollout_batch_size"])
    flag("rollout.max_new_tokens", t["max_new_tokens"])
    flag("rollout.temperature", t["temperature"])
    flag("rollout.top_p", t["top_p"])
    # Policy update
    flag("train.batch_size", t["train_batch_size"])
    flag("train.micro_batch_size", t["micro_train_batch_size"])
    flag("train.max_epochs", 1)
    flag("train.num_episodes", t.get("num_episodes", 1))
    flag("train.seed", t["seed"])
    flag("actor.adam.lr", t["learning_rate"])
    flag("actor.eps_clip", t["eps_clip"])
    if t.get("eps_clip_high") is not None:  # clip-higher (DAPO): ratio clipped to [1 - low, 1 + high]
        flag("actor.eps_clip_low_high", *dapo.clip_bounds(t))
    flag("actor.entropy_coef", t["entropy_coef"])  # set (even 0) so OpenRLHF logs the policy entropy
    # Advantages: the carrier estimator; rsrl.train.openrlhf.patch substitutes the registry's (see there).
    flag("algo.advantage.estimator", CARRIER_ESTIMATOR)
    flag("algo.advantage.gamma", 1.0)
    flag("algo.kl.init_coef", t["init_kl_coef"])
    ds = dapo.dynamic_sampling(t)
    if ds["enable"]:  # groups with mean reward outside the open range are dropped and refilled
        a.append("--algo.dynamic_filtering_enable")
        flag("algo.dynamic_filtering_range", *ds["reward_range"])
    if t["use_kl_loss"]:
        a.append("--algo.kl.use_loss")
        flag("algo.kl.estimator", "k3")
    # Cluster layout: everything colocated on the allocation's GPUs, vLLM sleeping during updates.
    flag("actor.num_nodes", nodes)
    flag("actor.num_gpus_per_node", gpus_per_node)
    flag("ref.num_nodes", nodes)
    flag("ref.num_gpus_per_node", gpus_per_node)
    flag("vllm.num_engines", gpus // tensor_parallel)
    flag("vllm.tensor_parallel_size", tensor_parallel)
    flag("vllm.gpu_memory_utilization", VLLM_GPU_MEMORY_UTILIZATION)
    a += ["--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep"]
    flag("ds.zero_stage", ZERO_STAGE)
    flag("ds.param_dtype", "bf16")
    if t["gradient_checkpointing"]:
        a.append("--actor.gradient_checkpointing_enable")
    a.append("--ds.packing_samples")
    # Checkpoints (resumable, under work/) and logs
    flag("ckpt.path", paths.ckpt)
    flag("ckpt.save_steps", t["save_steps"])
    a += ["--ckpt.save_hf", "--ckpt.load_enable"]
    flag("ckpt.max_num", 2)
    flag("ckpt.output_dir", paths.final)
    flag("logger.logging_steps", 1)
    flag("logger.tensorboard_dir", paths.tensorboard)
    flag("logger.wandb.run_name", cell.run_id)
    # The config's tracking block (off by default): W&B or TensorBoard flags for the cell's run, last flag wins.
    a += tracking.openrlhf_flags(
        cfg, tracking.run_name(cell.model, cell.train_set, cell.run_id), f"{cell.model}.{cell.train_set}"
    )
    return a


def rollout_stops(cfg: dict, model: str, paths: RunPaths) -> rstops.Stops:
    """The stop sequences of the cell's rollouts: those of the base policy (:mod:`rsrl.stops`). OpenRLHF 0.11.2 has
    no flag for them; the stop seam of :mod:`rsrl.train.openrlhf.patch` adds them to its sampling parameters."""
    return rstops.resolve(cfg, model, paths.model)


def render(argv: list[str]) -> str:
    """One flag per line, shell-continued (the golden files' format)."""
    lines, cur = [], []
    for tok in argv:
        if tok.startswith("--") and cur:
            lines.append(" ".join(shlex.quote(x) for x in cur))
            cur = []
        cur.append(tok)
    if cur:
        lines.append(" ".join(shlex.quote(x) for x in cur))
    return " \\\n".join(lines) + "\n"


def default_paths(
    cfg: dict, cell, root: str | Path = ".", work: str | Path | None = None, base_model: str | None = None
) -> RunPaths:
    """A cell's run paths: its work directory and base policy (defaults: the grid layout's, under ``root``)."""
    root = Path(root)
    work = Path(work) if work is not None else root / grid.work_dir(cell.model, cell.train_set, cell.run_id)
    model = base_model if base_model is not None else grid.model_source(cfg, cell.model)
    if "build" in cfg["models"][cell.model] and not Path(model).is_absolute():
        model = str(root / model)
    return RunPaths(
        model=model,
        prompts=str(work / "prompts.jsonl"),
        reward_file=str(Path(__file__).with_name("reward.py").resolve()),
        work=str(work),
    )
