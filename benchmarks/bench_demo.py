"""Where the embedded default's time goes: wall time per rule of one Snakemake run, from its log.

Snakemake logs when each job starts (``[time]`` before ``rule <name>:``) and when it finishes
(``Finished jobid: <id> (Rule: <name>)``). This prints, per rule, the number of jobs, the summed job time (what the
rule costs on the cores), the mean per job and its share of all job time, then the run's wall time and the
achieved parallelism (job time / wall time). The obvious baseline is a serial run: its wall time would be the
summed job time.

    python benchmarks/bench_demo.py                                   # latest log under .snakemake/log
    python benchmarks/bench_demo.py --log .snakemake/log/2026-...snakemake.log

A fresh-clone measurement of the README's first command (environment included):

    git clone . /tmp/fresh && cd /tmp/fresh && ln -s "$PWD/../shared" ../shared 2>/dev/null; \\
        /usr/bin/time -f '%e s' bash scripts/demo.sh
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"^\[(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4})\]$")
_RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")
_BATCH_RULE = re.compile(r"^(sample_run)_\d+$")  # one rule per run (evaluation.sample_jobs: run), counted as one


def parse(lines: list[str]) -> tuple[dict[str, list[float]], float]:
    """(rule -> job durations in seconds, wall time) of one Snakemake log."""
    now = None
    first = last = None
    pending_rule = None
    started: dict[str, tuple[str, datetime]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        line = line.rstrip("\n")
        m = _STAMP.match(line)
        if m:
            now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            first = first or now
            last = now
            continue
        m = _RULE.match(line)
        if m:
            pending_rule = m.group(1)
            continue
        m = _JOBID.match(line)
        if m and pending_rule and now is not None:
            started[m.group(1)] = (pending_rule, now)
            pending_rule = None
            continue
        m = _DONE.match(line)
        if m and m.group(1) in started and now is not None:
            rule, t0 = started.pop(m.group(1))
            durations[_BATCH_RULE.sub(r"\1", rule)].append((now - t0).total_seconds())
    wall = (last - first).total_seconds() if first and last else 0.0
    return durations, wall


def table(durations: dict[str, list[float]], wall: float) -> str:
    total = sum(sum(v) for v in durations.values()) or 1.0
    rows = sorted(durations.items(), key=lambda kv: -sum(kv[1]))
    out = [f"{'rule':<26}{'jobs':>6}{'job s':>10}{'mean s':>9}{'share':>8}"]
    for rule, ds in rows:
        out.append(f"{rule:<26}{len(ds):>6}{sum(ds):>10.0f}{sum(ds) / len(ds):>9.1f}{100 * sum(ds) / total:>7.1f}%")
    out.append(f"{'all jobs':<26}{sum(len(v) for v in durations.values()):>6}{total:>10.0f}")
    out.append(
        f"wall time {wall:.0f} s ({wall / 60:.1f} min); serial baseline (sum of job times) {total:.0f} s "
        f"({total / 60:.1f} min); parallelism {total / max(wall, 1):.2f}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", type=Path, default=None, help="a Snakemake log (default: the latest in .snakemake/log)")
    args = ap.parse_args(argv)
    log = args.log
    if log is None:
        logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
        if not logs:
            print("no Snakemake log under .snakemake/log; run the demo first or pass --log", file=sys.stderr)
            return 2
        log = logs[-1]
    durations, wall = parse(log.read_text(errors="replace").splitlines())
    print(f"log: {log}")
    print(table(durations, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
