# Data stage: every configured training set and benchmark as one Parquet file in the common schema
# (id, problem, answer, source, prompt, metadata), a manifest per output, and the merged manifest.
import re as _re


def _data_params(kind, name):
    """What a preparation depends on in the config (so unrelated config edits do not rerun it)."""
    keys = ("data_source", "data_dir", "prompt_template", "data")
    return json.dumps({"source": CFG[kind][name], **{k: CFG.get(k) for k in keys}}, sort_keys=True)


def _data_local_file(kind, name):
    """The local file a source is read from, if any (missing files are reported by the job, naming them)."""
    from rsrl.data.sources import use_local_file

    src = CFG[kind][name]
    if use_local_file(src, CFG):
        path = rcfg.data_path(CFG, src["local"])
        if path.exists():
            return [str(path)]
    return []


DATA_TRAIN = expand("results/data/train/{train_set}.parquet", train_set=TRAIN_SETS)
DATA_BENCH = expand("results/data/bench/{benchmark}.parquet", benchmark=BENCHMARKS)
DATA_MANIFESTS = (expand("results/data/manifests/train/{train_set}.json", train_set=TRAIN_SETS)
                  + expand("results/data/manifests/bench/{benchmark}.json", benchmark=BENCHMARKS))


rule prepare_bench:
    input:
        local=lambda wc: _data_local_file("benchmarks", wc.benchmark),
    output:
        table="results/data/bench/{benchmark}.parquet",
        manifest="results/data/manifests/bench/{benchmark}.json",
    log:
        "logs/data/bench/{benchmark}.log",
    wildcard_constraints:
        benchmark="|".join(_re.escape(b) for b in BENCHMARKS),
    params:
        source=lambda wc: _data_params("benchmarks", wc.benchmark),
    shell:
        "{PY} -m rsrl.data prepare --config {CONFIG_JSON} --kind bench --name {wildcards.benchmark} "
        "--out {output.table} --manifest {output.manifest} > {log} 2>&1"


rule prepare_train:
    input:
        local=lambda wc: _data_local_file("train_sets", wc.train_set),
        benchmarks=DATA_BENCH,
    output:
        table="results/data/train/{train_set}.parquet",
        manifest="results/data/manifests/train/{train_set}.json",
    log:
        "logs/data/train/{train_set}.log",
    wildcard_constraints:
        train_set="|".join(_re.escape(t) for t in TRAIN_SETS),
    params:
        source=lambda wc: _data_params("train_sets", wc.train_set),
    threads: 4
    shell:
        "{PY} -m rsrl.data prepare --config {CONFIG_JSON} --kind train --name {wildcards.train_set} "
        "--out {output.table} --manifest {output.manifest} --benchmarks {input.benchmarks} "
        "--workers {threads} > {log} 2>&1"


rule data_manifest:
    input:
        DATA_MANIFESTS,
    output:
        "results/data/manifest.json",
    log:
        "logs/data/manifest.log",
    shell:
        "{PY} -m rsrl.data manifest --out {output} {input} > {log} 2>&1"


rule data:
    input:
        DATA_TRAIN,
        DATA_BENCH,
        "results/data/manifest.json",
