# Training stage: build locally defined models, train every grid cell, export the evaluated step snapshots.
#
# A cell trains with TRL on one machine (`trainer: trl`) or with OpenRLHF on a Ray cluster in a Slurm allocation
# (`trainer: openrlhf`); the trainer is known when the DAG is built (rsrl.grid.cell). OpenRLHF jobs run in their
# own environment (envs/openrlhf-gpu.txt): set RSRL_OPENRLHF_PYTHON to its interpreter (default: `python`).
# Resumable state lives under work/train/{model}/{train_set}/{method}/ (not a declared output), so a requeued or
# timed-out job resumes from its last checkpoint instead of restarting.

# Relative to the working directory, so that a moved checkout reruns nothing.
TRAIN_SCRIPT = repo_file("scripts/train_openrlhf_slurm.sh")
# OpenRLHF's interpreter and the launcher read environment variables in the job, so changing them reruns nothing.
TRAIN_SHELL = """
if [ "{params.trainer}" = trl ]; then
  python -m rsrl.train trl --config $RSRL_CONFIG --model {wildcards.model} --train-set {wildcards.train_set} \
    --method {wildcards.method} --data {input.data} --base-model {params.base_model:q} --work {params.work} \
    --out {params.out} --threads {threads} > {log} 2>&1
else
  GPUS_PER_NODE={params.gpus_per_node} bash {params.script:q} "${{RSRL_OPENRLHF_PYTHON:-python}}" -m rsrl.train openrlhf \
    --config $RSRL_CONFIG --model {wildcards.model} --train-set {wildcards.train_set} \
    --method {wildcards.method} --data {input.data} --base-model {params.base_model:q} --work {params.work} \
    --out {params.out} --nodes {resources.nodes} --gpus-per-node {params.gpus_per_node} > {log} 2>&1
fi
"""
TRAIN_OUTPUTS = (
    [grid.model_dir(c.model, c.train_set, c.run_id) for c in CELLS]
    + [grid.train_metrics(c.model, c.train_set, c.run_id) for c in CELLS]
    + [
        grid.snapshot_dir(c.model, c.train_set, c.run_id, s)
        for c in grid.snapshot_cells(CFG)
        for s in grid.snapshot_steps(CFG)
    ]
)


rule build_model:
    input:
        train=lambda wc: train_set_input(warmstart_set_name(wc.model)),
    output:
        directory(grid.BASE_MODEL_PATTERN),
    log:
        "logs/models/{model}.log",
    conda:
        SOFTWARE_ENV
    threads: 2
    resources:
        runtime=rsrc.SHORT_RUNTIME_MIN,
    params:
        data=lambda wc: train_set_digest(warmstart_set_name(wc.model)),
        spec=lambda wc: json.dumps(CFG["models"][wc.model], sort_keys=True),
    shell:
        "python -m rsrl.models build --config $RSRL_CONFIG --model {wildcards.model} --train {input.train} "
        "--out {output} --threads {threads} > {log} 2>&1"


rule train_cell:
    input:
        data=lambda wc: train_set_input(wc.train_set),
        model=lambda wc: built_model(wc.model),
    output:
        model=directory(grid.MODEL_PATTERN),
        metrics=grid.TRAIN_METRICS_PATTERN,
    log:
        "logs/train/{model}/{train_set}/{method}.log",
    wildcard_constraints:
        model=SINGLENODE_RE,
    conda:
        SOFTWARE_ENV
    threads: lambda wc: train_resource("cpus_per_task")(wc)
    resources:
        nodes=train_resource("nodes"),
        gres=train_resource("gres"),
        cpus_per_task=train_resource("cpus_per_task"),
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
        tasks_per_gpu=train_resource("tasks_per_gpu"),
        tasks=train_resource("tasks"),
    params:
        data=lambda wc: train_set_digest(wc.train_set),
        cell=train_params,
        trainer=train_trainer,
        base_model=lambda wc: grid.model_source(CFG, wc.model),
        work=lambda wc: grid.work_dir(wc.model, wc.train_set, wc.method),
        out=lambda wc: grid.CELL_PATTERN.format(**wc),
        script=TRAIN_SCRIPT,
        gpus_per_node=lambda wc: size_class(wc.model)["gpus_per_node"],
    shell:
        TRAIN_SHELL


use rule train_cell as train_cell_multinode with:
    wildcard_constraints:
        model=MULTINODE_RE,
    resources:
        nodes=train_resource("nodes"),
        gres=train_resource("gres"),
        cpus_per_task=train_resource("cpus_per_task"),
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
        tasks_per_gpu=train_resource("tasks_per_gpu"),
        tasks=train_resource("tasks"),
        mpi="srun",


rule export_step:
    input:
        grid.MODEL_PATTERN,
    output:
        directory(grid.SNAPSHOT_PATTERN),
    log:
        "logs/train/{model}/{train_set}/{method}.step{step}.log",
    conda:
        SOFTWARE_ENV
    resources:
        runtime=rsrc.SHORT_RUNTIME_MIN,
    params:
        work=lambda wc: grid.work_dir(wc.model, wc.train_set, wc.method),
    shell:
        "python -m rsrl.train export-step --work {params.work} --step {wildcards.step} --out {output} > {log} 2>&1"


rule train:
    input:
        TRAIN_OUTPUTS,
