"""Where a run stands: every cell and stage of a config, from Snakemake's records and the results folder.

    rsrl status [--config FILE ...] [--directory DIR] [--json] [--no-summary]

One row per (checkpoint, stage): ``train`` for every trained cell, ``export step<k>`` for every evaluated snapshot,
``evaluate <benchmark>`` for every checkpoint and benchmark (sampling, grading and scoring). A stage is

- ``done``: its output exists, with the time its jobs took: from start (or submission to the cluster) to the end
  Snakemake saw, from its logs (``.snakemake/log/``), else its metadata (``.snakemake/metadata/``);
- ``stale``: done, but Snakemake would rerun it (``snakemake --summary``: changed code, params, inputs);
- ``running``: Snakemake marked its output incomplete and holds its lock (``.snakemake/incomplete/``, ``locks/``);
- ``failed``: its output is missing (or marked incomplete with no Snakemake running) and its log exists (the path
  is shown);
- ``not started``: neither output nor log.

It reads Snakemake's default (file) persistence backend.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rsrl import grid

STATES = ("done", "stale", "running", "failed", "not started")


@dataclass
class Stage:
    cell: str  # model/train_set/checkpoint
    stage: str
    output: str
    logs: tuple[str, ...]  # log files (or folders of them) of the stage's jobs
    jobs_under: str | None = None  # every job that wrote below this folder belongs to the stage


@dataclass
class Row:
    cell: str
    stage: str
    state: str
    seconds: float | None
    log: str | None
    output: str


def stages(cfg: dict) -> list[Stage]:
    """Every stage of the config's grid, in data-flow order."""
    out = []
    for c in grid.cells(cfg):
        out.append(Stage(c.key, "train", grid.model_dir(c.model, c.train_set, c.run_id), (f"logs/train/{c.key}.log",)))
    for c in grid.snapshot_cells(cfg):
        for s in grid.snapshot_steps(cfg):
            out.append(
                Stage(
                    c.key,
                    f"export step{s}",
                    grid.snapshot_dir(c.model, c.train_set, c.run_id, s),
                    (f"logs/train/{c.key}.step{s}.log",),
                )
            )
    for ckpt, bench in grid.eval_targets(cfg):
        key = f"{ckpt.model}/{ckpt.train_set}/{ckpt.id}"
        out.append(
            Stage(
                key,
                f"evaluate {bench}",
                grid.eval_file(grid.EVAL_METRICS_PATTERN, ckpt, bench),
                (f"logs/eval/{key}/{bench}",),
                jobs_under=grid.eval_file(grid.EVAL_PATTERN, ckpt, bench),
            )
        )
    return out


def _b64(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode()


def _unb64(name: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(name.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def read_records(root: Path, kind: str) -> dict[str, Path]:
    """Snakemake's records of one kind (``metadata`` or ``incomplete``) by output path (long paths are split into
    folders whose names start with ``@``)."""
    base = root / ".snakemake" / kind
    out: dict[str, Path] = {}
    if not base.exists():
        return out
    for dirpath, _, files in os.walk(base):
        rel = Path(dirpath).relative_to(base).parts
        prefix = "".join(p.removeprefix("@") for p in rel)
        for f in files:
            path = _unb64(prefix + f)
            if path is not None:
                out[path.rstrip("/")] = Path(dirpath) / f
    return out


def _duration(record: Path) -> tuple[float, float] | None:
    try:
        meta = json.loads(record.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    start, end = meta.get("starttime"), meta.get("endtime")
    return (float(start), float(end)) if start is not None and end is not None else None


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) \S+:$")


def log_spans(root: Path) -> dict[str, tuple[float, float]]:
    """(start, end) of the job that last wrote each output, from Snakemake's own logs (``.snakemake/log/``): the
    time a job was started or submitted to the cluster, and the time Snakemake saw it finish. (On a cluster the
    metadata records no start: the submit host only sees the end.)"""
    out: dict[str, tuple[float, float]] = {}
    logs = sorted((root / ".snakemake" / "log").glob("*.snakemake.log"))
    for log in logs:
        stamp, block, starts = None, None, {}
        for line in log.read_text(errors="replace").splitlines():
            m = _STAMP.match(line)
            if m:
                stamp = time.mktime(time.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y"))
            elif _JOB.match(line):
                block = {"start": stamp, "outputs": []}
            elif block is not None and line.startswith("    output: "):
                block["outputs"] = [p.strip().rstrip("/") for p in line[len("    output: ") :].split(",")]
            elif block is not None and line.startswith("    jobid: "):
                starts[line.split()[-1]] = block
                block = None
            elif line.startswith("Finished jobid: ") and stamp is not None:
                job = starts.get(line.split()[2])
                if job and job["start"] is not None:
                    out.update({p: (job["start"], stamp) for p in job["outputs"]})
    return out


def stage_seconds(stage: Stage, metadata: dict[str, Path], spans: dict | None = None) -> float | None:
    """Wall time of the stage's jobs (each job counted once: outputs of one job share its start and end), from
    Snakemake's logs (`spans`, :func:`log_spans`) where they have the job, else its metadata."""
    spans = spans or {}
    under = stage.jobs_under

    def mine(p: str) -> bool:
        return p == under or p.startswith(under + "/") if under else p == stage.output

    found = {spans[p] for p in spans if mine(p)}
    found |= {d for p in metadata if mine(p) and p not in spans and (d := _duration(metadata[p])) is not None}
    return sum(end - start for start, end in found) if found else None


def _latest_log(root: Path, logs: tuple[str, ...]) -> str | None:
    found = []
    for log in logs:
        p = root / log
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(f for f in p.rglob("*.log") if f.is_file())
    if not found:
        return None
    return str(max(found, key=lambda f: f.stat().st_mtime).relative_to(root))


def snakemake_running(root: Path) -> bool:
    locks = root / ".snakemake" / "locks"
    return locks.exists() and any(locks.iterdir())


def pending_updates(root: Path, snakefile: Path, configfiles: list[str], targets: list[str]) -> set[str] | None:
    """Which of `targets` Snakemake would rebuild (``snakemake --summary``: plan ``update pending``); None if it
    could not tell (the error goes to stderr)."""
    if not targets:
        return set()
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--summary",
        "--nolock",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(root),
        "--cores",
        "1",
        *targets,
    ]
    if configfiles:  # last: --configfile takes every value that follows it
        cmd += ["--configfile", *[str(Path(c).resolve()) for c in configfiles]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"rsrl status: `snakemake --summary` failed; staleness unknown:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    pending = set()
    for line in out.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) >= 6 and cols[0] != "output_file" and cols[-1].strip() == "update pending":
            pending.add(cols[0].rstrip("/"))
    return pending


def collect(cfg: dict, root: str | Path = ".", pending: set[str] | None = None) -> list[Row]:
    """The status of every stage under ``root`` (`pending`: outputs Snakemake would rebuild, when known)."""
    root = Path(root)
    metadata = read_records(root, "metadata")
    spans = log_spans(root)
    incomplete = read_records(root, "incomplete")
    running = snakemake_running(root)
    rows = []
    for st in stages(cfg):
        exists = (root / st.output).exists()
        log = _latest_log(root, st.logs)
        seconds = None
        if st.output in incomplete:
            state = "running" if running else "failed"
        elif exists:
            state = "stale" if pending is not None and st.output in pending else "done"
            seconds = stage_seconds(st, metadata, spans)
        elif log is not None:
            state = "failed"
        else:
            state = "not started"
        rows.append(Row(st.cell, st.stage, state, seconds, log if state in ("failed", "running") else None, st.output))
    return rows


def run(cfg: dict, root: str | Path, snakefile: str | Path, configfiles: list[str], summary: bool = True) -> list[Row]:
    """:func:`collect`, with stale stages from ``snakemake --summary`` over the finished ones when `summary`."""
    rows = collect(cfg, root)
    if not summary:
        return rows
    done = [r.output for r in rows if r.state == "done"]
    return collect(cfg, root, pending_updates(Path(root), Path(snakefile), configfiles, done))


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def render(rows: list[Row], root: str | Path = ".") -> str:
    """The table, with a count per state; a folder where nothing has run says so."""
    if all(r.state == "not started" for r in rows):
        return (
            f"No results under {Path(root).resolve()}: nothing of this config has run yet "
            f"({len(rows)} stages not started). Start with `snakemake smoke` or `snakemake all`.\n"
        )
    head = ("cell", "stage", "state", "time", "log")
    table = [head] + [(r.cell, r.stage, r.state, _duration_text(r.seconds), r.log or "") for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip() for t in table]
    counts = {s: sum(r.state == s for r in rows) for s in STATES}
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=1) + "\n"
