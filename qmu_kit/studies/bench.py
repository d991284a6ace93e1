"""The unlearning benchmark: every registered method, tuned alike, on one leaderboard per scenario and model.

:func:`run_bench` runs each unlearning method of the registry (the lessons' and the benchmark's) on both
QNNs, for class forgetting (``class:K``) and random forgetting (``random:F``), and reports it beside
the original and the retrained model:

1. **Tuned alike.** Every method gets the same number of candidates, :data:`BUDGET` (or ``budget``),
   drawn without replacement from its own knob grid (:meth:`~qmu_kit.unlearning.methods.UnlearningMethod.knob_grid`,
   the one table of each method's knobs; ``grid`` replaces a method's). A method whose grid has exactly
   ``budget`` combinations tries them all; a larger grid is subsampled by a random stream named after the
   method (:func:`~qmu_kit.core.seeds.stream_seed`), so the draw never depends on which other methods
   run. The kit's tuning rule (:func:`~qmu_kit.studies.tuning.choose`: closest to the retrained model on
   forget accuracy and MIA success among candidates keeping the retained accuracy) picks each method's
   knobs per scenario and model on the **tuning seeds**; the picks are reported on the disjoint
   **evaluation seeds**, beside the **published settings** where a paper gives them
   (:data:`~qmu_kit.studies.tuning.PUBLISHED`).
2. **Measured through the experiment pipeline.** Each run is one
   :func:`~qmu_kit.experiment.pipeline.run_experiment` (cached: a rerun replays), so every model is
   audited by :func:`~qmu_kit.leakage.audit.audit_models` with several attacks at the configured shots.
   Per method: UA (forget-set accuracy), RA (retained training accuracy), TA (retained test accuracy),
   MIA efficacy (share of forget-set members the headline attack calls non-members, as SalUn defines
   it), each attack's forget AUC, the **average gap to retraining** (mean of ``|UA - UA_rt|``,
   ``|RA - RA_rt|``, ``|TA - TA_rt|``, ``|MIA efficacy - retrained's|`` per seed, as SalUn reports it),
   seconds, circuit evaluations and shots (the quantum cost). Rates are means over seeds with the
   kit's interval for rates over seeds; the rest are means with t-intervals (``n`` = seeds).
3. **Verified (optional).** With ``verify_models=K`` every tuned method also goes through the
   many-model verification (:func:`~qmu_kit.studies.verification.verify` on the first evaluation seed):
   forgetting quality beside the same-``K`` retrain control, the Streisand AUC and relearning steps.
4. **Scope shown, never skipped.** A method whose registry entry excludes a model or a forget kind
   (:attr:`~qmu_kit.core.registry.Entry.excludes`) gets a row with that reason and no numbers; a
   candidate the model cannot run (e.g. ``eu_k k=3`` on a model with two parameter layers) is counted
   as tried and its error kept; every row carries the entry's scope text.

Example:
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> tiny = ExperimentConfig(n_qubits=2, n_train=40, n_test=40, epochs=1)
    >>> result = run_bench(tiny, methods="ga,finetune", scenarios=["class:4"], models=["hybrid"],
    ...                tuning_seeds=[1000], evaluation_seeds=[0], budget=1, cache=False)  # doctest: +SKIP
    >>> result.table(intervals=False)[["method", "UA", "avg gap"]]                         # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import json
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qmu_kit.core.cache import ResultCache, resolve_cache
from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.parallel import check_jobs, check_scheduler, parallel_map
from qmu_kit.core.results import INTERVAL_SUFFIXES, Result, interval_cells, interval_strings
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.stats import Estimate, mean, mean_of_estimates, rate_over_seeds
from qmu_kit.core.validation import check_float, check_int, check_names
from qmu_kit.experiment.config import MODELS, PRESETS, ExperimentConfig, versions
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.experiment.results import ACCURACIES
from qmu_kit.leakage.attacks import attack_names
from qmu_kit.plots.figures import pareto_figure
from qmu_kit.qnn.data import ForgetSpec
from qmu_kit.studies.tuning import (
    CRITERION,
    DEFAULT_TUNING_SEEDS,
    PUBLISHED,
    RETAIN_TOLERANCE,
    candidates,
    check_seeds,
    choose,
    trial_row,
)
from qmu_kit.studies.verification import DEFAULT_RELEARN_SAMPLES, VerifyConfig, VerifyResult, check_models, verify
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, make_method, method_names

#: Candidates every method gets, the same for all (each drawn from the method's own knob grid).
BUDGET = 3
#: The forget scenarios a benchmark runs by default: a whole class, and a random tenth of the training set.
DEFAULT_SCENARIOS = ("class:4", "random:0.1")
#: Evaluation seeds by default (disjoint from the tuning seeds, :data:`~qmu_kit.studies.tuning.DEFAULT_TUNING_SEEDS`).
DEFAULT_EVALUATION_SEEDS = (0, 1, 2, 3, 4)
#: The attacks every model is audited with (the first is the headline attack the tuning rule uses);
#: LiRA is left out by default because it trains shadow models per seed.
BENCH_ATTACKS = ("mlp", "loss", "confidence", "entropy")
#: The reference rows every leaderboard has.
REFERENCES = ("original", "retrained")
#: The leaderboard's numbers (each followed by its count and interval with ``intervals=True``).
METRIC_COLUMNS = ("UA", "RA", "TA", "MIA efficacy", "avg gap", "seconds", "circuit evaluations", "shots")
VERIFY_COLUMNS = ("forgetting quality", "retrain control FQ", "Streisand AUC", "relearn steps")


def check_scenario(value) -> str:
    """A forget scenario, ``class:K`` or ``random:F`` (0 < F < 1), in its normal text form.

    Example:
        >>> check_scenario("random:0.10"), check_scenario("class:4")
        ('random:0.1', 'class:4')
    """
    return str(ForgetSpec.parse(value))


def check_scenarios(value) -> tuple[str, ...]:
    """Distinct scenarios from a sequence or comma-separated text; at least one."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    scenarios = tuple(check_scenario(v.strip() if isinstance(v, str) else v) for v in value)
    if not scenarios:
        raise ValueError(f"scenarios is empty: give at least one of class:K or random:F (default {', '.join(DEFAULT_SCENARIOS)})")
    if len(set(scenarios)) != len(scenarios):
        raise ValueError(f"scenarios={list(scenarios)} repeats a scenario")
    return scenarios


def bench_methods(value) -> tuple[str, ...]:
    """Method names: ``"all"`` is every registered method (the benchmark's too), else any of them.

    Example:
        >>> bench_methods("ga,scrub")
        ('ga', 'scrub')
    """
    return check_names("methods", value, method_names(), every=True)


def bench_grid(methods: Sequence[str], grid: Mapping[str, Mapping[str, Sequence]] | None = None) -> dict[str, dict[str, list]]:
    """Each method's grid: its knob table's (:meth:`~qmu_kit.unlearning.methods.UnlearningMethod.knob_grid`),
    with ``grid``'s knobs replacing or adding values. Every combination is checked (an unknown knob or
    a value out of range is an error naming them).

    Example:
        >>> bench_grid(["rga"], {"rga": {"lr": [0.01, 0.02]}})
        {'rga': {'lr': [0.01, 0.02]}}
    """
    grid = dict(grid or {})
    unknown = sorted(set(grid) - set(methods))
    if unknown:
        raise ValueError(f"grid names method(s) {unknown} that the benchmark does not run: allowed are {', '.join(methods)}")
    out = {}
    for name in methods:
        knobs = {**UNLEARNING_METHODS[name].knob_grid(), **{k: list(v) for k, v in dict(grid.get(name, {})).items()}}
        for knob, values in knobs.items():
            if not values:
                raise ValueError(f"the grid of {name} knob {knob!r} has no values")
        for option in candidates(knobs):
            make_method(name, **option)
        out[name] = knobs
    return out


def check_budget(budget, grids: Mapping[str, Mapping[str, Sequence]]) -> int:
    """The candidates per method: an integer from 1 to the smallest grid's size (every method must get
    the same number, so no method may have fewer combinations than the budget).

    Example:
        >>> check_budget(2, {"rga": {"lr": [0.02, 0.05, 0.1]}})
        2
        >>> check_budget(0, {"rga": {"lr": [0.02, 0.05, 0.1]}})
        Traceback (most recent call last):
        ...
        ValueError: budget=0 is out of range: budget must be an integer from 1 to 3 (rga's grid has 3 candidates; every method gets the same number)
    """
    sizes = {name: len(candidates(knobs)) for name, knobs in grids.items()}
    smallest = min(sizes, key=sizes.get)
    try:
        return check_int("budget", budget, 1, sizes[smallest])
    except ValueError as error:
        raise ValueError(f"{error} ({smallest}'s grid has {sizes[smallest]} candidates; every method gets the same number)") from None


def budget_candidates(name: str, grid: Mapping[str, Sequence], budget: int) -> list[dict]:
    """``budget`` candidates of ``name``'s grid, in grid order: all of them when the grid has exactly
    that many, else a covering draw: each pick is the candidate that adds the most knob values not yet
    tried (so ``k`` in {1, 2, 3} with a budget of 3 tries every ``k``, and a model on which one value
    cannot run still has candidates), ties broken by the method's own random stream, so the draw never
    depends on which other methods run.

    Example:
        >>> drawn = budget_candidates("cf_k", {"k": [1, 2, 3], "epochs": [2, 5, 10]}, 3)
        >>> sorted(c["k"] for c in drawn), sorted(c["epochs"] for c in drawn)
        ([1, 2, 3], [2, 5, 10])
    """
    every = candidates(grid)
    if budget > len(every):
        raise ValueError(f"budget={budget} is out of range for {name}: its grid has {len(every)} candidates")
    order = np.random.default_rng(stream_seed(0, f"bench-candidates-{name}")).permutation(len(every)).tolist()
    picked, tried = [], {knob: set() for knob in grid}

    def new_values(index: int) -> int:
        return sum(json.dumps(every[index][knob]) not in tried[knob] for knob in grid)

    for _ in range(budget):
        best = max((i for i in order if i not in picked), key=new_values)  # max keeps the first of equals
        picked.append(best)
        for knob in grid:
            tried[knob].add(json.dumps(every[best][knob]))
    return [every[i] for i in sorted(picked)]


#: ``qmu-kit bench``'s own settings: each rule, help, flag and default in one place.
BENCH_FIELDS: dict[str, FieldSpec] = {
    "methods": FieldSpec(bench_methods, "methods to benchmark (default all)", "--methods", "M1,M2", names=True, choices=method_names),
    # the command line takes one repeatable --scenario flag (qmu_kit.cli.bench), not a comma list
    "scenarios": FieldSpec(check_scenarios, f"forget scenarios, class:K or random:F (default {','.join(DEFAULT_SCENARIOS)})", text=True),
    "models": FieldSpec(lambda value: check_names("models", value, MODELS, every=True), "QNNs (default basic,hybrid)", "--models",
                        "M1,M2", names=True, choices=lambda: MODELS),
    "tuning_seeds": FieldSpec(lambda value: check_seeds("tuning_seeds", value),
                              f"seeds that choose the knobs (default {','.join(map(str, DEFAULT_TUNING_SEEDS))})",
                              "--tuning-seeds", "S1,S2", text=True),
    "evaluation_seeds": FieldSpec(lambda value: check_seeds("evaluation_seeds", value),
                                  f"disjoint seeds that report them (default {','.join(map(str, DEFAULT_EVALUATION_SEEDS))})",
                                  "--seeds", "S1,S2", text=True),
    "budget": FieldSpec(lambda value: check_int("budget", value, 1), f"candidates per method, the same for all (default {BUDGET})",
                        "--budget", "B"),
    "attacks": FieldSpec(lambda value: check_names("attacks", value, attack_names(), every=True),
                         f"attacks every model is audited with, the first the headline (default {','.join(BENCH_ATTACKS)})",
                         "--attacks", "A1,A2", names=True, choices=attack_names),
    "verify_models": FieldSpec(check_models, "also verify every tuned method with K models per side (slow; default off)",
                               "--verify-models", "K", nullable=True),
}


def _measures(model) -> dict:
    """One model of an experiment, compact and JSON-ready: its accuracies, headline MIA success, each
    attack's forget AUC (estimates as dicts) and its cost."""
    out = {name: getattr(model, name).to_dict() for name in ACCURACIES}
    out["mia_success_forget"] = model.mia_success_forget.to_dict()
    out["auc"] = {attack: outcome.forget.auc.to_dict() for attack, outcome in model.attacks.items()}
    out.update(seconds=float(model.seconds), circuit_evaluations=int(model.circuit_evaluations),
               total_shots=model.details.get("total_shots") if isinstance(model.details, dict) else None)
    return out


def _bench_run(config_dict: dict, cache_dir: str) -> dict:
    """One experiment of the benchmark (a worker task): its models' measures, or the error that made
    the method inapplicable (a knob the model cannot take)."""
    config = ExperimentConfig.from_dict(config_dict)
    try:
        result = run_experiment(config, cache=ResultCache(cache_dir))
    except ValueError as error:
        return {"error": str(error)}
    return {"models": {name: _measures(model) for name, model in result.models.items()}}


def _estimates(measures: Mapping) -> dict:
    """A run's measures with the tuning metrics as :class:`Estimate` s (what :func:`trial_row` reads)."""
    return {m: Estimate.from_dict(measures[m]) for m in ("acc_train_forget", "mia_success_forget", "acc_test_retain")}


def _efficacy(measures: Mapping) -> tuple[float, int]:
    success = measures["mia_success_forget"]
    return 1.0 - float(success["value"]), int(success["n"])


def gap_to_retraining(measures: Mapping, retrained: Mapping) -> float:
    """The average gap of one run to the retrained model of its seed: the mean of the absolute
    differences of UA, RA, TA and MIA efficacy.

    Example:
        >>> est = lambda v: {"value": v, "n": 10, "ci95": [0, 1]}
        >>> run = {"acc_train_forget": est(0.4), "acc_train_retain": est(0.9), "acc_test_retain": est(0.8), "mia_success_forget": est(0.5)}
        >>> ref = {"acc_train_forget": est(0.0), "acc_train_retain": est(0.9), "acc_test_retain": est(0.8), "mia_success_forget": est(0.1)}
        >>> round(gap_to_retraining(run, ref), 3)
        0.2
    """
    parts = [abs(measures[m]["value"] - retrained[m]["value"]) for m in ("acc_train_forget", "acc_train_retain", "acc_test_retain")]
    parts.append(abs(_efficacy(measures)[0] - _efficacy(retrained)[0]))
    return float(sum(parts) / len(parts))


def _summarize(runs: Sequence[Mapping], retrained: Mapping[int, Mapping], attacks: Sequence[str]) -> dict:
    """The leaderboard's numbers over the runs' seeds: rates by the kit's rule for rates over seeds,
    AUCs as means of per-seed estimates, the gap and the costs as means (t-intervals)."""

    def rate(metric):
        return rate_over_seeds([r["measures"][metric]["value"] for r in runs], [r["measures"][metric]["n"] for r in runs])

    efficacy = [_efficacy(r["measures"]) for r in runs]
    out = {"UA": rate("acc_train_forget"), "RA": rate("acc_train_retain"), "TA": rate("acc_test_retain"),
           "MIA efficacy": rate_over_seeds([v for v, _ in efficacy], [n for _, n in efficacy])}
    for attack in attacks:
        out[f"AUC {attack}"] = mean_of_estimates([Estimate.from_dict(r["measures"]["auc"][attack]) for r in runs], bounds=(0, 1))
    out["avg gap"] = mean([gap_to_retraining(r["measures"], retrained[r["seed"]]) for r in runs], bounds=(0, 1))
    out["seconds"] = mean([r["measures"]["seconds"] for r in runs], bounds=(0, float("inf")))
    out["circuit evaluations"] = mean([r["measures"]["circuit_evaluations"] for r in runs], bounds=(0, float("inf")))
    shots = [r["measures"]["total_shots"] for r in runs]
    out["shots"] = mean(shots, bounds=(0, float("inf"))) if all(s is not None for s in shots) else None
    return out


@dataclass(frozen=True)
class BenchResult(Result):
    """A benchmark: what ran, what each method's tuning chose, and every evaluation run.

    Attributes:
        config: the base experiment (JSON form; each run changes its model, forget set, seed, methods,
            knobs and attacks).
        scenarios, models, methods, attacks: what the leaderboard covers.
        tuning_seeds, evaluation_seeds: disjoint seed sets.
        budget: candidates per method; ``grids``: each method's grid; ``candidates``: the ones drawn.
        criterion: the tuning rule in words.
        runs: every run: ``phase`` (``"baseline"``, ``"tuning"``, ``"evaluation"``), ``scenario``,
            ``model``, ``method``, ``settings`` (``"candidate"``, ``"tuned"``, ``"published"``; the
            baseline's ``"reference"``), ``options``, ``seed``, and ``measures`` (per model name) or ``error``.
        chosen: per scenario, model and method: the options, ``feasible``, candidates ``tried`` and
            ``valid``, and ``note`` (why no candidate ran, if none did).
        excluded: rows of methods whose registry entry excludes the model or the forget kind, with the reason.
        verification: per scenario and model, the :class:`VerifyResult` as a dict (``None``: not run).
        date: when the benchmark ran (UTC).
        versions: package versions.
    """

    config: dict
    scenarios: tuple[str, ...]
    models: tuple[str, ...]
    methods: tuple[str, ...]
    attacks: tuple[str, ...]
    tuning_seeds: tuple[int, ...]
    evaluation_seeds: tuple[int, ...]
    budget: int
    grids: dict
    candidates: dict
    criterion: str
    runs: list
    chosen: list
    excluded: list = field(default_factory=list)
    verification: list = field(default_factory=list)
    date: str = ""
    versions: dict = field(default_factory=dict)

    KIND = "bench"
    VERSION = 1

    # ---- the numbers ------------------------------------------------------------------------------

    def _runs(self, phase: str, scenario: str, model: str) -> list[dict]:
        return [r for r in self.runs if r["phase"] == phase and r["scenario"] == scenario and r["model"] == model]

    def _verification(self, scenario: str, model: str) -> VerifyResult | None:
        for item in self.verification:
            if item["scenario"] == scenario and item["model"] == model:
                return VerifyResult.from_dict(item["result"])
        return None

    def rows(self, scenario: str, model: str) -> list[dict]:
        """The leaderboard of one scenario and model as records: the references, then each method's
        tuned and published settings (numbers as :class:`Estimate` s, ``None`` where not run)."""
        baseline = self._runs("baseline", scenario, model)
        retrained = {r["seed"]: r["measures"]["retrained"] for r in baseline if "measures" in r}
        evaluation = [r for r in baseline if "measures" in r and r["seed"] in self.evaluation_seeds]
        verified = self._verification(scenario, model)
        control = verified.methods["retrain"].forgetting_quality if verified is not None else None
        records = []

        def record(method, settings, options, runs, **extra):
            row = {"scenario": scenario, "model": model, "method": method, "label": UNLEARNING_METHODS.label(method)
                   if method in UNLEARNING_METHODS else method, "settings": settings, "options": options}
            numbers = _summarize(runs, retrained, self.attacks) if runs else {}
            for column in (*METRIC_COLUMNS[:4], *(f"AUC {a}" for a in self.attacks), *METRIC_COLUMNS[4:]):
                row[column] = numbers.get(column)
            if verified is not None:
                name = {"original": "none", "retrained": "retrain"}.get(method, method)
                checked = verified.methods.get(name)
                row.update({"forgetting quality": checked.forgetting_quality if checked else None, "retrain control FQ": control,
                            "Streisand AUC": checked.streisand_auc if checked else None,
                            "relearn steps": checked.relearn_steps if checked else None})
            entry = UNLEARNING_METHODS.entry(method) if method in UNLEARNING_METHODS else None
            row.update({"candidates": None, "valid": None, "feasible": None, "scope": entry.scope if entry else "", "note": ""})
            row.update(extra)
            records.append(row)

        for reference in REFERENCES:
            runs = [{"seed": r["seed"], "measures": r["measures"][reference]} for r in evaluation]
            record(reference, "reference", {}, runs)
        excluded = {e["method"]: e["reason"] for e in self.excluded if e["scenario"] == scenario and e["model"] == model}
        chosen = {c["method"]: c for c in self.chosen if c["scenario"] == scenario and c["model"] == model}
        for method in self.methods:
            if method in excluded:
                record(method, "excluded", {}, [], note=excluded[method])
                continue
            pick = chosen[method]
            counts = {"candidates": pick["tried"], "valid": pick["valid"], "feasible": pick["feasible"], "note": pick.get("note", "")}
            if pick["options"] is None:
                record(method, "tuned", None, [], **counts)
                continue
            for settings in ("tuned", "published"):
                runs = [r for r in self._runs("evaluation", scenario, model) if r["method"] == method and r["settings"] == settings]
                if not runs:
                    continue
                errors = [r["error"] for r in runs if "error" in r]
                good = [{"seed": r["seed"], "measures": r["measures"][method]} for r in runs if "measures" in r]
                note = counts["note"] or (f"{len(errors)} of {len(runs)} seeds failed: {errors[0]}" if errors else "")
                record(method, settings, runs[0]["options"], good, **{**counts, "note": note})
        return records

    def table(self, scenario: str | None = None, model: str | None = None, intervals: bool = True):
        """The leaderboard as a DataFrame, one row per scenario, model, method and settings (the
        references first): UA, RA, TA, MIA efficacy, each attack's forget AUC, the average gap to
        retraining, seconds, circuit evaluations and shots, with the verification's columns when it
        ran; each number followed by its count and 95 % interval when ``intervals``; ``candidates``
        and ``valid`` (tried and runnable), ``feasible``, the registry's ``scope`` and a ``note``
        (why a row has no numbers).

        Raises:
            ValueError: a scenario or model the benchmark did not run.
        """
        import pandas as pd

        scenarios = self._pick("scenario", scenario, self.scenarios)
        models = self._pick("model", model, self.models)
        records = []
        for s in scenarios:
            for m in models:
                for row in self.rows(s, m):
                    cells = {}
                    for key, value in row.items():
                        if isinstance(value, Estimate):
                            cells.update(interval_cells(key, value, intervals))
                        elif value is None and key in self._number_columns():  # not run, or no shots (exact readout)
                            cells.update({f"{key}{suffix}": float("nan") for suffix in ("", *(INTERVAL_SUFFIXES if intervals else ()))})
                        else:
                            cells[key] = value
                    records.append(cells)
        return pd.DataFrame(records)

    def _number_columns(self) -> tuple[str, ...]:
        return (*METRIC_COLUMNS, *(f"AUC {a}" for a in self.attacks), *(VERIFY_COLUMNS if self.verification else ()))

    @staticmethod
    def _pick(name: str, value, allowed: Sequence[str]) -> tuple[str, ...]:
        if value is None:
            return tuple(allowed)
        value = check_scenario(value) if name == "scenario" else value
        if value not in allowed:
            raise ValueError(f"{name}={value!r} is not in this benchmark: choose one of {', '.join(allowed)}")
        return (value,)

    def ranked(self, scenario: str, model: str) -> list[dict]:
        """The tuned methods that ran, closest to retraining first (by the average gap's point estimate:
        whether the seeds separate two neighbours is for their intervals to say)."""
        tuned = [row for row in self.rows(scenario, model) if row["settings"] == "tuned" and row["avg gap"] is not None]
        return sorted(tuned, key=lambda row: row["avg gap"].value)

    def leaderboard(self, scenario: str, model: str) -> str:
        """One scenario and model's leaderboard in markdown, methods sorted by the average gap to
        retraining (references first, rows without numbers last with their reason), every number as
        ``value [low, high] (n=N)``."""
        frame = self.table(scenario, model)
        frame["_order"] = [0 if s == "reference" else 1 for s in frame["settings"]]
        frame = frame.sort_values(["_order", "avg gap"], na_position="last", kind="stable").drop(columns="_order")
        shown = interval_strings(frame)
        shown["options"] = [json.dumps(o, sort_keys=True) if isinstance(o, dict) else "" for o in shown["options"]]
        keep = ["label", "settings", "options", "UA", "RA", "TA", "MIA efficacy", *(f"AUC {a}" for a in self.attacks), "avg gap",
                "seconds", "circuit evaluations", "shots", *(c for c in VERIFY_COLUMNS if c in shown.columns), "candidates", "note"]
        shown = shown[keep].rename(columns={"label": "method"}).astype(object).fillna("")
        header = (f"### {scenario}, {model} QNN\n\nTuning seeds {', '.join(map(str, self.tuning_seeds))}; evaluation seeds "
                  f"{', '.join(map(str, self.evaluation_seeds))}; {self.budget} candidates per method; shots "
                  f"{self.config.get('shots') or 'exact'}; headline attack {self.attacks[0]}.\n\n")
        return header + shown.to_markdown(index=False) + "\n"

    def size(self) -> str:
        """The experiment every run of the benchmark starts from, in one sentence: data, qubits, members
        and non-members, epochs, readout, and the seeds and attacks.

        Example:
            >>> from qmu_kit.experiment import ExperimentConfig
            >>> config = ExperimentConfig(n_qubits=4, n_train=150, n_test=150, epochs=15).to_dict()
            >>> BenchResult(config, ("class:4",), ("hybrid",), ("ga",), ("mlp",), (1000,), (0, 1), 2, {}, {}, "", [], []).size()
            'Experiment: digits, 4 qubits, 150 members and 150 non-members, 15 epochs, exact readout; 1 tuning seed and 2 evaluation seeds; attacks mlp.'
        """
        c = self.config
        epochs = f"{c['epochs']} epochs" if c.get("epochs") else "the paper's training epochs"
        readout = f"{c['shots']} shots" if c.get("shots") else "exact readout"
        plural = lambda n, word: f"{n} {word}{'s' if n != 1 else ''}"  # noqa: E731
        return (f"Experiment: {c['dataset']}, {c['n_qubits']} qubits, {c['n_train']} members and {c['n_test']} non-members, {epochs}, "
                f"{readout}; {plural(len(self.tuning_seeds), 'tuning seed')} and {plural(len(self.evaluation_seeds), 'evaluation seed')}; "
                f"attacks {', '.join(self.attacks)}.")

    def leaderboards(self) -> str:
        """Every scenario and model's markdown leaderboard, with the experiment's size, the budget and each
        method's grid."""
        parts = [f"## Unlearning leaderboard ({self.date})\n\n{self.size()}\n\nEvery method tried {self.budget} candidates "
                 f"of its grid, chosen by the kit's rule: {self.criterion}.\n"]
        parts += [self.leaderboard(s, m) for s in self.scenarios for m in self.models]
        parts.append("### Grids\n\n" + "\n".join(f"- {m}: {json.dumps(g)}" for m, g in self.grids.items()) + "\n")
        return "\n".join(parts)

    def summary(self) -> str:
        """Per scenario and model: each row's average gap to retraining, UA and circuit evaluations."""
        lines = [f"qmu-kit bench: {len(self.methods)} methods, {self.budget} candidates each, tuning seeds "
                 f"{list(self.tuning_seeds)}, evaluation seeds {list(self.evaluation_seeds)}"]
        for s in self.scenarios:
            for m in self.models:
                lines.append(f"\n{s}, {m} QNN")
                lines.append(f"  {'method':<22}{'settings':<11}{'avg gap to retraining':<30}{'UA':<28}circuits")
                for row in self.rows(s, m):
                    if row["avg gap"] is None:
                        lines.append(f"  {row['label']:<22}{row['settings']:<11}not run: {row['note']}")
                        continue
                    lines.append(f"  {row['label']:<22}{row['settings']:<11}{row['avg gap'].format():<30}{row['UA'].format():<28}"
                                 f"{row['circuit evaluations'].format(0)}")
        return "\n".join(lines)

    def plot(self, ax=None, *, scenario: str | None = None, model: str | None = None):
        """The Pareto plot: each tuned method's average gap to retraining against its circuit
        evaluations (mean over evaluation seeds, 95 % intervals), one marker per scenario and model,
        with each one's front."""
        points = []
        for s in self._pick("scenario", scenario, self.scenarios):
            for m in self._pick("model", model, self.models):
                for row in self.rows(s, m):
                    if row["settings"] == "tuned" and row["avg gap"] is not None:
                        points.append({"method": row["method"], "group": f"{s}, {m}", "cost": row["circuit evaluations"],
                                       "gap": row["avg gap"]})
        return pareto_figure(points, ax=ax)

    # ---- JSON ---------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "config": self.config, "scenarios": list(self.scenarios), "models": list(self.models),
                "methods": list(self.methods), "attacks": list(self.attacks), "tuning_seeds": list(self.tuning_seeds),
                "evaluation_seeds": list(self.evaluation_seeds), "budget": self.budget, "grids": self.grids,
                "candidates": self.candidates, "criterion": self.criterion, "runs": self.runs, "chosen": self.chosen,
                "excluded": self.excluded, "verification": self.verification, "date": self.date, "versions": self.versions}

    @classmethod
    def from_dict(cls, data: Mapping) -> "BenchResult":
        cls.check_schema(data)
        return cls(dict(data["config"]), tuple(data["scenarios"]), tuple(data["models"]), tuple(data["methods"]),
                   tuple(data["attacks"]), tuple(data["tuning_seeds"]), tuple(data["evaluation_seeds"]), int(data["budget"]),
                   dict(data["grids"]), dict(data["candidates"]), data["criterion"], list(data["runs"]), list(data["chosen"]),
                   list(data.get("excluded", [])), list(data.get("verification", [])), data.get("date", ""),
                   dict(data.get("versions", {})))


def _check_data(base: ExperimentConfig, scenario: str, model: str) -> None:
    """Refuse a scenario the data cannot give: a class the dataset does not have, or a random forget
    set without held-out samples (the retrained model's forget accuracy is estimated on them)."""
    config = base.replace(model=model, forget=scenario)
    data = config.load_data()
    spec = ForgetSpec.parse(scenario)
    if spec.kind == "class" and spec.value >= data.n_classes:
        raise ValueError(f"scenario={scenario!r} is not valid: {config.dataset} has classes 0 to {data.n_classes - 1}")
    if not data.forget_train.any():
        raise ValueError(f"scenario={scenario!r} forgets no training sample of {config.dataset} at n_train={config.n_train}")
    if spec.kind == "random" and len(data.y_population) == 0:
        raise ValueError(f"scenario={scenario!r} needs held-out samples to estimate the retrained model's forget accuracy, but "
                         f"every sample of {config.dataset} is a member or a non-member at n_train={config.n_train}, "
                         f"n_test={config.n_test}: lower them")


def run_bench(
    base: ExperimentConfig | str = "classroom",
    methods: str | Sequence[str] = "all",
    scenarios: str | Sequence[str] = DEFAULT_SCENARIOS,
    models: str | Sequence[str] = MODELS,
    tuning_seeds: str | Sequence[int] = DEFAULT_TUNING_SEEDS,
    evaluation_seeds: str | Sequence[int] = DEFAULT_EVALUATION_SEEDS,
    *,
    budget: int = BUDGET,
    grid: Mapping[str, Mapping[str, Sequence]] | None = None,
    attacks: str | Sequence[str] = BENCH_ATTACKS,
    retain_tolerance: float = RETAIN_TOLERANCE,
    verify_models: int | None = None,
    cache: ResultCache | bool = True,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> BenchResult:
    """Run the benchmark: every method tuned alike, then evaluated, per scenario and model.

    Args:
        base: the experiment every run starts from (a preset name or a config: data, qubits, sizes,
            training, shots); each run sets its model, forget set, seed, method, knobs and attacks.
        methods: ``"all"`` (every registered method), or names.
        scenarios: ``class:K`` and/or ``random:F``.
        models: ``basic`` and/or ``hybrid``.
        tuning_seeds, evaluation_seeds: disjoint seed sets.
        budget: candidates per method, 1..(the smallest grid's size).
        grid: per method, knob values replacing its knob table's grid.
        attacks: the attacks every model is audited with; the first is the tuning rule's.
        retain_tolerance: the tuning rule's tolerance on the retained accuracy.
        verify_models: ``K`` for the many-model verification of the tuned methods (``None``: not run).
        cache: ``True`` (the default cache), ``False`` (a temporary one while running) or a cache.
        n_jobs, scheduler: local worker processes or a Dask scheduler (:func:`~qmu_kit.core.parallel.parallel_map`).
        progress: a progress bar on stderr.

    Raises:
        ValueError: an unknown preset, method, model, attack or knob, a knob value out of range, a budget
            outside 1..(smallest grid), bad or overlapping seeds, a scenario the data cannot give, or a
            method named explicitly whose registry entry excludes a requested scenario.
    """
    from tqdm.auto import tqdm

    if isinstance(base, str):
        if base not in PRESETS:
            raise ValueError(f"preset={base!r} is not valid: choose one of {', '.join(PRESETS)}")
        base = ExperimentConfig.from_preset(base)
    if not isinstance(base, ExperimentConfig):
        raise ValueError(f"base={base!r} is not valid: give a preset name or an ExperimentConfig")
    named = not (isinstance(methods, str) and methods.strip() == "all")
    methods = bench_methods(methods)
    if not methods:
        raise ValueError(f"methods is empty: benchmark at least one of {', '.join(method_names())}")
    scenarios = check_scenarios(scenarios)
    models = check_names("models", models, MODELS, every=True)
    if not models:
        raise ValueError(f"models is empty: give basic and/or hybrid")
    tuning_seeds = check_seeds("tuning_seeds", tuning_seeds)
    evaluation_seeds = check_seeds("evaluation_seeds", evaluation_seeds)
    shared = sorted(set(tuning_seeds) & set(evaluation_seeds))
    if shared:
        raise ValueError(f"tuning and evaluation seeds must be disjoint: both contain {shared}")
    attacks = check_names("attacks", attacks, attack_names(), every=True)
    if not attacks:
        raise ValueError(f"attacks is empty: give at least one of {', '.join(attack_names())}")
    grids = bench_grid(methods, grid)
    budget = check_budget(budget, grids)
    if verify_models is not None:
        verify_models = check_models(verify_models)
    retain_tolerance = check_float("retain_tolerance", retain_tolerance, 0.0, 1.0)
    check_jobs(n_jobs)
    if scheduler is not None:
        check_scheduler(scheduler)
    base = base.replace(attack=attacks[0], attacks=attacks, method_options={})
    for scenario in scenarios:
        kind = ForgetSpec.parse(scenario).kind
        for model in models:
            _check_data(base, scenario, model)
        for method in methods:
            reason = UNLEARNING_METHODS.entry(method).excludes.get(kind)
            if named and reason:
                raise ValueError(f"method {method!r} cannot run scenario {scenario!r}: {reason} (its registry entry excludes "
                                 f"{kind} forgetting; drop it from methods or the scenario)")
    drawn = {name: budget_candidates(name, grids[name], budget) for name in methods}

    excluded, runnable = [], {}
    for scenario in scenarios:
        kind = ForgetSpec.parse(scenario).kind
        for model in models:
            for method in methods:
                excludes = UNLEARNING_METHODS.entry(method).excludes
                reason = excludes.get(model) or excludes.get(kind)
                if reason:
                    excluded.append({"scenario": scenario, "model": model, "method": method, "reason": reason})
                else:
                    runnable.setdefault((scenario, model), []).append(method)

    store = resolve_cache(cache)
    scratch = tempfile.mkdtemp(prefix="qmu-kit-bench-") if store is None else None
    cache_dir = scratch or str(store.directory)
    bar = tqdm(desc="bench", disable=not progress, file=sys.stderr)

    def config_of(scenario, model, seed, method=None, options=None) -> dict:
        config = base.replace(model=model, forget=scenario, seed=seed, methods=(method,) if method else (),
                              method_options={method: options} if method else {})
        return config.to_dict()

    def run_all(jobs: list[dict]) -> list[dict]:
        bar.total = (bar.total or 0) + len(jobs)
        outputs = parallel_map(_bench_run, [(job.pop("config"), cache_dir) for job in jobs], n_jobs=n_jobs, scheduler=scheduler,
                               on_result=lambda _i, _r: bar.update(1))
        return [{**job, **output} for job, output in zip(jobs, outputs)]

    try:
        # the originals and retrained models first, so method runs in parallel never train them twice
        baseline = run_all([{"phase": "baseline", "scenario": s, "model": m, "method": "", "settings": "reference", "options": {},
                             "seed": seed, "config": config_of(s, m, seed)}
                            for s in scenarios for m in models for seed in (*tuning_seeds, *evaluation_seeds)])
        failed = [r for r in baseline if "error" in r]
        if failed:
            raise ValueError(f"the {failed[0]['model']} QNN cannot run scenario {failed[0]['scenario']}: {failed[0]['error']}")
        tuning = run_all([{"phase": "tuning", "scenario": s, "model": m, "method": name, "settings": "candidate", "options": options,
                           "seed": seed, "config": config_of(s, m, seed, name, options)}
                          for (s, m), names in runnable.items() for name in names for options in drawn[name] for seed in tuning_seeds])
        chosen = []
        for (s, m), names in runnable.items():
            for name in names:
                scored, errors = [], []
                for options in drawn[name]:
                    runs = [r for r in tuning if r["scenario"] == s and r["model"] == m and r["method"] == name and r["options"] == options]
                    if any("error" in r for r in runs):
                        errors.append(next(r["error"] for r in runs if "error" in r))
                        continue
                    scored.append((options, [trial_row({name: _estimates(r["models"][name]),
                                                        "retrained": _estimates(r["models"]["retrained"]),
                                                        "original": _estimates(r["models"]["original"])}, name) for r in runs]))
                pick = {"scenario": s, "model": m, "method": name, "tried": len(drawn[name]), "valid": len(scored),
                        "options": None, "feasible": None, "note": ""}
                if scored:
                    pick["options"], pick["feasible"] = choose(scored, retain_tolerance)
                    if errors:
                        pick["note"] = f"{len(errors)} candidate(s) could not run on this model: {errors[0]}"
                else:
                    pick["note"] = f"no candidate could run on the {m} QNN: {errors[0]}"
                chosen.append(pick)
        evaluation_jobs = []
        for pick in chosen:
            if pick["options"] is None:
                continue
            settings = [("tuned", pick["options"])]
            if pick["method"] in PUBLISHED:
                settings.append(("published", dict(PUBLISHED[pick["method"]])))
            for label, options in settings:
                evaluation_jobs += [{"phase": "evaluation", "scenario": pick["scenario"], "model": pick["model"], "method": pick["method"],
                                     "settings": label, "options": options, "seed": seed,
                                     "config": config_of(pick["scenario"], pick["model"], seed, pick["method"], options)}
                                    for seed in evaluation_seeds]
        evaluation = run_all(evaluation_jobs)
        verification = []
        if verify_models is not None:
            for s in scenarios:
                for m in models:
                    tuned = {p["method"]: p["options"] for p in chosen if p["scenario"] == s and p["model"] == m and p["options"] is not None}
                    if not tuned:
                        continue
                    experiment = base.replace(model=m, forget=s, seed=evaluation_seeds[0], methods=tuple(tuned), method_options=tuned)
                    n_forget = int(experiment.load_data().forget_train.sum())
                    config = VerifyConfig(experiment, models=verify_models, relearn_samples=min(DEFAULT_RELEARN_SAMPLES, n_forget))
                    result = verify(config, list(tuned), cache=store if store is not None else ResultCache(cache_dir),
                                    n_jobs=n_jobs, scheduler=scheduler)
                    verification.append({"scenario": s, "model": m, "result": result.to_dict()})
    finally:
        bar.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def compact(run: dict) -> dict:
        out = {k: v for k, v in run.items() if k != "models"}
        if "models" in run:
            keep = REFERENCES if run["phase"] == "baseline" else (run["method"], "retrained")
            out["measures"] = {name: run["models"][name] for name in keep}
        return out

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return BenchResult(
        base.to_dict(), scenarios, models, methods, attacks, tuning_seeds, evaluation_seeds, budget, grids, drawn,
        CRITERION.format(tolerance=retain_tolerance), [compact(r) for r in (*baseline, *tuning, *evaluation)], chosen, excluded,
        verification, date, versions(),
    )


__all__ = [
    "BENCH_ATTACKS", "BENCH_FIELDS", "BUDGET", "BenchResult", "DEFAULT_EVALUATION_SEEDS", "DEFAULT_SCENARIOS", "METRIC_COLUMNS",
    "REFERENCES", "VERIFY_COLUMNS", "run_bench", "bench_grid", "bench_methods", "budget_candidates", "check_budget", "check_scenario",
    "check_scenarios", "gap_to_retraining",
]
