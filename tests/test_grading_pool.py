"""rsrl.grading.pool: tasks run in worker subprocesses; deadlines kill and replace workers; errors come back."""

from __future__ import annotations

import time

import pytest

from rsrl.grading.pool import TaskTimeout, WorkerPool, WorkerStartError


def test_results_errors_and_deadlines():
    with WorkerPool(1) as pool:
        assert pool.call("operator:add", 2, 3, deadline=30) == 5
        pid = pool.pids()[0]
        t0 = time.perf_counter()
        with pytest.raises(TaskTimeout):
            pool.call("time:sleep", 60, deadline=1.0)
        assert time.perf_counter() - t0 < 5
        assert pool.killed == 1
        assert pool.call("operator:add", 2, 3, deadline=30) == 5
        assert pool.pids() and pool.pids()[0] != pid
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            pool.call("operator:truediv", 1, 0, deadline=30)
        assert pool.call("operator:add", 1, 1, deadline=30) == 2  # the worker survived the error


def test_map_keeps_order_and_reports_failures():
    with WorkerPool(2) as pool:
        res = pool.map("operator:truediv", [(1, 2), (1, 0), (3, 1)], deadline=30)
    assert res[0] == (True, 0.5) and res[2] == (True, 3.0)
    assert res[1][0] is False and "ZeroDivisionError" in str(res[1][1])


def test_preload_runs_before_ready():
    with WorkerPool(1, preload=("fractions", "rsrl.grading.verify:worker_init")) as pool:
        assert pool.call("sys:getrecursionlimit", deadline=30) > 0
        assert pool.call("rsrl.grading.verify:grade_one", "\\boxed{2}", "2", True, 5, deadline=30)[0] is True


def test_broken_worker_environment_raises(monkeypatch):
    # An address-space limit too low to import anything: workers die before they are ready.
    monkeypatch.setenv("RSRL_GRADER_MEMORY_MB", "1")
    with WorkerPool(1, preload=("math_verify",)) as pool:
        with pytest.raises(WorkerStartError, match="did not start"):
            pool.call("operator:add", 1, 1, deadline=30)
