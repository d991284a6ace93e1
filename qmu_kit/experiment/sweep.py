"""Sweeps: run a grid of experiments, in parallel, and collect a tidy table.

* :func:`expand_grid` turns a base config and ``{field: [values]}`` into configs (refusing an empty
  grid, unknown fields, and grids too large for the machine, with the estimate).
* :func:`run_sweep` runs them serially, on local processes with joblib (``n_jobs``), or on a Dask
  cluster (``scheduler="tcp://HOST:PORT"``). Every finished run is cached as it completes, so a sweep
  whose worker dies resumes from what finished when it is run again; nothing computed is lost.
* :class:`SweepResult` gives one row per (run, model) as a pandas DataFrame, CSV and JSON.

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

from qmu_kit.core.cache import ResultCache, atomic_write, resolve_cache
from qmu_kit.core.parallel import parallel_map
from qmu_kit.core.results import Result
from qmu_kit.core.validation import MAX_JOBS, ConfigError, check_float, check_int
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import cached_result, run_experiment
from qmu_kit.experiment.results import TABLE_COLUMNS, ExperimentResult
from qmu_kit.leakage.attacks import needs_reference
from qmu_kit.plots.figures import estimate_bars
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


def _run_one(index: int, config_dict: dict, cache_dir: str | None) -> tuple[int, dict]:
    """Run one experiment in a worker process (joblib or Dask): ``(index, its JSON dict)``."""
    config = ExperimentConfig.from_dict(config_dict)
    if os.environ.get(CRASH_ENV) == str(config.seed):
        os._exit(70)
    cache = ResultCache(cache_dir) if cache_dir is not None else False
    return index, run_experiment(config, cache=cache).to_dict()


@dataclass(frozen=True)
class SweepResult(Result):
    """The runs of a sweep, in grid order, and the grid that produced them."""

    grid: dict
    results: tuple[ExperimentResult, ...]

    def table(self):
        """One row per (run, model): the grid fields, ``seed``, ``model_name`` and every number; each rate
        also with its sample count and 95 % interval (``<column>_n``, ``<column>_low``, ``<column>_high``)."""
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
                    row[column] = estimate.value
                    row[f"{column}_n"] = estimate.n
                    row[f"{column}_low"], row[f"{column}_high"] = estimate.ci95
                rows.append(row)
        return pd.DataFrame(rows)

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        text = self.table().to_csv(index=False).encode()
        atomic_write(path, lambda file: file.write(text))
        return path

    def plot(self, ax=None, metric: str = "mia_auc"):
        """``metric`` of every model, one group per run (its grid values), with 95 % intervals."""
        groups = {}
        for result in self.results:
            config = result.config.to_dict()
            label = ", ".join(f"{field}={_cell(config[field])}" for field in self.grid)
            groups[label] = {name: model.estimates()[metric] for name, model in result.models.items() if metric in model.estimates()}
        return estimate_bars(groups, ax, ylabel=metric, title=f"{metric} over the sweep")

    def summary(self) -> str:
        """How many runs over which grid, and each run's headline numbers (one line per run and model)."""
        lines = [f"{len(self.results)} runs over {', '.join(f'{k} ({len(v)})' for k, v in self.grid.items())}"]
        columns = ["acc_test_retain", "acc_train_forget", "mia_success_forget", "mia_auc"]
        frame = self.table()[[*self.grid, "seed", "model_name", *columns]] if self.results else None
        if frame is not None:
            lines.append(frame.to_string(index=False, float_format="{:.2f}".format))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"grid": self.grid, "runs": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SweepResult":
        return cls(dict(data["grid"]), tuple(ExperimentResult.from_dict(run) for run in data["runs"]))


def _cell(value):
    return "exact" if value is None else (",".join(value) if isinstance(value, (list, tuple)) else value)


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
        n_jobs: local worker processes (joblib); 1 runs in this process.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``); overrides ``n_jobs``.
        cache: as in :func:`~qmu_kit.experiment.pipeline.run_experiment`; workers share it (writes are atomic).
        progress: show a progress bar over runs.
        max_hours: refuse grids whose estimated single-core time (of the runs not yet cached) is
            larger; the error gives the estimate. A number > 0, or ``math.inf`` for no limit.
    """
    from tqdm.auto import tqdm

    n_jobs = check_int("n_jobs", n_jobs, 1, MAX_JOBS)
    if max_hours != math.inf:  # no limit (the apps' warm-up); any other limit must be a number > 0
        max_hours = check_float("max_hours", max_hours, 0.0, low_inclusive=False)
    configs = expand_grid(base, grid)
    store = resolve_cache(cache)
    done = {i: result for i, config in enumerate(configs) if (result := cached_result(config, store)) is not None}
    todo = [i for i in range(len(configs)) if i not in done]
    workers = n_jobs if scheduler is None else 1
    estimate = sum(estimate_seconds(configs[i]) for i in todo) / 3600
    if estimate > max_hours:
        raise ConfigError(
            f"the sweep would take about {estimate:.1f} CPU-hours for {len(todo)} uncached runs "
            f"(estimate for this machine; the limit is max_hours={max_hours:g}): shrink the grid or raise the limit", "grid"
        )
    cache_dir = str(store.directory) if store is not None else None
    bar = tqdm(total=len(configs), initial=len(done), desc="sweep", disable=not progress)
    try:
        if not todo:
            pass
        elif scheduler is not None or (workers > 1 and len(todo) > 1):
            def record(finished):
                index, result = finished
                done[index] = ExperimentResult.from_dict(result)
                bar.update(1)

            parallel_map(_run_one, [(i, configs[i].to_dict(), cache_dir) for i in todo], n_jobs=workers,
                         scheduler=scheduler, on_result=record)
        else:
            for i in todo:
                done[i] = run_experiment(configs[i], cache=store if store is not None else False)
                bar.update(1)
    except SweepError:
        raise
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


