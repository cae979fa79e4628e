"""Grading one sample shard: math-verify verdicts and answer classes for every sample, via :class:`rsrl.grader.Grader`.

Output columns (:data:`GRADED_COLUMNS`):

* problem_id, sample_idx;
* correct, timeout — the verdict (:mod:`rsrl.grader`; a timeout grades as incorrect);
* answer — math-verify's extracted answer string (null: none);
* answer_class — the answer's math-equivalence class within its problem in this shard, named by a member string:
  every correct answer is in one class; wrong answers share a class when they verify against each other (null:
  no answer). :mod:`rsrl.evaluate.metrics` joins the classes of a problem's shards for majority votes and answer
  diversity;
* class_fallback — the answer was not compared with others (past :data:`rsrl.grader.CLASS_CAP` distinct wrong
  answers of its problem, or a timeout): its class is its string alone;
* n_tokens;
* finish_reason — ``stop`` or ``length`` (vLLM's: the turn ended, or the token limit was hit), or ``cut``: the
  grader cut the text at an end-of-turn marker (the model wrote past the end of its turn; the answer is read from
  before the marker). ``cut`` takes precedence over vLLM's reason.

With ``evaluation.store: answers`` the shard holds only the last boxed answer of each completion; it is graded as
the completion ``\\boxed{answer}``. That equals grading the full text whenever the answer was boxed once at the end
(the common case), but misses math-verify's "final answer is $x$" anchors, multi-box answers and the end-of-turn
cut (the stored answer is the last box of the whole text).
"""

from __future__ import annotations

import json
import logging

import pandas as pd

from rsrl.grading.batch import Grader

log = logging.getLogger(__name__)

GRADED_COLUMNS = [
    "problem_id",
    "sample_idx",
    "correct",
    "timeout",
    "answer",
    "answer_class",
    "class_fallback",
    "n_tokens",
    "finish_reason",
]


def grader_from_config(cfg: dict, workers: int | None = None) -> Grader:
    """The grader of a validated config's ``evaluation.grader`` (`workers` overrides its worker count)."""
    return Grader.from_settings(cfg["evaluation"]["grader"], workers)


def completions_of(samples: pd.DataFrame) -> list[str]:
    if "completion" in samples.columns:
        return samples["completion"].fillna("").astype(str).tolist()
    return ["" if pd.isna(e) else f"\\boxed{{{e}}}" for e in samples["extracted"]]


def grade_samples(samples: pd.DataFrame, bench: pd.DataFrame, grader: Grader, progress: bool = True) -> pd.DataFrame:
    gold = dict(zip(bench["id"].astype(str), bench["answer"].astype(str)))
    pids = samples["problem_id"].astype(str)
    unknown = sorted(set(pids) - set(gold))
    if unknown:
        raise ValueError(
            f"sample shard has problem ids missing from the benchmark table: {unknown[:5]}; the "
            "benchmark changed after sampling — delete the shard's samples and rerun"
        )
    res = grader.grade(completions_of(samples), [gold[p] for p in pids], progress=progress)
    classes = grader.answer_classes(
        pids.tolist(), res["extracted"].tolist(), res["correct"].to_numpy(), progress=progress
    )
    finish = (
        samples["finish_reason"].astype("string")
        if "finish_reason" in samples
        else pd.Series(pd.NA, index=samples.index, dtype="string")
    )
    finish = finish.where(~res["cut"].to_numpy(), "cut")
    return pd.DataFrame(
        {
            "problem_id": pids.to_numpy(),
            "sample_idx": samples["sample_idx"].to_numpy(),
            "correct": res["correct"].to_numpy(),
            "timeout": res["timeout"].to_numpy(),
            "answer": res["extracted"].array,
            "answer_class": classes["answer_class"].array,
            "class_fallback": classes["class_fallback"].to_numpy(),
            "n_tokens": samples["n_tokens"].to_numpy() if "n_tokens" in samples else 0,
            "finish_reason": finish.array,
        },
        columns=GRADED_COLUMNS,
    )


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
