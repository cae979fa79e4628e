"""A pool of worker subprocesses with per-task deadlines, for computations that may hang or blow up.

:class:`WorkerPool` runs ``module:function`` tasks in plain ``python -c`` subprocesses talking over pipes. A task
that outlives its deadline has its worker killed and replaced (:class:`TaskTimeout`); a worker that dies mid-task
is replaced too (:class:`WorkerCrashed`); an exception inside a task comes back as a ``RuntimeError`` and the
worker lives on. Workers

* run under an address-space limit (``memory_mb``; ``$RSRL_GRADER_MEMORY_MB`` overrides it, 0 disables it), so a
  runaway computation fails with MemoryError instead of exhausting the machine;
* ask the kernel to kill them when their parent dies (``PR_SET_PDEATHSIG``), even while stuck in C code;
* import the ``preload`` modules (and call ``module:function`` entries) before they report ready, so the first
  task's deadline does not pay for imports;
* are started on first use, from one long-lived thread of the parent, so no ``__main__`` guard is needed in the
  caller and ``PR_SET_PDEATHSIG`` (which follows the parent *thread*) does not fire when a short-lived thread
  that happened to start a worker exits.

The pool is thread-safe; :meth:`WorkerPool.map` runs a list of tasks on all workers and returns per-task
``(ok, result or exception)``.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["WorkerPool", "TaskTimeout", "WorkerCrashed", "WorkerStartError", "DEFAULT_MEMORY_MB", "MEMORY_ENV"]

log = logging.getLogger(__name__)

#: Address-space limit of a worker (MiB) unless ``$RSRL_GRADER_MEMORY_MB`` says otherwise (0: no limit).
DEFAULT_MEMORY_MB = 4096
MEMORY_ENV = "RSRL_GRADER_MEMORY_MB"


class TaskTimeout(Exception):
    """A task outlived its deadline; its worker was killed and will be replaced."""


class WorkerCrashed(Exception):
    """A worker died while running a task (killed by the OS, out of memory, ...)."""


class WorkerStartError(RuntimeError):
    """A fresh worker exited before answering its first task: the environment is broken, not the input."""


def _resolve(name: str) -> Callable:
    mod, fn = name.split(":")
    return getattr(importlib.import_module(mod), fn)


def _worker_main(rfd: int, wfd: int, preload: Sequence[str], memory_mb: int) -> None:
    """Loop of a worker subprocess: receive (``module:function``, args), send ("ok", result) or ("error", msg)."""
    try:  # die with the parent even while stuck in C code
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    mem_mb = int(os.environ.get(MEMORY_ENV, memory_mb))
    if mem_mb > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        except (ValueError, OSError):
            pass
    for name in preload:
        if ":" in name:
            _resolve(name)()
        else:
            importlib.import_module(name)

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
                funcs[name] = _resolve(name)
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
    """Run `fn` (which starts a subprocess) in one long-lived thread of this process (see the module docstring)."""
    global _SPAWN_QUEUE
    with _SPAWN_LOCK:
        if _SPAWN_QUEUE is None:
            _SPAWN_QUEUE = queue.Queue()
            threading.Thread(
                target=_spawner_loop, args=(_SPAWN_QUEUE,), name="rsrl-grading-pool-spawner", daemon=True
            ).start()
    box: queue.Queue = queue.Queue(maxsize=1)
    _SPAWN_QUEUE.put((fn, box))
    ok, value = box.get()
    if not ok:
        raise value
    return value


class _Worker:
    def __init__(self, preload: Sequence[str], memory_mb: int):
        r_task, w_task = os.pipe()
        r_res, w_res = os.pipe()
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        # Only literals built here reach the interpreter: fd numbers, an int and repr() of the module names.
        code = (
            f"from rsrl.grading.pool import _worker_main; "
            f"_worker_main({int(r_task)}, {int(w_res)}, {tuple(map(str, preload))!r}, {int(memory_mb)})"
        )
        self.proc = _in_spawner_thread(
            lambda: subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(r_task, w_res),
                env=env,
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        )
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

    `preload`: modules to import (``"module"``) or functions to call (``"module:function"``) in each worker before
    it takes tasks. `startup_timeout`: seconds a fresh worker may take to get ready.
    """

    def __init__(
        self,
        workers: int,
        *,
        preload: Sequence[str] = (),
        memory_mb: int = DEFAULT_MEMORY_MB,
        startup_timeout: float = 300.0,
    ):
        if workers < 1:
            raise ValueError(f"WorkerPool: workers must be >= 1; got {workers}")
        self.workers = workers
        self.preload = tuple(preload)
        self.memory_mb = int(memory_mb)
        self.startup_timeout = startup_timeout
        self._slots: queue.Queue = queue.Queue()
        for _ in range(workers):
            self._slots.put(None)
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()
        self.killed = 0
        self.crashed = 0
        self._closed = False

    def call(self, func: str, *args, deadline: float | None) -> Any:
        """Run ``func(*args)`` in a worker; raise TaskTimeout, WorkerCrashed, or RuntimeError (task's error).

        `deadline`: seconds the task may run (None: no limit)."""
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
        """A fresh worker, once it has run its preloads (the task deadline excludes start-up)."""
        w = _Worker(self.preload, self.memory_mb)
        ok = False
        try:
            ok = w.recv_conn.poll(self.startup_timeout) and w.recv_conn.recv()[0] == "ready"
        except (EOFError, OSError):
            pass
        if not ok:
            code = w.proc.poll()
            w.kill()
            imports = ", ".join(["rsrl.grading.pool", *(p.split(":")[0] for p in self.preload)])
            raise WorkerStartError(
                f"a worker did not start within {self.startup_timeout} s (exit status {code}); check that "
                f"`{sys.executable} -c 'import {imports}'` works and that ${MEMORY_ENV} (MiB) is not too low"
            )
        with self._lock:
            self._live.add(w)
        return w

    def _forget(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            self._live.discard(w)

    def map(
        self, func: str, arg_list: Iterable[tuple], *, deadline: float | None, progress: str | None = None
    ) -> list[tuple[bool, Any]]:
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
