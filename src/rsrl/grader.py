"""Grading model completions against gold answers with math-verify, fast and without ever hanging.

Verdicts are exactly those of the plain sequential loop (:func:`grade_sequential`)::

    verify(parse(gold_latex(gold)), parse(completion, extraction_config=CFG), timeout_seconds=T)

with ``CFG`` boxed-only by default (``LatexExtractionConfig(boxed_match_priority=0,
try_extract_without_anchor=False)``: a ``\\boxed{}`` answer, or a math environment anchored by "final answer" or
"answer:"; never a bare number in the text). ``boxed_only=False`` uses math-verify's default extraction
(LaTeX and plain expressions anywhere), which credits answers a truncated completion merely mentions.

Three things make grading fast and safe:

* **Deduplication.** ``parse`` looks at a completion only through the regex matches of math-verify's extraction
  patterns (tried in order of priority and position, each converted from its named groups alone). The
  *extraction key* of a completion is exactly that ordered list of matches without their positions, computed
  with math-verify's own compiled patterns. Completions with the same key parse to the same answer, so per gold
  answer each distinct key is parsed and verified once. Sampling at large ``n`` repeats answers heavily, and the
  key costs a regex scan (~0.3 ms for 2 kB) against milliseconds for parse + verify.
* **A process pool.** Keys and verdicts are computed in worker subprocesses (:class:`WorkerPool`), where
  math-verify's ``signal.alarm`` timeouts (per call, ``timeout_s``) work as designed.
* **An outer deadline.** Some computations ignore the alarm (big-integer arithmetic in C, catastrophic regex
  backtracking). A task that outlives ``deadline_s`` has its worker killed and replaced; the item counts as a
  timeout. Each worker also runs under an address-space limit so that a runaway computation fails with
  MemoryError instead of exhausting the machine.

A timeout (math-verify's own or the deadline) grades as incorrect, as in the sequential loop, and is reported
in the ``timeout`` column.

:func:`reward` is the single-call, thread-safe, never-raising entry point for RL rewards: it uses one lazily
created pool per process and returns 0.0 on any error or timeout.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import hashlib
import importlib
import itertools
import logging
import math
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = ["Grader", "GradeStats", "WorkerPool", "TaskTimeout", "WorkerCrashed", "reward", "grade_sequential",
           "WorkerStartError", "extraction_config", "extraction_key", "grade_one"]

log = logging.getLogger(__name__)

# Address-space limit of a worker (bytes); RSRL_GRADER_MEMORY_MB overrides it, 0 disables it.
DEFAULT_WORKER_MEMORY_MB = 4096


# --------------------------------------------------------------------------------------------------------------
# math-verify calls (run inside workers; also usable in-process)


def extraction_config(boxed_only: bool = True) -> tuple:
    """math-verify extraction targets: boxed-only (default) or math-verify's default (LaTeX + expressions)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    if boxed_only:
        return (LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False),)
    return (LatexExtractionConfig(), ExprExtractionConfig())


_CONFIGS: dict[bool, tuple] = {}


def _config(boxed_only: bool) -> tuple:
    if boxed_only not in _CONFIGS:
        _CONFIGS[boxed_only] = extraction_config(boxed_only)
    return _CONFIGS[boxed_only]


def _alarm_seconds(timeout_s: float) -> int:
    return max(1, int(math.ceil(timeout_s)))


def _gold_latex(answer: str) -> str:
    from rsrl.answers import gold_latex

    return gold_latex(answer)


def grade_sequential(completions: Sequence[str], golds: Sequence[str], *, boxed_only: bool = True,
                     timeout_s: float = 5) -> list[bool]:
    """The reference: a plain loop of math-verify ``parse`` + ``verify`` over every completion, in-process.

    Only for comparison (tests, benchmarks): it has no deadline and can hang on inputs that ignore the alarm.
    """
    from math_verify import parse, verify

    t = _alarm_seconds(timeout_s)
    cfg = list(_config(boxed_only))
    out = []
    for text, gold in zip(completions, golds, strict=True):
        g = parse(_gold_latex(gold), parsing_timeout=t)
        p = parse(text, extraction_config=cfg, parsing_timeout=t)
        out.append(bool(verify(g, p, timeout_seconds=t)))
    return out


def extraction_key(text: str, boxed_only: bool = True) -> bytes:
    """Digest of everything math-verify's ``parse`` sees of `text`: equal keys give equal parses.

    Mirrors ``math_verify.parser.extract_target_from_pred``: the patterns of every extraction target, grouped by
    priority; within a group the matches ordered rightmost end first (ties: leftmost start, then pattern
    order, as its stable sort); each match reduced to (target, pattern, named groups that matched) — the only
    things ``extract_latex``/``extract_expr`` read. No match at all gives the key of the empty list.
    """
    from math_verify.parser import get_extraction_regexes

    target_res = get_extraction_regexes(_config(boxed_only))
    patterns = [(pat, ti, pi, prio) for ti, (pats, _) in enumerate(target_res) for pi, (pat, prio) in enumerate(pats)]
    patterns.sort(key=lambda x: x[3])
    parts = []
    for _, group in itertools.groupby(patterns, key=lambda x: x[3]):
        matches = [(m.end(), -m.start(), ti, pi, tuple((k, v) for k, v in m.groupdict().items() if v is not None))
                   for pat, ti, pi, _ in group for m in pat.finditer(text)]
        matches.sort(key=lambda x: (x[0], x[1]), reverse=True)
        parts.append(tuple(m[2:] for m in matches))
    if not any(parts):
        return b""
    return hashlib.blake2b(pickle.dumps(parts, protocol=5), digest_size=16).digest()


def extraction_keys(texts: Sequence[str], boxed_only: bool = True) -> list[bytes]:
    return [extraction_key(t, boxed_only) for t in texts]


class _TimeoutCounter(logging.Handler):
    """Counts math-verify's "Timeout during parsing/comparison" warnings (it returns [] / False on timeouts)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "Timeout" in record.getMessage():
            self.count += 1


_TIMEOUTS: _TimeoutCounter | None = None
_GOLD_CACHE: dict[tuple[str, int], list] = {}


def _timeout_counter() -> _TimeoutCounter:
    global _TIMEOUTS
    if _TIMEOUTS is None:
        _TIMEOUTS = _TimeoutCounter()
        mv = logging.getLogger("math_verify")
        mv.addHandler(_TIMEOUTS)
        mv.setLevel(logging.WARNING)
    return _TIMEOUTS


def grade_one(text: str, gold: str, boxed_only: bool = True, timeout_s: float = 5) -> tuple[bool, str | None, bool]:
    """(correct, extracted answer string or None, timed out) of one completion, via math-verify with alarms.

    Must run in a main thread (math-verify uses ``signal.alarm``); workers call it.
    """
    from math_verify import parse, verify

    t = _alarm_seconds(timeout_s)
    counter = _timeout_counter()
    before = counter.count
    gkey = (gold, t)
    if gkey not in _GOLD_CACHE:
        if len(_GOLD_CACHE) > 65536:
            _GOLD_CACHE.clear()
        _GOLD_CACHE[gkey] = parse(_gold_latex(gold), parsing_timeout=t)
    g = _GOLD_CACHE[gkey]
    pred = parse(text, extraction_config=list(_config(boxed_only)), parsing_timeout=t)
    correct = bool(verify(g, pred, timeout_seconds=t))
    extracted = next((p for p in reversed(pred) if isinstance(p, str)), None)
    if extracted is None and pred:
        extracted = str(pred[0])
    return correct, extracted, counter.count > before


def grade_many(items: Sequence[tuple[str, str]], boxed_only: bool = True, timeout_s: float = 5) -> list[tuple]:
    return [grade_one(text, gold, boxed_only, timeout_s) for text, gold in items]


def _stall(seconds: float) -> str:
    """Busy computation that ignores SIGALRM (tests of the deadline)."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(10000))
    return "done"


# --------------------------------------------------------------------------------------------------------------
# Worker subprocesses


class TaskTimeout(Exception):
    """A task outlived its deadline; its worker was killed and will be replaced."""


class WorkerCrashed(Exception):
    """A worker died while running a task (killed by the OS, out of memory, ...)."""


class WorkerStartError(RuntimeError):
    """A fresh worker exited before answering its first task: the environment is broken, not the input."""


def _worker_main(rfd: int, wfd: int) -> None:
    """Loop of a worker subprocess: receive (``module:function``, args), send ("ok", result) or ("error", msg)."""
    try:  # die with the parent even while stuck in C code
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    mem_mb = int(os.environ.get("RSRL_GRADER_MEMORY_MB", DEFAULT_WORKER_MEMORY_MB))
    if mem_mb > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        except (ValueError, OSError):
            pass
    logging.getLogger("math_verify").propagate = False
    _timeout_counter()
    import math_verify  # noqa: F401  (import once, before the first task)

    rconn, wconn = Connection(rfd, writable=False), Connection(wfd, readable=False)
    wconn.send(("ready", os.getpid()))
    funcs: dict[str, Callable] = {}
    while True:
        try:
            msg = rconn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        name, args = msg
        try:
            if name not in funcs:
                mod, fn = name.split(":")
                funcs[name] = getattr(importlib.import_module(mod), fn)
            result = ("ok", funcs[name](*args))
        except MemoryError:
            result = ("error", "MemoryError")
        except Exception as exc:  # reported to the caller, the worker lives on
            result = ("error", f"{type(exc).__name__}: {exc}")
        try:
            wconn.send(result)
        except (EOFError, OSError):
            return


_SPAWN_QUEUE: queue.Queue | None = None
_SPAWN_LOCK = threading.Lock()


def _spawner_loop(q: queue.Queue) -> None:
    while True:
        fn, box = q.get()
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed back to the requesting thread
            box.put((False, exc))


def _in_spawner_thread(fn: Callable[[], Any]) -> Any:
    """Run `fn` (which starts a subprocess) in one long-lived thread of this process.

    Workers ask the kernel to kill them when their parent dies (PR_SET_PDEATHSIG); the kernel means the parent
    *thread*, so workers must not be started from short-lived threads such as a map's thread pool.
    """
    global _SPAWN_QUEUE
    with _SPAWN_LOCK:
        if _SPAWN_QUEUE is None:
            _SPAWN_QUEUE = queue.Queue()
            threading.Thread(target=_spawner_loop, args=(_SPAWN_QUEUE,), name="rsrl-grader-spawner",
                             daemon=True).start()
    box: queue.Queue = queue.Queue(maxsize=1)
    _SPAWN_QUEUE.put((fn, box))
    ok, value = box.get()
    if not ok:
        raise value
    return value


class _Worker:
    def __init__(self):
        r_task, w_task = os.pipe()
        r_res, w_res = os.pipe()
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        code = f"from rsrl.grader import _worker_main; _worker_main({r_task}, {w_res})"
        self.proc = _in_spawner_thread(lambda: subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=(r_task, w_res), env=env, stdin=subprocess.DEVNULL,
            close_fds=True))
        os.close(r_task)
        os.close(w_res)
        self.send_conn = Connection(w_task, readable=False)
        self.recv_conn = Connection(r_res, writable=False)

    def kill(self):
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except Exception:
            pass
        for c in (self.send_conn, self.recv_conn):
            try:
                c.close()
            except Exception:
                pass

    def stop(self):
        try:
            self.send_conn.send(None)
            self.proc.wait(timeout=2)
        except Exception:
            pass
        self.kill()


class WorkerPool:
    """A fixed number of worker subprocesses; thread-safe; a task past its deadline gets its worker replaced.

    Workers are plain ``python -c`` subprocesses started on first use (so no ``__main__`` guard is needed in
    the caller), talking over pipes; a task is a ``"module:function"`` name and its arguments.
    """

    def __init__(self, workers: int = 2, startup_timeout: float = 300.0):
        if workers < 1:
            raise ValueError(f"WorkerPool: workers must be >= 1; got {workers}")
        self.workers = workers
        self.startup_timeout = startup_timeout
        self._slots: queue.Queue = queue.Queue()
        for _ in range(workers):
            self._slots.put(None)
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()
        self.killed = 0
        self.crashed = 0
        self._closed = False

    def call(self, func: str, *args, deadline: float | None = 30.0) -> Any:
        """Run ``func(*args)`` in a worker; raise TaskTimeout, WorkerCrashed, or RuntimeError (task's error)."""
        if self._closed:
            raise RuntimeError("WorkerPool is closed")
        w = self._slots.get()
        try:
            if w is None or w.proc.poll() is not None:
                if w is not None:
                    self._forget(w)
                w = self._start()
            try:
                w.send_conn.send((func, args))
                if not w.recv_conn.poll(deadline):
                    self._forget(w)
                    w = None
                    with self._lock:
                        self.killed += 1
                    raise TaskTimeout(f"{func}: no result within the {deadline} s deadline; worker replaced")
                status, value = w.recv_conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._forget(w)
                w = None
                with self._lock:
                    self.crashed += 1
                raise WorkerCrashed(f"{func}: worker died ({type(exc).__name__})") from None
        finally:
            self._slots.put(w)
        if status != "ok":
            raise RuntimeError(f"{func}: {value}")
        return value

    def _start(self) -> _Worker:
        """A fresh worker, once it has imported math-verify (the task deadline excludes start-up)."""
        w = _Worker()
        ok = False
        try:
            ok = w.recv_conn.poll(self.startup_timeout) and w.recv_conn.recv()[0] == "ready"
        except (EOFError, OSError):
            pass
        if not ok:
            code = w.proc.poll()
            w.kill()
            raise WorkerStartError(
                f"a grader worker did not start within {self.startup_timeout} s (exit status {code}); check that "
                f"`{sys.executable} -c 'import rsrl.grader, math_verify'` works")
        with self._lock:
            self._live.add(w)
        return w

    def _forget(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            self._live.discard(w)

    def map(self, func: str, arg_list: Iterable[tuple], *, deadline: float | None = 30.0,
            progress: str | None = None) -> list[tuple[bool, Any]]:
        """``[(True, result) | (False, exception)]`` of ``func(*args)`` for every args, in order, on all workers."""
        arg_list = list(arg_list)
        results: list = [None] * len(arg_list)

        def run(i):
            try:
                results[i] = (True, self.call(func, *arg_list[i], deadline=deadline))
            except WorkerStartError:
                raise
            except (TaskTimeout, WorkerCrashed, RuntimeError) as exc:
                results[i] = (False, exc)

        with concurrent.futures.ThreadPoolExecutor(self.workers) as ex:
            futs = [ex.submit(run, i) for i in range(len(arg_list))]
            it = concurrent.futures.as_completed(futs)
            if progress:
                from tqdm import tqdm

                it = tqdm(it, total=len(futs), desc=progress, mininterval=2.0, file=sys.stderr)
            for f in it:
                f.result()
        return results

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._live]

    def close(self) -> None:
        self._closed = True
        with self._lock:
            live, self._live = list(self._live), set()
        for w in live:
            w.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------------------------
# Batch grading


@dataclass
class GradeStats:
    items: int = 0
    keyed: int = 0            # distinct (gold, extraction key) pairs
    verified: int = 0         # parse + verify calls made
    no_answer: int = 0        # completions without any extraction match (incorrect without verification)
    timeouts: int = 0         # items graded incorrect because of a timeout
    workers_replaced: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


class Grader:
    """Grades many completions: extraction keys in chunks on the pool, then one verification per distinct key.

    ``grade(completions, golds)`` returns a DataFrame with ``correct``, ``timeout``, ``extracted`` per item.
    """

    def __init__(self, workers: int = 2, boxed_only: bool = True, timeout_s: float = 5.0, deadline_s: float = 30.0,
                 chunk_size: int = 128):
        self.boxed_only = boxed_only
        self.timeout_s = float(timeout_s)
        self.deadline_s = float(deadline_s)
        self.chunk_size = chunk_size
        self.pool = WorkerPool(workers)
        self.stats = GradeStats()
        self._verdicts: dict[tuple[str, bytes], tuple[bool, str | None, bool]] = {}

    def close(self):
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keys(self, texts: list[str], progress: bool) -> list[bytes | None]:
        """Extraction key per text; None where even a lone key computation outlived the deadline."""
        chunks = [list(range(i, min(i + self.chunk_size, len(texts)))) for i in range(0, len(texts), self.chunk_size)]
        res = self.pool.map("rsrl.grader:extraction_keys", [([texts[j] for j in c], self.boxed_only) for c in chunks],
                            deadline=self.deadline_s, progress="extract" if progress else None)
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
            res = self.pool.map("rsrl.grader:extraction_keys", [([texts[j]], self.boxed_only) for j in retry],
                                deadline=self.deadline_s)
            for j, (ok, val) in zip(retry, res):
                if ok:
                    keys[j] = val[0]
                else:
                    log.warning("extraction of item %d failed: %s", j, val)
        return keys

    def grade(self, completions: Sequence[str | None], golds: Sequence[str], *, progress: bool = False):
        import pandas as pd

        t0 = time.perf_counter()
        texts = ["" if c is None else str(c) for c in completions]
        golds = [str(g) for g in golds]
        if len(texts) != len(golds):
            raise ValueError(f"Grader.grade: {len(texts)} completions but {len(golds)} gold answers")
        killed0 = self.pool.killed + self.pool.crashed
        keys = self._keys(texts, progress)
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
        res = self.pool.map("rsrl.grader:grade_one",
                            [(texts[idx[0]], g, self.boxed_only, self.timeout_s) for (g, _), idx in todo],
                            deadline=self.deadline_s, progress="verify" if progress else None)
        for ((g, k), idx), (ok, val) in zip(todo, res):
            if ok:
                if not val[2]:  # a timed-out verdict may succeed another time; cache only clean ones
                    self._verdicts[(g, k)] = val
            else:
                log.warning("grading %d completion(s) with gold %r failed: %s", len(idx), g[:80], val)
                val = (False, None, True)
            for i in idx:
                correct[i], extracted[i], timeout[i] = val
        for gk, idx in groups.items():
            if gk in self._verdicts:
                for i in idx:
                    correct[i], extracted[i], timeout[i] = self._verdicts[gk]
        self.stats.items += len(texts)
        self.stats.keyed += len(groups)
        self.stats.verified += len(todo)
        self.stats.timeouts += int(timeout.sum())
        self.stats.workers_replaced += self.pool.killed + self.pool.crashed - killed0
        self.stats.seconds += time.perf_counter() - t0
        return pd.DataFrame({"correct": correct, "timeout": timeout, "extracted": pd.array(extracted, dtype="string")})


# --------------------------------------------------------------------------------------------------------------
# Single-call reward


_REWARD_POOL: WorkerPool | None = None
_REWARD_LOCK = threading.Lock()
_REWARD_WARNED = False


def _reward_pool() -> WorkerPool:
    global _REWARD_POOL
    with _REWARD_LOCK:
        if _REWARD_POOL is None:
            n = int(os.environ.get("RSRL_REWARD_WORKERS", min(4, os.cpu_count() or 1)))
            _REWARD_POOL = WorkerPool(max(1, n))
            atexit.register(_REWARD_POOL.close)
        return _REWARD_POOL


def reward(completion: str, gold: str, *, boxed_only: bool = True, timeout_s: float = 10.0) -> float:
    """1.0 if math-verify judges `completion` correct against `gold`, else 0.0; never raises, never blocks longer
    than about `timeout_s` (plus a worker's start-up on first use).

    Thread-safe: calls from many threads share one pool of worker processes per process (size
    ``$RSRL_REWARD_WORKERS``, default min(4, CPUs)); no signals are used in the calling thread. With more
    concurrent callers than workers, a call first waits for a free worker.
    """
    try:
        if not isinstance(completion, str) or gold is None or str(gold).strip() == "":
            return 0.0
        alarm = max(1.0, timeout_s / 2)  # parse and verify each get one alarm inside the worker
        correct, _, _ = _reward_pool().call("rsrl.grader:grade_one", completion, str(gold), bool(boxed_only),
                                            alarm, deadline=timeout_s + 2.0)
        return 1.0 if correct else 0.0
    except (TaskTimeout, WorkerCrashed):
        return 0.0
    except Exception as exc:  # e.g. workers that cannot start: say so once, still never raise
        global _REWARD_WARNED
        if not _REWARD_WARNED:
            _REWARD_WARNED = True
            log.error("rsrl.grader.reward returns 0.0 after an error: %s", exc)
        return 0.0
