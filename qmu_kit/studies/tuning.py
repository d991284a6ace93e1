"""Tuning: pick each unlearning method's knobs on tuning seeds, report them on other seeds.

A knob chosen on the seeds a notebook then reports flatters the method. :func:`tune` therefore

1. runs every candidate of a small grid (:data:`DEFAULT_GRID`) on the **tuning seeds** and keeps, per
   method, the candidate whose unlearned model is **closest to the retrained model** on forget-set
   accuracy and on the paper attack's MIA success (``|d forget accuracy| + |d MIA success|``, mean
   over tuning seeds), among the candidates whose retained test accuracy is **within 5 points** of the
   lower of two references on each seed, the original model (what unlearning starts from, and must
   not cost more than 5 points) and the retrained model (``retain_tolerance``; when no candidate
   qualifies, the closest one is kept and marked ``feasible=False``). Both references, because
   either alone can be unattainable: a model retrained without the forgotten class only has to tell
   the other classes apart and is often more accurate on them than the original ever was (at the
   classroom preset's tuning seeds 0.93 against 0.85), so "within 5 points of the retrained model"
   would ask unlearning to *improve* the model;
2. runs the chosen knobs and the **published settings** (:data:`PUBLISHED`: the papers' values, for
   the methods that have them) on disjoint **evaluation seeds**, and reports both side by side with
   95 % intervals over seeds and the paired difference of their distances to the retrained model.

``qmu-kit tune`` does the same from the command line; ``--write-defaults`` writes the chosen knobs and
their provenance (command, preset, seeds, date) to ``qmu_kit/unlearning/tuned_defaults.py``, which
:mod:`qmu_kit.unlearning.methods` takes its defaults from, and every unlearning report records.

Example:
    >>> fake = lambda config: {  # a stand-in for run_experiment: only the learning rate matters
    ...     "retrained": {"acc_train_forget": 0.0, "mia_success_forget": 0.1, "acc_test_retain": 0.9},
    ...     "ga": {"acc_train_forget": abs(config.method_options["ga"]["lr"] - 0.02),
    ...            "mia_success_forget": 0.1, "acc_test_retain": 0.9}}
    >>> result = tune("classroom", ["ga"], [7], [8], {"ga": {"lr": [0.01, 0.02, 0.05]}}, runner=fake)
    >>> result.chosen["ga"]
    {'lr': 0.02}
"""

from __future__ import annotations

import datetime
import itertools
import json
import pprint
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from qmu_kit.core.results import Result, interval_cells, interval_strings
from qmu_kit.core.stats import Estimate, mean, paired_difference, rate_over_seeds
from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.validation import check_choice, check_float, check_int, check_names, parse_text
from qmu_kit.experiment.config import PRESETS, ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.leakage.attacks import attack_names
from qmu_kit.plots.figures import tuning_figure
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, make_method
from qmu_kit.unlearning.methods import method_names

#: Methods that can be tuned and the grid ``qmu-kit tune`` searches by default (small on purpose:
#: every candidate is a full experiment per tuning seed). GA: fewer steps at a larger step length
#: (``epochs`` caps the steps; GA stops earlier once it forgets); SSD: ``alpha`` selects, ``lam``
#: sets how hard the selected parameters are dampened (factor at most ``lam / alpha``). A candidate
#: only unlearns: each seed's original and retrained models are trained once and cached, so the grid's
#: cost grows with its candidates far less than with its seeds. Each grid is the one of the method's
#: knob table (:meth:`~qmu_kit.unlearning.methods.UnlearningMethod.knob_grid`), where every method,
#: the benchmark's too, keeps its own.
DEFAULT_GRID: dict[str, dict[str, list]] = {name: UNLEARNING_METHODS[name].knob_grid() for name in ("ga", "ssd", "rga")}
#: Seeds the kit's defaults are tuned on; the notebooks and tests report seeds 0-9, never these.
DEFAULT_TUNING_SEEDS = (1000, 1001, 1002)
DEFAULT_EVALUATION_SEEDS = (0, 1, 2)
#: How far a candidate's retained test accuracy may fall below its reference (5 points); the
#: reference is, per seed, the lower of the original's and the retrained model's (:func:`retain_floor`).
RETAIN_TOLERANCE = 0.05
CRITERION = (
    "closest to the retrained model: mean over tuning seeds of |forget accuracy - retrained's| + "
    "|MIA success - retrained's| (paper attack), among candidates whose mean retained test accuracy is "
    "at least the mean over tuning seeds of min(original's, retrained's) minus {tolerance:g}"
)
METRICS = ("acc_train_forget", "mia_success_forget", "acc_test_retain")
#: Each metric's column label in the tables.
LABELS = {"acc_train_forget": "forget acc", "mia_success_forget": "MIA success", "acc_test_retain": "retain test acc"}


def retain_floor(rows: Sequence[Mapping], tolerance: float = RETAIN_TOLERANCE) -> float:
    """The retained test accuracy a candidate must keep (mean over its tuning seeds): per seed the
    lower of the original's and the retrained model's, averaged, minus ``tolerance``. A row without
    an original (a stand-in runner) uses the retrained model's.

    Example:
        >>> rows = [{"original": {"acc_test_retain": 0.85}, "retrained": {"acc_test_retain": 0.93}},
        ...         {"original": {"acc_test_retain": 0.95}, "retrained": {"acc_test_retain": 0.91}}]
        >>> round(retain_floor(rows), 3)  # (0.85 + 0.91) / 2 - 0.05
        0.83
    """
    references = [min(r["retrained"]["acc_test_retain"], r.get("original", r["retrained"])["acc_test_retain"]) for r in rows]
    return sum(references) / len(references) - tolerance


def _published() -> dict[str, dict]:

    return {name: dict(cls.PAPER) for name, cls in UNLEARNING_METHODS.items() if getattr(cls, "PAPER", None)}


#: The published settings (GA: the authors' HQNN settings; SSD: Foster et al.'s alpha = 10, lambda = 1).
PUBLISHED: dict[str, dict] = _published()


def distance(model: Mapping, retrained: Mapping) -> float:
    """The tuning criterion's distance of one unlearned model from the retrained one (one seed)."""
    return abs(model["acc_train_forget"] - retrained["acc_train_forget"]) + abs(
        model["mia_success_forget"] - retrained["mia_success_forget"]
    )


def _split(metrics: Mapping) -> tuple[dict[str, float], dict[str, int | None]]:
    """A runner's metrics (plain floats, or :class:`~qmu_kit.core.stats.Estimate` s with their sample
    counts) as ``({metric: value}, {metric: n or None})``."""
    values, counts = {}, {}
    for name in METRICS:
        metric = metrics[name]
        values[name] = float(metric.value if isinstance(metric, Estimate) else metric)
        counts[name] = int(metric.n) if isinstance(metric, Estimate) else None
    return values, counts


def _rate(rows: Sequence[Mapping], role: str, metric: str) -> Estimate:
    """A rate over the rows' seeds by the kit's one rule (:func:`~qmu_kit.core.stats.rate_over_seeds`: its
    interval covers the seed-to-seed t-interval and the Wilson interval of the counts pooled over seeds;
    ``n`` the seeds). Rows without stored counts give the t-interval alone."""
    return rate_over_seeds([r[role][metric] for r in rows],
                           [(r.get("counts") or {}).get(role, {}).get(metric) for r in rows])


def trial_row(models: Mapping, name: str) -> dict:
    """One run measured for the tuning rule: the method's and the retrained model's rates (plain
    values), their sample counts, the original's rates where given, and the :func:`distance`.

    Args:
        models: ``{model name: {metric: Estimate or float}}`` with ``name`` and ``"retrained"`` among
            them (what a runner returns).
        name: the unlearning method.

    Example:
        >>> row = trial_row({"ga": {"acc_train_forget": 0.2, "mia_success_forget": 0.3, "acc_test_retain": 0.8},
        ...                  "retrained": {"acc_train_forget": 0.0, "mia_success_forget": 0.1, "acc_test_retain": 0.9}}, "ga")
        >>> round(row["distance"], 3)
        0.4
    """
    model, model_counts = _split(models[name])
    retrained, retrained_counts = _split(models["retrained"])
    row = {"model": model, "retrained": retrained, "counts": {"model": model_counts, "retrained": retrained_counts},
           "distance": distance(model, retrained)}
    if "original" in models:
        row["original"] = _split(models["original"])[0]
    return row


def choose(scored: Sequence[tuple[Mapping, Sequence[Mapping]]], tolerance: float = RETAIN_TOLERANCE) -> tuple[dict, bool]:
    """The tuning rule: of the candidates ``(options, rows over the tuning seeds)`` (rows as
    :func:`trial_row` gives them), the one with the smallest mean distance among those whose mean
    retained test accuracy reaches :func:`retain_floor`; when none does, the closest one. Equal scores
    keep the first candidate. Returns ``(options, feasible)``.

    Example:
        >>> rows = lambda d, acc: [{"distance": d, "model": {"acc_test_retain": acc}, "retrained": {"acc_test_retain": 0.9}}]
        >>> choose([({"lr": 0.1}, rows(0.1, 0.5)), ({"lr": 0.05}, rows(0.3, 0.88))])
        ({'lr': 0.05}, True)
    """
    ranked = []
    for options, rows in scored:
        score = sum(r["distance"] for r in rows) / len(rows)
        retain = sum(r["model"]["acc_test_retain"] for r in rows) / len(rows)
        ranked.append((not retain >= retain_floor(rows, tolerance) - 1e-12, score, options))  # qualifying first, then closest
    if not ranked:
        raise ValueError("no candidates to choose from: give at least one candidate with its rows")
    best = min(ranked, key=lambda item: (item[0], item[1]))  # min keeps the first of equal scores
    return dict(best[2]), not best[0]


def candidates(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of a method's knob values, in grid order.

    Example:
        >>> candidates({"lr": [0.01, 0.02], "momentum": [0.0]})
        [{'lr': 0.01, 'momentum': 0.0}, {'lr': 0.02, 'momentum': 0.0}]
    """
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(list(grid[n]) for n in names))]


def check_seeds(name: str, seeds) -> tuple[int, ...]:
    """Distinct seeds, 0..2**32-1, given as a sequence or as comma-separated text.

    Example:
        >>> check_seeds("tuning_seeds", "1000, 1001")
        (1000, 1001)
    """
    if isinstance(seeds, str):
        seeds = [parse_text(part) for part in seeds.split(",") if part.strip()]
    seeds = tuple(check_int(name, s, 0, 2**32 - 1) for s in seeds)
    if not seeds:
        raise ValueError(f"{name} is empty: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{name}={list(seeds)} repeats a seed")
    return seeds


#: ``qmu-kit tune``'s settings: each rule, help text, flag and default in one place (the grid is
#: :func:`parse_grid_item`'s, the shots the experiment's).
TUNE_FIELDS: dict[str, FieldSpec] = {
    "methods": FieldSpec(lambda value: check_names("methods", value, method_names()), f"methods to tune (default {','.join(DEFAULT_GRID)})",
                         "--methods", "M1,M2", names=True, default=tuple(DEFAULT_GRID)),
    "tuning_seeds": FieldSpec(lambda value: check_seeds("tuning_seeds", value),
                              f"seeds that choose the knobs (default {','.join(map(str, DEFAULT_TUNING_SEEDS))})",
                              "--tuning-seeds", "S1,S2", text=True, default=DEFAULT_TUNING_SEEDS),
    "evaluation_seeds": FieldSpec(lambda value: check_seeds("evaluation_seeds", value),
                                  f"disjoint seeds that report them (default {','.join(map(str, DEFAULT_EVALUATION_SEEDS))})",
                                  "--evaluation-seeds", "S1,S2", text=True, default=DEFAULT_EVALUATION_SEEDS),
}


@dataclass(frozen=True)
class TuningResult(Result):
    """What :func:`tune` tried, chose and measured.

    Attributes:
        preset: the experiment preset (with ``overrides``) every run used.
        tuning_seeds, evaluation_seeds: disjoint seed sets.
        criterion: the selection rule in words.
        trials: one row per (method, candidate, tuning seed): the options, the seed, the method's and
            the retrained model's metrics (``model``, ``retrained``: plain rates), the sample count of
            each rate (``counts``: ``{"model": {metric: n}, "retrained": {...}}``; ``None`` where the
            runner gave plain floats), the original model's metrics where the runner returned them
            (``original``) and the distance.
        chosen: per method, the selected knobs.
        feasible: per method, whether the chosen candidate met the retained-accuracy condition.
        evaluation: one row per (method, settings ``"tuned"``/``"published"``, evaluation seed), with
            the same fields as ``trials``.
        overrides: config fields changed from the preset.
        date: when the tuning ran (UTC, ISO 8601).
    """

    preset: str
    tuning_seeds: tuple[int, ...]
    evaluation_seeds: tuple[int, ...]
    criterion: str
    trials: list[dict]
    chosen: dict[str, dict]
    feasible: dict[str, bool]
    evaluation: list[dict]
    overrides: dict = field(default_factory=dict)
    date: str = ""

    KIND = "tuning"
    VERSION = 1

    def _rows(self, rows, keys):
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
        return groups

    def candidates_table(self, intervals: bool = True):
        """Each candidate on the tuning seeds (a DataFrame; ``chosen`` marks the pick): the rates by the
        kit's rule for rates over seeds and the distance as a mean over seeds, each with its count and
        95 % interval when ``intervals``, as :meth:`table` gives the evaluation."""
        import pandas as pd

        nothing = Estimate(float("nan"), 0, (float("nan"), float("nan")))
        records = []
        for (method, options), rows in self._rows(self.trials, ("method", "options_key")).items():
            originals = [r for r in rows if r.get("original")]
            numbers = {
                "distance": mean([r["distance"] for r in rows], bounds=(0, 2)),
                **{LABELS[m]: _rate(rows, "model", m) for m in METRICS},
                "retrained retain test acc": _rate(rows, "retrained", "acc_test_retain"),
                "original retain test acc": _rate(originals, "original", "acc_test_retain") if originals else nothing,
            }
            record = {"method": method, "options": json.loads(options), "n seeds": len(rows)}
            for label, estimate in numbers.items():
                record.update(interval_cells(label, estimate, intervals))
            record["chosen"] = json.loads(options) == self.chosen.get(method)
            records.append(record)
        return pd.DataFrame(records)

    def by_settings(self) -> dict[tuple[str, str], dict[str, Estimate]]:
        """Per (method, settings) on the evaluation seeds: each rate over seeds by the kit's rule
        (:func:`~qmu_kit.core.stats.rate_over_seeds`: mean over seeds, interval covering the seed-to-seed
        t-interval and the Wilson interval of the counts pooled over seeds; ``n`` the seeds), the
        retrained model's rates (``"retrained <metric>"``) likewise, and the distance to the retrained
        model as a mean over seeds (t-interval cut to [0, 2])."""
        out = {}
        for (method, settings), rows in self._rows(self.evaluation, ("method", "settings")).items():
            stats = {metric: _rate(rows, "model", metric) for metric in METRICS}
            stats.update({f"retrained {metric}": _rate(rows, "retrained", metric) for metric in METRICS})
            stats["distance"] = mean([r["distance"] for r in rows], bounds=(0, 2))
            out[(method, settings)] = stats
        return out

    def comparisons(self) -> dict[str, Estimate]:
        """Per method with published settings: the paired difference (same evaluation seeds) of the
        distance to the retrained model, tuned minus published (negative: the tuned knobs are closer)."""
        out = {}
        for method in self.chosen:
            by_seed = {(r["settings"], r["seed"]): r["distance"] for r in self.evaluation if r["method"] == method}
            if any(settings == "published" for settings, _ in by_seed):
                seeds = list(self.evaluation_seeds)
                out[method] = paired_difference(
                    [by_seed[("tuned", s)] for s in seeds], [by_seed[("published", s)] for s in seeds]
                )
        return out

    def table(self, intervals: bool = True):
        """Tuned and published settings side by side on the evaluation seeds (a DataFrame; the numbers of
        :meth:`by_settings`, each with its count and 95 % interval when ``intervals``), and for the tuned
        settings the paired difference of their distance from the published settings' with its p-value."""
        import pandas as pd

        records = []
        options = {(r["method"], r["settings"]): r["options"] for r in self.evaluation}
        comparisons = self.comparisons()
        for (method, settings), stats in self.by_settings().items():
            record = {"method": method, "settings": settings, "options": options[(method, settings)],
                      "n seeds": stats["distance"].n}
            for key, label in (*LABELS.items(), ("distance", "distance to retrained")):
                record.update(interval_cells(label, stats[key], intervals))
            if settings == "tuned" and method in comparisons:
                d = comparisons[method]
                record.update(interval_cells("tuned - published distance", d, intervals))
                record["p"] = d.p_value
            records.append(record)
        return pd.DataFrame(records)

    def summary(self) -> str:
        """What ``qmu-kit tune`` prints: the criterion, the candidates on the tuning seeds, and
        :meth:`table` on the evaluation seeds (``reports/tuning_classroom.txt`` is this text)."""
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40):
            return "\n".join([
                f"qmu-kit tune: {self.criterion}",
                f"tuning seeds {list(self.tuning_seeds)} (mean over seeds [95 % interval], by the same rules as below):",
                interval_strings(self.candidates_table()).to_string(index=False),
                f"evaluation seeds {list(self.evaluation_seeds)} (mean over seeds [95 % interval] (n=seeds); a rate's "
                "interval also covers the Wilson interval of its samples pooled over seeds" + self._samples_note() + "):",
                interval_strings(self.table()).to_string(index=False, na_rep="", float_format="{:.2g}".format),
            ])

    def plot(self, ax=None):
        """Each method's distance to the retrained model on the evaluation seeds, tuned beside published."""
        return tuning_figure(self, ax=ax)

    def _samples_note(self) -> str:
        """``"; samples per seed: forget acc 30, ..."`` from the evaluation rows' counts (empty without them)."""
        parts = []
        for metric, label in LABELS.items():
            counts = sorted({(r.get("counts") or {}).get("model", {}).get(metric) for r in self.evaluation} - {None})
            if counts:
                parts.append(f"{label} {counts[0]}" + (f"-{counts[-1]}" if counts[-1] != counts[0] else ""))
        return "; samples per seed: " + ", ".join(parts) if parts else ""

    def to_dict(self) -> dict:
        return {
            "schema": self.schema(), "preset": self.preset, "overrides": self.overrides, "tuning_seeds": list(self.tuning_seeds),
            "evaluation_seeds": list(self.evaluation_seeds), "criterion": self.criterion, "date": self.date,
            "chosen": self.chosen, "feasible": self.feasible, "published": {m: PUBLISHED.get(m) for m in self.chosen},
            "trials": [{k: v for k, v in r.items() if k != "options_key"} for r in self.trials],
            "evaluation": self.evaluation,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "TuningResult":
        """The result :meth:`to_dict` wrote (e.g. read back from ``qmu-kit tune --json``)."""
        cls.check_schema(data)
        trials = [dict(r, options_key=json.dumps(r["options"], sort_keys=True)) for r in data["trials"]]
        return cls(data["preset"], tuple(data["tuning_seeds"]), tuple(data["evaluation_seeds"]), data["criterion"],
                   trials, dict(data["chosen"]), dict(data["feasible"]), list(data["evaluation"]),
                   dict(data.get("overrides") or {}), data.get("date", ""))

    def defaults_source(self, command: str) -> str:
        """The text of ``qmu_kit/unlearning/tuned_defaults.py`` for these choices (the module the unlearning
        defaults come from), naming the command, preset, seeds and date."""
        provenance = {
            "command": command, "preset": self.preset, "overrides": self.overrides,
            "tuning_seeds": list(self.tuning_seeds), "evaluation_seeds": list(self.evaluation_seeds),
            "criterion": self.criterion, "feasible": self.feasible, "date": self.date,
        }
        return (
            '"""Unlearning defaults chosen by ``qmu-kit tune`` (generated by it: rerun the command below\n'
            "rather than editing by hand).\n\n"
            f"Command: ``{command}``\n"
            f"Preset {self.preset}; tuning seeds {', '.join(map(str, self.tuning_seeds))}; evaluation seeds "
            f"{', '.join(map(str, self.evaluation_seeds))}; {self.date}.\n"
            '"""\n\n'
            f"TUNED_DEFAULTS = {pprint.pformat(self.chosen, sort_dicts=True)}\n\n"
            f"PROVENANCE = {pprint.pformat(provenance, sort_dicts=False, width=100)}\n"
        )


def _default_runner(cache):
    def run(config):

        # the typed results' estimates (value and sample count) per model; a test's fake runner may
        # return plain floats instead
        models = run_experiment(config, cache=cache).models
        return {name: {m: getattr(model, m) for m in METRICS} for name, model in models.items()}

    return run


def tune(
    preset: str = "classroom",
    methods: Sequence[str] = tuple(DEFAULT_GRID),
    tuning_seeds: Sequence[int] = DEFAULT_TUNING_SEEDS,
    evaluation_seeds: Sequence[int] = DEFAULT_EVALUATION_SEEDS,
    grid: Mapping[str, Mapping[str, Sequence]] | None = None,
    *,
    retain_tolerance: float = RETAIN_TOLERANCE,
    attack: str = "mlp",
    overrides: Mapping | None = None,
    cache=True,
    runner: Callable | None = None,
    progress: bool = False,
) -> TuningResult:
    """Choose each method's knobs on ``tuning_seeds``; report them and the published settings on
    ``evaluation_seeds``.

    Args:
        preset: experiment preset (``classroom`` or ``paper``).
        methods: methods to tune, each a key of ``grid``.
        tuning_seeds, evaluation_seeds: disjoint seed sets.
        grid: per method, per knob, the values to try (default :data:`DEFAULT_GRID`).
        retain_tolerance: a candidate qualifies when its mean retained test accuracy is at least
            :func:`retain_floor` (the lower of original and retrained, per seed) minus this (0.05: 5 points).
        attack: the attack whose MIA success the criterion uses (only it is run).
        overrides: other config fields (e.g. ``{"shots": 300}``).
        cache: as for :func:`~qmu_kit.experiment.pipeline.run_experiment`.
        runner: ``config -> {model name: {metric: Estimate or float}}`` (default: the estimates of
            ``run_experiment(config).models``, which carry their sample counts).
        progress: print one line per run to stderr.

    Raises:
        ValueError: an unknown preset, method or knob, a knob value out of range, a method without a
            grid, overlapping or empty seed sets, or a tolerance outside [0, 1].
    """

    check_choice("preset", preset, PRESETS)
    grid = {name: dict(knobs) for name, knobs in (DEFAULT_GRID if grid is None else grid).items()}
    methods = check_names("methods", methods, grid)
    if not methods:
        raise ValueError("methods is empty: tune at least one of " + ", ".join(grid))
    tuning_seeds = check_seeds("tuning_seeds", tuning_seeds)
    evaluation_seeds = check_seeds("evaluation_seeds", evaluation_seeds)
    shared = sorted(set(tuning_seeds) & set(evaluation_seeds))
    if shared:
        raise ValueError(f"tuning and evaluation seeds must be disjoint: both contain {shared}")
    retain_tolerance = check_float("retain_tolerance", retain_tolerance, 0.0, 1.0)
    check_choice("attack", attack, attack_names())
    overrides = dict(overrides or {})
    trial_options = {name: candidates(grid[name]) for name in methods}
    for name, options in trial_options.items():
        if not options:
            raise ValueError(f"the grid for {name!r} has no values")
        for option in options:
            make_method(name, **option)  # every knob and value checked before any run
    runner = runner or _default_runner(cache)

    def measure(name, options, seed):
        config = ExperimentConfig.from_preset(preset, **overrides, seed=seed, methods=(name,), attacks=(attack,))
        config = config.replace(method_options={name: options})  # exactly these knobs, not merged with the preset's
        row = trial_row(runner(config), name)
        if progress:
            print(f"qmu-kit tune: {name} {options} seed {seed}: distance {row['distance']:.3f}", file=sys.stderr)
        return row

    trials, chosen, feasible = [], {}, {}
    for name in methods:
        scored = []
        for options in trial_options[name]:
            rows = []
            for seed in tuning_seeds:
                rows.append({"method": name, "options": options, "options_key": json.dumps(options, sort_keys=True),
                             "seed": seed, **measure(name, options, seed)})
            trials.extend(rows)
            scored.append((options, rows))
        chosen[name], feasible[name] = choose(scored, retain_tolerance)

    evaluation = []
    for name in methods:
        settings = [("tuned", chosen[name])] + ([("published", PUBLISHED[name])] if name in PUBLISHED else [])
        for label, options in settings:
            for seed in evaluation_seeds:
                evaluation.append({"method": name, "settings": label, "options": dict(options), "seed": seed,
                                   **measure(name, dict(options), seed)})
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return TuningResult(preset, tuning_seeds, evaluation_seeds, CRITERION.format(tolerance=retain_tolerance),
                        trials, chosen, feasible, evaluation, overrides, date)


# ---- qmu-kit tune -------------------------------------------------------------------------------

def parse_grid_item(text: str) -> tuple[str, str, list]:
    """``METHOD.KNOB=V1,V2`` -> ``(method, knob, [values])`` (numbers parsed, booleans as true/false)."""
    key, sep, values = text.partition("=")
    method, dot, knob = key.partition(".")
    if not sep or not dot or not method or not knob or not values:
        raise ValueError(f"grid item {text!r} is not valid: write METHOD.KNOB=V1,V2 (e.g. ssd.alpha=10,30,100)")
    parsed = [parse_text(value) for value in values.split(",")]
    for value in parsed:
        if isinstance(value, str):
            raise ValueError(f"grid value {value!r} for {key} is not a number (or true/false)")
    return method, knob, parsed


__all__ = ["DEFAULT_GRID", "DEFAULT_EVALUATION_SEEDS", "DEFAULT_TUNING_SEEDS", "METRICS", "PUBLISHED", "RETAIN_TOLERANCE", "TUNE_FIELDS", "TuningResult", "candidates",
           "check_seeds", "choose", "distance", "parse_grid_item", "retain_floor", "trial_row", "tune"]
