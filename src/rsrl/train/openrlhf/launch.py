"""Run OpenRLHF for one grid cell on a running Ray cluster, then export its outputs.

    python -m rsrl.train openrlhf --config CONFIG_JSON --model M --train-set T --method X \\
        --nodes 2 --gpus-per-node 8 --out results/train/M/T/X

Started by ``scripts/train_openrlhf_slurm.sh``, which brings up Ray inside the Slurm allocation (or on the local
GPU node) and stops it afterwards. Steps:

1. write the cell's prompt file ``work/.../prompts.jsonl`` (``max_steps`` rollouts' worth of prompts, reshuffled
   each pass over the training set) unless it exists (a resumed run must see the same prompts);
2. check that the installed OpenRLHF is the pinned one (:func:`rsrl.train.openrlhf.patch.check_openrlhf`) and that
   its advantage code with the seam reproduces the registry (:mod:`rsrl.train.openrlhf.check`);
3. connect to Ray with a job ``runtime_env`` that installs the advantage seam in every worker process and names
   the cell's estimator, and run ``openrlhf.cli.train_ppo_ray`` as ``__main__`` in this process (its ``train()``
   reuses the connection). OpenRLHF resumes from ``work/.../ckpt`` when a checkpoint is there;
4. export: snapshots at ``training.eval_steps`` to ``work/.../snapshots/step{k}``, the final HF model to
   ``{out}/model`` and the per-step table to ``{out}/metrics.csv`` (both atomically).
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rsrl import grid, tracking
from rsrl import prompts as templates
from rsrl import resources as rsrc
from rsrl.io import atomic_path, write_table
from rsrl.train import progress as tm
from rsrl.train.openrlhf import command, patch
from rsrl.train.snapshots import prepare_work, snapshot_dir

log = logging.getLogger(__name__)


def write_prompts(
    train_parquet: str | Path, out: str | Path, rows: int, seed: int, cfg: dict | None = None, model: str | None = None
) -> None:
    """`rows` prompts (prompt, answer, id) cycling through reshuffled passes over the training set; prompts in
    `model`'s template (:func:`rsrl.prompts.for_model`) when `cfg` is given."""
    out = Path(out)
    if out.exists():
        log.info("prompt file %s exists; reusing it (resumed run)", out)
        return
    df = pd.read_parquet(train_parquet)
    if cfg is not None:
        df = templates.for_model(df, cfg, model)
    df = df[["id", "prompt", "answer"]]
    if df.empty:
        raise ValueError(f"{train_parquet}: training set is empty")
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < rows:
        parts.append(df.iloc[rng.permutation(len(df))])
        total += len(df)
    sel = pd.concat(parts).iloc[:rows]
    with atomic_path(out) as tmp:
        sel.to_json(tmp, orient="records", lines=True, force_ascii=False)


def collect_snapshots(paths: command.RunPaths, eval_steps: list[int]) -> None:
    """Move OpenRLHF's HF checkpoints at eval steps to ``snapshots/step{k}``; drop the others."""
    ckpt = Path(paths.ckpt)
    for d in sorted(ckpt.glob("global_step*_hf")):
        step = int(d.name.removeprefix("global_step").removesuffix("_hf"))
        if step in eval_steps:
            dest = snapshot_dir(paths.work, step)
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(d, dest)
        else:
            shutil.rmtree(d)


def export(paths: command.RunPaths, out: str | Path, eval_steps: list[int], tensorboard: str | None = None) -> None:
    out = Path(out)
    collect_snapshots(paths, eval_steps)
    final = Path(paths.final)
    if not (final / "config.json").exists():
        raise FileNotFoundError(
            f"{final}: OpenRLHF finished without saving the final model (no config.json); see the log above."
        )
    with atomic_path(out / "model") as tmp:
        shutil.copytree(final, tmp)
    records = tm.read_records(paths.rollouts)
    tensorboard = tensorboard or paths.tensorboard  # the tracking block's TensorBoard run, when it has one
    scalars = tm.read_tensorboard(tensorboard) if Path(tensorboard).exists() else {}
    write_table(out / "metrics.csv", tm.metrics_table(records, scalars, tm.OPENRLHF_SCALARS))


def run(
    cfg: dict,
    model: str,
    train_set: str,
    method: str,
    data: str,
    base_model: str,
    work: str,
    out: str,
    nodes: int,
    gpus_per_node: int,
) -> None:
    """Train one cell: prompts from ``data``, policy from ``base_model`` (directory or hub id), resumable state
    under ``work``, outputs (model/, metrics.csv) under ``out``."""
    import ray

    cell = grid.cell(cfg, model, train_set, method)
    cfg = grid.for_cell(cfg, cell)  # training.seed: the cell's
    root = Path(".").resolve()
    if Path(base_model).exists():
        base_model = str(Path(base_model).resolve())
    paths = command.default_paths(cfg, cell, root, work=Path(work).resolve(), base_model=base_model)
    t = cfg["training"]
    size = cfg["size_classes"][cfg["models"][model]["size"]]
    # The prompt file's length and OpenRLHF's data order depend on max_steps, so only snapshot steps may change
    # on a resume.
    keep = ("eval_steps", *rsrc.TRAINING_MEMORY_ONLY)
    prepare_work(
        paths.work,
        {
            "trainer": "openrlhf",
            "training": {k: v for k, v in t.items() if k not in keep},
            "model": cfg["models"][model],
            "estimator": cell.estimator,
            "params": cell.params,
            "nodes": nodes,
            "gpus_per_node": gpus_per_node,
        },
    )
    write_prompts(data, paths.prompts, command.prompt_rows(t), t["seed"], cfg, model)
    patch.check_openrlhf()
    # Pre-flight: OpenRLHF's own advantage code with the seam must reproduce the registry (a few seconds).
    pre = subprocess.run([sys.executable, "-m", "rsrl.train.openrlhf.check"], capture_output=True, text=True)
    log.info("advantage seam check:\n%s", pre.stdout[-3000:])
    if pre.returncode != 0:
        raise RuntimeError(
            f"the advantage seam check failed; not starting the run:\n{pre.stdout[-3000:]}{pre.stderr[-3000:]}"
        )
    argv = command.openrlhf_args(
        cfg, cell, paths, nodes, gpus_per_node, cfg["models"][model].get("max_context"), size.get("tensor_parallel", 1)
    )
    log.info("OpenRLHF command:\n%s", command.render(argv))
    grader = cfg["evaluation"]["grader"]
    env = {
        "RSRL_GRADER_BOXED_ONLY": "1" if grader["boxed_only"] else "0",
        "RSRL_GRADER_TIMEOUT_S": str(grader["timeout_s"]),
        "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "true"),
        "NCCL_DEBUG": os.environ.get("NCCL_DEBUG", "WARN"),
        "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": os.environ.get("RAY_ENABLE_ZERO_COPY_TORCH_TENSORS", "1"),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    tensorboard = _open_tracking(cfg, cell, env)
    runtime_env = patch.runtime_env(
        cell.estimator, cell.params, paths.rollouts, env, stops=command.rollout_stops(cfg, model, paths)
    )
    ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), runtime_env=runtime_env)
    try:
        sys.argv = ["openrlhf.cli.train_ppo_ray", *argv]
        runpy.run_module("openrlhf.cli.train_ppo_ray", run_name="__main__", alter_sys=True)
    finally:
        ray.shutdown()
    export(paths, out, t["eval_steps"], tensorboard)
    log.info("exported %s", out)


def _open_tracking(cfg: dict, cell, env: dict) -> str | None:
    """Point OpenRLHF's logger at the cell's run: its environment (no credentials: WANDB_API_KEY reaches the
    actors from the job's environment) and, for W&B, the run opened once here with the cell's config. Returns the
    TensorBoard run's directory when the tracking backend is TensorBoard."""
    if not tracking.enabled(cfg):
        return None
    name = tracking.run_name(cell.model, cell.train_set, cell.run_id)
    env.update(tracking.env(cfg, name))
    os.environ.update(tracking.env(cfg, name))
    run = tracking.open_run(
        cfg,
        name,
        tracking.run_config(cfg, cell.model, cell.train_set, cell.run_id, cell.estimator, cell.params),
        group=f"{cell.model}.{cell.train_set}",
    )
    run.finish()
    if tracking.settings(cfg)["backend"] == "tensorboard":
        return str(tracking.tensorboard_dir(cfg, name).resolve())
    return None


def dump_command(
    cfg: dict, model: str, train_set: str, method: str, nodes: int, gpus_per_node: int, root: str | Path = "."
) -> str:
    """The OpenRLHF command line of a cell (for inspection and the golden test); touches nothing."""
    cell = grid.cell(cfg, model, train_set, method)
    paths = command.default_paths(cfg, cell, root)
    size = cfg["size_classes"][cfg["models"][model]["size"]]
    argv = command.openrlhf_args(
        cfg, cell, paths, nodes, gpus_per_node, cfg["models"][model].get("max_context"), size.get("tensor_parallel", 1)
    )
    env = patch.runtime_env(cell.estimator, cell.params, paths.rollouts, stops=command.rollout_stops(cfg, model, paths))
    return (
        f"# ray runtime_env: {json.dumps(env, sort_keys=True)}\n"
        f"python -m openrlhf.cli.train_ppo_ray \\\n" + command.render(argv)
    )
