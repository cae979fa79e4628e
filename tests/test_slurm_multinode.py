"""Two-node training jobs through the Slurm profile, on a real two-node Slurm cluster on this machine.

Every 7B/8B cell of the paper grid is a two-node job (size class `medium`): Snakemake's slurm executor submits it
with `nodes`, `tasks` and the `mpi` resource, and scripts/train_openrlhf_slurm.sh starts a Ray head on the first
node and a Ray worker on the other with `srun`, runs the driver and stops Ray. These tests run that path for real:

- `two_nodes` (module fixture) starts a second Slurm cluster beside the one-node cluster of tests/test_slurm.py:
  `scripts/slurm_up.sh --nodes 2` with its own state directory, ports and slurm.conf (RSRL_SLURM_SYSTEM_CONF=0:
  /etc/slurm/slurm.conf is left to the one-node cluster), i.e. two slurmd (`slurmd -N`) on this host at
  127.0.0.2 and 127.0.0.3. It is stopped (and its state removed) at the end of this module.
- The job's resources are those Snakemake plans for a medium-size cell of the paper grid (`nodes`, `tasks`,
  `mpi`, `tasks_per_gpu`; a dry run of the real workflow), without the GPUs, CPUs and memory the test nodes lack.
- The job runs the real launch script with a driver (written below) that connects to Ray, asserts it sees both
  nodes, runs a task pinned to each (with a runtime_env and a worker setup hook, as the OpenRLHF launch does) and
  exits with a given status.
- Faults: the worker's `srun` step fails, or it never joins (a stand-in `ray` executable for the worker); the job
  must fail within the script's stated wait (RSRL_RAY_WAIT_S), naming the node.
- `jobs` (module fixture) runs the four cases (ok, driver exits 7, worker step fails, worker never joins) as four
  Slurm jobs of one Snakemake run, at once; the tests then check each job's log and Slurm state, and that no
  process of any of the jobs (Ray daemons and workers, srun, slurmstepd) is left once they ended.

No GPU and no model are needed; about 1.5 minutes on a 2-core machine.

The job's shell command exports SLURM_CONF: Snakemake's slurm-jobstep executor removes every SLURM_* variable but
the job id from the job's environment, and this cluster's slurm.conf is not the machine's default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
LAUNCHER = REPO / "scripts" / "train_openrlhf_slurm.sh"
# The two-node cluster: its own state directory and ports (slurmctld 6917, slurmd 6918/6919), so that it never
# meets the one-node cluster of tests/test_slurm.py (/tmp/rsrl-slurm, 6817/6818) in the same pytest session.
STATE = Path(os.environ.get("RSRL_SLURM_MULTINODE_DIR", "/tmp/rsrl-slurm-2nodes"))
CTLD_PORT = "6917"
# Four CPUs a node (more than the host has: the nodes share its cores), so that the four one-CPU-a-node test jobs
# run at once.
CLUSTER_ENV = {
    "RSRL_SLURM_DIR": str(STATE),
    "RSRL_SLURM_NODES": "2",
    "RSRL_SLURM_PORT": CTLD_PORT,
    "RSRL_SLURM_SYSTEM_CONF": "0",
    "RSRL_SLURM_PARTITION": "debug",
    "RSRL_SLURM_CPUS": "4",
}
# The launcher's stated wait for every node to join, shortened for the fault cases.
WAIT_S = 45


# ---------------------------------------------------------------------------------------------------------------
# Cluster


@dataclasses.dataclass
class TwoNodes:
    conf: Path
    nodes: list[str]
    addresses: dict[str, str]
    started_here: bool

    def env(self) -> dict:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str) -> str:
        return subprocess.run(list(args), env=self.env(), capture_output=True, text=True, check=True, timeout=60).stdout


def _slurm_script(name: str, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **CLUSTER_ENV, **(extra or {})}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name), *args], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def two_nodes():
    pytest.importorskip("ray")
    if os.geteuid() != 0:
        pytest.skip("starting a two-node Slurm cluster needs root (scripts/slurm_up.sh --nodes 2)")
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and apt-get is unavailable to install slurm-wlm and munge")
    t0 = time.monotonic()
    up = _slurm_script("slurm_up.sh", "--nodes", "2")
    if up.returncode != 0:
        pytest.fail(f"scripts/slurm_up.sh --nodes 2 failed (rc {up.returncode}):\n{up.stdout}\n{up.stderr}")
    started = "already running" not in up.stderr
    cluster = TwoNodes(conf=STATE / "slurm.conf", nodes=[], addresses={}, started_here=started)
    try:
        for line in cluster.run("sinfo", "-h", "-N", "-o", "%N %T").splitlines():
            node, state = line.split()
            assert state in ("idle", "mixed"), f"node {node} is {state}"
            cluster.nodes.append(node)
            show = cluster.run("scontrol", "show", "node", "-o", node)
            cluster.addresses[node] = re.search(r"NodeAddr=(\S+)", show).group(1)
        assert len(cluster.nodes) == 2, cluster.nodes
        assert len(set(cluster.addresses.values())) == 2, f"nodes share an address: {cluster.addresses}"
        assert all(a.startswith("127.") for a in cluster.addresses.values()), cluster.addresses
        print(f"\ntwo-node Slurm cluster: {cluster.addresses}, start-up {time.monotonic() - t0:.1f} s")
        yield cluster
    finally:
        if started:
            down = _slurm_script("slurm_down.sh", extra={"RSRL_SLURM_PURGE": "1"})
            assert down.returncode == 0, down.stderr


# ---------------------------------------------------------------------------------------------------------------
# What Snakemake plans for a medium-size (two-node) cell of the paper grid


def _planned_blocks(text: str) -> list[dict]:
    """Jobs of `snakemake --dry-run --printshellcmds` output: rule, outputs, resources and shell command."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \S+:\n)", "\n" + text):
        m = re.match(r"(?:local)?rule (\S+):\n", block)
        if not m:
            continue
        job = {"rule": m.group(1), "output": [], "resources": {}, "shell": ""}
        lines = block.splitlines()[1:]
        for i, line in enumerate(lines):
            key, _, value = line.strip().partition(": ")
            if key == "output":
                job["output"] = [v.strip() for v in value.split(",")]
            elif key == "resources":
                job["resources"] = dict(re.findall(r"(\w+)=([^,]*)", value))
            elif line.startswith("Shell command:"):
                job["shell"] = "\n".join([line] + lines[i + 1 :])
                break
        jobs.append(job)
    return jobs


@pytest.fixture(scope="module")
def medium_cell_job() -> dict:
    """The training job Snakemake plans (slurm profile, paper config) for the first cell of a medium-size model."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    medium = [m for m, spec in cfg["models"].items() if spec.get("size") == "medium"]
    if not medium:
        pytest.skip("no medium-size model in config/config.yaml")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("SNAKEMAKE_PROFILE", None)
    proc = subprocess.run(
        [str(VENV_BIN / "snakemake"), "--dry-run", "--cores", "256", "--profile", "slurm", "--printshellcmds", "train"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"dry run of the paper grid failed:\n{proc.stdout[-5000:]}"
    jobs = [
        j
        for j in _planned_blocks(proc.stdout)
        if any(re.fullmatch(rf"results/train/{re.escape(medium[0])}/[^/]+/[^/]+/metrics\.csv", o) for o in j["output"])
    ]
    assert jobs, f"no training job of {medium[0]} planned:\n{proc.stdout[-3000:]}"
    job = jobs[0]
    job["nodes_expected"] = cfg["size_classes"]["medium"]["nodes"]
    return job


# ---------------------------------------------------------------------------------------------------------------
# The job: a Snakefile with the medium cell's Slurm resources, the launcher, a driver

DRIVER = '''
"""Driver of a two-node test job: connect to the job's Ray cluster, run a task on every node, exit with argv[2]."""
import json, os, sys

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

want_nodes, status = int(sys.argv[1]), int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
# as rsrl.train.openrlhf.launch does: job env_vars and a worker setup hook, in every worker process of every node
ray.init(address=os.environ["RAY_ADDRESS"], logging_level="ERROR",
         runtime_env={"env_vars": {"RSRL_PROBE": "env", "PYTHONPATH": here},
                      "worker_process_setup_hook": "probe_hook.setup"})
nodes = [n for n in ray.nodes() if n["Alive"]]
assert len(nodes) == want_nodes, f"the driver sees {len(nodes)} Ray node(s), not {want_nodes}: {nodes}"


@ray.remote(num_cpus=1)
def where():
    return {"node_id": ray.get_runtime_context().get_node_id(), "slurm_node": os.environ.get("SLURMD_NODENAME"),
            "env": os.environ.get("RSRL_PROBE"), "hook": os.environ.get("RSRL_PROBE_HOOK"), "pid": os.getpid()}


tasks = [where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
         for n in nodes]
results = ray.get(tasks, timeout=180)
assert sorted(r["node_id"] for r in results) == sorted(n["NodeID"] for n in nodes), results
report = {"address": os.environ["RAY_ADDRESS"], "tasks": results,
          "nodes": [{"id": n["NodeID"], "address": n["NodeManagerAddress"]} for n in nodes]}
print("DRIVER-REPORT " + json.dumps(report), flush=True)
ray.shutdown()
sys.exit(status)
'''

PROBE_HOOK = """
import os


def setup():
    os.environ["RSRL_PROBE_HOOK"] = "ran"
"""

# Stand-in for the `ray` executable of the fault cases: the head starts as usual; a worker (`ray start
# --address=...`) fails at once or never joins, as RSRL_TEST_WORKER says.
FAKE_RAY = """#!/usr/bin/env bash
case " $* " in
  *" --address="*)
    case "${RSRL_TEST_WORKER:-}" in
      fail) echo "test: the Ray worker on $SLURMD_NODENAME fails to start" >&2; exit 42 ;;
      hang) echo "test: the Ray worker on $SLURMD_NODENAME never joins" >&2; exec sleep 3600 ;;
    esac ;;
esac
exec RAY "$@"
"""

# variant -> (driver exit status, RSRL_TEST_WORKER); the fault cases run with RSRL_RAY_WAIT_S=WAIT_S, the others
# with the launcher's default wait
CASES = {"ok": (0, ""), "driver_fails": (7, ""), "worker_fails": (0, "fail"), "worker_hangs": (0, "hang")}


def job_workdir(dst: Path, cluster: TwoNodes, job: dict) -> Path:
    """A workflow directory with the slurm profile, a rule with the medium cell's Slurm resources that runs the
    launcher on the driver, and a bin/ with the stand-in `ray` (and a `python` beside it) for the fault cases."""
    dst.mkdir(parents=True)
    shutil.copytree(REPO / "slurm", dst / "slurm")
    (dst / "driver.py").write_text(DRIVER)
    (dst / "probe_hook.py").write_text(PROBE_HOOK)
    fake = dst / "bin"
    fake.mkdir()
    (fake / "ray").write_text(FAKE_RAY.replace("exec RAY", f"exec {VENV_BIN / 'ray'}"))
    (fake / "python").write_text(f'#!/usr/bin/env bash\nexec {sys.executable} "$@"\n')
    for f in fake.iterdir():
        f.chmod(0o755)
    res = job["resources"]
    # The medium cell's task geometry as planned; CPUs, memory and run time scaled to the test nodes (no GPUs).
    resources = {
        "nodes": int(res["nodes"]),
        "tasks": int(res["tasks"]),
        "mpi": res["mpi"],
        "tasks_per_gpu": int(res["tasks_per_gpu"]),
        "cpus_per_task": 1,
        "mem_mb": 1000,
        "runtime": 15,
    }
    cases = {
        v: {
            "status": s,
            "env": f"RSRL_TEST_WORKER={w} RSRL_RAY_WAIT_S={WAIT_S}" if w else "",
            "python": str(fake / "python") if w else sys.executable,
        }
        for v, (s, w) in CASES.items()
    }
    (dst / "Snakefile").write_text(
        textwrap.dedent(f"""
        CASES = {cases!r}

        rule multinode:
            output: "results/{{variant}}.done"
            log: "logs/{{variant}}.log"
            params:
                python=lambda wc: CASES[wc.variant]["python"],
                status=lambda wc: CASES[wc.variant]["status"],
                env=lambda wc: CASES[wc.variant]["env"],
            resources: {", ".join(f"{k}={v!r}" for k, v in resources.items())}
            shell:
                "export SLURM_CONF={cluster.conf}; "
                "{{params.env}} RSRL_OPENRLHF_PYTHON={{params.python}} GPUS_PER_NODE=0 "
                "bash {LAUNCHER} {{params.python}} driver.py {resources["nodes"]} {{params.status}} "
                "> {{log}} 2>&1 && touch {{output}}"
    """)
    )
    return dst


@dataclasses.dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    @property
    def slurm_jobids(self) -> dict[str, int]:
        """variant -> Slurm job id."""
        ids = {}
        for m in re.finditer(
            r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_multinode/(\w+)/", self.output
        ):
            ids[m.group(2)] = int(m.group(1))
        return ids


def run_jobs(wd: Path, cluster: TwoNodes, variants: list[str]) -> Run:
    """`snakemake --profile slurm` for the given variants (jobs run at once when the nodes have room)."""
    env = cluster.env()
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SNAKEMAKE_PROFILE", None)
    args = [
        str(VENV_BIN / "snakemake"),
        "--profile",
        "slurm",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--retries",
        "0",
        "--",
        *[f"results/{v}.done" for v in variants],
    ]
    t0 = time.monotonic()
    proc = subprocess.run(
        args, cwd=wd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900
    )
    return Run(proc.returncode, proc.stdout, time.monotonic() - t0)


def job_state(cluster: TwoNodes, jobid: int) -> dict:
    out = cluster.run("scontrol", "show", "job", "-o", str(jobid))
    return dict(re.findall(r"(\w+)=(\S+)", out))


def job_processes(jobids: set[int]) -> list[str]:
    """Processes of these Slurm jobs still running: anything started under the job (its environment names it:
    srun, `ray start`, gcs_server, raylet, Ray workers and agents) and its slurmstepd."""
    found = []
    want = {str(j).encode() for j in jobids}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            env = (p / "environ").read_bytes().split(b"\0")
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ids = {e.partition(b"=")[2] for e in env if e.startswith(b"SLURM_JOB_ID=")}
        if ids & want or any(f"slurmstepd: [{j}." in cmd for j in jobids):
            found.append(f"pid {p.name}: {cmd[:160]}")
    return found


def assert_nothing_left(cluster: TwoNodes, jobids: set[int], timeout: float = 30):
    """Once Slurm has ended the jobs (not RUNNING/COMPLETING), none of their processes is left."""
    deadline = time.monotonic() + timeout
    left: list[str] = []
    while time.monotonic() < deadline:
        states = {job_state(cluster, j).get("JobState") for j in jobids}
        left = job_processes(jobids)
        if not states & {"RUNNING", "COMPLETING", "PENDING"} and not left:
            return
        time.sleep(1)
    raise AssertionError(f"processes of Slurm jobs {sorted(jobids)} left behind after they ended:\n" + "\n".join(left))


def driver_report(log: str) -> dict:
    m = re.search(r"^DRIVER-REPORT (.*)$", log, flags=re.M)
    assert m, f"the driver did not report:\n{log[-4000:]}"
    return json.loads(m.group(1))


def stop_line(log: str) -> tuple[int, int]:
    """(exit status, seconds since the launcher started) of the launcher's `[ray] stopping Ray` line."""
    m = re.search(r"^\[ray\] stopping Ray \(exit status (\d+)\) after (\d+) s$", log, flags=re.M)
    assert m, f"the launcher did not stop Ray:\n{log[-4000:]}"
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------------------------------------------------------
# Tests


def test_medium_cells_are_two_node_mpi_jobs_running_the_launcher(medium_cell_job):
    job = medium_cell_job
    res = job["resources"]
    assert job["nodes_expected"] == 2
    assert int(res["nodes"]) == job["nodes_expected"], res
    # one task per node, started once (mpi: not wrapped in `srun -n1`), not once per GPU
    assert res.get("mpi") and int(res["tasks"]) == int(res["nodes"]) and int(res["tasks_per_gpu"]) == 0, res
    assert "scripts/train_openrlhf_slurm.sh" in job["shell"], job["shell"]


@dataclasses.dataclass
class Jobs:
    wd: Path
    run: Run
    ids: dict[str, int]

    def log(self, variant: str) -> str:
        return (self.wd / "logs" / f"{variant}.log").read_text()


@pytest.fixture(scope="module")
def jobs(two_nodes, medium_cell_job, tmp_path_factory) -> Jobs:
    """The four cases as Slurm jobs of one Snakemake run (at once: the test nodes have room for four)."""
    wd = job_workdir(tmp_path_factory.mktemp("multinode") / "wd", two_nodes, medium_cell_job)
    run = run_jobs(wd, two_nodes, list(CASES))
    print(f"\n{len(CASES)} two-node jobs through Slurm: {run.seconds:.0f} s")
    ids = run.slurm_jobids
    assert set(ids) == set(CASES), run.output[-5000:]
    assert run.returncode != 0, "Snakemake succeeded although three of its jobs must fail"
    return Jobs(wd, run, ids)


@pytest.mark.slow
def test_two_node_job_runs_a_task_on_each_node(jobs, two_nodes):
    log = jobs.log("ok")
    assert (jobs.wd / "results/ok.done").exists(), f"{jobs.run.output[-3000:]}\n{log[-4000:]}"
    assert stop_line(log)[0] == 0
    report = driver_report(log)
    # two Ray nodes, one per Slurm node, each at its Slurm node's address (the head at the first node's)
    assert sorted(t["slurm_node"] for t in report["tasks"]) == sorted(two_nodes.nodes), report
    assert sorted(n["address"] for n in report["nodes"]) == sorted(two_nodes.addresses.values()), report
    assert report["address"].split(":")[0] == two_nodes.addresses[two_nodes.nodes[0]], report
    # the job's runtime_env and worker setup hook reached the workers of both nodes
    assert all(t["env"] == "env" and t["hook"] == "ran" for t in report["tasks"]), report
    state = job_state(two_nodes, jobs.ids["ok"])
    assert state["JobState"] == "COMPLETED" and state["ExitCode"] == "0:0", state
    assert state["NumNodes"] == "2", state


@pytest.mark.slow
def test_driver_exit_status_is_passed_through(jobs, two_nodes):
    log = jobs.log("driver_fails")
    assert len(driver_report(log)["tasks"]) == 2  # the same two-node cluster came up
    assert stop_line(log)[0] == 7
    # Snakemake saw the launcher's status 7 and failed the job; Slurm recorded the job as failed
    assert re.search(r"returned non-zero exit status 7\b", jobs.run.output), jobs.run.output[-5000:]
    state = job_state(two_nodes, jobs.ids["driver_fails"])
    assert state["JobState"] == "FAILED" and state["ExitCode"] != "0:0", state
    assert not (jobs.wd / "results/driver_fails.done").exists()


@pytest.mark.slow
def test_a_worker_whose_step_fails_fails_the_job_at_once(jobs, two_nodes):
    log = jobs.log("worker_fails")
    worker = two_nodes.nodes[1]
    status, seconds = stop_line(log)
    assert status != 0 and seconds < WAIT_S, log[-4000:]
    assert f"the Ray worker step on node {worker} ended before the node joined the cluster" in log, log[-4000:]
    assert f"the worker step on node {worker} exited with status 42" in log, log[-4000:]
    assert "DRIVER-REPORT" not in log
    assert job_state(two_nodes, jobs.ids["worker_fails"])["JobState"] == "FAILED"


@pytest.mark.slow
def test_a_worker_that_never_joins_fails_the_job_within_the_wait(jobs, two_nodes):
    log = jobs.log("worker_hangs")
    worker = two_nodes.nodes[1]
    status, seconds = stop_line(log)
    assert status != 0 and WAIT_S <= seconds <= WAIT_S + 15, log[-4000:]
    assert re.search(rf"node\(s\) {re.escape(worker)} did not join the Ray cluster at \S+ within {WAIT_S} s", log), log[
        -4000:
    ]
    assert "DRIVER-REPORT" not in log
    assert job_state(two_nodes, jobs.ids["worker_hangs"])["JobState"] == "FAILED"


@pytest.mark.slow
def test_no_process_of_the_jobs_is_left_behind(jobs, two_nodes):
    assert_nothing_left(two_nodes, set(jobs.ids.values()))
