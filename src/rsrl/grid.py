"""The experiment grid and the results layout, read by the workflow, the trainers, the evaluation and the report.

*Grid*: the training runs (:class:`Cell`: model × training set × method), the checkpoints evaluated (base models,
final models, step snapshots of the focus cell), and which checkpoint is evaluated on which benchmark
(:func:`eval_targets`). *Layout*: the path of every output (the ``*_PATTERN`` constants hold the Snakemake
patterns; the functions fill them in). Nothing else composes a results path or decides what is evaluated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rsrl.methods import BASE, Checkpoint, Method, MethodError, run_id, sort_key

# --------------------------------------------------------------------------------------------------------------
# Layout: every path of the pipeline, relative to the working directory (the repository root).

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


def figure(stem: str, ext: str) -> str:
    return f"{FIGURES}/{stem}.{ext}"


def table(stem: str, ext: str) -> str:
    return f"{TABLES}/{stem}.{ext}"


# --------------------------------------------------------------------------------------------------------------
# The grid


class GridError(ValueError):
    """A grid that cannot be built; the message names the config key."""


@dataclass(frozen=True)
class Cell:
    """One training run: a model trained on a training set with a method, from a seed.

    ``seed`` is set for the cells of a grid block that lists ``seeds`` (one cell per seed, its run id
    ``<method>.seed<s>``); otherwise None, and the run trains from ``training.seed`` under the method id alone.
    """

    model: str
    train_set: str
    method: Method
    trainer: str = "openrlhf"
    seed: int | None = None
    group_size: int | None = None  # a group-size ablation cell (block ``group_sizes``): its N
    total_batch: int | None = None  # ... and the block's samples per rollout (prompts x N)

    @property
    def method_id(self) -> str:
        return self.method.id

    @property
    def run_id(self) -> str:
        """The cell's name in paths and tables: the method id, with ``.seed<s>`` for a seeded cell."""
        return run_id(self.method.id, self.seed, self.group_size)

    def train_seed(self, cfg: dict) -> int:
        """The seed training starts from (model initialisation aside: data order, sampling, dropout)."""
        return int(cfg["training"]["seed"]) if self.seed is None else self.seed

    @property
    def estimator(self) -> str:
        return self.method.estimator

    @property
    def params(self) -> dict:
        return self.method.param_dict

    @property
    def key(self) -> str:
        """``model/train_set/run``: the cell's part of every path."""
        return f"{self.model}/{self.train_set}/{self.run_id}"

    def checkpoint(self, step: int | None = None) -> Checkpoint:
        return Checkpoint(self.model, self.train_set, self.run_id, step)


def expand_methods(methods: list[dict], where: str = "methods") -> list[Method]:
    """Config method entries ``{estimator, params}`` to methods; list-valued parameters are expanded as a product.

    ``{estimator: rs, params: {beta: [0, 2]}}`` gives ``rs_beta0`` and ``rs_beta2``.
    """
    out = []
    for j, m in enumerate(methods):
        params = m.get("params") or {}
        keys = list(params)
        axes = [v if isinstance(v, list) else [v] for v in params.values()]
        for combo in itertools.product(*axes):
            try:
                out.append(Method.of(m["estimator"], dict(zip(keys, combo)), where=f"{where}[{j}]"))
            except (MethodError, ValueError) as exc:
                raise GridError(str(exc)) from None
    return out


def cells(cfg: dict, include_disabled: bool = False) -> list[Cell]:
    """All training cells of the grid (a union of product blocks), in config order; a block's ``seeds`` give one
    cell per seed, its ``group_sizes`` one cell per group size N. Blocks with ``enabled: false`` are left out
    unless ``include_disabled`` (the cost plan prices them separately)."""
    result = []
    for i, block in enumerate(cfg["grid"]):
        if block.get("enabled", True) or include_disabled:
            result += block_cells(cfg, i)
    return result


def block_cells(cfg: dict, i: int) -> list[Cell]:
    """The cells of grid block ``i`` (enabled or not)."""
    block = cfg["grid"][i]
    trainer = block.get("trainer", cfg["training"]["trainer"])
    methods = expand_methods(block["methods"], where=f"config key grid[{i}].methods")
    seeds = block.get("seeds") or [None]
    sizes, total = block.get("group_sizes") or [None], block.get("total_batch")
    if block.get("group_sizes"):
        bad = [n for n in sizes if total is None or total % n]
        if bad:
            raise GridError(f"config key grid[{i}].total_batch: a group-size ablation keeps prompts x N fixed, so "
                            f"every N in grid[{i}].group_sizes must divide total_batch ({total}); {bad} do not.")
    return [Cell(model, ts, m, trainer, None if s is None else int(s), n, total if n else None)
            for model in block["models"] for ts in block["train_sets"] for m in methods for n in sizes for s in seeds]


def block_name(cfg: dict, i: int) -> str:
    """A grid block's name: its ``name``, else ``grid[i]``."""
    return cfg["grid"][i].get("name") or f"grid[{i}]"


def cell(cfg: dict, model: str, train_set: str, run: str) -> Cell:
    """The cell named by its run id (``rs_beta2``, ``grpo.seed1``)."""
    for c in cells(cfg):
        if (c.model, c.train_set, c.run_id) == (model, train_set, run):
            return c
    raise GridError(f"no grid cell {model}/{train_set}/{run}; configured cells: {[c.key for c in cells(cfg)]}")


def models(cfg: dict) -> list[str]:
    """Models with at least one trained cell, in config order."""
    return list(dict.fromkeys(c.model for c in cells(cfg)))


def rows(cfg: dict) -> list[tuple[str, str]]:
    """(model, train_set) pairs with at least one trained cell, in config order."""
    return list(dict.fromkeys((c.model, c.train_set) for c in cells(cfg)))


def methods_of(cfg: dict, model: str, train_set: str) -> list[str]:
    """Run ids trained on one (model, train_set), in display order (estimator registration, parameters, seed)."""
    ms = [c.run_id for c in cells(cfg) if (c.model, c.train_set) == (model, train_set)]
    return sorted(dict.fromkeys(ms), key=sort_key)


def for_cell(cfg: dict, cell: Cell) -> dict:
    """The config as one cell's training sees it: ``training.seed`` is the cell's seed; a group-size ablation cell
    samples N per prompt from ``total_batch / N`` prompts per rollout, one update per rollout."""
    training = {**cfg["training"], "seed": cell.train_seed(cfg)}
    if cell.group_size is not None:
        training.update(n_samples_per_prompt=cell.group_size, rollout_batch_size=cell.total_batch // cell.group_size,
                        train_batch_size=cell.total_batch)
    return {**cfg, "training": training}


def sample_seed(cfg: dict, ckpt: Checkpoint) -> int:
    """The evaluation seed of a checkpoint's samples: ``evaluation.seed``, plus the training seed of a seeded cell
    (so that each seed's run is sampled with its own seeds)."""
    return int(cfg["evaluation"]["seed"]) + (ckpt.seed or 0)


def has_base(cfg: dict, model: str) -> bool:
    return bool(cfg["evaluation"]["evaluate_base"]) and model in models(cfg)


def base_checkpoint(model: str) -> Checkpoint:
    return Checkpoint(model, BASE, BASE)


def _n_rs(cfg: dict, row: tuple[str, str]) -> int:
    return sum(1 for c in cells(cfg) if (c.model, c.train_set) == row and c.estimator == "rs")


def focus_cell(cfg: dict) -> tuple[str, str] | None:
    """The (model, train_set) of the β ablation (Fig. 5), its step snapshots and the diversity figure (Fig. 7).

    ``report.ablation`` when set (a missing key is taken from the default); otherwise the first pair in the grid
    with at least two RS-GRPO βs, else the first with any RS-GRPO β, else the first pair; None for an empty grid.
    """
    rs = rows(cfg)
    if not rs:
        return None
    default = next((r for r in rs if _n_rs(cfg, r) >= 2), None) or next((r for r in rs if _n_rs(cfg, r)), rs[0])
    conf = cfg.get("report", {}).get("ablation", {}) or {}
    model, train_set = conf.get("model"), conf.get("train_set")
    if model is None and train_set is None:
        return default
    candidates = [r for r in rs if (model is None or r[0] == model) and (train_set is None or r[1] == train_set)]
    if not candidates:
        raise GridError(
            f"config key report.ablation: {{model: {model}, train_set: {train_set}}} has no trained cell in the "
            f"grid; grid (model, train_set) pairs are {rs}. Name one of them or remove report.ablation.")
    return next((r for r in candidates if _n_rs(cfg, r) >= 2), candidates[0])


#: Estimators drawn in the beta ablation (Fig. 5): RS-GRPO's betas, with GRPO as the reference.
ABLATION_ESTIMATORS = ("grpo", "rs")


def ablation_methods(cfg: dict, row: tuple[str, str] | None = None) -> list[str]:
    """Method ids of Fig. 5: the focus cell's (or ``row``'s) GRPO and RS-GRPO runs, in display order."""
    fc = row or focus_cell(cfg)
    if fc is None:
        return []
    grpo = ((cfg.get("report") or {}).get("paper_methods") or {}).get("grpo", {}).get("estimator", "grpo")
    estimators_ = set(ABLATION_ESTIMATORS) | {grpo}  # the GRPO the paper ran (report.paper_methods.grpo)
    keep = {c.run_id for c in cells(cfg) if (c.model, c.train_set) == fc and c.estimator in estimators_
            and c.group_size is None}
    return [m for m in methods_of(cfg, *fc) if m in keep]


def snapshot_steps(cfg: dict) -> list[int]:
    """Training steps with an evaluated snapshot: ``training.eval_steps`` below ``training.max_steps``."""
    tr = cfg["training"]
    return sorted({int(s) for s in tr["eval_steps"] if int(s) < int(tr["max_steps"])})


def comparison_cell(cfg: dict) -> tuple[str, str] | None:
    """The (model, train_set) of the comparison with the pass@k baselines over training (Fig. 6).

    ``report.comparison`` when set; otherwise the first pair in the grid trained with the most distinct
    estimators (at least three), else None (no Fig. 6 data).
    """
    conf = cfg["report"].get("comparison") or {}
    rs = rows(cfg)
    if conf.get("model") or conf.get("train_set"):
        cand = [r for r in rs if r[0] == conf.get("model", r[0]) and r[1] == conf.get("train_set", r[1])]
        if not cand:
            raise GridError(f"config key report.comparison: {conf} has no trained cell in the grid; grid "
                            f"(model, train_set) pairs are {rs}.")
        return cand[0]
    n_est = {r: len({c.estimator for c in cells(cfg) if (c.model, c.train_set) == r}) for r in rs}
    best = max(rs, key=lambda r: n_est[r], default=None)
    return best if best is not None and n_est[best] >= 3 else None


def _figure_rows(cfg: dict) -> dict[tuple[str, str], list[str]]:
    """(model, train_set) -> benchmarks its step snapshots are evaluated on (Fig. 5's and Fig. 6's cells)."""
    out: dict[tuple[str, str], list[str]] = {}
    extra = [((r["model"], r["train_set"]), [b for b in cfg["benchmarks"] if b in (r.get("benchmarks") or [b])])
             for r in ablation_rows(cfg)]
    for row, bench in ((focus_cell(cfg), ablation_benchmarks(cfg)), (comparison_cell(cfg), comparison_benchmarks(cfg)),
                       *extra):
        if row is not None:
            out[row] = [b for b in cfg["benchmarks"] if b in bench or b in out.get(row, [])]
    return out


def ablation_rows(cfg: dict) -> list[dict]:
    """Further rows of Fig. 5 (``report.ablation_rows``) that have trained cells: ``{model, train_set, ...}``."""
    trained = set(rows(cfg))
    return [r for r in (cfg.get("report") or {}).get("ablation_rows") or [] if (r["model"], r["train_set"]) in trained]


def snapshot_cells(cfg: dict) -> list[Cell]:
    """Cells whose step snapshots are exported and evaluated: the methods of Fig. 5's and Fig. 6's cells."""
    rows_ = _figure_rows(cfg)
    main = {focus_cell(cfg), comparison_cell(cfg)}
    extra = {(r["model"], r["train_set"]): set(ablation_methods(cfg, (r["model"], r["train_set"])))
             for r in ablation_rows(cfg)}  # Fig. 5's further rows: its methods only
    return [c for c in cells(cfg) if (c.model, c.train_set) in rows_
            and ((c.model, c.train_set) in main or c.run_id in extra[(c.model, c.train_set)])]


def ablation_benchmarks(cfg: dict) -> list[str]:
    """Benchmarks the ablation's snapshots are evaluated on: ``report.ablation.benchmarks``, default all."""
    chosen = (cfg["report"].get("ablation") or {}).get("benchmarks")
    return [b for b in cfg["benchmarks"] if not chosen or b in chosen]


def comparison_benchmarks(cfg: dict) -> list[str]:
    """Benchmarks the comparison's snapshots are evaluated on: ``report.comparison.benchmarks``, default all."""
    chosen = (cfg["report"].get("comparison") or {}).get("benchmarks")
    return [b for b in cfg["benchmarks"] if not chosen or b in chosen]


def checkpoints(cfg: dict) -> list[Checkpoint]:
    """Base models (when ``evaluation.evaluate_base``) and final models of every cell, in config order."""
    out = [base_checkpoint(m) for m in models(cfg) if has_base(cfg, m)]
    return out + [c.checkpoint() for c in cells(cfg)]


def snapshot_checkpoints(cfg: dict) -> list[Checkpoint]:
    return [c.checkpoint(s) for c in snapshot_cells(cfg) for s in snapshot_steps(cfg)]


def eval_targets(cfg: dict) -> list[tuple[Checkpoint, str]]:
    """(checkpoint, benchmark) of every evaluation: base and final models on every benchmark, snapshots on their
    figure's benchmarks (Fig. 5, Fig. 6). The order is the order of the aggregated tables."""
    rows_ = _figure_rows(cfg)
    return ([(c, b) for c in checkpoints(cfg) for b in cfg["benchmarks"]]
            + [(c, b) for c in snapshot_checkpoints(cfg) for b in rows_[(c.model, c.train_set)]])


SAMPLE_RUN_RULE = "sample_run_"  # + a batch's index: the workflow's rule of that batch


@dataclass(frozen=True)
class SampleBatch:
    """The sampling shards of one run (a cell's final model and its snapshots, or a base model) done by one job
    (``evaluation.sample_jobs: run``): one process, one engine start-up per checkpoint."""

    index: int  # position in sample_batches: the workflow's rule for it is sample_run_<index>
    model: str
    train_set: str
    run: str  # run id, or BASE
    targets: tuple[tuple[Checkpoint, str, int, int], ...]  # (checkpoint, benchmark, p, s), in eval_targets order

    @property
    def name(self) -> str:
        return f"{self.model}/{self.train_set}/{self.run}"

    @property
    def rule(self) -> str:
        return f"{SAMPLE_RUN_RULE}{self.index}"

    def checkpoints(self) -> list[Checkpoint]:
        return list(dict.fromkeys(c for c, _, _, _ in self.targets))


def sample_batches(cfg: dict) -> list[SampleBatch]:
    """One :class:`SampleBatch` per run when ``evaluation.sample_jobs`` is ``run``; none (one job per shard) when it
    is ``shard``, the default."""
    from rsrl.evaluate.shards import eval_settings, shard_ids

    if cfg["evaluation"]["sample_jobs"] != "run":
        return []
    by_run: dict[tuple[str, str, str], list] = {}
    for ckpt, bench in eval_targets(cfg):
        st = eval_settings(cfg, bench)
        for p, s in shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"]):
            by_run.setdefault((ckpt.model, ckpt.train_set, ckpt.method), []).append((ckpt, bench, p, s))
    return [SampleBatch(i, m, t, r, tuple(v)) for i, ((m, t, r), v) in enumerate(by_run.items())]


def sample_batch(cfg: dict, model: str, train_set: str, run: str) -> SampleBatch:
    for b in sample_batches(cfg):
        if (b.model, b.train_set, b.run) == (model, train_set, run):
            return b
    raise GridError(f"{model}/{train_set}/{run} is not a sampling batch of this config (evaluation.sample_jobs "
                    f"is {cfg['evaluation']['sample_jobs']!r}; batches exist only with 'run')")


def diversity_checkpoints(cfg: dict) -> list[Checkpoint]:
    """Checkpoints whose per-problem results Fig. 7 reads: the focus cell's base model and final models."""
    fc = focus_cell(cfg)
    if fc is None:
        return []
    out = [base_checkpoint(fc[0])] if has_base(cfg, fc[0]) else []
    return out + [Checkpoint(fc[0], fc[1], m) for m in methods_of(cfg, *fc)]


def diversity_targets(cfg: dict) -> list[tuple[Checkpoint, str]]:
    """(checkpoint, benchmark) of every per-problem table Fig. 7 reads, in the order the workflow passes them."""
    return [(c, b) for c in diversity_checkpoints(cfg) for b in cfg["benchmarks"]]


def match_files(targets: list[tuple[Checkpoint, str]], pattern: str, files: list, what: str) -> list:
    """The files of ``targets`` (one per target, in the targets' order), identified by their layout path.

    Jobs receive their input files on the command line; this pairs each file with its (checkpoint, benchmark)
    without depending on the order the files were passed in, and fails naming what is missing or unexpected.
    """
    from pathlib import PurePath

    want = [PurePath(eval_file(pattern, c, b)).parts for c, b in targets]
    depth = len(want[0]) if want else 0
    # A file is the layout path itself, or that path under some root (the tail of its parts).
    given = {PurePath(str(f)).parts[-depth:]: f for f in files} if depth else {}
    missing = ["/".join(w) for w in want if w not in given]
    extra = sorted("/".join(g) for g in set(given) - set(want))
    if missing or extra or len(given) != len(files):
        raise GridError(f"{what}: the files passed do not match the configured evaluations: missing "
                        f"{missing[:3]}{' ...' if len(missing) > 3 else ''} ({len(missing)}), unexpected "
                        f"{extra[:3]}{' ...' if len(extra) > 3 else ''} ({len(extra)}). Pass the files of "
                        "rsrl.grid for this config (the workflow does), each once.")
    return [given[w] for w in want]


def model_source(cfg: dict, model: str) -> str:
    """What a trainer or sampler loads as ``model``'s base weights: a locally built directory, or the hub id."""
    m = cfg["models"][model]
    return base_model_dir(model) if "build" in m else m["hf_id"]


def checkpoint_source(cfg: dict, ckpt: Checkpoint) -> str:
    """Path (or hub id) of a checkpoint's weights."""
    if ckpt.is_base:
        return model_source(cfg, ckpt.model)
    if ckpt.step is not None:
        return snapshot_dir(ckpt.model, ckpt.train_set, ckpt.method, ckpt.step)
    return model_dir(ckpt.model, ckpt.train_set, ckpt.method)


def checkpoint_inputs(cfg: dict, ckpt: Checkpoint) -> list[str]:
    """Files a sampling job of ``ckpt`` reads (none for a hub model: it is loaded by id)."""
    src = checkpoint_source(cfg, ckpt)
    return [] if ckpt.is_base and "build" not in cfg["models"][ckpt.model] else [src]


def size_class(cfg: dict, model: str) -> dict:
    return cfg["size_classes"][cfg["models"][model]["size"]]


def paired_targets(cfg: dict, reference: str) -> list[tuple[Checkpoint, str]]:
    """(checkpoint, benchmark) of every per-problem table the paired comparison with the method id ``reference``
    reads (``rsrl.report.paired``, which reads ``reference`` from ``report.paired.reference``): the final models of
    every run of each (model, train_set) that trains ``reference`` and at least one other method, on every
    benchmark, in grid order."""
    out = []
    for model, train_set in rows(cfg):
        runs = [c for c in cells(cfg) if (c.model, c.train_set) == (model, train_set)]
        ids = {c.method_id for c in runs}
        if reference in ids and len(ids) > 1:
            out += [(Checkpoint(model, train_set, r), b) for r in methods_of(cfg, model, train_set)
                    for b in cfg["benchmarks"]]
    return out
