# Evaluation stage: every checkpoint (base models, trained cells, step snapshots) on its benchmarks.
#   sample (one job per shard, GPU; or one per run: evaluation.sample_jobs) -> grade (one job per shard, CPU)
#   -> score (per checkpoint x benchmark) -> aggregate_eval (results/tables/passk.csv, eval_summary.csv).
# A shard is (problem shard p, sample block s), see src/rsrl/evaluate/shards.py; each output is written
# atomically, so a rerun after a crash or preemption only runs the missing shards. What is evaluated, and where
# each file lives, comes from rsrl.grid.


if not SAMPLE_BATCHES:

    rule sample:
        input:
            bench=grid.BENCH_DATA_PATTERN,
            model=eval_model_inputs,
        output:
            grid.SAMPLES_PATTERN,
        log:
            "logs/eval/{model}/{train_set}/{method}/{benchmark}/sample_p{p}_s{s}.log",
        conda:
            SOFTWARE_ENV
        threads: eval_resource("threads")
        resources:
            gpu=eval_resource("gpu"),
            tasks_per_gpu=0,
            runtime=eval_resource("runtime"),
            mem_mb=eval_resource("mem_mb"),
            vllm_engines=eval_resource("vllm_engines"),  # a device-sized engine: the local profile runs one at a time
        params:
            model_path=eval_model_source,
            settings=eval_sampling_params,
            seed=eval_sample_seed,
        shell:
            "python -m rsrl.evaluate sample --config $RSRL_CONFIG --benchmark {wildcards.benchmark} "
            "--bench-file {input.bench} --model {wildcards.model} --model-path {params.model_path:q} "
            "--problem-shard {wildcards.p} --sample-block {wildcards.s} --seed {params.seed} --out {output} > {log} 2>&1"


# evaluation.sample_jobs: run -- one rule per run (rsrl.shard_plan.sample_batches: rule sample_run_<i>), whose one job
# samples every shard of the run's checkpoints with one engine start-up per checkpoint.
for _batch in SAMPLE_BATCHES:
    _res = rsrc.sample(CFG, _batch.model)

    rule:
        name:
            _batch.rule
        input:
            bench=sorted({grid.bench_data(b) for _, b, _, _ in _batch.targets}),
            model=[f for c in _batch.checkpoints() for f in grid.checkpoint_inputs(CFG, c)],
        output:
            [grid.eval_file(grid.SAMPLES_PATTERN, c, b, p=p, s=s) for c, b, p, s in _batch.targets],
        log:
            f"logs/eval/{_batch.name}/sample_run.log",
        conda:
            SOFTWARE_ENV
        threads: _res["threads"]
        resources:
            gpu=_res["gpu"],
            tasks_per_gpu=0,
            runtime=_res["runtime"],
            mem_mb=_res["mem_mb"],
            vllm_engines=_res["vllm_engines"],
        params:
            settings=batch_sampling_params(_batch),
            model=_batch.model,
            train_set=_batch.train_set,
            run=_batch.run,
        shell:
            "python -m rsrl.evaluate sample-run --config $RSRL_CONFIG --model {params.model:q} "
            "--train-set {params.train_set:q} --run {params.run:q} > {log} 2>&1"


rule grade:
    input:
        samples=grid.SAMPLES_PATTERN,
        bench=grid.BENCH_DATA_PATTERN,
    output:
        grid.GRADED_PATTERN,
    log:
        "logs/eval/{model}/{train_set}/{method}/{benchmark}/grade_p{p}_s{s}.log",
    conda:
        SOFTWARE_ENV
    threads: CFG["evaluation"]["grader"]["workers"]
    params:
        grader=grade_params,
    shell:
        "python -m rsrl.evaluate grade --config $RSRL_CONFIG --samples {input.samples} "
        "--bench-file {input.bench} --out {output} --workers {threads} > {log} 2>&1"


rule score:
    input:
        graded=eval_graded,
        bench=grid.BENCH_DATA_PATTERN,
    output:
        problems=grid.PROBLEMS_PATTERN,
        metrics=grid.EVAL_METRICS_PATTERN,
    log:
        "logs/eval/{model}/{train_set}/{method}/{benchmark}/score.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.evaluate score --config $RSRL_CONFIG --benchmark {wildcards.benchmark} "
        "--bench-file {input.bench} --graded {input.graded} --problems {output.problems} "
        "--metrics {output.metrics} > {log} 2>&1"


rule aggregate_eval:
    input:
        metrics=EVAL_METRICS,
        problems=EVAL_PROBLEMS,
    output:
        passk=grid.PASSK_TABLE,
        summary=grid.EVAL_SUMMARY_TABLE,
    log:
        "logs/eval/aggregate.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.evaluate aggregate --config $RSRL_CONFIG --metrics {input.metrics} "
        "--problems {input.problems} --passk {output.passk} --summary {output.summary} > {log} 2>&1"


rule evaluate:
    input:
        EVAL_METRICS,
        EVAL_PROBLEMS,
        grid.PASSK_TABLE,
        grid.EVAL_SUMMARY_TABLE,
