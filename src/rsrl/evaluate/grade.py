"""Grading one sample shard: math-verify verdicts for every sample, via :class:`rsrl.grader.Grader`.

Output columns: problem_id, sample_idx, correct, timeout, answer (math-verify's extracted answer string, used to
count distinct answers and for majority votes), n_tokens, finish_reason.

With ``evaluation.store: answers`` the shard holds only the last boxed answer of each completion; it is graded as
the completion ``\\boxed{answer}``. That equals grading the full text whenever the answer was boxed once at the end
(the common case), but misses math-verify's "final answer is $x$" anchors and multi-box answers.
"""

from __future__ import annotations

import json
import logging
import os

import pandas as pd

from rsrl.grader import Grader

log = logging.getLogger(__name__)

GRADED_COLUMNS = ["problem_id", "sample_idx", "correct", "timeout", "answer", "n_tokens", "finish_reason"]


def grader_from_config(cfg: dict, workers: int | None = None) -> Grader:
    g = cfg["evaluation"].get("grader", {})
    n = workers or int(g.get("workers", os.cpu_count() or 1))
    return Grader(workers=max(1, n), boxed_only=bool(g.get("boxed_only", True)),
                  timeout_s=float(g.get("timeout_s", 5)), deadline_s=float(g.get("deadline_s", 30)))


def completions_of(samples: pd.DataFrame) -> list[str]:
    if "completion" in samples.columns:
        return samples["completion"].fillna("").astype(str).tolist()
    return ["" if pd.isna(e) else f"\\boxed{{{e}}}" for e in samples["extracted"]]


def grade_samples(samples: pd.DataFrame, bench: pd.DataFrame, grader: Grader, progress: bool = True) -> pd.DataFrame:
    gold = dict(zip(bench["id"].astype(str), bench["answer"].astype(str)))
    pids = samples["problem_id"].astype(str)
    unknown = sorted(set(pids) - set(gold))
    if unknown:
        raise ValueError(f"sample shard has problem ids missing from the benchmark table: {unknown[:5]}; the "
                         "benchmark changed after sampling — delete the shard's samples and rerun")
    res = grader.grade(completions_of(samples), [gold[p] for p in pids], progress=progress)
    return pd.DataFrame({
        "problem_id": pids.to_numpy(),
        "sample_idx": samples["sample_idx"].to_numpy(),
        "correct": res["correct"].to_numpy(),
        "timeout": res["timeout"].to_numpy(),
        "answer": res["extracted"].array,
        "n_tokens": samples["n_tokens"].to_numpy() if "n_tokens" in samples else 0,
        "finish_reason": samples["finish_reason"].array if "finish_reason" in samples else pd.NA,
    })


def grade_shard(cfg: dict, *, samples_file: str, bench_file: str, out: str, workers: int | None = None) -> pd.DataFrame:
    from rsrl.io import write_table

    samples = pd.read_parquet(samples_file)
    bench = pd.read_parquet(bench_file, columns=["id", "answer"])
    with grader_from_config(cfg, workers) as grader:
        df = grade_samples(samples, bench, grader)
        stats = grader.stats.as_dict()
    log.info("graded %s: %s", samples_file, json.dumps(stats))
    write_table(out, df)
    return df
