# Data stage: every configured training set and benchmark as one Parquet file in the common schema
# (id, problem, answer, source, prompt, metadata), a manifest per output, and the merged manifest.

DATA_TRAIN = [grid.train_data(t) for t in TRAIN_SETS]
DATA_BENCH = [grid.bench_data(b) for b in BENCHMARKS]
DATA_MANIFESTS = [grid.MANIFEST_PATTERN.format(kind="train", name=t) for t in TRAIN_SETS] + [
    grid.MANIFEST_PATTERN.format(kind="bench", name=b) for b in BENCHMARKS
]


rule prepare_bench:
    input:
        local=lambda wc: data_local_file("benchmarks", wc.benchmark),
    output:
        table=grid.BENCH_DATA_PATTERN,
        manifest=grid.MANIFEST_PATTERN.replace("{kind}", "bench").replace("{name}", "{benchmark}"),
    log:
        "logs/data/bench/{benchmark}.log",
    wildcard_constraints:
        benchmark="|".join(re.escape(b) for b in BENCHMARKS),
    conda:
        SOFTWARE_ENV
    params:
        source=lambda wc: data_params("benchmarks", wc.benchmark),
    shell:
        "python -m rsrl.data prepare --config $RSRL_CONFIG --kind bench --name {wildcards.benchmark} "
        "--out {output.table} --manifest {output.manifest} > {log} 2>&1"


# A checkpoint: training reads its output by content (common.smk, train_set_input).
checkpoint prepare_train:
    input:
        local=lambda wc: data_local_file("train_sets", wc.train_set),
        benchmarks=DATA_BENCH,
    output:
        table=grid.TRAIN_DATA_PATTERN,
        manifest=grid.MANIFEST_PATTERN.replace("{kind}", "train").replace("{name}", "{train_set}"),
    log:
        "logs/data/train/{train_set}.log",
    wildcard_constraints:
        train_set="|".join(re.escape(t) for t in TRAIN_SETS),
    conda:
        SOFTWARE_ENV
    threads: 4
    params:
        source=lambda wc: data_params("train_sets", wc.train_set),
    shell:
        "python -m rsrl.data prepare --config $RSRL_CONFIG --kind train --name {wildcards.train_set} "
        "--out {output.table} --manifest {output.manifest} --benchmarks {input.benchmarks} "
        "--workers {threads} > {log} 2>&1"


rule data_manifest:
    input:
        DATA_MANIFESTS,
    output:
        grid.MERGED_MANIFEST,
    log:
        "logs/data/manifest.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.data manifest --out {output} {input} > {log} 2>&1"


rule data:
    input:
        DATA_TRAIN,
        DATA_BENCH,
        grid.MERGED_MANIFEST,
