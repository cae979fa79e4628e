# Config loading and validation, wildcard constraints, the grid and the helper functions of every stage.
# What is trained and evaluated, and where every file lives, comes from rsrl.grid (the same module the jobs and
# the report read); the rule files hold rules only.
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
import rsrl.config as rcfg  # noqa: E402
from snakemake.exceptions import IncompleteCheckpointException  # noqa: E402
from snakemake.io import strip_wildcard_constraints  # noqa: E402
from rsrl import grid  # noqa: E402
from rsrl import shard_plan  # noqa: E402
from rsrl import resources as rsrc  # noqa: E402
from rsrl import tracking  # noqa: E402
from rsrl.evaluate import shards as eval_shards_plan  # noqa: E402

try:
    # Snakemake has parsed the config files already; read them again strictly (duplicate keys, YAML tags).
    for _path in workflow.configfiles:
        rcfg.read_yaml(_path)
    CFG = grid.validate(dict(config))
    # A tracking backend must be installed and, online, have its credentials in the environment.
    tracking.check_environment(CFG)
except rcfg.ConfigError as exc:
    raise WorkflowError(f"Invalid configuration: {exc}")

# The validated config (defaults and --config overrides filled in) reaches every job as a JSON snapshot addressed
# by its content (never rewritten: a later Snakemake call, even a dry run with an edited config, writes its own),
# named by $RSRL_CONFIG in the job's environment. It is not a rule parameter, so editing the config reruns only
# the jobs whose own parameters changed.
# A job on another node parses this file again, with the config files as they are then: it keeps the snapshot the
# main process handed it.
if workflow.is_main_process or not os.environ.get(rcfg.CONFIG_ENV):
    CONFIG_JSON = rcfg.write_config_snapshot(CFG, Path(".snakemake") / "rsrl" / "config")
    os.environ[rcfg.CONFIG_ENV] = str(CONFIG_JSON)


envvars:
    rcfg.CONFIG_ENV,


# Every rule's software as a conda environment, for --software-deployment-method conda (relative to the rule files).
# By default jobs run in the current environment: the one scripts/bootstrap.sh builds from the same envs/cpu.txt.
SOFTWARE_ENV = "../../envs/rsrl.yaml"


wildcard_constraints:
    model="[^/]+",
    train_set="[^/]+",
    method="[^/]+",
    benchmark="[^/]+",
    name="[^/]+",
    p=r"\d+",
    s=r"\d+",
    step=r"\d+",


CELLS = grid.cells(CFG)
TRAIN_SETS = list(CFG["train_sets"])
BENCHMARKS = list(CFG["benchmarks"])
EVAL_TARGETS = grid.eval_targets(CFG)
# Lookups by wildcards (the grid is computed once per DAG build).
CELL_BY_KEY = {(c.model, c.train_set, c.run_id): c for c in CELLS}
CHECKPOINT_BY_KEY = {(c.model, c.train_set, c.id): c for c, _ in EVAL_TARGETS}


def repo_file(path):
    """A file of the repository (relative paths are relative to it), as a path relative to the working directory,
    so that running from elsewhere (--directory) finds it and a moved checkout reruns nothing."""
    return os.path.relpath(rcfg.REPO_ROOT / path)


def size_class(model):
    return grid.size_class(CFG, model)


def built_model(model):
    """Directory of a locally built base model, or [] for a hub model (loaded by id)."""
    return [grid.base_model_dir(model)] if "build" in CFG["models"][model] else []


def train_set_input(train_set):
    """A prepared training set as a training job's input, gated on its content rather than its age.

    prepare_train rebuilds a training set whenever a benchmark or the decontamination settings change, usually to
    identical content. The input is `ancient`, so a rebuild does not by itself mark the job (or anything after it)
    to run; the job's `data` parameter (train_set_digest) reruns it when the content changed. prepare_train is a
    checkpoint, so that after it has run Snakemake builds the depending jobs again and reads the new digest, in
    the same run.
    """
    try:
        path = checkpoints.prepare_train.get(train_set=train_set).output.table
    except IncompleteCheckpointException:  # to be rebuilt in this run: jobs are built again after it
        path = grid.train_data(train_set)
    return ancient(path)


def train_set_digest(train_set):
    """SHA-256 of a prepared training set (a job parameter, so that a change of content reruns the job)."""
    from rsrl.data.prepare import sha256

    path = Path(grid.train_data(train_set))
    return sha256(path) if path.exists() else "missing"


def warmstart_set_name(model):
    from rsrl.models.tiny import warmstart_set

    return warmstart_set(CFG, model)


# ---------------------------------------------------------------------------------------------------------------
# Data


def data_params(kind, name):
    """What a preparation depends on in the config (so unrelated config edits do not rerun it)."""
    keys = ("data_source", "data_dir", "prompt_template", "data")
    return json.dumps({"source": CFG[kind][name], **{k: CFG.get(k) for k in keys}}, sort_keys=True)


def data_local_file(kind, name):
    """The local file a source is read from, if any (missing files are reported by the job, naming them)."""
    from rsrl.data.sources import use_local_file

    src = CFG[kind][name]
    if use_local_file(src, CFG):
        path = rcfg.data_path(CFG, src["local"])
        if path.exists():
            return [os.path.relpath(path)]  # relative: a moved checkout (with its data beside it) reruns nothing
    return []


# ---------------------------------------------------------------------------------------------------------------
# Training


def train_cell(wc):
    try:
        return CELL_BY_KEY[(wc.model, wc.train_set, wc.method)]
    except KeyError:
        raise WorkflowError(f"{wc.model}/{wc.train_set}/{wc.method} is not a cell of the configured grid") from None


def train_params(wc):
    """What a cell's training computes from the config (rsrl.resources.train_fingerprint): scheduling and
    memory-only settings are left out, so editing them retrains nothing."""
    return json.dumps(rsrc.train_fingerprint(CFG, train_cell(wc)), sort_keys=True)


def train_trainer(wc):
    return train_cell(wc).trainer


def train_resource(key):
    """One Slurm resource of a cell (rsrl.resources.train)."""
    return lambda wc: rsrc.train(CFG, train_cell(wc))[key]


# Cells of multi-node models run as "MPI" jobs: the job script itself starts Ray on every node with srun, so the
# slurm plugin must not wrap it in `srun -n1` (resource `mpi`, one task per node). Everything else is one node.
MULTINODE_MODELS = [m for m in CFG["models"] if rsrc.is_multinode(CFG, m)]
MULTINODE_RE = "|".join(re.escape(m) for m in MULTINODE_MODELS) or "(?!)"
SINGLENODE_RE = "|".join(re.escape(m) for m in CFG["models"] if m not in MULTINODE_MODELS) or "(?!)"


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def eval_checkpoint(wc):
    try:
        return CHECKPOINT_BY_KEY[(wc.model, wc.train_set, wc.method)]
    except KeyError:
        raise WorkflowError(f"{wc.model}/{wc.train_set}/{wc.method} is not a configured checkpoint") from None


def eval_model_inputs(wc):
    return grid.checkpoint_inputs(CFG, eval_checkpoint(wc))


def eval_model_source(wc):
    return grid.checkpoint_source(CFG, eval_checkpoint(wc))


def eval_shards(benchmark):
    st = eval_shards_plan.eval_settings(CFG, benchmark)
    return eval_shards_plan.shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"])


def eval_graded(wc):
    return [grid.GRADED_PATTERN.format(p=p, s=s, **wc) for p, s in eval_shards(wc.benchmark)]


def eval_sample_seed(wc):
    return grid.sample_seed(CFG, eval_checkpoint(wc))


def shard_sampling_params(ckpt, benchmark, p, s):
    """What a sample shard depends on in the config, so unrelated edits do not resample. Its sample range
    stands in for n and samples_per_shard: raising n only adds shards (seeds do not depend on n)."""
    st = eval_shards_plan.eval_settings(CFG, benchmark, grid.sample_seed(CFG, ckpt))
    sd = eval_shards_plan.shard(1, st["n"], st["problem_shards"], st["samples_per_shard"], int(p), int(s))
    keep = {k: v for k, v in st.items() if k not in ("n", "samples_per_shard")}
    return {**keep, "start": sd.start, "count": sd.count, "store": CFG["evaluation"]["store"]}


def eval_sampling_params(wc):
    return json.dumps(shard_sampling_params(eval_checkpoint(wc), wc.benchmark, wc.p, wc.s), sort_keys=True)


def batch_sampling_params(batch):
    """What a run's sampling batch depends on: every shard's parameters and every checkpoint's weights path."""
    return json.dumps(
        {
            "shards": [[c.id, b, p, s, shard_sampling_params(c, b, p, s)] for c, b, p, s in batch.targets],
            "sources": [grid.checkpoint_source(CFG, c) for c in batch.checkpoints()],
        },
        sort_keys=True,
    )


def grade_params(wc):
    """What grading computes from the config: the grader's semantics, not its workers or deadlines."""
    return json.dumps(
        {k: v for k, v in CFG["evaluation"]["grader"].items() if k not in rsrc.GRADER_SCHEDULING}, sort_keys=True
    )


def eval_resource(key):
    """One resource of a sampling job (rsrl.resources.sample)."""
    return lambda wc: rsrc.sample(CFG, wc.model)[key]


SAMPLE_BATCHES = shard_plan.sample_batches(CFG)  # empty unless evaluation.sample_jobs is "run"

EVAL_METRICS = [grid.eval_file(grid.EVAL_METRICS_PATTERN, c, b) for c, b in EVAL_TARGETS]
EVAL_PROBLEMS = [grid.eval_file(grid.PROBLEMS_PATTERN, c, b) for c, b in EVAL_TARGETS]


def stage_outputs(prefix):
    """The outputs of every rule whose name starts with ``prefix``, among those defined so far, so that an aggregate
    target lists no path by hand."""
    return [f for r in workflow.rules if r.name.startswith(prefix) for f in r.output]


def report_outputs():
    """The outputs of every job of every report rule: the rules and their jobs come from the report's products
    (rsrl.report.command), the same source the cost plan counts."""
    from rsrl.report.command import rule_jobs

    jobs = rule_jobs(CFG)
    out = []
    for r in workflow.rules:  # in the order the rules are written
        patterns = [strip_wildcard_constraints(str(f)) for f in r.output]
        out += [p.format(**wc) for wc in jobs.get(r.name, []) for p in patterns]
    missing = sorted(set(jobs) - {r.name for r in workflow.rules})
    if missing:
        raise WorkflowError(f"report products without a rule: {missing} (add them to workflow/rules/report.smk)")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Smoke run


def smoke_profile(wildcards):
    """The profile of the smoke run (workflow/rules/smoke.smk): Slurm when this run submits to Slurm."""
    plugin = workflow.executor_plugin
    name = "slurm" if plugin is not None and plugin.name.endswith("slurm") else "local"
    return os.environ.get("RSRL_SMOKE_PROFILE") or str(rcfg.REPO_ROOT / name)
