"""The Snakemake profiles (slurm/, local/): their keys, and what a dry run with them plans for the paper grid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def load_profile(name: str) -> dict:
    return yaml.safe_load((REPO / name / "config.yaml").read_text())


def dry_run(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    """`snakemake --dry-run ARGS` in `cwd`; returns its output, failing the test with it on error.

    `env` entries override the environment; a None value removes the variable. A dry run caps `threads` at
    `--cores` (one unless given), so it is given generously to show what a cluster job would request."""
    full_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    full_env.pop("SNAKEMAKE_PROFILE", None)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    proc = subprocess.run(
        [SNAKEMAKE, "--dry-run", "--cores", "256", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"snakemake --dry-run {' '.join(args)} failed:\n{proc.stdout[-5000:]}"
    return proc.stdout


def planned_jobs(text: str) -> list[dict]:
    """Jobs of a dry run's output: rule, output, wildcards and resources (as strings) of each job block."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \S+:\n)", "\n" + text):
        m = re.match(r"(?:local)?(?:rule|checkpoint) (\S+):\n", block)
        if not m:
            continue
        job = {"rule": m.group(1), "output": [], "wildcards": {}, "resources": {}}
        for line in block.splitlines()[1:]:
            key, _, value = line.strip().partition(": ")
            if key == "output":
                job["output"] = [v.strip() for v in value.split(",")]
            elif key in ("wildcards", "resources"):
                job[key] = dict(re.findall(r"(\w+)=([^,]*)", value))
        jobs.append(job)
    return jobs


def gpus_of(resources: dict) -> int | None:
    """GPUs a Slurm job asks for in all: `gpu` is a total, `gres=gpu[:type]:N` is per node."""
    if resources.get("gpu"):
        return int(resources["gpu"])
    gres = resources.get("gres", "")
    m = re.match(r"gpu(?::[\w.]+)?:(\d+)$", gres)
    if m:
        return int(m.group(1)) * int(resources.get("nodes", 1))
    if resources.get("gpus_per_node"):
        return int(resources["gpus_per_node"]) * int(resources.get("nodes", 1))
    return None


# ---------------------------------------------------------------------------------------------------------------
# Profile files


def test_slurm_profile_keys():
    p = load_profile("slurm")
    assert p["executor"] == "slurm"
    assert int(p["jobs"]) >= 1 and int(p["latency-wait"]) >= 30
    assert 1 <= int(p["retries"]) <= 3, "preempted jobs must be resubmitted a bounded number of times"
    assert p["rerun-incomplete"] is True and p["printshellcmds"] is True
    # Works without job accounting: squeue for status, no account guessing, first check < MinJobAge / 3.
    assert p["slurm-status-command"] == "squeue"
    assert p["slurm-no-account"] is True
    assert p["slurm-requeue"] is True, "preempted or requeued jobs go back to the queue (sbatch --requeue)"
    assert 3 * int(p["slurm-init-seconds-before-status-checks"]) < 300
    res = p["default-resources"]
    for key in ("slurm_partition", "runtime", "mem_mb", "cpus_per_task"):
        assert key in res, f"slurm/config.yaml: default-resources lacks {key}"
    assert res["tasks_per_gpu"] == 0
    assert "RSRL_SLURM_PARTITION" in res["slurm_partition"]
    assert "software-deployment-method" not in p  # left to the site (documented, commented out)


def test_local_profile_keys():
    p = load_profile("local")
    assert p["cores"] == "all"
    assert p["rerun-incomplete"] is True and p["printshellcmds"] is True and p["keep-going"] is False
    assert "executor" not in p
    assert p["resources"]["vllm_engines"] == 1
    assert 0 < p["resources"]["mem_mb"] <= 24 * 1024


def test_every_profile_key_is_documented():
    for name in ("slurm", "local"):
        lines = (REPO / name / "config.yaml").read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^[a-z][\w-]*:", line):
                assert lines[i - 1].startswith("#"), f"{name}/config.yaml: key on line {i + 1} has no comment"


def test_no_workflow_profile_overrides_the_global_ones():
    # profiles/default/ beside the Snakefile is loaded automatically and replaces global-profile keys one
    # top-level key at a time; a directory without config.yaml makes every Snakemake call fail.
    wp = REPO / "profiles" / "default"
    if not wp.exists():
        return
    assert (wp / "config.yaml").is_file(), f"{wp} exists without config.yaml: every snakemake call fails"
    keys = set(yaml.safe_load((wp / "config.yaml").read_text()) or {})
    for name in ("slurm", "local"):
        assert not keys & set(load_profile(name)), f"profiles/default overrides {name}/config.yaml keys"


TINY = textwrap.dedent("""
    rule all:
        input: "out/a.txt"
    rule a:
        output: "out/{x}.txt"
        shell: "touch {output}"
    rule threaded:
        output: "out/{x}.threaded"
        threads: 3
        shell: "touch {output}"
    rule gpu:
        output: "out/{x}.gpu"
        resources: gres="gpu:8", nodes=2
        shell: "touch {output}"
""")


@pytest.mark.parametrize("partition", [None, "gpu-a100"])
def test_slurm_profile_resources_in_a_dry_run(tmp_path, partition):
    (tmp_path / "Snakefile").write_text(TINY)
    out = dry_run(
        ["--profile", str(REPO / "slurm"), "out/a.txt", "out/b.gpu", "out/c.threaded"],
        tmp_path,
        {"RSRL_SLURM_PARTITION": partition},
    )
    jobs = {j["rule"]: j for j in planned_jobs(out)}
    res = jobs["a"]["resources"]
    assert res["slurm_partition"] == (partition or "")
    assert res["runtime"] == "60" and res["mem_mb"] == "4000" and res["cpus_per_task"] == "1"
    # a rule's threads become its Slurm CPUs
    assert jobs["threaded"]["resources"]["cpus_per_task"] == "3"
    assert gpus_of(jobs["gpu"]["resources"]) == 16 and jobs["gpu"]["resources"]["tasks_per_gpu"] == "0"


def test_local_profile_in_a_dry_run(tmp_path):
    (tmp_path / "Snakefile").write_text(TINY)
    out = dry_run(["--profile", str(REPO / "local"), "out/a.txt"], tmp_path)
    assert [j["rule"] for j in planned_jobs(out)] == ["a"]
    assert "slurm_partition" not in out


# ---------------------------------------------------------------------------------------------------------------
# The paper grid planned with the slurm profile (from the repository root, as a user runs it)


def _workflow_complete() -> list[str]:
    rules = re.findall(r'^include:\s*"([^"]+)"', (REPO / "Snakefile").read_text(), flags=re.M)
    return [r for r in rules if not (REPO / r).exists()]


@pytest.fixture
def full_workflow():
    missing = _workflow_complete()
    if missing:
        pytest.skip(f"workflow rule files not written yet: {missing}")


def _size_class(cfg: dict, model: str) -> dict:
    return cfg["size_classes"][cfg["models"][model]["size"]]


def test_training_jobs_request_their_size_class(full_workflow, paper_config):
    cells = {
        "small": ("Qwen2.5-Math-1.5B", "deepmath103k", "drgrpo"),
        "medium": ("Qwen2.5-Math-7B", "dapo17k", "rs_beta2"),
    }
    targets = [f"results/train/{m}/{s}/{meth}/metrics.csv" for m, s, meth in cells.values()]
    out = dry_run(["--profile", "slurm", "--printshellcmds", *targets], REPO)
    jobs = planned_jobs(out)
    for size, (model, train_set, method) in cells.items():
        sc = paper_config["size_classes"][size]
        train = [j for j in jobs if f"results/train/{model}/{train_set}/{method}/metrics.csv" in j["output"]]
        assert len(train) == 1, f"one job writes the metrics of {model}/{train_set}/{method}: {train}"
        res = train[0]["resources"]
        assert int(res.get("nodes", 1)) == sc["nodes"], f"{size} cell: {res}"
        assert gpus_of(res) == sc["nodes"] * sc["gpus_per_node"], f"{size} cell: {res}"
        assert int(res["runtime"]) >= sc["runtime_min"], f"{size} cell: {res}"
        if int(res.get("nodes", 1)) > 1:
            assert "mpi" in res or "tasks_per_node" in res or "tasks" in res, (
                f"a multi-node training job runs inside `srun -n1` without an `mpi`/tasks resource: {res}"
            )


@pytest.mark.slow
def test_train_target_plans_one_job_per_cell(full_workflow, paper_config):
    from rsrl import config as rcfg
    from rsrl import grid

    cfg = rcfg.validate(paper_config)
    out = dry_run(["--profile", "slurm", "train"], REPO)
    jobs = planned_jobs(out)
    trained = {
        tuple(o.split("/")[2:5])
        for j in jobs
        for o in j["output"]
        if re.fullmatch(r"results/train/[^/]+/[^/]+/[^/]+/metrics\.csv", o)
    }
    assert trained == {(c.model, c.train_set, c.method_id) for c in grid.cells(cfg)}


def test_sampling_jobs_request_gpus_and_one_engine(full_workflow, paper_config):
    model = "Qwen2.5-Math-1.5B"
    sc = _size_class(paper_config, model)
    target = f"results/eval/{model}/base/base/aime24/problems.parquet"
    sample = [j for j in planned_jobs(dry_run(["--profile", "slurm", target], REPO)) if j["rule"] == "sample"]
    assert len(sample) >= 1
    for job in sample:
        res = job["resources"]
        assert gpus_of(res) == sc["eval_gpus"] and res["tasks_per_gpu"] == "0", res
        assert int(res["cpus_per_task"]) == sc["cpus_per_gpu"] * sc["eval_gpus"], res
        # host memory: the GPUs' share of the node's (vLLM loads weights and pins memory on the host)
        assert int(res["mem_mb"]) == max(8000, sc["mem_mb_per_node"] * sc["eval_gpus"] // sc["gpus_per_node"]), res
        # the local profile's budget of one engine at a time applies to every sampling job
        assert res.get("vllm_engines") == "1", res
