"""The one parallel map: results in task order from every runner, one torch thread per worker, errors named."""

import os

import pytest
import torch

from qmu_kit.core.parallel import call, parallel_map, workers
from qmu_kit.core.validation import MAX_JOBS


def threads_and_pid(value):
    return value, torch.get_num_threads(), os.getpid()


def fail_on(value):
    if value == 2:
        raise RuntimeError(f"task {value} failed")
    return value


def test_serial_runs_in_this_process_and_keeps_its_threads():
    before = torch.get_num_threads()
    results = parallel_map(threads_and_pid, [(i,) for i in range(3)])
    assert [r[0] for r in results] == [0, 1, 2]
    assert {r[2] for r in results} == {os.getpid()} and torch.get_num_threads() == before


def test_processes_give_results_in_task_order_with_one_thread_each():
    seen = []
    results = parallel_map(threads_and_pid, [(i,) for i in range(6)], n_jobs=2, on_result=seen.append)
    assert [r[0] for r in results] == list(range(6))  # task order, whatever the completion order
    assert sorted(seen) == sorted(results)  # the callback saw every result once
    assert {r[1] for r in results} == {1} and os.getpid() not in {r[2] for r in results}


def test_tasks_that_name_their_own_function():
    assert parallel_map(call, [(pow, 2, 5), (max, 3, 9)], n_jobs=2) == [32, 9]


def test_a_failing_task_raises_its_error():
    with pytest.raises(RuntimeError, match="task 2 failed"):
        parallel_map(fail_on, [(i,) for i in range(4)], n_jobs=2)


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError, match=f"n_jobs=0 is out of range: n_jobs must be an integer from 1 to {MAX_JOBS}"):
        parallel_map(threads_and_pid, [(1,)], n_jobs=0)
    assert parallel_map(threads_and_pid, [], n_jobs=2) == []


def test_workers_counts_the_cores_this_process_may_use():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert workers() == max(1, min(MAX_JOBS, expected))
