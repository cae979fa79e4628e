# Training stage: build locally defined models, train every grid cell, export step snapshots.
#
# A cell trains with TRL on one machine (`trainer: trl`) or with OpenRLHF on a Ray cluster in a Slurm allocation
# (`trainer: openrlhf`); the trainer is known when the DAG is built (rsrl.config.cell). OpenRLHF jobs run in their
# own environment (envs/openrlhf-gpu.txt): set RSRL_OPENRLHF_PYTHON to its interpreter (default: `python`).
# Resumable state lives under work/train/{model}/{train_set}/{method}/ (not a declared output), so a requeued or
# timed-out job resumes from its last checkpoint instead of restarting.
import os as _os
import re as _re

OPENRLHF_PY = _os.environ.get("RSRL_OPENRLHF_PYTHON", "python")
_TRAIN_SCRIPT = Path(str(workflow.current_basedir)).resolve().parents[1] / "scripts" / "train_openrlhf_slurm.sh"
TRAIN_EVAL_STEPS = [s for s in CFG["training"].get("eval_steps", []) if s <= CFG["training"]["max_steps"]]


def _cell(wc):
    return rcfg.cell(CFG, wc.model, wc.train_set, wc.method)


def _train_params(wc):
    """What a cell's training depends on in the config (unrelated edits do not retrain)."""
    c = _cell(wc)
    return json.dumps({"training": CFG["training"], "model": CFG["models"][c.model], "trainer": c.trainer,
                       "estimator": c.estimator, "params": c.params, "grader": CFG["evaluation"].get("grader"),
                       "size": size_class(c.model)}, sort_keys=True)


def _train_cmd(wc, output, threads):
    c = _cell(wc)
    cell = f"--config {CONFIG_JSON} --model {c.model} --train-set {c.train_set} --method {c.method}"
    out = str(Path(output.metrics).parent)
    if c.trainer == "trl":
        return f"{PY} -m rsrl.train trl {cell} --out {out} --threads {threads}"
    sc = size_class(c.model)
    return (f"RSRL_OPENRLHF_PYTHON={OPENRLHF_PY} GPUS_PER_NODE={sc['gpus_per_node']} "
            f"bash {_TRAIN_SCRIPT} "
            f"{OPENRLHF_PY} -m rsrl.train openrlhf {cell} --out {out} "
            f"--nodes {sc['nodes']} --gpus-per-node {sc['gpus_per_node']}")


def _gres(model):
    sc = size_class(model)
    return f"gpu:{sc['gpu_model']}:{sc['gpus_per_node']}" if sc.get("gpu_model") else f"gpu:{sc['gpus_per_node']}"


def _res(key):
    """Slurm resources of a cell: its model's size class for OpenRLHF, one CPU job for TRL."""
    def get(wc):
        c = _cell(wc)
        sc = size_class(c.model)
        if c.trainer == "trl":
            return {"nodes": 1, "gres": "", "cpus_per_task": 2, "mem_mb": 16000,
                    "runtime": sc.get("runtime_min", 1440), "tasks_per_gpu": 0, "tasks": 1}[key]
        return {
            "nodes": sc["nodes"],
            "gres": _gres(c.model),
            "cpus_per_task": sc.get("cpus_per_gpu", 8) * sc["gpus_per_node"],
            "mem_mb": sc.get("mem_mb_per_node", 64000),
            "runtime": sc.get("runtime_min", 1440),
            "tasks_per_gpu": 0,  # else the slurm plugin may start the script once per GPU
            "tasks": sc["nodes"],  # one per node (multi-node jobs start Ray on each node with srun)
        }[key]
    return get


# Cells of multi-node models run as "MPI" jobs: the job script itself starts Ray on every node with srun, so the
# slurm plugin must not wrap it in `srun -n1` (resource `mpi`, one task per node). Everything else is one node.
_MULTINODE = [m for m in CFG["models"] if size_class(m)["nodes"] > 1]
_MULTINODE_RE = "|".join(_re.escape(m) for m in _MULTINODE) or "(?!)"
_SINGLENODE_RE = "|".join(_re.escape(m) for m in CFG["models"] if m not in _MULTINODE) or "(?!)"


def _warmstart_input(wc):
    from rsrl.models.tiny import warmstart_set

    return f"results/data/train/{warmstart_set(CFG, wc.model)}.parquet"


rule build_model:
    input:
        train=_warmstart_input,
    output:
        directory("results/models/{model}/base"),
    log:
        "logs/models/{model}.log",
    params:
        spec=lambda wc: json.dumps(CFG["models"][wc.model], sort_keys=True),
    threads: 1
    resources:
        runtime=30,
    shell:
        "{PY} -m rsrl.models build --config {CONFIG_JSON} --model {wildcards.model} --train {input.train} "
        "--out {output} --threads {threads} > {log} 2>&1"


rule train_cell:
    wildcard_constraints:
        model=_SINGLENODE_RE,
    input:
        data="results/data/train/{train_set}.parquet",
        model=lambda wc: built_model(wc.model),
    output:
        model=directory("results/train/{model}/{train_set}/{method}/model"),
        metrics="results/train/{model}/{train_set}/{method}/metrics.csv",
    log:
        "logs/train/{model}/{train_set}/{method}.log",
    params:
        cell=_train_params,
        cmd=lambda wc, output, threads: _train_cmd(wc, output, threads),
    threads: lambda wc: _res("cpus_per_task")(wc)
    resources:
        nodes=_res("nodes"),
        gres=_res("gres"),
        cpus_per_task=_res("cpus_per_task"),
        mem_mb=_res("mem_mb"),
        runtime=_res("runtime"),
        tasks_per_gpu=_res("tasks_per_gpu"),
        tasks=_res("tasks"),
    shell:
        "{params.cmd} > {log} 2>&1"


rule train_cell_multinode:
    wildcard_constraints:
        model=_MULTINODE_RE,
    input:
        data="results/data/train/{train_set}.parquet",
        model=lambda wc: built_model(wc.model),
    output:
        model=directory("results/train/{model}/{train_set}/{method}/model"),
        metrics="results/train/{model}/{train_set}/{method}/metrics.csv",
    log:
        "logs/train/{model}/{train_set}/{method}.log",
    params:
        cell=_train_params,
        cmd=lambda wc, output, threads: _train_cmd(wc, output, threads),
    threads: lambda wc: _res("cpus_per_task")(wc)
    resources:
        nodes=_res("nodes"),
        gres=_res("gres"),
        cpus_per_task=_res("cpus_per_task"),
        mem_mb=_res("mem_mb"),
        runtime=_res("runtime"),
        tasks_per_gpu=_res("tasks_per_gpu"),
        tasks=_res("tasks"),
        mpi="srun",
    shell:
        "{params.cmd} > {log} 2>&1"


rule export_step:
    input:
        "results/train/{model}/{train_set}/{method}/model",
    output:
        directory("results/train/{model}/{train_set}/{method}/steps/step{step}"),
    log:
        "logs/train/{model}/{train_set}/{method}.step{step}.log",
    resources:
        runtime=30,
    shell:
        "{PY} -m rsrl.train export-step --work work/train/{wildcards.model}/{wildcards.train_set}/{wildcards.method} "
        "--step {wildcards.step} --out {output} > {log} 2>&1"


TRAIN_OUTPUTS = (
    [f"results/train/{c.path}/model" for c in CELLS]
    + [f"results/train/{c.path}/metrics.csv" for c in CELLS]
    + [f"results/train/{c.path}/steps/step{s}" for c in CELLS for s in TRAIN_EVAL_STEPS]
)


rule train:
    input:
        TRAIN_OUTPUTS,
