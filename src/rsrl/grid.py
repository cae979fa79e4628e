"""The experiment grid, read by the workflow, the trainers, the evaluation and the report.

*Grid*: the training runs (:class:`Cell`: model × training set × method), the checkpoints evaluated (base models,
final models, step snapshots of the focus cell), and which checkpoint is evaluated on which benchmark
(:func:`eval_targets`), and the sample shards of each evaluation. *Layout*: the path of every output, in
:mod:`rsrl.layout` (read through this module). Nothing else decides what is trained or evaluated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rsrl import config as rcfg
from rsrl.layout import (  # noqa: F401  (the layout, read through the grid)
    BASE_MODEL_PATTERN,
    BENCH_DATA_PATTERN,
    CELL_PATTERN,
    EVAL_METRICS_PATTERN,
    EVAL_PATTERN,
    EVAL_SUMMARY_TABLE,
    FIGURES,
    GRADED_PATTERN,
    MANIFEST_PATTERN,
    MERGED_MANIFEST,
    MODEL_PATTERN,
    PASSK_TABLE,
    PROBLEMS_PATTERN,
    RESULTS,
    SAMPLES_PATTERN,
    SNAPSHOT_PATTERN,
    TABLES,
    THEORY,
    TRAIN_DATA_PATTERN,
    TRAIN_METRICS_PATTERN,
    WORK,
    WORK_PATTERN,
    base_model_dir,
    bench_data,
    eval_file,
    figure,
    figure_stem,
    match_files,
    model_dir,
    snapshot_dir,
    table,
    theory_table,
    train_data,
    train_metrics,
    work_dir,
)
from rsrl.methods import BASE, Checkpoint, Method, MethodError, run_id, sort_key

# --------------------------------------------------------------------------------------------------------------
# The grid


class GridError(ValueError):
    """A grid that cannot be built; the message names the config key."""


def validate(cfg: dict) -> dict:
    """A config validated whole: :func:`rsrl.config.validate` (schema, defaults, references), then the checks that
    need the grid: no cell listed twice, the figures' cells exist, and each trainer's settings fit the cells it
    trains. Returns the validated copy; raises :class:`rsrl.config.ConfigError` naming the key."""
    cfg = rcfg.validate(cfg)
    try:
        all_cells = cells(cfg)
        cells(cfg, include_disabled=True)  # a switched-off block is still checked (and priced)
        focus_cell(cfg)
        comparison_cell(cfg)
    except GridError as exc:
        raise rcfg.ConfigError(str(exc)) from None
    seen: set[tuple] = set()
    for c in all_cells:
        key = (c.model, c.train_set, c.run_id)
        if key in seen:
            raise rcfg.ConfigError(
                f"config key grid: duplicate cell {c.key} (listed twice across grid blocks, or two "
                "parameter values that name the same method); each (model, train_set, method) "
                "may appear once."
            )
        seen.add(key)
    _check_contexts(cfg)
    checks = {"openrlhf": rcfg.check_openrlhf_training, "trl": rcfg.check_trl_training}
    seen_settings = set()
    for c in all_cells:  # each trainer's needs, on the settings each cell trains with (its seed, its group size)
        t = for_cell(cfg, c)["training"]
        key = (c.trainer, repr(sorted(t.items())))
        if c.trainer in checks and key not in seen_settings:
            seen_settings.add(key)
            checks[c.trainer](t)
    return cfg


def _check_contexts(cfg: dict) -> None:
    """Every trained model's context holds a training prompt and its completion (an evaluation prompt that does not
    fit is named by the sampling job, with its problem)."""
    t = cfg["training"]
    for model in models(cfg):
        ctx = cfg["models"][model].get("max_context")
        if not ctx:
            continue
        need = t.get("max_prompt_len", 0) + t.get("max_new_tokens", 0)
        if need > ctx:
            raise rcfg.ConfigError(
                f"config key models.{model}.max_context: {ctx} tokens cannot hold training.max_prompt_len + "
                f"training.max_new_tokens = {need}; lower those or raise max_context if the model allows it."
            )


def load(*paths, overrides: dict | None = None) -> dict:
    """Config files read as :func:`rsrl.config.load` reads them, validated whole (:func:`validate`)."""
    return validate(rcfg.load(*paths, overrides=overrides))


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
            raise GridError(
                f"config key grid[{i}].total_batch: a group-size ablation keeps prompts x N fixed, so "
                f"every N in grid[{i}].group_sizes must divide total_batch ({total}); {bad} do not."
            )
    return [
        Cell(model, ts, m, trainer, None if s is None else int(s), n, total if n else None)
        for model in block["models"]
        for ts in block["train_sets"]
        for m in methods
        for n in sizes
        for s in seeds
    ]


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
        training.update(
            n_samples_per_prompt=cell.group_size,
            rollout_batch_size=cell.total_batch // cell.group_size,
            train_batch_size=cell.total_batch,
        )
    return {**cfg, "training": training}


def sample_seed(cfg: dict, ckpt: Checkpoint) -> int:
    """The evaluation seed of a checkpoint's samples: ``evaluation.seed``, plus the training seed of a seeded cell
    (so that each seed's run is sampled with its own seeds)."""
    return int(cfg["evaluation"]["seed"]) + (ckpt.seed or 0)


def has_base(cfg: dict, model: str) -> bool:
    return bool(cfg["evaluation"]["evaluate_base"]) and model in models(cfg)


def base_checkpoint(model: str) -> Checkpoint:
    return Checkpoint(model, BASE, BASE)


@dataclass(frozen=True)
class Roles:
    """Who plays which part in the figures and tables (``report.roles``, naming ``report.paper_methods``
    entries): the estimator under study (``method``, RS-GRPO in the paper) and the reference (``reference``,
    GRPO), each with its paper_methods entry (``{estimator, params}``)."""

    method: str
    reference: str
    method_entry: dict
    reference_entry: dict


def roles(cfg: dict) -> Roles:
    pm, r = cfg["report"]["paper_methods"], cfg["report"]["roles"]
    m, ref = pm[r["method"]], pm[r["reference"]]
    return Roles(m["estimator"], ref["estimator"], m, ref)


def _n_method(cfg: dict, row: tuple[str, str]) -> int:
    method = roles(cfg).method
    return sum(1 for c in cells(cfg) if (c.model, c.train_set) == row and c.estimator == method)


def focus_cell(cfg: dict) -> tuple[str, str] | None:
    """The (model, train_set) of the β ablation (Fig. 5), its step snapshots and the diversity figure (Fig. 7).

    ``report.ablation`` when set (a missing key is taken from the default); otherwise the first pair in the grid
    with at least two RS-GRPO βs, else the first with any RS-GRPO β, else the first pair; None for an empty grid.
    """
    rs = rows(cfg)
    if not rs:
        return None
    default = next((r for r in rs if _n_method(cfg, r) >= 2), None) or next((r for r in rs if _n_method(cfg, r)), rs[0])
    conf = cfg.get("report", {}).get("ablation", {}) or {}
    model, train_set = conf.get("model"), conf.get("train_set")
    if model is None and train_set is None:
        return default
    candidates = [r for r in rs if (model is None or r[0] == model) and (train_set is None or r[1] == train_set)]
    if not candidates:
        raise GridError(
            f"config key report.ablation: {{model: {model}, train_set: {train_set}}} has no trained cell in the "
            f"grid; grid (model, train_set) pairs are {rs}. Name one of them or remove report.ablation."
        )
    return next((r for r in candidates if _n_method(cfg, r) >= 2), candidates[0])


def ablation_methods(cfg: dict, row: tuple[str, str] | None = None) -> list[str]:
    """Run ids of Fig. 5: the focus cell's (or ``row``'s) runs of the reference and of the method under study
    (every value of its swept parameter; :func:`roles`) at the grid's group size, in display order."""
    fc = row or focus_cell(cfg)
    if fc is None:
        return []
    r = roles(cfg)
    keep = {
        c.run_id
        for c in cells(cfg)
        if (c.model, c.train_set) == fc and c.estimator in (r.reference, r.method) and c.group_size is None
    }
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
            raise GridError(
                f"config key report.comparison: {conf} has no trained cell in the grid; grid "
                f"(model, train_set) pairs are {rs}."
            )
        return cand[0]
    n_est = {r: len({c.estimator for c in cells(cfg) if (c.model, c.train_set) == r}) for r in rs}
    best = max(rs, key=lambda r: n_est[r], default=None)
    return best if best is not None and n_est[best] >= 3 else None


def _figure_rows(cfg: dict) -> dict[tuple[str, str], list[str]]:
    """(model, train_set) -> benchmarks its step snapshots are evaluated on (Fig. 5's and Fig. 6's cells)."""
    out: dict[tuple[str, str], list[str]] = {}
    extra = [
        ((r["model"], r["train_set"]), [b for b in cfg["benchmarks"] if b in (r.get("benchmarks") or [b])])
        for r in ablation_rows(cfg)
    ]
    for row, bench in (
        (focus_cell(cfg), ablation_benchmarks(cfg)),
        (comparison_cell(cfg), comparison_benchmarks(cfg)),
        *extra,
    ):
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
    extra = {
        (r["model"], r["train_set"]): set(ablation_methods(cfg, (r["model"], r["train_set"])))
        for r in ablation_rows(cfg)
    }  # Fig. 5's further rows: its methods only
    return [
        c
        for c in cells(cfg)
        if (c.model, c.train_set) in rows_
        and ((c.model, c.train_set) in main or c.run_id in extra[(c.model, c.train_set)])
    ]


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
    return [(c, b) for c in checkpoints(cfg) for b in cfg["benchmarks"]] + [
        (c, b) for c in snapshot_checkpoints(cfg) for b in rows_[(c.model, c.train_set)]
    ]


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
            out += [
                (Checkpoint(model, train_set, r), b)
                for r in methods_of(cfg, model, train_set)
                for b in cfg["benchmarks"]
            ]
    return out
