"""Running many tasks at once: how many cores this process may use, and the kit's one parallel map.

* :func:`workers` is the one rule for counting cores: the cores this process may run on (a
  container's or a job's share, not the host's count), at most :data:`MAX_JOBS` and at most
  ``$QMU_KIT_JOBS`` when set (a machine shared with other work; ``make test`` sets 1, since its own
  test workers already keep every core busy). It is the default of every ``--jobs`` flag and what the
  apps' warm-up divides.
* :func:`parallel_map` runs ``function(*task)`` for every task: in this process, on local worker
  processes (joblib), or on a Dask cluster (``scheduler="tcp://HOST:PORT"``). Results come back in
  the tasks' order; ``on_result`` sees each as it finishes (a progress bar, or saving as you go), so
  a caller whose tasks cache their own results loses nothing finished when a worker dies. Every
  worker process computes with one torch thread: one process per core, threads inside a worker would
  oversubscribe.

Example:
    >>> parallel_map(pow, [(2, 3), (3, 2)])
    [8, 9]
    >>> 1 <= workers() <= MAX_JOBS
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.validation import check_int, parse_text

#: The most local worker processes a sweep, a verification, a report or the apps' warm-up accepts.
MAX_JOBS = 256

#: The environment variable that caps :func:`workers`.
JOBS_VARIABLE = "QMU_KIT_JOBS"

#: Whether this process is one of :func:`parallel_map`'s workers (set in the worker when a task starts).
_IN_WORKER = False


def workers() -> int:
    """The cores this process may use (``os.sched_getaffinity`` where the system has it, else the
    machine's count), at most :data:`MAX_JOBS` and at most ``$QMU_KIT_JOBS`` (:data:`JOBS_VARIABLE`,
    an integer from 1 to :data:`MAX_JOBS`) when it is set: one worker process per core.

    Example:
        >>> workers() >= 1
        True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cap = os.environ.get(JOBS_VARIABLE, "").strip()
    if cap:
        cores = min(cores, check_int(JOBS_VARIABLE, parse_text(cap), 1, MAX_JOBS))
    return min(MAX_JOBS, max(1, cores))


def check_jobs(value: Any) -> int:
    """Local worker processes: an integer from 1 to :data:`MAX_JOBS`.

    Example:
        >>> check_jobs(2)
        2
    """
    return check_int("n_jobs", value, 1, MAX_JOBS)


def check_scheduler(value: Any) -> str:
    """A Dask scheduler address, ``tcp://HOST:PORT`` (or another protocol Dask speaks).

    Example:
        >>> check_scheduler("tcp://127.0.0.1:8786")
        'tcp://127.0.0.1:8786'
    """
    if not isinstance(value, str) or "://" not in value or any(c.isspace() for c in value):
        raise ValueError(f"scheduler={value!r} is not valid: give a Dask scheduler address such as tcp://127.0.0.1:8786")
    return value


#: The settings of every command that runs work in parallel (``--jobs``, ``--scheduler``).
PARALLEL_FIELDS: dict[str, FieldSpec] = {
    "n_jobs": FieldSpec(check_jobs, f"local worker processes (joblib; 1..{MAX_JOBS}, default: one per core)", "--jobs", "N",
                        default=workers),
    "scheduler": FieldSpec(check_scheduler, "run on this Dask scheduler instead", "--scheduler", "tcp://HOST:PORT",
                           nullable=True, text=True),
}


def in_worker() -> bool:
    """Whether this process is running a task of :func:`parallel_map` as one of its workers
    (``False`` in the calling process, also when the map runs serially)."""
    return _IN_WORKER


def _in_worker(index: int, function: Callable, args: tuple) -> tuple[int, Any]:
    """Run one task in a worker process with one torch thread; ``(index, result)``."""
    global _IN_WORKER
    _IN_WORKER = True
    torch.set_num_threads(1)
    return index, function(*args)


def parallel_map(
    function: Callable,
    tasks: Sequence[tuple],
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> list:
    """``[function(*task) for task in tasks]``, run in parallel; see the module docstring.

    Args:
        function: a module-level function (worker processes import it by name).
        tasks: the argument tuples, one per call; dispatched in this order (put the longest first).
        n_jobs: local worker processes (joblib, 1..:data:`MAX_JOBS`); with 1, or a single task, the
            tasks run here, one after the other, with this process's threads.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``); overrides ``n_jobs``.
        on_result: called as ``on_result(index, result)`` in this process as each task finishes (in
            the order they finish).

    Returns:
        The results in the order of ``tasks``. A task's exception (or a worker's death) is raised
        here once the tasks finished before it have been passed to ``on_result``.

    Example:
        >>> seen = []
        >>> parallel_map(divmod, [(7, 2), (9, 4)], on_result=lambda i, r: seen.append(i))
        [(3, 1), (2, 1)]
        >>> seen
        [0, 1]
    """
    n_jobs = check_jobs(n_jobs)
    tasks = [tuple(task) for task in tasks]
    results: list = [None] * len(tasks)

    def finished(index: int, result) -> None:
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    if not tasks:
        return results
    if scheduler is not None:
        from distributed import Client, as_completed

        with Client(check_scheduler(scheduler), timeout="30s") as client:
            futures = [client.submit(_in_worker, i, function, task, pure=False) for i, task in enumerate(tasks)]
            for future in as_completed(futures):
                finished(*future.result())
    elif n_jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        calls = (delayed(_in_worker)(i, function, task) for i, task in enumerate(tasks))
        for index, result in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls):
            finished(index, result)
    else:
        for i, task in enumerate(tasks):
            finished(i, function(*task))
    return results
