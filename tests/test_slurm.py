"""The Slurm profile end to end, on a real one-node Slurm cluster started on this machine.

`slurm_cluster` (session fixture) starts the cluster with scripts/slurm_up.sh (as root; it installs slurm-wlm
and munge with apt-get when missing) and stops it afterwards if it started it. Each test runs Snakemake with
`--profile slurm` in a copy of the repository (tracked and untracked-but-not-ignored files), so results of
the working tree are never touched, and jobs import `rsrl` from the copy (PYTHONPATH=<copy>/src).

Workflows:
- SHARDS: a small workflow written by this module with the shape of the evaluation stage (cells -> slow,
  atomically written shards -> per-cell merge -> summary). It exercises submission, targeted reruns and
  fault recovery in about a minute each.
- The project's own DAG on a config (DEMO), once config/demo.yaml and every stage's rules exist.

To run the project's DAG through Slurm from another test:

    workdir = copy_repo(tmp_path / "repo")
    run = run_snakemake(workdir, ["all"], configfile="config/demo.yaml")       # profile "slurm"
    run.check()                                  # raises with the log tail unless Snakemake succeeded
    run.job_stats                                # Counter rule -> jobs run (Snakemake's "Job stats" table)
    run.slurm_jobids                             # Slurm job ids Snakemake submitted
    plan = run_snakemake(workdir, ["all"], configfile=..., forcerun=[cell_path], dry_run=True).job_stats
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# Always copied: the profiles and scripts this module tests, even where git does not know them yet.
ALWAYS_COPY = ["slurm", "local", "scripts", "Snakefile", "workflow", "src", "config", "envs", "pyproject.toml"]
NEVER_COPY = {".venv", "results", "logs", ".snakemake", "work", ".git", ".pytest_cache", "build", "__pycache__"}
# First status check soon after submission: short test jobs should not wait the profile's 10 s.
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "2"]

# ---------------------------------------------------------------------------------------------------------------
# Cluster


def _sinfo_state() -> str | None:
    if not shutil.which("sinfo"):
        return None
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else None


@dataclasses.dataclass
class SlurmCluster:
    partition: str
    node: str
    started_here: bool
    startup_s: float


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running Slurm cluster: the one already answering `sinfo`, else a one-node cluster on this machine."""
    state = _sinfo_state()
    started = False
    t0 = time.monotonic()
    if state not in ("idle", "mixed", "allocated"):
        if os.geteuid() != 0:
            pytest.skip("no Slurm cluster answers `sinfo` and starting one needs root (scripts/slurm_up.sh)")
        if not shutil.which("slurmctld") and not shutil.which("apt-get"):
            pytest.skip("Slurm is not installed and apt-get is unavailable to install slurm-wlm and munge")
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / "slurm_up.sh")], capture_output=True, text=True, timeout=600
        )
        if proc.returncode != 0:
            pytest.fail(f"scripts/slurm_up.sh failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        started = True
    startup = time.monotonic() - t0
    info = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %P"], capture_output=True, text=True, check=True)
    node, partition = info.stdout.split()[:2]
    print(f"\nSlurm cluster: node {node}, partition {partition}, start-up {startup:.1f} s")
    yield SlurmCluster(partition=partition.rstrip("*"), node=node, started_here=started, startup_s=startup)
    if started:
        subprocess.run(["bash", str(REPO / "scripts" / "slurm_down.sh")], capture_output=True, timeout=120)


# ---------------------------------------------------------------------------------------------------------------
# Running Snakemake in a copy of the repository


def copy_repo(dst: Path, src: Path = REPO) -> Path:
    """Copy the repository's source files (git-tracked and untracked-but-not-ignored) to `dst`.

    Outputs, logs, Snakemake state and virtual environments are not copied.
    """
    files: set[str] = set()
    if (src / ".git").exists() and shutil.which("git"):
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=src,
            capture_output=True,
            check=True,
        )
        files = {f for f in out.stdout.decode().split("\0") if f}
    for top in ALWAYS_COPY:
        p = src / top
        if p.is_file():
            files.add(top)
        elif p.is_dir():
            files.update(str(f.relative_to(src)) for f in p.rglob("*") if f.is_file())
    for rel in sorted(files):
        if NEVER_COPY.intersection(Path(rel).parts) or not (src / rel).is_file():
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)
    return dst


def job_env(workdir: Path, extra: dict | None = None) -> dict:
    """Environment for Snakemake and (through sbatch --export=ALL) its jobs: this interpreter's environment
    first on PATH, and `rsrl` imported from the copy."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(workdir / "src")
    env.pop("SNAKEMAKE_PROFILE", None)
    env.update(extra or {})
    return env


@dataclasses.dataclass
class Run:
    args: list[str]
    returncode: int
    output: str
    seconds: float

    @property
    def job_stats(self) -> collections.Counter:
        """Jobs per rule from Snakemake's "Job stats" table (the plan for a dry run; the last table printed)."""
        return parse_job_stats(self.output)

    @property
    def slurm_jobids(self) -> list[int]:
        return [int(j) for j in re.findall(r"has been submitted with SLURM jobid (\d+)", self.output)]

    def check(self) -> Run:
        if self.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(self.args)} failed (rc {self.returncode}) after "
                f"{self.seconds:.0f} s:\n{self.output[-6000:]}"
            )
        return self


def parse_job_stats(text: str) -> collections.Counter:
    tables = text.split("Job stats:")
    stats: collections.Counter = collections.Counter()
    if len(tables) < 2:
        return stats
    for line in tables[-1].splitlines()[1:]:
        m = re.match(r"^(\S+)\s+(\d+)\s*$", line)
        if m:
            if m.group(1) == "total":
                break
            stats[m.group(1)] = int(m.group(2))
        elif stats and not line.strip():
            break
    return stats


@functools.lru_cache(maxsize=1)
def _node_cpus() -> int | None:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%c"], capture_output=True, text=True)
    cpus = [int(c) for c in out.stdout.split() if c.isdigit()]
    return max(cpus) if out.returncode == 0 and cpus else None


def cluster_caps() -> list[str]:
    """Rules asking for more threads than the test cluster's node has would stay pending for ever
    (Reason=PartitionConfig): cap them at the node's CPUs, as a one-machine run caps them at --cores."""
    cpus = _node_cpus()
    return ["--max-threads", str(cpus)] if cpus else []


def snakemake_args(
    targets: Sequence[str],
    *,
    profile: str | None = "slurm",
    configfile: str | None = None,
    config: dict | None = None,
    forcerun: Sequence[str] = (),
    dry_run: bool = False,
    snakefile: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = [str(VENV_BIN / "snakemake")]
    if profile:
        args += ["--profile", profile]
    if snakefile:
        args += ["--snakefile", snakefile]
    if configfile:
        args += ["--configfile", configfile]
    if config:
        args += ["--config", *(f"{k}={v}" for k, v in config.items())]
    if forcerun:
        args += ["--forcerun", *forcerun]
    if dry_run:
        args += ["--dry-run"]
    elif profile == "slurm":
        args += FAST_STATUS + cluster_caps()
    args += list(extra)
    args += ["--", *targets] if targets else []
    return args


def run_snakemake(
    workdir: Path,
    targets: Sequence[str],
    *,
    profile: str | None = "slurm",
    configfile: str | None = None,
    config: dict | None = None,
    forcerun: Sequence[str] = (),
    dry_run: bool = False,
    snakefile: str | None = None,
    extra: Sequence[str] = (),
    env: dict | None = None,
    timeout: float = 1800,
) -> Run:
    """Run Snakemake in `workdir` (a copy from `copy_repo`) with the given profile ("slurm" or "local")."""
    args = snakemake_args(
        targets,
        profile=profile,
        configfile=configfile,
        config=config,
        forcerun=forcerun,
        dry_run=dry_run,
        snakefile=snakefile,
        extra=extra,
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        args,
        cwd=workdir,
        env=job_env(workdir, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return Run(args, proc.returncode, proc.stdout, time.monotonic() - t0)


def squeue(fmt: str = "%i|%T|%k") -> list[list[str]]:
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", fmt], capture_output=True, text=True, check=True)
    return [line.split("|") for line in out.stdout.splitlines() if line.strip()]


def assert_ran_in_slurm(run: Run, expected_jobs: int | None = None):
    """Every job Snakemake submitted has a Slurm job id that Slurm knows about and that completed."""
    ids = run.slurm_jobids
    assert ids, f"no job was submitted to Slurm:\n{run.output[-3000:]}"
    if expected_jobs is not None:
        assert len(ids) == expected_jobs, f"expected {expected_jobs} Slurm submissions, got {ids}"
    known = {int(r[0]) for r in squeue() if r[0].isdigit()}
    # squeue forgets finished jobs after MinJobAge (300 s): for longer runs, the controller's log says which
    # jobs it allocated to the node.
    log = Path(os.environ.get("RSRL_SLURM_DIR", "/tmp/rsrl-slurm")) / "log" / "slurmctld.log"
    if log.exists():
        text = log.read_text(errors="replace")
        known |= {int(j) for j in re.findall(r"(?:sched: Allocate|_start_job: Started) JobId=(\d+)", text)}
    missing = [i for i in ids if i not in known]
    assert not missing, f"Slurm does not know jobs {missing} (squeue and {log} list {sorted(known)[-50:]})"


# ---------------------------------------------------------------------------------------------------------------
# A small sharded workflow with the shape of the evaluation stage

SHARDS_SNAKEFILE = textwrap.dedent("""
    # cells -> shards (slow, atomic) -> merge per cell -> summary
    CELLS = config.get("cells", "A,B").split(",")
    N_SHARDS = int(config.get("shards", 2))

    rule all:
        input: "results/summary.txt"

    rule shard:
        output: "results/cells/{cell}/samples/s{s}.txt"
        log: "logs/shard/{cell}_s{s}.log"
        params: seconds=config.get("seconds", 1)
        resources: runtime=10, mem_mb=500
        shell: "python shard.py {wildcards.cell} {wildcards.s} {params.seconds} {output} > {log} 2>&1"

    rule merge:
        input: expand("results/cells/{{cell}}/samples/s{s}.txt", s=range(N_SHARDS))
        output: "results/cells/{cell}/merged.txt"
        log: "logs/merge/{cell}.log"
        resources: runtime=10, mem_mb=500
        shell: "cat {input} > {output} 2> {log}"

    rule summary:
        input: expand("results/cells/{cell}/merged.txt", cell=CELLS)
        output: "results/summary.txt"
        log: "logs/summary.log"
        resources: runtime=10, mem_mb=500
        shell: "sha256sum {input} > {output} 2> {log}"
""")

SHARD_SCRIPT = textwrap.dedent('''
    """Write one shard slowly: deterministic rows, progress marker, atomic rename at the end."""
    import hashlib, os, sys, time
    from pathlib import Path
    import rsrl
    from rsrl.io import write_text

    cell, s, seconds, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    src = Path(rsrl.__file__).resolve()
    assert Path.cwd().resolve() in src.parents, f"rsrl imported from {src}, not from {Path.cwd()}"
    rows, steps = [], 5
    for i in range(steps):
        rows.append(hashlib.sha256(f"{cell}/{s}/{i}".encode()).hexdigest())
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{out}.progress").write_text(f"{i + 1}/{steps} job {os.environ.get('SLURM_JOB_ID')}")
        time.sleep(seconds / steps)
    write_text(out, "\\n".join(rows) + "\\n")
    Path(f"{out}.progress").unlink()
    print(f"shard {cell} {s}: {len(rows)} rows, slurm job {os.environ.get('SLURM_JOB_ID')}")
''')


def shards_workdir(dst: Path) -> Path:
    """A copy of the repository with the sharded test workflow as `shards.smk`."""
    copy_repo(dst)
    (dst / "shards.smk").write_text(SHARDS_SNAKEFILE)
    (dst / "shard.py").write_text(SHARD_SCRIPT)
    return dst


def tree_digest(root: Path, pattern: str) -> dict[str, str]:
    """sha256 of every file under `root` matching `pattern` (Parquet: of its rows, so metadata may differ)."""
    out = {}
    for p in sorted(root.glob(pattern)):
        if p.name.endswith(".parquet"):
            import pandas as pd

            df = pd.read_parquet(p)
            data = pd.util.hash_pandas_object(df, index=False).values.tobytes()
        else:
            data = p.read_bytes()
        out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


# ---------------------------------------------------------------------------------------------------------------
# Fault injection, generic over the workflow


@dataclasses.dataclass
class FaultCase:
    """Where to inject a fault: the rule whose Slurm job is cancelled mid-way and the shard files it writes."""

    name: str
    make_workdir: object  # callable(Path) -> Path
    targets: list[str]
    shard_rule: str  # the Slurm job comment starts with rule_<shard_rule>_
    shard_glob: str  # all shard outputs, relative to the workdir
    progress_glob: str | None = None  # a file that shows the job is mid-way (else: RUNNING for `wait_s`)
    snakefile: str | None = None
    configfile: str | None = None
    config: dict | None = None
    wait_s: float = 2.0


SHARDS_FAULT = FaultCase(
    name="shards",
    make_workdir=shards_workdir,
    targets=["all"],
    shard_rule="shard",
    shard_glob="results/cells/*/samples/*.txt",
    progress_glob="results/cells/*/samples/*.progress",
    snakefile="shards.smk",
    config={"cells": "A", "seconds": 5},
)

DEMO_CONFIG = "config/demo.yaml"
# A small bandit for the Slurm runs (the full one is tested in test_bandit.py): two RS-GRPO betas (the demo's
# other theory estimators are kept), few seeds and samples, small lemma instances.
THEORY_TINY = {
    "rs": {"beta": [0, 4]},
    "bandit": {"seeds": 2, "samples": 2000, "batch_size": 16, "step_size": 0.1},
    "lemmas": {"instances": 5, "arms": 3, "seed": 0},
}
# The demo, shrunk so that every rule of the DAG runs through Slurm in minutes on 2 cores: two cells (beta 0 and
# 2), a short warm start, 4 training steps with a snapshot at step 2, n = 8 samples on 16 synthetic problems and 4
# MATH-500 problems (Table 2 at pass@1 and pass@8), one CPU per sampling/grading job, and a small bandit. Written
# into the copy as config/demo-ci.yaml.
DEMO_CI_CONFIG = "config/demo-ci.yaml"


def demo_ready() -> str | None:
    missing = []
    if not (REPO / DEMO_CONFIG).exists():
        missing.append(DEMO_CONFIG)
    return f"not yet in the repository: {missing}" if missing else None


def demo_overrides() -> dict:
    data = Path(os.environ.get("RSRL_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
    return {"data_dir": str(data)}


def demo_ci_config() -> dict:
    import yaml

    cfg = yaml.safe_load((REPO / DEMO_CONFIG).read_text())
    cfg.update(demo_overrides())
    cfg["theory"]["estimators"]["rs"] = THEORY_TINY["rs"]
    cfg["theory"]["bandit"].update(THEORY_TINY["bandit"])
    cfg["theory"]["lemmas"] = THEORY_TINY["lemmas"]
    (model,) = cfg["models"]
    cfg["models"][model]["build"]["warmstart_steps"] = 30
    # GRPO with two seeds (two cells, grpo.seed1 and grpo.seed2) and one unseeded RS-GRPO cell.
    cfg["grid"] = [
        {**cfg["grid"][0], "methods": [{"estimator": "grpo"}], "seeds": [1, 2]},
        {**cfg["grid"][1], "methods": [{"estimator": "rs", "params": {"beta": 2}}]},
    ]
    cfg["training"].update(max_steps=4, save_steps=2, eval_steps=[2])
    bench = cfg["benchmarks"]
    for b in bench.values():
        b["synthetic"]["size"] = 16
    # one CPU per sampling and grading job, so that two jobs share the 2-core test node
    cfg["size_classes"]["cpu"]["cpus_per_gpu"] = 1
    cfg["evaluation"]["grader"]["workers"] = 1
    cfg["evaluation"].update(samples_per_shard=8, per_benchmark={b: {"n": 8} for b in bench})
    for fig in ("ablation", "comparison"):  # snapshots on the held-out problems only
        cfg["report"][fig]["benchmarks"] = ["sums_test"]
    cfg["report"]["k_table"] = [1, 8]  # pass@k is computed up to n = 8
    return cfg


def demo_ci_workdir(dst: Path, sample_jobs: str | None = None) -> Path:
    """A copy of the repository with the CI subset of the demo config as config/demo-ci.yaml (``sample_jobs``:
    evaluation.sample_jobs instead of the demo's)."""
    import yaml

    cfg = demo_ci_config()
    if sample_jobs:
        cfg["evaluation"]["sample_jobs"] = sample_jobs
    copy_repo(dst)
    (dst / DEMO_CI_CONFIG).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst


def demo_ci_shard_workdir(dst: Path) -> Path:
    """:func:`demo_ci_workdir` with one sampling job per shard (the demo samples one job per run)."""
    return demo_ci_workdir(dst, sample_jobs="shard")


def sampling_fault_case() -> FaultCase:
    """The evaluation stage's sampling shards (rule `sample`, one job per shard) of the base checkpoint of the
    demo's first model on its first benchmark (CI subset): the Slurm job of one shard is cancelled once it has run
    `wait_s` s."""
    from rsrl import config as rcfg
    from rsrl import grid

    cfg = rcfg.validate(demo_ci_config())
    ckpt = next(c for c in grid.checkpoints(cfg) if c.is_base)
    bench = next(iter(cfg["benchmarks"]))
    base = grid.eval_file(grid.EVAL_PATTERN, ckpt, bench)
    return FaultCase(
        name="sampling",
        make_workdir=demo_ci_shard_workdir,
        targets=[f"{base}/problems.parquet"],
        shard_rule="sample",
        shard_glob=f"{base}/samples/p*_s*.parquet",
        configfile=DEMO_CI_CONFIG,
        wait_s=5.0,
    )


def _running_job(rule: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for jobid, state, comment in squeue():
            if state == "RUNNING" and comment.startswith(f"rule_{rule}"):
                return int(jobid)
        time.sleep(0.3)
    raise AssertionError(f"no Slurm job of rule {rule!r} started within {timeout:.0f} s: {squeue()}")


def _wait_midway(workdir: Path, case: FaultCase, timeout: float = 60):
    if not case.progress_glob:
        time.sleep(case.wait_s)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(workdir.glob(case.progress_glob)):
            return
        time.sleep(0.2)
    raise AssertionError(f"no file {case.progress_glob} appeared within {timeout:.0f} s")


def run_with_fault(workdir: Path, case: FaultCase, mode: str, timeout: float = 900) -> list[Run]:
    """Run `case` through Slurm and inject a fault while a shard job runs.

    mode "scancel": cancel that Slurm job (a preemption or node loss); Snakemake's `retries` resubmit it.
    mode "kill":    kill Snakemake itself with SIGKILL and cancel its Slurm jobs (the submit host died), then
                    run Snakemake again, which reruns the incomplete jobs.
    Returns the Snakemake runs.
    """
    args = snakemake_args(case.targets, snakefile=case.snakefile, configfile=case.configfile, config=case.config)
    env = job_env(workdir)
    t0 = time.monotonic()
    # output to a file, not a pipe: nobody reads a pipe while waiting for the fault, and a full one blocks
    log = workdir.parent / f"{workdir.name}-{case.name}-{mode}.out"
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        victim = _running_job(case.shard_rule, timeout=300)
        _wait_midway(workdir, case)
        if mode == "scancel":
            subprocess.run(["scancel", str(victim)], check=True)
        elif mode == "kill":
            run_name = next(r[1] for r in squeue("%i|%j") if r[0] == str(victim))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            subprocess.run(["scancel", "--name", run_name], check=True)
        else:
            raise ValueError(f"unknown fault mode {mode!r} (use 'scancel' or 'kill')")
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    runs = [Run(args, proc.returncode, log.read_text(), time.monotonic() - t0)]
    if mode == "kill" or proc.returncode != 0:
        # a killed Snakemake leaves its lock behind: unlock, then run again
        run_snakemake(
            workdir,
            case.targets,
            snakefile=case.snakefile,
            configfile=case.configfile,
            config=case.config,
            extra=["--unlock"],
        ).check()
        runs.append(
            run_snakemake(
                workdir,
                case.targets,
                snakefile=case.snakefile,
                configfile=case.configfile,
                config=case.config,
                timeout=timeout,
            )
        )
    return runs


# ---------------------------------------------------------------------------------------------------------------
# Tests


@pytest.mark.slow
def test_workflow_runs_through_slurm_and_reruns_one_cell(slurm_cluster, tmp_path):
    wd = shards_workdir(tmp_path / "repo")
    config = {"cells": "A,B", "shards": 1}
    run = run_snakemake(wd, ["all"], snakefile="shards.smk", config=config).check()
    print(f"\nshards workflow through Slurm: {run.seconds:.1f} s, {len(run.slurm_jobids)} Slurm jobs")
    assert run.job_stats == {"shard": 2, "merge": 2, "summary": 1, "all": 1}
    # every job but the input-only target `all` went through sbatch, and Slurm knows each of them
    assert_ran_in_slurm(run, expected_jobs=5)
    shards = tree_digest(wd, "results/cells/*/samples/*.txt")
    assert len(shards) == 2 and not list(wd.glob("results/**/*.progress"))
    assert (wd / "logs/shard/A_s0.log").read_text().startswith("shard A 0: 5 rows, slurm job ")

    # Nothing to do on a second run.
    again = run_snakemake(wd, ["all"], snakefile="shards.smk", config=config).check()
    assert again.slurm_jobids == [] and "Nothing to be done" in again.output

    # Targeted rerun of one cell by its results path: only that cell's job and what depends on it.
    before = {p: p.stat().st_mtime_ns for p in wd.glob("results/cells/*/*.txt")}
    forced = ["results/cells/B/merged.txt"]
    plan = run_snakemake(wd, ["all"], snakefile="shards.smk", config=config, forcerun=forced, dry_run=True).check()
    assert plan.job_stats == {"merge": 1, "summary": 1, "all": 1}
    rerun = run_snakemake(wd, ["all"], snakefile="shards.smk", config=config, forcerun=forced).check()
    assert rerun.job_stats == plan.job_stats
    assert_ran_in_slurm(rerun, expected_jobs=2)
    after = {p: p.stat().st_mtime_ns for p in wd.glob("results/cells/*/*.txt")}
    changed = sorted(str(p.relative_to(wd)) for p in before if after[p] != before[p])
    assert changed == ["results/cells/B/merged.txt"]
    assert tree_digest(wd, "results/cells/*/samples/*.txt") == shards


def fault_case(name: str) -> FaultCase:
    if name == "shards":
        return SHARDS_FAULT
    reason = demo_ready()
    if reason:
        pytest.skip(reason)
    return sampling_fault_case()


@pytest.mark.slow
@pytest.mark.parametrize("case_name,mode", [("shards", "scancel"), ("sampling", "scancel")])
def test_interrupted_shards_rerun_to_identical_results(slurm_cluster, tmp_path, case_name, mode):
    """A shard job cancelled mid-way (or Snakemake itself killed) and rerun: every shard present, and
    identical to an uninterrupted run."""
    case = fault_case(case_name)
    # Reference: an uninterrupted run (on this machine, with the local profile, to keep it short).
    ref = case.make_workdir(tmp_path / "ref")
    ref_config = {**(case.config or {}), **({"seconds": 0} if case is SHARDS_FAULT else {})}
    run_snakemake(
        ref,
        case.targets,
        profile="local",
        snakefile=case.snakefile,
        configfile=case.configfile,
        config=ref_config,
        timeout=1800,
    ).check()
    expected = tree_digest(ref, case.shard_glob)
    assert expected

    wd = case.make_workdir(tmp_path / "faulty")
    runs = run_with_fault(wd, case, mode)
    runs[-1].check()
    if mode == "scancel":
        # one run: the cancelled job was resubmitted by `retries`
        assert len(runs) == 1
        submitted = collections.Counter(re.findall(r"Job (\d+) has been submitted with SLURM jobid", runs[0].output))
        assert [j for j, n in submitted.items() if n > 1], "the cancelled job was not resubmitted"
        assert "CANCELLED" in runs[0].output
    else:
        assert runs[0].returncode != 0 and len(runs) == 2
        assert runs[1].job_stats[case.shard_rule] >= 1
    got = tree_digest(wd, case.shard_glob)
    assert got == expected, f"shards differ from the uninterrupted run: {set(got) ^ set(expected)}"
    leftovers = [str(p) for p in wd.glob("results/**/*") if p.name.endswith((".tmp", ".progress"))]
    assert not leftovers, f"partial files left behind: {leftovers}"


DEMO_TARGETS = ["all"]


@pytest.mark.slow
def test_demo_dag_runs_through_slurm(slurm_cluster, tmp_path):
    """Every rule of the DAG on the CI subset of the demo (see `demo_ci_config`) through Slurm, then a targeted
    rerun of one training cell by its results path with --forcerun: only that cell's jobs (its training, its
    snapshot export, its sampling/grading/scoring) and the tables and figures downstream run again."""
    reason = demo_ready()
    if reason:
        pytest.skip(reason)
    wd = demo_ci_workdir(tmp_path / "repo")
    run = run_snakemake(wd, DEMO_TARGETS, configfile=DEMO_CI_CONFIG, timeout=3000).check()
    print(f"\ndemo DAG through Slurm: {run.seconds:.0f} s, {len(run.slurm_jobids)} Slurm jobs, {run.job_stats}")
    assert_ran_in_slurm(run)
    rules = {
        "theory_bandit",
        "theory_lemmas",
        "theory_advantage_shape",
        "theory_figures",
        "prepare_bench",
        "prepare_train",
        "data_manifest",
        "build_model",
        "train_cell",
        "export_step",
        "grade",
        "score",
        "aggregate_eval",
        "report_table2",
        "report_fig4",
        "report_fig5",
        "report_fig7",
    }
    assert rules <= set(run.job_stats), f"rules that did not run: {rules - set(run.job_stats)}"
    # sampling: one job per run (evaluation.sample_jobs: run): the base model and the three cells
    assert sorted(r for r in run.job_stats if r.startswith("sample")) == [f"sample_run_{i}" for i in range(4)]
    for path in (
        "results/tables/passk.csv",
        "results/tables/table2.md",
        "results/figures/fig4_passk.png",
        "results/figures/fig5_beta_ablation.svg",
        "results/figures/fig7_diversity.png",
        "results/data/manifest.json",
    ):
        assert (wd / path).stat().st_size > 0, path
    # The HTML report of the README's first command (every figure and table marked for it, with its caption).
    run_snakemake(
        wd, DEMO_TARGETS, profile="local", configfile=DEMO_CI_CONFIG, extra=["--report", "results/report.html"]
    ).check()
    html = (wd / "results/report.html").read_text(errors="replace")
    for name in (
        "fig2_advantage_shape.png",
        "fig3_bandit.png",
        "fig4_passk.png",
        "fig5_beta_ablation.png",
        "fig7_diversity.png",
        "table2.md",
    ):
        assert name in html, f"{name} missing from the report"

    import pandas as pd

    # Across-seed rows: Table 2 has both GRPO seeds and their summary; the paired comparison has RS-GRPO vs GRPO.
    table2 = pd.read_csv(wd / "results/tables/table2.csv", keep_default_na=False)
    assert {"grpo.seed1", "grpo.seed2", "grpo", "rs_beta2", "base"} <= set(table2["method"]), table2["method"]
    assert set(table2.loc[table2["method"] == "grpo", "n_seeds"].astype(int)) == {2}
    paired = pd.read_csv(wd / "results/tables/paired_diff.csv")
    assert set(paired["method"]) == {"rs_beta2"} and set(paired["reference_n_seeds"]) == {2}, paired
    assert set(paired["benchmark"]) == {"sums_train", "sums_test"}

    # One seed of a method is its own cell: forcing it reruns that seed's jobs only.
    cell = "results/train/tiny-qwen2/sums/grpo.seed2"
    forced = [f"{cell}/model"]
    plan = run_snakemake(wd, DEMO_TARGETS, configfile=DEMO_CI_CONFIG, forcerun=forced, dry_run=True).check().job_stats
    n_bench, n_snap = 2, 1  # sums_train + sums_test for the final model; sums_test for the step-2 snapshot
    cell_jobs = {"train_cell": 1, "export_step": 1, "grade": n_bench + n_snap, "score": n_bench + n_snap}
    assert {r: plan.get(r, 0) for r in cell_jobs} == cell_jobs, plan
    sampling = [r for r in plan if r.startswith("sample_run_")]  # the cell's run: one job for its 3 shards
    assert len(sampling) == 1 and plan[sampling[0]] == 1, plan
    cell_jobs[sampling[0]] = 1
    # everything else in the plan is downstream of the cell: the aggregated table, the report, the target
    downstream = {"aggregate_eval", "all"} | {r for r in plan if r.startswith("report_")}
    assert set(plan) - set(cell_jobs) <= downstream, plan
    before = {p: p.stat().st_mtime_ns for p in wd.glob("results/**/*") if p.is_file()}
    rerun = run_snakemake(wd, DEMO_TARGETS, configfile=DEMO_CI_CONFIG, forcerun=forced, timeout=3000).check()
    assert rerun.job_stats == plan
    assert_ran_in_slurm(rerun)
    changed = {str(p.relative_to(wd)) for p, t in before.items() if p.exists() and p.stat().st_mtime_ns != t}
    other_cells = [p for p in changed if p.startswith(("results/train/", "results/eval/")) and "/grpo.seed2" not in p]
    assert not other_cells, f"outputs of other cells were rebuilt: {other_cells}"
