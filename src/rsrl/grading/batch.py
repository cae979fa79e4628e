"""Batch grading (:class:`Grader`): many completions graded fast, on a process pool that cannot hang.

* **Deduplication.** Per gold answer, each distinct extraction key (:func:`rsrl.grading.verify.extraction_key`,
  covering the box contents the gold-aware rules read against that gold) is parsed and verified once.
* **A process pool with deadlines** (:class:`rsrl.grading.pool.WorkerPool`): keys and verdicts are computed in
  worker subprocesses, where math-verify's ``signal.alarm`` timeouts (``timeout_s`` per call) work; a task that
  outlives ``deadline_s`` (big-integer arithmetic in C, catastrophic regex backtracking) has its worker killed and
  replaced. A timeout (math-verify's own or the deadline) grades as incorrect and is reported in ``timeout``.
* **Answer classes** (:meth:`Grader.answer_classes`, :mod:`rsrl.grading.classes`): all correct answers are one
  class; at most :data:`CLASS_CAP` distinct wrong strings per problem are compared, for at most
  ``(deadline_s - 3 timeout_s) / 2`` seconds; the rest are classes of their own string (*class fallbacks*).

Known leniency, kept and counted: math-verify accepts ``10\\%`` for the gold ``10`` (and for ``0.1``); the
grader counts such verdicts (``GradeStats.percent_credit``, in the grading log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rsrl.grading.normalize import cut_at_end_of_turn
from rsrl.grading.pool import WorkerPool
from rsrl.grading.settings import CLASS_CAP, DEFAULTS
from rsrl.grading.verify import boxes_read

log = logging.getLogger(__name__)


@dataclass
class GradeStats:
    items: int = 0
    keyed: int = 0  # distinct (gold, extraction key) pairs
    verified: int = 0  # parse + verify calls made
    no_answer: int = 0  # completions without any extraction match (incorrect without verification)
    timeouts: int = 0  # items graded incorrect because of a timeout
    cut: int = 0  # completions cut at an end-of-turn marker
    percent_credit: int = 0  # correct verdicts for an answer with a percent sign against a gold without one
    class_checks: int = 0  # verifications between answers (answer classes)
    class_fallbacks: int = 0  # answers (samples) whose class is their string alone: past the cap or a timeout
    workers_replaced: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


def _by_frequency(values) -> list[str]:
    """Distinct values, most frequent first (ties: first seen)."""
    counts = values.value_counts(sort=False, dropna=True)
    return counts.sort_values(ascending=False, kind="stable").index.tolist()


class Grader:
    """Grades many completions: extraction keys in chunks on the pool, then one verification per distinct key.

    ``grade(completions, golds)`` returns a DataFrame with ``correct``, ``timeout``, ``extracted``, ``cut`` per
    item; ``answer_classes(problem_ids, answers, correct)`` groups answers into classes (module docstring).
    """

    def __init__(
        self,
        *,
        workers: int = DEFAULTS["workers"],
        boxed_only: bool = DEFAULTS["boxed_only"],
        timeout_s: float = DEFAULTS["timeout_s"],
        deadline_s: float = DEFAULTS["deadline_s"],
        chunk_size: int = 128,
    ):
        self.boxed_only = bool(boxed_only)
        self.timeout_s = float(timeout_s)
        self.deadline_s = float(deadline_s)
        self.chunk_size = chunk_size
        self.pool = WorkerPool(int(workers), preload=("rsrl.grading.verify:worker_init",))
        self.stats = GradeStats()
        self._verdicts: dict[tuple[str, bytes], tuple[bool, str | None, bool, bytes | None]] = {}
        self._parses: dict[str, bytes] = {}  # pickled parse of each extracted answer string (the first seen)

    @classmethod
    def from_settings(cls, settings: dict, workers: int | None = None) -> Grader:
        """A grader with the settings of a validated config's ``evaluation.grader`` (`workers` overrides)."""
        return cls(
            workers=max(1, int(workers or settings["workers"])),
            boxed_only=settings["boxed_only"],
            timeout_s=settings["timeout_s"],
            deadline_s=settings["deadline_s"],
        )

    def close(self):
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keys(self, texts: list[str], reads: list[int], progress: bool) -> list[bytes | None]:
        """Extraction key per text (`reads`: :func:`~rsrl.grading.verify.boxes_read` of its gold); None where even
        a lone key computation outlived the deadline."""
        chunks = [list(range(i, min(i + self.chunk_size, len(texts)))) for i in range(0, len(texts), self.chunk_size)]
        res = self.pool.map(
            "rsrl.grading.verify:extraction_keys",
            [([texts[j] for j in c], self.boxed_only, [reads[j] for j in c]) for c in chunks],
            deadline=self.deadline_s,
            progress="extract" if progress else None,
        )
        keys: list[bytes | None] = [None] * len(texts)
        retry = []
        for c, (ok, val) in zip(chunks, res):
            if ok:
                for j, k in zip(c, val):
                    keys[j] = k
            elif len(c) == 1:
                log.warning("extraction of item %d failed: %s", c[0], val)
            else:
                retry += c  # find the culprit: one item per task
        if retry:
            res = self.pool.map(
                "rsrl.grading.verify:extraction_keys",
                [([texts[j]], self.boxed_only, [reads[j]]) for j in retry],
                deadline=self.deadline_s,
            )
            for j, (ok, val) in zip(retry, res):
                if ok:
                    keys[j] = val[0]
                else:
                    log.warning("extraction of item %d failed: %s", j, val)
        return keys

    def grade(self, completions: Sequence[str | None], golds: Sequence[str], *, progress: bool = False):
        import pandas as pd

        t0 = time.perf_counter()
        golds = [str(g) for g in golds]
        if len(completions) != len(golds):
            raise ValueError(f"Grader.grade: {len(completions)} completions but {len(golds)} gold answers")
        texts, cut = [], np.zeros(len(golds), dtype=bool)
        for i, c in enumerate(completions):
            text, cut[i] = cut_at_end_of_turn("" if c is None else str(c))
            texts.append(text)
        killed0 = self.pool.killed + self.pool.crashed
        read_of = {g: boxes_read(g) for g in set(golds)}
        keys = self._keys(texts, [read_of[g] for g in golds], progress)
        correct = np.zeros(len(texts), dtype=bool)
        timeout = np.zeros(len(texts), dtype=bool)
        extracted: list[str | None] = [None] * len(texts)
        groups: dict[tuple[str, bytes], list[int]] = {}
        for i, (k, g) in enumerate(zip(keys, golds)):
            if k is None:
                timeout[i] = True
            elif k == b"":
                self.stats.no_answer += 1
            else:
                groups.setdefault((g, k), []).append(i)
        todo = [(gk, idx) for gk, idx in groups.items() if gk not in self._verdicts]
        res = self.pool.map(
            "rsrl.grading.verify:grade_one",
            [(texts[idx[0]], g, self.boxed_only, self.timeout_s) for (g, _), idx in todo],
            deadline=self.deadline_s,
            progress="verify" if progress else None,
        )
        for ((g, k), idx), (ok, val) in zip(todo, res):
            if ok:
                if not val[2]:  # a timed-out verdict may succeed another time; cache only clean ones
                    self._verdicts[(g, k)] = val
            else:
                log.warning("grading %d completion(s) with gold %r failed: %s", len(idx), g[:80], val)
                val = (False, None, True, None)
            if val[1] is not None and val[3] is not None:
                self._parses.setdefault(val[1], val[3])
            for i in idx:
                correct[i], extracted[i], timeout[i] = val[:3]
        for gk, idx in groups.items():
            if gk in self._verdicts:
                for i in idx:
                    correct[i], extracted[i], timeout[i] = self._verdicts[gk][:3]
        self.stats.items += len(texts)
        self.stats.keyed += len(groups)
        self.stats.verified += len(todo)
        self.stats.timeouts += int(timeout.sum())
        self.stats.cut += int(cut.sum())
        self.stats.percent_credit += sum(
            1 for i in np.flatnonzero(correct) if "%" in (extracted[i] or "") and "%" not in golds[i]
        )
        self.stats.workers_replaced += self.pool.killed + self.pool.crashed - killed0
        self.stats.seconds += time.perf_counter() - t0
        return pd.DataFrame(
            {"correct": correct, "timeout": timeout, "extracted": pd.array(extracted, dtype="string"), "cut": cut}
        )

    def answer_classes(
        self, problem_ids: Sequence, answers: Sequence[str | None], correct: Sequence[bool], *, progress: bool = False
    ):
        """Class label per sample: the first member string of its class within its problem (None: no answer),
        and whether the class is a fallback (the answer's string alone). See the module docstring."""
        import pandas as pd

        t0 = time.perf_counter()
        df = pd.DataFrame(
            {
                "pid": pd.array([str(p) for p in problem_ids], dtype=object),
                "answer": pd.array(list(answers), dtype="string"),
                "correct": np.asarray(correct, dtype=bool),
            }
        )
        # Distinct (problem, verdict, answer) with their counts, most frequent first (ties: first seen).
        cnt = df[df["answer"].notna()].groupby(["pid", "correct", "answer"], sort=False).size().reset_index(name="n")
        cnt["order"] = np.arange(len(cnt))
        cnt = cnt.sort_values(["n", "order"], ascending=[False, True], kind="stable")
        cnt["label"] = cnt["answer"].astype(object)
        cnt["fallback"] = False
        right = cnt["correct"].to_numpy()
        # One class of every correct answer, named by its most frequent string.
        cnt.loc[right, "label"] = cnt[right].groupby("pid", sort=False)["answer"].transform("first").astype(object)
        wrong = cnt[~right]
        lists = wrong.groupby("pid", sort=False)["answer"].agg(list)
        lists = lists[lists.map(len) >= 2]
        tasks = [strings[:CLASS_CAP] for strings in lists]
        # Past its budget a task still finishes the comparison under way: two parses and two verifications.
        budget = max(0.0, self.deadline_s - 3 * self.timeout_s) / 2
        res = self.pool.map(
            "rsrl.grading.classes:answer_class_ids",
            [(s, [self._parses.get(a) for a in s], self.timeout_s, budget) for s in tasks],
            deadline=self.deadline_s,
            progress="classes" if progress else None,
        )
        label, fallback = {}, set()  # (problem, string) -> class label; answers of fallback classes
        for pid, strings, (ok, val) in zip(lists.index, lists, res):
            if ok:
                ids, checks = val
                self.stats.class_checks += checks
            else:
                log.warning("answer classes of problem %s (%d strings) failed: %s", pid, len(strings), val)
                ids = []
            first: dict[int, str] = {}
            for i, s in enumerate(strings):
                c = ids[i] if i < len(ids) else None
                if c is None:
                    fallback.add((pid, s))
                else:
                    label[(pid, s)] = first.setdefault(c, s)
        keys = list(zip(wrong["pid"], wrong["answer"]))
        if keys:  # a shard whose answers are all correct has no wrong class to label
            cnt.loc[~right, "label"] = [label.get(k, k[1]) for k in keys]
            cnt.loc[~right, "fallback"] = [k in fallback for k in keys]
        out = df.merge(
            cnt[["pid", "correct", "answer", "label", "fallback"]],
            on=["pid", "correct", "answer"],
            how="left",
            sort=False,
        )
        fell = out["fallback"].fillna(False).to_numpy(bool)
        self.stats.class_fallbacks += int(fell.sum())
        self.stats.seconds += time.perf_counter() - t0
        return pd.DataFrame(
            {
                "answer_class": pd.array(out["label"].where(out["answer"].notna(), None).tolist(), dtype="string"),
                "class_fallback": fell,
            }
        )


# --------------------------------------------------------------------------------------------------------------
# Single-call reward
