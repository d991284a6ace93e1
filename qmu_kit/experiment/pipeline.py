"""The experiment pipeline: train, attack, unlearn, retrain, attack again - one seeded, cached call.

``run_experiment(config)`` trains the original model, fits the membership attacks against it
(:mod:`qmu_kit.leakage.audit`), unlearns the forget set with each requested method, retrains from
scratch on the retain set (the gold standard), and audits every model, all at the configured ``shots``.

The result is typed (:mod:`qmu_kit.experiment.results`): an
:class:`~qmu_kit.experiment.results.ExperimentResult` with one
:class:`~qmu_kit.experiment.results.ModelResult` per model, whose rates and AUCs are
:class:`~qmu_kit.core.stats.Estimate` s (value, sample count, 95 % interval).

Example:
    >>> from qmu_kit.experiment import ExperimentConfig, run_experiment
    >>> config = ExperimentConfig.from_preset("classroom", methods=("ssd",), attacks=("loss",), epochs=2)
    >>> result = run_experiment(config, cache=False)   # doctest: +SKIP
    >>> result.models["ssd"].acc_train_forget.value     # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from qmu_kit.core.cache import CacheWarning, ResultCache, resolve_cache
from qmu_kit.core.seeds import stream_seed
from qmu_kit.experiment.config import ExperimentConfig, versions
from qmu_kit.experiment.results import ExperimentResult, ModelResult
from qmu_kit.leakage.attacks import ShadowModels, needs_reference
from qmu_kit.leakage.audit import AuditQueries, MembershipAudit, audit_models
from qmu_kit.leakage.metrics import prediction_distance
from qmu_kit.leakage.signals import loss as loss_signal
from qmu_kit.qnn.readout import make_readout
from qmu_kit.qnn.training import QNNClassifier, prediction_accuracy
from qmu_kit.unlearning.methods import UnlearningReport, UnlearningTask, make_method


def _significant(values, digits: int = 4) -> tuple:
    """``values`` to ``digits`` significant digits: compact in JSON, and no positive value becomes 0
    (a member's loss of 2e-7 stays 2e-7, where rounding to decimals would make it vanish from a
    log axis).

    Example:
        >>> _significant([2.345678e-7, 1.23456, 0.0])
        (2.346e-07, 1.235, 0.0)
    """
    return tuple(float(f"{float(v):.{digits}g}") + 0.0 for v in values)  # + 0.0: -0.0 (the loss -log 1) is 0.0


def accuracy(probs: np.ndarray, labels: np.ndarray):
    """The share of ``probs`` whose arg-max is the label (:func:`~qmu_kit.qnn.training.prediction_accuracy`)."""
    return prediction_accuracy(np.asarray(probs).argmax(1), labels)


class _Progress:
    """A tqdm bar over the experiment's stages (silent unless asked)."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, desc="experiment", disable=not enabled, leave=False)

    def step(self, label: str) -> None:
        self.bar.set_postfix_str(label)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def get_or_fit(cache: ResultCache | None, key: str, fit, *, save=lambda model: model.to_state(),
               load=QNNClassifier.from_state):
    """The trained object stored under ``key``, or ``fit()``'s, stored under ``key`` for next time.

    One corruption policy for every cached model: an entry that cannot be read (the cache reports a
    corrupt file) or cannot be rebuilt (an entry of an incompatible model) is reported as a
    :class:`~qmu_kit.core.cache.CacheWarning`, recomputed and overwritten; nothing already computed is lost.
    Processes that need the same missing entry at once fit it once: the others wait for it
    (:meth:`~qmu_kit.core.cache.ResultCache.computing`) and load it.

    Args:
        cache: where models live (``None``: always fit).
        key: the entry's key (:meth:`ExperimentConfig.cache_key`).
        fit: ``() -> object`` that trains it.
        save, load: the object to a ``torch.save``-able state (``None``: not storable) and back.
    """
    cache = cache if key is not None else None  # no key: what it depends on cannot be named
    if cache is None:
        return fit()
    found, fitted = _load_model(cache, key, load)
    if found:
        return fitted
    with cache.computing(key):
        found, fitted = _load_model(cache, key, load)  # stored by another process while this one waited
        if found:
            return fitted
        fitted = fit()
        state = save(fitted)
        if state is not None:  # None: this object cannot be stored (it is fitted again next time)
            cache.store_state(key, state)
    return fitted


def _load_model(cache: ResultCache, key: str, load) -> tuple[bool, object]:
    """(True, the object stored under ``key``) or (False, None) when missing or unusable (reported)."""
    state = cache.load_state(key)
    if state is None:
        return False, None
    try:
        return True, load(state)
    except Exception as error:  # any failure to rebuild means the entry is unusable
        warnings.warn(f"ignoring unusable cached model {key} ({type(error).__name__}: {error}); recomputing",
                      CacheWarning, stacklevel=3)
        return False, None


def train_original(config: ExperimentConfig, data, cache: ResultCache | None, progress: bool = False) -> QNNClassifier:
    """The original model, from the model cache when the same data and training settings ran before."""

    def fit():
        settings = config.training()
        return QNNClassifier(
            config.model, config.n_qubits, settings["depth"], n_classes=data.n_classes, lr=settings["lr"],
            batch_size=settings["batch_size"], epochs=settings["epochs"], seed=config.seed, progress=progress,
        ).fit(data.x_train, data.y_train, (data.x_test, data.y_test))

    return get_or_fit(cache, config.cache_key("original"), fit)


def original_model(config: ExperimentConfig | None = None, cache: ResultCache | bool = True, progress: bool = False) -> QNNClassifier:
    """The experiment's trained original model (replayed from the model cache when it ran before).

    Example:
        >>> clf = original_model(ExperimentConfig(model="basic", depth=2, epochs=3), cache=False)  # doctest: +SKIP
        >>> clf.history_[-1]["test_accuracy"]                                                      # doctest: +SKIP
    """
    config = config if config is not None else ExperimentConfig()
    return train_original(config, config.load_data(), resolve_cache(cache), progress)


def retrain(config: ExperimentConfig, original: QNNClassifier, task: UnlearningTask, cache: ResultCache | None):
    """The gold standard, from the model cache when the same data, training and forget set ran before."""
    return get_or_fit(
        cache, config.cache_key("retrained"), lambda: make_method("retrain").unlearn(original, task, seed=config.seed),
        save=lambda fitted: {**fitted[0].to_state(), "report": fitted[1].to_dict()},
        load=lambda state: (QNNClassifier.from_state(state), UnlearningReport(**state["report"])),
    )


def _shadow_outputs(config, data, original, cache) -> tuple[np.ndarray, np.ndarray]:
    """LiRA's shadow models' outputs on the training and test sets (shadows cached like the original)."""

    def fit():
        twin = original.get_params() | {"progress": False}
        return ShadowModels(
            lambda seed: QNNClassifier(**(twin | {"seed": seed})), config.n_shadows,
            train_size=min(config.n_train, len(data.y_population) // 2), seed=config.seed,
        ).fit(data.x_population, data.y_population)

    shadows = get_or_fit(
        cache, config.cache_key("shadows"), fit,
        save=lambda fitted: {"models": [model.to_state() for model in fitted.models_]},
        load=lambda state: ShadowModels.from_models([QNNClassifier.from_state(m) for m in state["models"]]),
    )
    readout = lambda part: make_readout(config.shots, stream_seed(config.seed, part))  # noqa: E731
    return (
        shadows.predict_proba(data.x_train, readout=readout("shadow-train")),
        shadows.predict_proba(data.x_test, readout=readout("shadow-test")),
    )


def cached_result(config: ExperimentConfig, cache: ResultCache | None) -> ExperimentResult | None:
    """The stored result of ``config``, or ``None`` when it never ran or the entry is unusable (an entry
    of another schema version or a damaged one: reported, then recomputed and overwritten)."""
    key = config.cache_key() if cache is not None else None
    stored = cache.load_json(key) if key is not None else None
    if stored is None:
        return None
    try:
        return ExperimentResult.from_dict(stored, from_cache=True)
    except (ValueError, TypeError, KeyError) as error:
        warnings.warn(f"ignoring invalid cached result {key} ({error}); recomputing", CacheWarning, stacklevel=3)
        return None


def _unlearn(config, original, task, store, bar):
    """Stage: the retrained reference, then every requested method; ``(models, reports)`` by name."""
    models, reports = {}, {}
    if config.retrain:
        models["retrained"], reports["retrained"] = retrain(config, original, task, store)
        bar.step("retrained")
    for name in config.methods:
        method = make_method(name, **config.method_options.get(name, {}))
        readout = make_readout(config.shots, stream_seed(config.seed, f"unlearn-{name}"))
        models[name], reports[name] = method.unlearn(original, task, readout=readout, params=config.unlearn_params, seed=config.seed)
        bar.step(name)
    return models, reports


def _model_result(primary_attack, data, name, model, observed, outcomes, report, retrained_report, distance) -> ModelResult:
    """Stage: one model's typed result from what the audit observed (also :func:`qmu_kit.studies.byo.audit_model`'s)."""
    members, nonmembers = observed
    if report is None:  # the original model: its cost is its training
        seconds, evaluations = model.history_[-1]["seconds"], model.history_[-1]["circuit_evaluations"]
        speedup, details = None, {"history": model.history_, "n_params": model.n_params_}
    else:
        seconds, evaluations = report.seconds, report.circuit_evaluations
        if name == "retrained":
            speedup = 1.0
        else:  # no retrained model to compare with (retrain=False, or a bring-your-own model without a training function)
            speedup = report.speedup_over(retrained_report)["seconds"] if retrained_report is not None else None
        details = report.to_dict()
    member_losses = loss_signal(members.probs, members.labels)
    nonmember_losses = loss_signal(nonmembers.probs, nonmembers.labels)
    return ModelResult(
        acc_train_retain=accuracy(members.probs[data.retain_train], data.y_train[data.retain_train]),
        acc_train_forget=accuracy(members.probs[data.forget_train], data.y_train[data.forget_train]),
        acc_test_retain=accuracy(nonmembers.probs[data.retain_test], data.y_test[data.retain_test]),
        acc_test_forget=accuracy(nonmembers.probs[data.forget_test], data.y_test[data.forget_test]),
        attacks=dict(outcomes),
        primary_attack=primary_attack,
        seconds=float(seconds),
        circuit_evaluations=int(evaluations),
        speedup_vs_retrain=speedup,
        distance_to_retrained=distance,
        losses={
            "train_retain": _significant(member_losses[data.retain_train]),
            "train_forget": _significant(member_losses[data.forget_train]),
            "test_retain": _significant(nonmember_losses[data.retain_test]),
            "test_forget": _significant(nonmember_losses[data.forget_test]),
        },
        # JSON-shaped, like what a replay reads back, so a fresh and a replayed result are equal
        details=json.loads(json.dumps(details)),
    )


def model_results(data, models: Mapping, reports: Mapping, *, attacks: Sequence[str], primary_attack: str,
                  shots: int | None, seed: int, reference: tuple = (None, None), cache: ResultCache | None = None,
                  audit_key: str | None = None) -> dict[str, ModelResult]:
    """Every model of an experiment audited (:func:`~qmu_kit.leakage.audit.audit_models`) and typed:
    the kit's experiment and a model you bring (:func:`qmu_kit.studies.audit_model`) both end here.

    Each model is queried on the members (``data.x_train``) and the non-members (``data.x_test``) at
    ``shots``, one random stream per model and query set (so auditing one more model never changes
    another's numbers); the attacks are fitted against ``models["original"]`` on the split
    :meth:`~qmu_kit.leakage.audit.AuditSplit.draw` gives, then evaluate every model; each gets its typed
    result, with its distance to ``models["retrained"]`` on the forget set when that model exists.

    Args:
        data: the :class:`~qmu_kit.qnn.data.PreparedData` the models were trained on.
        models: classifiers by name, ``"original"`` among them.
        reports: each unlearned or retrained model's :class:`~qmu_kit.unlearning.UnlearningReport`.
        attacks: the attacks to fit; ``primary_attack`` (one of them) is behind the headline numbers.
        shots: shots per query (``None``: exact expectations).
        seed: the audit's seed (split, attacks, shot streams).
        reference: LiRA's shadow outputs on the members and the non-members (``(None, None)`` without LiRA).
        cache, audit_key: where the attacks fitted against the original model are kept, and their key
            (:meth:`ExperimentConfig.cache_key` ``("audit")``): an experiment auditing the same original
            model at the same shots replays them instead of fitting them again (without either: fitted here).

    Returns:
        ``{name: ModelResult}`` in the order of ``models``.
    """
    queries = AuditQueries.of(data, seed, reference)

    def get_audit(fit) -> MembershipAudit:
        return get_or_fit(cache, audit_key, fit, save=MembershipAudit.to_state,
                          load=lambda state: MembershipAudit.from_state(state, queries.split))

    audited = audit_models(models, queries, attacks, seed, get_audit=get_audit,
                           readout=lambda name, part: make_readout(shots, stream_seed(seed, f"{name}-{part}")))
    exact_forget = {name: model.predict_proba(data.x_train[data.forget_train]) for name, model in models.items()}
    results = {}
    for name, model in models.items():
        distance = prediction_distance(exact_forget[name], exact_forget["retrained"]) if "retrained" in models else None
        results[name] = _model_result(primary_attack, data, name, model, audited.observed[name], audited.outcomes(name),
                                     reports.get(name), reports.get("retrained"), distance)
    return results


def run_experiment(
    config: ExperimentConfig | None = None, *, cache: ResultCache | bool = True, progress: bool = False
) -> ExperimentResult:
    """Run (or replay from the cache) one experiment.

    The stages: data -> original model -> (LiRA's shadows) -> retrained model and unlearned models ->
    every model observed and audited (:func:`model_results`) -> typed results.

    Args:
        config: the experiment (default: the classroom preset).
        cache: ``True`` for the default cache, ``False`` for none, or a :class:`ResultCache`.
        progress: show progress bars.

    Returns:
        The :class:`~qmu_kit.experiment.results.ExperimentResult`; ``from_cache`` says whether it was replayed.
    """
    config = (config if config is not None else ExperimentConfig()).resolved()
    store = resolve_cache(cache)
    cached = cached_result(config, store)
    if cached is not None:
        return cached

    bar = _Progress(3 + config.retrain + len(config.methods) + needs_reference(config.attacks), progress)
    try:
        data = config.load_data()
        bar.step("data")
        original = train_original(config, data, store, progress)
        bar.step("original model")

        reference_train = reference_test = None
        if needs_reference(config.attacks):
            reference_train, reference_test = _shadow_outputs(config, data, original, store)
            bar.step("shadow models")

        task = UnlearningTask.from_data(data, original, make_readout(config.shots, stream_seed(config.seed, "task")))
        unlearned, reports = _unlearn(config, original, task, store, bar)
        results = model_results(data, {"original": original, **unlearned}, reports, attacks=config.attacks,
                                primary_attack=config.primary_attack, shots=config.shots, seed=config.seed,
                                reference=(reference_train, reference_test), cache=store, audit_key=config.cache_key("audit"))
        bar.step("audit")
    finally:
        bar.close()
    result = ExperimentResult(config, versions(), results)
    key = config.cache_key() if store is not None else None
    if key is not None:
        store.store_json(key, result.to_dict())
    return result
