"""The one parallel map and the one rule for counting cores (qmu_kit.core.parallel)."""

from __future__ import annotations

import os
import re

import pytest

from qmu_kit.core.parallel import JOBS_VARIABLE, MAX_JOBS, PARALLEL_FIELDS, check_jobs, in_worker, parallel_map, workers


def square_and_threads(x: int) -> tuple[int, int, bool]:
    import torch

    return x * x, torch.get_num_threads(), in_worker()


def fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise RuntimeError(f"task {x} failed")
    return x


def test_workers_counts_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.delenv(JOBS_VARIABLE, raising=False)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert workers() == min(MAX_JOBS, expected) >= 1
    assert PARALLEL_FIELDS["n_jobs"].flag_default() == workers()


def test_qmu_kit_jobs_caps_the_workers_and_bad_values_are_named(monkeypatch):
    monkeypatch.delenv(JOBS_VARIABLE, raising=False)
    cores = workers()
    monkeypatch.setenv(JOBS_VARIABLE, "1")
    assert workers() == 1 and PARALLEL_FIELDS["n_jobs"].flag_default() == 1
    monkeypatch.setenv(JOBS_VARIABLE, str(MAX_JOBS))
    assert workers() == cores  # a cap above the cores changes nothing
    for bad, message in (("0", "QMU_KIT_JOBS=0 is out of range: QMU_KIT_JOBS must be an integer from 1 to 256"),
                         ("two", "QMU_KIT_JOBS='two' is not valid"), ("1.5", "QMU_KIT_JOBS=1.5 is not valid")):
        monkeypatch.setenv(JOBS_VARIABLE, bad)
        with pytest.raises(ValueError, match=re.escape(message)):
            workers()


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_results_come_back_in_task_order_and_each_is_seen_once(n_jobs):
    seen = []
    results = parallel_map(square_and_threads, [(x,) for x in range(5)], n_jobs=n_jobs,
                           on_result=lambda i, r: seen.append((i, r[0])))
    assert [r[0] for r in results] == [0, 1, 4, 9, 16]
    assert sorted(seen) == [(i, i * i) for i in range(5)]


def test_workers_compute_with_one_torch_thread_and_know_they_are_workers():
    results = parallel_map(square_and_threads, [(1,), (2,)], n_jobs=2)
    assert all(threads == 1 and worker for _, threads, worker in results)
    serial = parallel_map(square_and_threads, [(1,)], n_jobs=2)  # one task: here, with this process's threads
    assert serial[0][2] is False and not in_worker()


def test_no_tasks_and_bad_jobs():
    assert parallel_map(pow, []) == []
    for bad in (0, MAX_JOBS + 1, 1.5, "2"):
        with pytest.raises(ValueError, match=rf"n_jobs={bad!r} .*integer from 1 to {MAX_JOBS}"):
            check_jobs(bad)
    with pytest.raises(ValueError, match="scheduler='nowhere' is not valid: give a Dask scheduler address"):
        parallel_map(pow, [(2, 2)], scheduler="nowhere")


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_failing_task_raises_after_the_finished_ones_were_passed_on(n_jobs):
    seen = []
    with pytest.raises(RuntimeError, match="task 0 failed"):
        parallel_map(fail_on, [(0, 0), (1, 0)] if n_jobs == 1 else [(1, 0), (0, 0)], n_jobs=n_jobs,
                     on_result=lambda i, r: seen.append(r))
    assert seen in ([], [1])  # in parallel, the other task may or may not have finished first
