"""Running independent tasks side by side: one rule for how many workers, one parallel map.

Every fan-out of the kit goes through :func:`parallel_map`: sweeps of experiments, the models of a
verification, the apps' warm-up, the classroom pages' build and the report's notebooks. A task runs
in this process (``n_jobs=1``), on ``n_jobs`` joblib worker processes, or on a Dask cluster (a
scheduler address). Each worker process uses one torch thread: one process per core, and threads
inside a worker would only make the workers wait on each other.

Example:
    >>> parallel_map(pow, [(2, 3), (3, 2)])
    [8, 9]
    >>> 1 <= workers() <= MAX_JOBS
    True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence

from qmu_kit.core.validation import MAX_JOBS, check_int


def workers() -> int:
    """The worker processes a fan-out uses by default: the cores this process may run on (a container's
    share, not the host's count), at most :data:`~qmu_kit.core.validation.MAX_JOBS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_JOBS, cores))


def one_thread(function: Callable, *args):
    """``function(*args)`` in a worker process, with torch pinned to one thread (torch is imported by
    then: unpickling ``function`` imported its module)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    return function(*args)


def parallel_map(function: Callable, tasks: Iterable[Sequence], *, n_jobs: int = 1, scheduler: str | None = None,
                 on_result: Callable | None = None) -> list:
    """``[function(*task) for task in tasks]``, run side by side; results in the order of ``tasks``.

    Args:
        function: a module-level function (worker processes import it by name).
        tasks: the argument tuples, one per call.
        n_jobs: worker processes, 1..MAX_JOBS; 1 (or a single task) runs in this process.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``) to run on instead of local processes.
        on_result: called with each result as it completes (progress bars, early bookkeeping).

    Raises:
        ValueError: ``n_jobs`` out of range. A task's exception propagates once the tasks before it
            in completion order are done; what finished is not undone (callers cache as they go).
    """
    check_int("n_jobs", n_jobs, 1, MAX_JOBS)
    tasks = [tuple(task) for task in tasks]
    results: list = [None] * len(tasks)

    def done(index: int, result) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    if not tasks:
        return results
    if scheduler is not None:
        from distributed import Client, as_completed

        with Client(scheduler, timeout="30s") as client:
            futures = {client.submit(_indexed, i, function, *task, pure=False): i for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                done(*future.result())
    elif n_jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        calls = (delayed(_indexed)(i, function, *task) for i, task in enumerate(tasks))
        for index, result in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls):
            done(index, result)
    else:
        for index, task in enumerate(tasks):
            done(index, function(*task))
    return results


def call(function: Callable, *args):
    """``function(*args)``: the function of :func:`parallel_map` for tasks that each name their own."""
    return function(*args)


def _indexed(index: int, function: Callable, *args) -> tuple[int, object]:
    return index, one_thread(function, *args)


__all__ = ["call", "one_thread", "parallel_map", "workers"]
