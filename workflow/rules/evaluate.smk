# Evaluation stage: every checkpoint (base models and trained cells alike) on every benchmark.
#   sample (one job per shard, GPU) -> grade (one job per shard, CPU) -> score (per checkpoint x benchmark)
#   -> aggregate_eval (results/tables/passk.csv, eval_summary.csv).
# A shard is (problem shard p, sample block s), see src/rsrl/evaluate/shards.py; each output is written
# atomically, so a rerun after a crash or preemption only runs the missing shards.
import re as _re

from rsrl.evaluate import shards as _shards

EVAL_DIR = "results/eval/{model}/{train_set}/{method}/{benchmark}"


def eval_checkpoint(wc):
    """(input paths, path or hub id for vLLM) of checkpoint (model, train_set, method).

    base + hub model: the hub id, no file input; base + `build:` model: results/models/{model}/base;
    trained: results/train/{model}/{train_set}/{method}/model; `{method}.step{K}`: its step snapshot.
    """
    if wc.model not in CFG["models"]:
        raise WorkflowError(f"evaluate: unknown model {wc.model!r}; configured models are {sorted(CFG['models'])}")
    if wc.train_set == rcfg.BASE_TRAIN_SET and wc.method == rcfg.BASE_METHOD:
        built = built_model(wc.model)
        return (built, built[0]) if built else ([], CFG["models"][wc.model]["hf_id"])
    step = _re.fullmatch(r"(.+)\.step(\d+)", wc.method)
    if step:
        path = f"results/train/{wc.model}/{wc.train_set}/{step[1]}/steps/step{step[2]}"
    else:
        path = f"results/train/{wc.model}/{wc.train_set}/{wc.method}/model"
    return [path], path


def eval_shards(benchmark):
    st = _shards.eval_settings(CFG, benchmark)
    return _shards.shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"])


def eval_graded(wc):
    return [f"{EVAL_DIR}/graded/p{p}_s{s}.parquet".format(**wc) for p, s in eval_shards(wc.benchmark)]


def _eval_sampling_params(wc):
    """What a sample shard depends on in the config, so unrelated edits do not resample. Its sample range
    stands in for n and samples_per_shard: raising n only adds shards (seeds do not depend on n)."""
    st = _shards.eval_settings(CFG, wc.benchmark)
    sd = _shards.shard(1, st["n"], st["problem_shards"], st["samples_per_shard"], int(wc.p), int(wc.s))
    keep = {k: v for k, v in st.items() if k not in ("n", "samples_per_shard")}
    return json.dumps({**keep, "start": sd.start, "count": sd.count,
                       "store": CFG["evaluation"].get("store", "full")}, sort_keys=True)


def _eval_threads(wc):
    size = size_class(wc.model)
    return max(1, size.get("cpus_per_gpu", 8) * max(1, size.get("eval_gpus", 1)))


def _eval_mem_mb(wc):
    """Host memory of a sampling job: its GPUs' share of a node's memory (at least 8 GB), or a CPU node's."""
    size = size_class(wc.model)
    node = size.get("mem_mb_per_node", 64000)
    gpus = size.get("gpus_per_node", 0)
    return max(8000, node * max(1, size.get("eval_gpus", 1)) // gpus) if gpus else node


EVAL_OUTPUTS = [
    f"results/eval/{m}/{t}/{meth}/{b}/{f}"
    for ((m, t, meth), b) in EVAL_PAIRS
    for f in ("problems.parquet", "metrics.csv")
]
EVAL_TABLES = ["results/tables/passk.csv", "results/tables/eval_summary.csv"]


rule sample:
    input:
        bench="results/data/bench/{benchmark}.parquet",
        model=lambda wc: eval_checkpoint(wc)[0],
    output:
        EVAL_DIR + "/samples/p{p}_s{s}.parquet",
    log:
        "logs/eval/{model}/{train_set}/{method}/{benchmark}/sample_p{p}_s{s}.log",
    params:
        model_path=lambda wc: eval_checkpoint(wc)[1],
        settings=_eval_sampling_params,
    threads: _eval_threads
    resources:
        gpu=lambda wc: size_class(wc.model).get("eval_gpus", 1),
        tasks_per_gpu=0,
        runtime=lambda wc: size_class(wc.model).get("runtime_min", 1440),
        mem_mb=_eval_mem_mb,
        vllm_engines=1,  # one vLLM engine: the local profile runs one at a time
    shell:
        "{PY} -m rsrl.evaluate sample --config {CONFIG_JSON} --benchmark {wildcards.benchmark} "
        "--bench-file {input.bench} --model {wildcards.model} --model-path {params.model_path:q} "
        "--p {wildcards.p} --s {wildcards.s} --out {output} > {log} 2>&1"


rule grade:
    input:
        samples=EVAL_DIR + "/samples/p{p}_s{s}.parquet",
        bench="results/data/bench/{benchmark}.parquet",
    output:
        EVAL_DIR + "/graded/p{p}_s{s}.parquet",
    log:
        "logs/eval/{model}/{train_set}/{method}/{benchmark}/grade_p{p}_s{s}.log",
    params:
        grader=lambda wc: json.dumps(CFG["evaluation"].get("grader", {}), sort_keys=True),
    threads: CFG["evaluation"].get("grader", {}).get("workers", 2)
    shell:
        "{PY} -m rsrl.evaluate grade --config {CONFIG_JSON} --samples {input.samples} --bench-file {input.bench} "
        "--out {output} --workers {threads} > {log} 2>&1"


rule score:
    input:
        graded=eval_graded,
        bench="results/data/bench/{benchmark}.parquet",
    output:
        problems=EVAL_DIR + "/problems.parquet",
        metrics=EVAL_DIR + "/metrics.csv",
    log:
        "logs/eval/{model}/{train_set}/{method}/{benchmark}/score.log",
    shell:
        "{PY} -m rsrl.evaluate score --config {CONFIG_JSON} --benchmark {wildcards.benchmark} "
        "--bench-file {input.bench} --graded {input.graded} --problems {output.problems} "
        "--metrics {output.metrics} > {log} 2>&1"


rule aggregate_eval:
    input:
        metrics=[f for f in EVAL_OUTPUTS if f.endswith("metrics.csv")],
        problems=[f for f in EVAL_OUTPUTS if f.endswith("problems.parquet")],
    output:
        passk="results/tables/passk.csv",
        summary="results/tables/eval_summary.csv",
    log:
        "logs/eval/aggregate.log",
    shell:
        "{PY} -m rsrl.evaluate aggregate --config {CONFIG_JSON} --metrics {input.metrics} "
        "--passk {output.passk} --summary {output.summary} > {log} 2>&1"


rule evaluate:
    input:
        EVAL_OUTPUTS,
        EVAL_TABLES,
