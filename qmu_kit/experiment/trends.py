"""Trends over shots that survive scrutiny: paired over seeds, and shot noise apart from seed noise.

Two questions behind notebook 04, each answered with intervals from :mod:`qmu_kit.core.stats`:

- **Does a number change with the shots?** :func:`paired_shot_trend` compares each shot count with
  exact outputs *on the same trained models* (one per seed): the paired difference over seeds
  removes everything the seeds change (split, initialisation, training) and leaves the shots' effect.
- **How stable is it under shots?** :func:`readout_replicates` keeps everything fixed (seed, split,
  trained model) and repeats only the shot sampling with other readout seeds: both the queries and,
  for unlearning, every gradient. :func:`shot_stability` then separates the spread due to shots
  (within a model, over readout seeds) from the spread between seeds (of each model's average).

Example:
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"shots": [10, 10, 10, "exact", "exact", "exact"], "seed": [0, 1, 2, 0, 1, 2],
    ...                      "auc": [0.55, 0.52, 0.56, 0.60, 0.58, 0.61]})
    >>> trend = paired_shot_trend(runs, "auc")
    >>> print(trend.differences[10].format(3))
    -0.053 [-0.068, -0.039] (n=3)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qmu_kit.core import stats
from qmu_kit.core.cache import resolve_cache
from qmu_kit.core.results import Result, interval_cells, interval_strings
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.validation import check_int
from qmu_kit.experiment.pipeline import train_original
from qmu_kit.experiment.results import RATES, numbers_frame
from qmu_kit.leakage.signals import loss
from qmu_kit.plots.figures import shot_stability_figure, shot_trend_figure
from qmu_kit.qnn.readout import make_readout
from qmu_kit.qnn.training import prediction_accuracy
from qmu_kit.unlearning.methods import UnlearningTask, make_method


def _shots_key(value):
    return "exact" if value is None else value


def _estimates_to_json(by_shots: dict) -> list:
    """``[[shots, estimate dict], ...]``: shot counts (``"exact"`` or an integer) kept as they are, in order."""
    return [[shots if shots == "exact" else int(shots), estimate.to_dict()] for shots, estimate in by_shots.items()]


def _estimates_from_json(pairs) -> dict:
    return {shots: stats.Estimate.from_dict(estimate) for shots, estimate in pairs}


def _shots_frame(rows: dict):
    """One row per shot count (the index, named ``shots``), numbers as floats, counts as integers."""
    frame = numbers_frame(rows)
    frame.index.name = "shots"
    return frame


@dataclass(frozen=True)
class ShotTrend(Result):
    """A number against the shots, paired over seeds with the exact outputs of the same models.

    Attributes:
        metric: the column.
        group: the group (e.g. a method) or ``None``.
        means: per shot count, the mean over seeds (t-interval).
        differences: per shot count, the paired difference from ``exact`` (paired t-interval, p-value).
    """

    metric: str
    group: str | None
    means: dict
    differences: dict

    KIND = "shot-trend"
    VERSION = 1

    def table(self, intervals: bool = True):
        """One row per shot count: the mean and the paired difference from exact (none for exact itself),
        with their intervals, and the difference's p-value."""
        rows = {}
        missing = stats.Estimate(float("nan"), 0, (float("nan"), float("nan")), "difference")
        for shots, mean in self.means.items():
            diff = self.differences.get(shots, missing)
            rows[shots] = {**interval_cells("mean", mean, intervals),
                           **interval_cells(f"{self.metric} - exact (paired)", diff, intervals),
                           "p": float("nan") if diff.p_value is None else diff.p_value}
        return _shots_frame(rows)

    def summary(self) -> str:
        """The table as text, each number ``value [low, high] (n=seeds)``."""
        title = f"{self.metric}{f' ({self.group})' if self.group else ''} against the shots, paired over seeds with exact:"
        return f"{title}\n{interval_strings(self.table(), 3).to_string(float_format='{:.3f}'.format)}"

    def plot(self, ax=None):
        """The mean over seeds against the shots (exact last), with 95 % intervals."""
        return shot_trend_figure(self, ax=ax)

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "metric": self.metric, "group": self.group,
                "means": _estimates_to_json(self.means), "differences": _estimates_to_json(self.differences)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ShotTrend":
        cls.check_schema(data)
        return cls(data["metric"], data["group"], _estimates_from_json(data["means"]), _estimates_from_json(data["differences"]))


def paired_shot_trend(table, metric: str, *, reference="exact", group: str | None = None, by: str = "model_name",
                      bounds: tuple[float, float] | None = None) -> ShotTrend:
    """Paired differences of ``metric`` between each shot count and ``reference``, over seeds.

    Args:
        table: one row per (shots, seed[, by]) run, such as a sweep's table (``shots`` holds ``"exact"``
            for exact outputs).
        metric: the column.
        reference: the shot count every other is compared with.
        group: only rows whose ``by`` column equals it (e.g. one unlearning method).
        by: the grouping column.
        bounds: the range ``metric`` can take (``(0, 1)`` for a rate or an AUC): the means' intervals
            are cut to it, the differences' to ``(low - high, high - low)``. A rate of
            :data:`~qmu_kit.experiment.results.RATES` whose sample counts the table holds (``<metric>_n``) gets
            :func:`~qmu_kit.core.stats.rate_over_seeds` instead: seeds that agree keep their counts' interval.
    """
    rows = table if group is None else table[table[by] == group]
    pivot = rows.pivot_table(index="seed", columns="shots", values=metric, aggfunc="first")
    if reference not in pivot.columns:
        raise ValueError(f"reference={reference!r} is not among the shot counts {list(pivot.columns)}")
    order = sorted((c for c in pivot.columns if c != reference), key=float) + [reference]
    spread = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    counts_column = f"{metric}_n"  # a sweep table's sample counts (SweepResult.table)
    if metric in RATES and counts_column in rows:
        counts = rows.pivot_table(index="seed", columns="shots", values=counts_column, aggfunc="first")
        means = {shots: stats.rate_over_seeds(pivot[shots].to_numpy(float), counts[shots].to_numpy(float)) for shots in order}
    else:
        means = {shots: stats.mean(pivot[shots].to_numpy(float), bounds) for shots in order}
    differences = {shots: stats.paired_difference(pivot[shots].to_numpy(float), pivot[reference].to_numpy(float), spread)
                   for shots in order if shots != reference}
    return ShotTrend(metric, group, means, differences)


@dataclass(frozen=True)
class ShotStability(Result):
    """Spread of a number due to shots alone, next to its spread between seeds.

    Attributes:
        metric, group: what was measured (``group``: the model or method).
        within: per shot count, the standard deviation over readout seeds on one model, averaged over
            the seeds' models (t-interval over seeds): the spread due to shots alone.
        between: per shot count, the standard deviation over seeds of each model's average over readout
            seeds (percentile bootstrap over seeds): the spread due to everything the seed changes.
        n_readouts: readout seeds per model.
    """

    metric: str
    group: str | None
    within: dict
    between: dict
    n_readouts: int

    KIND = "shot-stability"
    VERSION = 1

    def table(self, intervals: bool = True):
        """One row per shot count: the spread due to shots and the spread between seeds, with intervals."""
        return _shots_frame({shots: {**interval_cells("spread due to shots (sd within a model)", self.within[shots], intervals),
                                     **interval_cells("spread between seeds (sd)", self.between[shots], intervals)}
                             for shots in self.within})

    def summary(self) -> str:
        """The table as text, each spread ``value [low, high] (n=seeds)``."""
        title = (f"{self.metric}{f' ({self.group})' if self.group else ''}: spread over {self.n_readouts} readout seeds "
                 "per model vs between seeds:")
        return f"{title}\n{interval_strings(self.table(), 3).to_string()}"

    def plot(self, ax=None):
        """Both spreads against the shots (exact last), with 95 % intervals."""
        return shot_stability_figure(self, ax=ax)

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "metric": self.metric, "group": self.group, "n_readouts": self.n_readouts,
                "within": _estimates_to_json(self.within), "between": _estimates_to_json(self.between)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ShotStability":
        cls.check_schema(data)
        return cls(data["metric"], data["group"], _estimates_from_json(data["within"]), _estimates_from_json(data["between"]),
                   int(data["n_readouts"]))


def shot_stability(replicates, metric: str, group: str | None = None, by: str = "model_name") -> ShotStability:
    """Separate the shots' spread from the seeds' spread in :func:`readout_replicates`' table."""
    rows = replicates if group is None else replicates[replicates[by] == group]
    within, between, n_readouts = {}, {}, 0
    for shots, part in rows.groupby("shots", sort=False):
        per_seed = part.groupby("seed")[metric]
        sds = per_seed.std(ddof=1).to_numpy(float)
        means = per_seed.mean().to_numpy(float)
        n_readouts = int(per_seed.size().min())
        within[shots] = stats.mean(sds, bounds=(0.0, np.inf))  # a standard deviation is never negative
        between[shots] = stats.bootstrap(lambda m: np.std(m, ddof=1) if len(m) > 1 else np.nan, means, n_resamples=500)
    return ShotStability(metric, group, within, between, n_readouts)


def _loss_auc(probs: np.ndarray, labels: np.ndarray, member: np.ndarray, nonmember_probs, nonmember_labels) -> float:

    return stats.auc(-loss(probs[member], labels[member]), -loss(nonmember_probs, nonmember_labels)).value


def readout_replicates(config, shots: Sequence, n_readouts: int, methods: Sequence[str] = (), *, cache=True,
                       progress: bool = False):
    """Repeat only the shot sampling on the same trained model: one row per (shots, readout seed, model).

    The original model (and the data, split and seed) stay fixed; for each shot count and each of
    ``n_readouts`` readout seeds the model is queried again, and each method in ``methods`` unlearns
    again with that readout for its gradients. Rows hold ``acc_test_retain``, ``acc_train_forget``,
    ``acc_test_forget`` and ``loss_auc`` (the loss signal's AUC, retained training images vs retained
    test images, all of them). Each cell is cached like an experiment.

    Args:
        config: the experiment (its seed picks the trained model); ``shots`` replaces its shots.
        shots: shot counts (``None`` is exact and has nothing to resample: one readout).
        n_readouts: readout seeds per shot count, 2..50.
        methods: unlearning methods to repeat (may be empty).
        cache: as for :func:`~qmu_kit.experiment.pipeline.run_experiment`.
    """
    import pandas as pd


    check_int("n_readouts", n_readouts, 2, 50)
    store = resolve_cache(cache)
    data, original = None, None
    rows = []
    for count in shots:
        for r in range(1 if count is None else n_readouts):
            for name in ("original", *methods):
                point = config.replace(shots=count).resolved()
                key = hashlib.sha256(json.dumps([point.cache_key(), "readout-replicate", name, r]).encode()).hexdigest()[:32]
                row = store.load_json(key) if store is not None else None
                if row is None:
                    if original is None:
                        data = config.load_data()
                        original = train_original(config, data, store, progress)
                    query = lambda part: make_readout(count, stream_seed(config.seed, f"replicate-{r}-{name}-{part}"))  # noqa: E731
                    model = original
                    if name != "original":
                        task = UnlearningTask.from_data(data, original, query("task"))
                        method = make_method(name, **config.method_options.get(name, {}))
                        model, _ = method.unlearn(original, task, readout=query("unlearn"), params=config.unlearn_params,
                                                  seed=config.seed)
                    train, test = model.predict_proba(data.x_train, readout=query("train")), model.predict_proba(data.x_test, readout=query("test"))
                    def accuracy(probs, labels, mask):
                        return prediction_accuracy(probs[mask].argmax(1), labels[mask]).value
                    row = {
                        "acc_test_retain": accuracy(test, data.y_test, data.retain_test),
                        "acc_train_forget": accuracy(train, data.y_train, data.forget_train),
                        "acc_test_forget": accuracy(test, data.y_test, data.forget_test),
                        "loss_auc": _loss_auc(train, data.y_train, data.retain_train, test[data.retain_test], data.y_test[data.retain_test]),
                    }
                    if store is not None:
                        store.store_json(key, row)
                rows.append({"shots": _shots_key(count), "seed": config.seed, "readout": r, "model_name": name, **row})
    return pd.DataFrame(rows)


__all__ = ["ShotStability", "ShotTrend", "paired_shot_trend", "readout_replicates", "shot_stability"]
