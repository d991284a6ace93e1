"""Sweeps: run a grid of experiments, in parallel, and collect a tidy table.

* :func:`expand_grid` turns a base config and ``{field: [values]}`` into configs (refusing an empty
  grid, unknown fields, and grids too large for the machine, with the estimate).
* :func:`run_sweep` runs them serially, on local processes with joblib (``n_jobs``), or on a Dask
  cluster (``scheduler="tcp://HOST:PORT"``). Every finished run is cached as it completes, so a sweep
  whose worker dies resumes from what finished when it is run again; nothing computed is lost.
* :class:`SweepResult` gives one row per (run, model) as a pandas DataFrame, CSV and JSON (the kit's result
  protocol, :class:`~qmu_kit.core.results.Result`).

Every path gives the same numbers: each run is deterministic in its config's seed.

Example:
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> configs = expand_grid(ExperimentConfig(), {"shots": [100, None], "seed": [0, 1]})
    >>> [(c.shots, c.seed) for c in configs]
    [(100, 0), (100, 1), (None, 0), (None, 1)]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmu_kit.core.cache import ResultCache, atomic_write, resolve_cache
from qmu_kit.core.results import INTERVAL_SUFFIXES, Result, interval_cells, interval_strings

from qmu_kit.core.parallel import check_jobs, in_worker, parallel_map
from qmu_kit.core.validation import ConfigError, check_float
from qmu_kit.core.stats import Estimate
from qmu_kit.core.validation import check_choice
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import cached_result, run_experiment
from qmu_kit.experiment.results import TABLE_COLUMNS, ExperimentResult
from qmu_kit.leakage.attacks import needs_reference
from qmu_kit.plots.figures import sweep_figure
from qmu_kit.qnn.training import PAPER_DEPTH

MAX_RUNS = 5000
DEFAULT_MAX_HOURS = 6.0
#: Seconds per (training sample x epoch) of a 6-qubit model on one core, calibrated at the classroom
#: preset; scaled by circuit size below. Used only to refuse grids that
#: would not finish in reasonable time.
_SECONDS_PER_SAMPLE_EPOCH = {"basic": 2.5e-4, "hybrid": 2.0e-4}


class SweepError(RuntimeError):
    """A sweep could not finish; the message says what finished and how to resume."""


def expand_grid(base: ExperimentConfig, grid: Mapping[str, Sequence], *, max_runs: int = MAX_RUNS) -> list[ExperimentConfig]:
    """All combinations of ``grid`` values applied to ``base`` (later fields vary fastest)."""
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    if not grid:
        raise ConfigError(f"the sweep grid is empty: give at least one field with values, e.g. shots: [100, 1000] (fields: {', '.join(sorted(fields))})", "grid")
    unknown = sorted(set(grid) - fields)
    if unknown:
        raise ConfigError(f"unknown sweep field(s) {unknown}: allowed are {', '.join(sorted(fields))}", "grid")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"sweep field {name!r} needs a non-empty list of values, got {values!r}", "grid")
    size = math.prod(len(v) for v in grid.values())
    if size > max_runs:
        raise ConfigError(f"the sweep grid has {size} runs, more than the {max_runs} allowed: shrink the grid", "grid")
    names = list(grid)
    return [base.replace(**dict(zip(names, combo))) for combo in itertools.product(*(grid[n] for n in names))]


def estimate_seconds(config: ExperimentConfig) -> float:
    """A rough single-core time for one cold run of ``config`` (training dominates)."""
    training = config.training()
    # Up to 8 qubits the batched simulator's cost is dominated by overheads; beyond, it doubles per qubit.
    scale = max(1.0, 2 ** (config.n_qubits - 8)) * max(1.0, training["depth"] / PAPER_DEPTH[config.model])
    trainings = 2 + (config.n_shadows if needs_reference(config.attacks) else 0)  # original, retrained, shadows
    per_training = config.n_train * training["epochs"] * _SECONDS_PER_SAMPLE_EPOCH[config.model] * scale
    return 3.0 + trainings * per_training + 0.5 * len(config.methods) * scale


#: Fault injection for the tests: a worker process given a config with this seed exits abruptly, as
#: a killed worker would. Never set outside tests; in-process (serial) runs ignore it.
CRASH_ENV = "QMU_KIT_SWEEP_CRASH_SEED"


def _run_one(config: ExperimentConfig, cache: ResultCache | bool) -> ExperimentResult:
    """Run one experiment (here, or in a worker process of :func:`~qmu_kit.core.parallel.parallel_map`)."""
    if in_worker() and os.environ.get(CRASH_ENV) == str(config.seed):
        os._exit(70)
    return run_experiment(config, cache=cache)


#: Columns of :meth:`SweepResult.summary`.
SWEEP_SUMMARY_COLUMNS = ("acc_train_forget", "acc_test_retain", "mia_success_forget", "mia_auc")


@dataclass(frozen=True)
class SweepResult(Result):
    """The runs of a sweep, in grid order, and the grid that produced them."""

    grid: dict
    results: tuple[ExperimentResult, ...]

    KIND = "sweep"
    VERSION = 1

    def table(self, intervals: bool = True):
        """One row per (run, model): the grid fields, ``seed``, ``model_name`` and every number; with
        ``intervals`` each rate also with its sample count and 95 % interval (``<column>_n``,
        ``<column>_low``, ``<column>_high``)."""
        import pandas as pd

        rows = []
        for result in self.results:
            config = result.config.to_dict()
            for name, model in result.models.items():
                row = {field: _cell(config[field]) for field in self.grid}
                row["seed"] = config["seed"]
                row["model_name"] = name
                for column in TABLE_COLUMNS:
                    row[column] = model.value(column)
                row["distance_to_retrained"] = model.distance_to_retrained
                for column, estimate in model.estimates().items():
                    row.update(interval_cells(column, estimate, intervals))
                rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """The runs and the headline rates of each (run, model), each ``value [low, high] (n=N)``."""
        import pandas as pd

        table = self.table()
        columns = [f"{c}{suffix}" for c in SWEEP_SUMMARY_COLUMNS for suffix in ("", *INTERVAL_SUFFIXES)]
        cells = interval_strings(table[columns]).set_index(pd.MultiIndex.from_frame(table[[*self.grid, "model_name"]]))
        return "\n".join([f"{len(self.results)} runs over {', '.join(f'{k} ({len(v)})' for k, v in self.grid.items())}",
                          "value [95 % interval] (n samples):", cells.to_string()])

    def plot(self, ax=None):
        """MIA success on the forget set of every model in every run, with 95 % intervals."""
        return sweep_figure(self, ax=ax)
    def attack_values(self, attack: str, which: str = "overall", field: str = "auc") -> list[float]:
        """One attack's number for every row of :meth:`table`, in its order (each run's models in turn), as
        plain floats: the table holds the headline attack's numbers only, this reads any attack's.

        Args:
            attack: an attack every run ran, e.g. ``"loss"``.
            which: ``"overall"`` (retain members vs non-members) or ``"forget"``.
            field: a field of :class:`~qmu_kit.leakage.metrics.MembershipMetrics`, e.g. ``"auc"``; a TPR at
                an FPR gives its TPR.

        Example:
            >>> sweep = run_sweep(ExperimentConfig(attacks=("mlp", "loss")), {"seed": [0, 1]})    # doctest: +SKIP
            >>> table = sweep.table().assign(loss_auc=sweep.attack_values("loss"))            # doctest: +SKIP
        """
        check_choice("which", which, ("overall", "forget"))
        values = []
        for result in self.results:
            for model in result.models.values():
                check_choice("attack", attack, tuple(model.attacks))
                value = getattr(getattr(model.attacks[attack], which), field)
                value = getattr(value, "tpr", value)  # a TprAtFpr: its TPR
                values.append(value.value if isinstance(value, Estimate) else value)
        return values

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        text = self.table().to_csv(index=False).encode()
        atomic_write(path, lambda file: file.write(text))
        return path

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "grid": {k: list(v) for k, v in self.grid.items()},
                "runs": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SweepResult":
        cls.check_schema(data)
        return cls({k: list(v) for k, v in data["grid"].items()}, tuple(ExperimentResult.from_dict(r) for r in data["runs"]))


def _cell(value):
    return "exact" if value is None else (",".join(value) if isinstance(value, (list, tuple)) else value)


def select_rows(table, **where):
    """The rows of a sweep's :meth:`~SweepResult.table` whose columns hold the given values.

    A value is written as the table writes it (``shots=None`` selects the ``"exact"`` rows); a list,
    tuple or set of values selects rows holding any of them.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"shots": [100, "exact", 100], "model_name": ["original", "original", "ga"]})
        >>> select_rows(table, shots=None, model_name="original").index.tolist()
        [1]
        >>> select_rows(table, model_name=("ga", "ssd")).index.tolist()
        [2]
    """
    unknown = sorted(set(where) - set(table.columns))
    if unknown:
        raise ValueError(f"column(s) {', '.join(unknown)} not in the table: it has {', '.join(map(str, table.columns))}")
    keep = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        allowed = [_cell(v) for v in value] if isinstance(value, (list, tuple, set, frozenset)) else [_cell(value)]
        keep &= table[column].isin(allowed).to_numpy()
    return table[keep]


def run_sweep(
    base: ExperimentConfig,
    grid: Mapping[str, Sequence],
    *,
    n_jobs: int = 1,
    scheduler: str | None = None,
    cache: ResultCache | bool = True,
    progress: bool = False,
    max_hours: float = DEFAULT_MAX_HOURS,
) -> SweepResult:
    """Run every config of the grid; see the module docstring.

    Args:
        base: the config every grid point starts from.
        grid: ``{field: [values]}``.
        n_jobs: local worker processes (joblib, 1..:data:`~qmu_kit.core.parallel.MAX_JOBS`); 1 runs in this process.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``); overrides ``n_jobs``.
        cache: as in :func:`~qmu_kit.experiment.pipeline.run_experiment`; workers share it (writes are atomic).
        progress: show a progress bar over runs.
        max_hours: refuse grids whose estimated single-core time (of the runs not yet cached) is
            larger; the error gives the estimate. A number > 0, or ``math.inf`` for no limit.
    """
    from tqdm.auto import tqdm

    n_jobs = check_jobs(n_jobs)
    if max_hours != math.inf:  # no limit (the apps' warm-up); any other limit must be a number > 0
        max_hours = check_float("max_hours", max_hours, 0.0, low_inclusive=False)
    configs = expand_grid(base, grid)
    store = resolve_cache(cache)
    done = {i: result for i, config in enumerate(configs) if (result := cached_result(config, store)) is not None}
    todo = [i for i in range(len(configs)) if i not in done]
    estimate = sum(estimate_seconds(configs[i]) for i in todo) / 3600
    if estimate > max_hours:
        raise ConfigError(
            f"the sweep would take about {estimate:.1f} CPU-hours for {len(todo)} uncached runs "
            f"(estimate for this machine; the limit is max_hours={max_hours:g}): shrink the grid or raise the limit", "grid"
        )
    cache_dir = str(store.directory) if store is not None else None
    bar = tqdm(total=len(configs), initial=len(done), desc="sweep", disable=not progress)

    def finished(k: int, result: ExperimentResult) -> None:
        done[todo[k]] = result
        bar.update(1)

    try:
        # Each run caches itself as it finishes (workers share the cache: writes are atomic).
        parallel_map(_run_one, [(configs[i], store if store is not None else False) for i in todo], n_jobs=n_jobs,
                     scheduler=scheduler, on_result=finished)
    except Exception as error:
        # Workers cache each run as it finishes, so count what the cache holds now.
        finished = sum(1 for i, c in enumerate(configs) if i in done or cached_result(c, store) is not None)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SweepError(
            f"the sweep stopped after {finished} of {len(configs)} runs ({type(error).__name__}: {reason}); "
            + (f"finished runs are cached under {cache_dir}: run the same sweep again to resume" if cache_dir else "runs were not cached")
        ) from error
    finally:
        bar.close()
    return SweepResult({k: list(v) for k, v in grid.items()}, tuple(done[i] for i in range(len(configs))))
