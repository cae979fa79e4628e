"""What each job asks the scheduler for: the one definition the workflow's rules and the cost plan both read.

Training jobs take their model's size class (nodes, GPUs per node, CPUs per GPU, memory, time limit) for OpenRLHF,
or one CPU job for TRL (``cpus_per_gpu`` CPUs and a sampling job's memory); a sampling job takes ``eval_gpus``
GPUs and their share of a node's memory, and one of the local profile's ``vllm_engines`` when its engine reserves
a share of a device (every GPU engine, and a CPU engine sized by ``evaluation.gpu_memory_utilization``); a CPU
engine with a KV cache of fixed bytes (the default there) is bounded by ``mem_mb`` alone, so two can share a
machine.
"""

from __future__ import annotations

from rsrl import grid

# Jobs without a GPU: building a tiny model and exporting a snapshot (minutes).
SHORT_RUNTIME_MIN = 30


def _gres(size: dict) -> str:
    gpu = f"gpu:{size['gpu_model']}:" if size.get("gpu_model") else "gpu:"
    return f"{gpu}{size['gpus_per_node']}"


def train(cfg: dict, cell: grid.Cell) -> dict:
    """Slurm resources of one training cell."""
    size = grid.size_class(cfg, cell.model)
    if cell.trainer == "trl":
        return {
            "nodes": 1,
            "gres": "",
            "cpus_per_task": sample_threads(cfg, cell.model),
            "mem_mb": sample_mem_mb(cfg, cell.model),
            "runtime": size["runtime_min"],
            "tasks_per_gpu": 0,
            "tasks": 1,
            "gpus": 0,
        }
    return {
        "nodes": size["nodes"],
        "gres": _gres(size),
        "cpus_per_task": size["cpus_per_gpu"] * size["gpus_per_node"],
        "mem_mb": size["mem_mb_per_node"],
        "runtime": size["runtime_min"],
        "tasks_per_gpu": 0,  # else the slurm plugin may start the script once per GPU
        "tasks": size["nodes"],  # one per node (multi-node jobs start Ray on each node with srun)
        "gpus": size["nodes"] * size["gpus_per_node"],
    }


def is_multinode(cfg: dict, model: str) -> bool:
    return grid.size_class(cfg, model)["nodes"] > 1


def sample_threads(cfg: dict, model: str) -> int:
    size = grid.size_class(cfg, model)
    return max(1, size["cpus_per_gpu"] * max(1, size["eval_gpus"]))


def sample_mem_mb(cfg: dict, model: str) -> int:
    """Host memory of a sampling job: its GPUs' share of a node's memory (at least 8 GB), or a CPU node's."""
    size = grid.size_class(cfg, model)
    node, gpus = size["mem_mb_per_node"], size["gpus_per_node"]
    return max(8000, node * max(1, size["eval_gpus"]) // gpus) if gpus else node


def sample_engines(cfg: dict, model: str) -> int:
    """vLLM engines a sampling job counts against the local budget ``vllm_engines``: 1 when its engine reserves a
    share of a device's memory (GPU memory, or CPU RAM by ``evaluation.gpu_memory_utilization``), else 0."""
    on_gpu = grid.size_class(cfg, model)["eval_gpus"] > 0
    return int(on_gpu or "gpu_memory_utilization" in cfg["evaluation"])


def sample(cfg: dict, model: str) -> dict:
    size = grid.size_class(cfg, model)
    return {
        "gpu": size["eval_gpus"],
        "runtime": size["runtime_min"],
        "mem_mb": sample_mem_mb(cfg, model),
        "threads": sample_threads(cfg, model),
        "nodes": 1,
        "vllm_engines": sample_engines(cfg, model),
    }


# Settings that change how a job is scheduled or how much memory a step takes, never what it computes.
TRAINING_MEMORY_ONLY = ("micro_train_batch_size", "micro_rollout_batch_size", "gradient_checkpointing")
GRADER_SCHEDULING = ("workers", "deadline_s")
SIZE_RESULT_KEYS = ("nodes", "gpus_per_node", "tensor_parallel")  # they shape OpenRLHF's distributed run


def train_fingerprint(cfg: dict, cell: grid.Cell) -> dict:
    """What a cell's training result depends on in the config (its rerun trigger): the training settings but the
    memory-only ones, the model, trainer, estimator and parameters, the reward's grading semantics, and for
    OpenRLHF the parallel layout. Time limits, memory, CPUs and grader workers are left out."""
    size = grid.size_class(cfg, cell.model)
    return {
        "training": {k: v for k, v in grid.for_cell(cfg, cell)["training"].items() if k not in TRAINING_MEMORY_ONLY},
        "model": cfg["models"][cell.model],
        "trainer": cell.trainer,
        "estimator": cell.estimator,
        "params": cell.params,
        "grader": {k: v for k, v in cfg["evaluation"]["grader"].items() if k not in GRADER_SCHEDULING},
        "layout": {} if cell.trainer == "trl" else {k: size.get(k) for k in SIZE_RESULT_KEYS},
    }
