"""The RL reward: one verdict per (completion, gold) pair, as in evaluation, thread-safe and never raising.

:func:`reward` is the single-call entry point (one lazily created worker pool per process, 0.0 on any error or
timeout); :func:`rewards` grades a training step's distinct pairs in one worker call.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence

from rsrl.grading.pool import TaskTimeout, WorkerCrashed, WorkerPool
from rsrl.grading.settings import DEFAULTS
from rsrl.grading.verify import grade_one

log = logging.getLogger(__name__)


_REWARD_POOL: WorkerPool | None = None
_REWARD_LOCK = threading.Lock()
_REWARD_WARNED = False


def _reward_pool() -> WorkerPool:
    global _REWARD_POOL
    with _REWARD_LOCK:
        if _REWARD_POOL is None:
            n = int(os.environ.get("RSRL_REWARD_WORKERS", min(4, os.cpu_count() or 1)))
            _REWARD_POOL = WorkerPool(max(1, n), preload=("rsrl.grading.verify:worker_init",))
            atexit.register(_REWARD_POOL.close)
        return _REWARD_POOL


def grade_many(items: Sequence[tuple[str, str]], boxed_only: bool, timeout_s: float) -> list[bool]:
    """Correctness of several (completion, gold) pairs, one :func:`grade_one` each (in a worker's main thread)."""
    return [grade_one(text, gold, boxed_only, timeout_s)[0] for text, gold in items]


def rewards(
    completions: Sequence,
    golds: Sequence,
    *,
    boxed_only: bool = DEFAULTS["boxed_only"],
    timeout_s: float = DEFAULTS["timeout_s"],
) -> list[float]:
    """:func:`reward` of every (completion, gold) pair, equal to calling it on each, in one worker call.

    A training step grades a group's identical completions once, and the distinct pairs in one round trip to a
    worker instead of one each (2 ms per round trip against well under 1 ms of grading for a short answer). If
    that call fails (a worker past its deadline or crashed), each distinct pair is graded alone with
    :func:`reward`, so one pathological completion costs only itself."""
    if len(completions) != len(golds):
        raise ValueError(f"rewards: {len(completions)} completions but {len(golds)} golds")
    valid = [isinstance(c, str) and g is not None and str(g).strip() != "" for c, g in zip(completions, golds)]
    unique = list(dict.fromkeys((c, str(g)) for c, g, ok in zip(completions, golds, valid) if ok))
    alarm = max(1.0, timeout_s / 2)
    try:
        got = _reward_pool().call(
            "rsrl.grading.reward:grade_many",
            unique,
            bool(boxed_only),
            alarm,
            deadline=(timeout_s + 2.0) * max(1, len(unique)),
        )
        value = {k: 1.0 if ok else 0.0 for k, ok in zip(unique, got)}
    except Exception:  # a timeout, a crash or workers that cannot start: pair by pair (reward never raises)
        value = {k: reward(*k, boxed_only=boxed_only, timeout_s=timeout_s) for k in unique}
    return [value[(c, str(g))] if ok else 0.0 for c, g, ok in zip(completions, golds, valid)]


def reward(
    completion: str, gold: str, *, boxed_only: bool = DEFAULTS["boxed_only"], timeout_s: float = DEFAULTS["timeout_s"]
) -> float:
    """1.0 if `completion` is correct against `gold` (as in evaluation, end-of-turn cut included), else 0.0;
    never raises, never blocks longer than about `timeout_s` (plus a worker's start-up on first use).

    Thread-safe: calls from many threads share one pool of worker processes per process (size
    ``$RSRL_REWARD_WORKERS``, default min(4, CPUs)); no signals are used in the calling thread. With more
    concurrent callers than workers, a call first waits for a free worker.
    """
    try:
        if not isinstance(completion, str) or gold is None or str(gold).strip() == "":
            return 0.0
        alarm = max(1.0, timeout_s / 2)  # parse and verify each get one alarm inside the worker
        correct = _reward_pool().call(
            "rsrl.grading.verify:grade_one", completion, str(gold), bool(boxed_only), alarm, deadline=timeout_s + 2.0
        )[0]
        return 1.0 if correct else 0.0
    except (TaskTimeout, WorkerCrashed):
        return 0.0
    except Exception as exc:  # e.g. workers that cannot start: say so once, still never raise
        global _REWARD_WARNED
        if not _REWARD_WARNED:
            _REWARD_WARNED = True
            log.error("rsrl.grading.reward returns 0.0 after an error: %s", exc)
        return 0.0
