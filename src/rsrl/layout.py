"""The results layout: the path of every output of the pipeline, relative to the working directory (the
repository root). The ``*_PATTERN`` constants hold the Snakemake patterns; the functions fill them in. Nothing else
composes a results path (:mod:`rsrl.grid` decides which of them exist for a config).
"""

from __future__ import annotations

from pathlib import PurePath

from rsrl.methods import Checkpoint


class LayoutError(ValueError):
    """Files that do not match the layout; the message names what is missing or unexpected."""


RESULTS = "results"
WORK = "work"
TRAIN_DATA_PATTERN = "results/data/train/{train_set}.parquet"
BENCH_DATA_PATTERN = "results/data/bench/{benchmark}.parquet"
MANIFEST_PATTERN = "results/data/manifests/{kind}/{name}.json"
MERGED_MANIFEST = "results/data/manifest.json"
BASE_MODEL_PATTERN = "results/models/{model}/base"
CELL_PATTERN = "results/train/{model}/{train_set}/{method}"
MODEL_PATTERN = CELL_PATTERN + "/model"
TRAIN_METRICS_PATTERN = CELL_PATTERN + "/metrics.csv"
SNAPSHOT_PATTERN = CELL_PATTERN + "/steps/step{step}"
WORK_PATTERN = "work/train/{model}/{train_set}/{method}"
EVAL_PATTERN = "results/eval/{model}/{train_set}/{method}/{benchmark}"
SAMPLES_PATTERN = EVAL_PATTERN + "/samples/p{p}_s{s}.parquet"
GRADED_PATTERN = EVAL_PATTERN + "/graded/p{p}_s{s}.parquet"
PROBLEMS_PATTERN = EVAL_PATTERN + "/problems.parquet"
EVAL_METRICS_PATTERN = EVAL_PATTERN + "/metrics.csv"
PASSK_TABLE = "results/tables/passk.csv"
EVAL_SUMMARY_TABLE = "results/tables/eval_summary.csv"
TABLES = "results/tables"
FIGURES = "results/figures"
THEORY = "results/theory"


def train_data(train_set: str) -> str:
    return TRAIN_DATA_PATTERN.format(train_set=train_set)


def bench_data(benchmark: str) -> str:
    return BENCH_DATA_PATTERN.format(benchmark=benchmark)


def base_model_dir(model: str) -> str:
    return BASE_MODEL_PATTERN.format(model=model)


def model_dir(model: str, train_set: str, method: str) -> str:
    return MODEL_PATTERN.format(model=model, train_set=train_set, method=method)


def train_metrics(model: str, train_set: str, method: str) -> str:
    return TRAIN_METRICS_PATTERN.format(model=model, train_set=train_set, method=method)


def snapshot_dir(model: str, train_set: str, method: str, step: int) -> str:
    return SNAPSHOT_PATTERN.format(model=model, train_set=train_set, method=method, step=step)


def work_dir(model: str, train_set: str, method: str) -> str:
    return WORK_PATTERN.format(model=model, train_set=train_set, method=method)


def eval_file(pattern: str, ckpt: Checkpoint, benchmark: str, **extra) -> str:
    return pattern.format(model=ckpt.model, train_set=ckpt.train_set, method=ckpt.id, benchmark=benchmark, **extra)


def theory_table(name: str) -> str:
    """A table of the theory stage (bandit runs, the advantage shape, the lemmas' checks)."""
    return f"{THEORY}/{name}.csv"


def figure_stem(stem: str) -> str:
    return f"{FIGURES}/{stem}"


def figure(stem: str, ext: str) -> str:
    return f"{figure_stem(stem)}.{ext}"


def table(stem: str, ext: str) -> str:
    return f"{TABLES}/{stem}.{ext}"


def match_files(targets: list[tuple[Checkpoint, str]], pattern: str, files: list, what: str) -> list:
    """The files of ``targets`` (one per target, in the targets' order), identified by their layout path.

    Jobs receive their input files on the command line; this pairs each file with its (checkpoint, benchmark)
    without depending on the order the files were passed in, and fails naming what is missing or unexpected.
    """
    want = [PurePath(eval_file(pattern, c, b)).parts for c, b in targets]
    depth = len(want[0]) if want else 0
    # A file is the layout path itself, or that path under some root (the tail of its parts).
    given = {PurePath(str(f)).parts[-depth:]: f for f in files} if depth else {}
    missing = ["/".join(w) for w in want if w not in given]
    extra = sorted("/".join(g) for g in set(given) - set(want))
    if missing or extra or len(given) != len(files):
        raise LayoutError(
            f"{what}: the files passed do not match the configured evaluations: missing "
            f"{missing[:3]}{' ...' if len(missing) > 3 else ''} ({len(missing)}), unexpected "
            f"{extra[:3]}{' ...' if len(extra) > 3 else ''} ({len(extra)}). Pass the files of "
            "rsrl.grid for this config (the workflow does), each once."
        )
    return [given[w] for w in want]
