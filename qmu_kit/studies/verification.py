"""Did it really forget? Unlearning verified with many models, two controls, an adaptive attacker
and a relearning attack.

A single retrained model is one sample from a distribution, and an attack fitted on the original
model and replayed on the unlearned one can report "0 % MIA success" for a model that an adaptive
attacker still tells apart. This module audits every unlearning method of the registry in the style
of the NeurIPS 2023 unlearning competition (Triantafillou et al., *Are we making progress in
unlearning?*, arXiv 2406.09073; its released metric is google-deepmind/unlearning_evaluation's
``metric.py``) and of Hayes et al., *Inexact unlearning needs more careful evaluations*, 2024:

1. **Many-model forgetting quality.** ``K`` originals (independent training seeds, same data) are each
   unlearned by the method, and ``K`` reference models are retrained from scratch on the retain set.
   For every forget-set example the ``K`` unlearned and the ``K`` retrained models give two samples of
   a membership signal (LiRA's scaled logit of the true class, :func:`qmu_kit.leakage.signals.scaled_logit`,
   read out exactly or with ``shots`` shots). :func:`epsilon_per_example` turns how well a threshold
   separates the two samples into an ``(epsilon, delta)`` estimate for that example, and
   :func:`forgetting_quality` aggregates the examples into one score in [0, 1] (higher: closer to
   retraining) with a bootstrap interval that resamples the models and the examples together.
2. **Two controls, always reported.** ``"retrain"``: another ``K`` retrained models (other seeds) in the
   place of the unlearned ones: this estimator's value for "indistinguishable" at this ``K``, which
   is not 1 and depends on ``K``, and not monotonically (two samples of ``K`` draws from one
   distribution, 30 examples: about 0.27 at ``K = 8``, 0.24 at 16, 0.28 at 32, 0.31 at 64). Every
   score is therefore reported beside the ``"retrain"`` control at the same ``K``, never against 1
   or across ``K``. ``"none"``: the originals, not unlearned; they must score as clearly
   distinguishable. When the two intervals overlap, the result says the test has **no power at
   this K** instead of ranking methods (:attr:`VerifyResult.has_power`).
3. **Adaptive (Streisand) check.** An attacker fitted *after* unlearning, on the unlearned model's
   outputs: forgotten members against the non-members of the forget set's counterpart (for a
   forgotten class, its test images). A method that pushes exactly the forgotten samples too far
   makes them stand out: AUC far from 0.5, while a retrained model sits at 0.5. This check is the
   kit's own, not part of the competition's metric.
4. **Relearning check.** Fine-tune on ``m`` forgotten samples and count the steps until the forgotten
   class's test images reach a stated accuracy. Information that was hidden, not removed, comes back
   faster than it can be learned by a model that never saw it. Also the kit's own.

Every difference between the forgetting quality here and the competition's released metric (quote
numbers as "in the style of the competition", never as its score):

* **Models.** ``K`` models per side (default 16) instead of the competition's 512.
* **delta.** 0.01 by default (``delta``) instead of the released metric's 1e-5.
* **Thresholds.** Here every pooled value of the ``2K`` outputs is a threshold, tried in both
  directions ("unlearned if above" and "unlearned if below"), with FPR and FNR measured on the
  outputs they were chosen on. The released metric uses a grid of 100 thresholds per unit of the
  signal's range, one direction per example (the side with the larger median counts as positive),
  and also a two-threshold rule (positive between two thresholds around the peakier sample); this
  kit has no two-threshold rule. The in-sample maximum over thresholds is biased upwards for small
  ``K``, which is why the ``"retrain"`` control is reported.
* **Peaky samples.** The released metric sets epsilon to its cap (50) when one sample's range is
  under 1 % of the other's; there is no such rule here (such an example usually separates perfectly
  and gets epsilon = infinity anyway).
* **Bins.** Here the per-example score is ``H(epsilon) = 2 / 2**n`` with ``n`` the 1-based index of
  epsilon's bin among 13 fixed bins of width 0.5, the last open-ended: ``H`` is 1 for epsilon < 0.5
  and ``2**-12`` (the floor) from epsilon 6 on, infinity included, whatever ``K``. The released
  metric's bins (width 0.5, the same halving) stop at ``ceil(log(K - 1))``, so they depend on ``K``,
  and an example beyond the last bin scores 0.
* **Zero rates** are treated alike: an attack with FPR = 0 or FNR = 0 (but not both) is discarded,
  and FPR = FNR = 0 (perfect separation) gives epsilon = infinity.
* **Attacks.** Threshold attacks on the one-dimensional signal only, as in the released metric (it
  has no logistic-regression attack either).
* **Utility.** The competition's final score also multiplied by the ratios of retain and test
  accuracy to the retrained models'; here those accuracies are reported beside the score instead.
* **Signal.** The scaled logit of the true class from the class probabilities a deployed model
  returns (exact or shot-estimated), not from the raw logits of a classical network.
* **Interval.** The released metric gives a point score; the 95 % interval here is this kit's
  (:func:`forgetting_quality`).

The relearning check trains with exact gradients and reads accuracy exactly (it measures what the
parameters hold, not what a finite-shot readout shows), with the original training's optimizer
settings and all ``m`` samples in every step.

Everything is cached like experiments (:class:`qmu_kit.core.cache.ResultCache`): trained originals and
retrained models by their training settings and seed (so every method and shot count reuses them),
each unlearned model's measurements by method, knobs, shots and model index (so ``K = 8`` reuses the
first 8 of ``K = 16``, and an interrupted run resumes from what finished), and each whole result.
Work runs on local processes with joblib (``n_jobs``) or on a Dask cluster (``scheduler``).

Example:
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> same = epsilon_per_example(rng.normal(size=(64, 5)), rng.normal(size=(64, 5)))
    >>> apart = epsilon_per_example(rng.normal(size=(64, 5)), rng.normal(10.0, 1.0, size=(64, 5)))
    >>> bool(np.median(same) < 2), bool(np.all(np.isinf(apart)))
    (True, True)
    >>> config = VerifyConfig(ExperimentConfig(), models=16)
    >>> result = verify(config, methods=["ga"], cache=False)   # doctest: +SKIP
    >>> result.methods["ga"].forgetting_quality                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from qmu_kit.core import stats
from qmu_kit.core.cache import ResultCache, resolve_cache
from qmu_kit.core.results import Result, interval_cells
from qmu_kit.core.fingerprint import code_fingerprint, external_source
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.fields import FieldSpec, check_fields
from qmu_kit.core.palette import CYCLE, LINE_STYLES, ROLES
from qmu_kit.core.parallel import check_jobs, parallel_map
from qmu_kit.core.validation import ConfigError, check_delta, check_float, check_int, check_names
from qmu_kit.experiment.config import ExperimentConfig, versions
from qmu_kit.experiment.pipeline import get_or_fit
from qmu_kit.leakage.signals import paper_features, scaled_logit
from qmu_kit.qnn.readout import make_readout
from qmu_kit.qnn.training import QNNClassifier, accuracy, as_tensor
from qmu_kit.unlearning.methods import UnlearningTask, make_method, method_names

#: Version of :class:`VerifyResult`'s JSON (its ``"schema"``) and of the cached records behind it
#: (3: the forgetting quality's interval resamples the models as well as the examples).
SCHEMA_VERSION = 3

#: The fewest models per side that can estimate anything: FPR and FNR are multiples of 1/K, so the
#: largest finite epsilon is log((1 - delta) K - 1); below K = 4 (K = 3: 0.68 at delta = 0.01) that
#: is less than two of the score's 0.5-wide bins, and K models could only tell "perfectly separated"
#: from "not".
MIN_MODELS = 4
MAX_MODELS = 256
DEFAULT_MODELS = 16
#: This kit's default delta (the competition's released metric uses 1e-5; see the module docstring).
DEFAULT_DELTA = 0.01
#: The bins of the per-example score: fixed, whatever ``K`` (the released metric's depend on ``K``).
BIN_WIDTH = 0.5
N_BINS = 13
#: The two controls, reported for every verification.
CONTROLS = ("retrain", "none")
DEFAULT_RELEARN_SAMPLES = 5
DEFAULT_RELEARN_ACCURACY = 0.5
DEFAULT_RELEARN_MAX_STEPS = 100
MAX_RELEARN_STEPS = 10_000
BOOTSTRAP_RESAMPLES = 1000
#: Folds of the adaptive attacker's cross-fitting (every score it is judged on is out of fold).
STREISAND_FOLDS = 5


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------


def check_relearn_accuracy(accuracy) -> float:
    """The accuracy that counts as relearned: a number in (0, 1]."""
    return check_float("relearn_accuracy", accuracy, 0.0, 1.0, low_inclusive=False)


def check_models(models) -> int:
    """``K``, models per side: an integer from :data:`MIN_MODELS` to :data:`MAX_MODELS`."""
    return check_int(
        "models", models, MIN_MODELS, MAX_MODELS,
        reason=f"with K models per side FPR and FNR are multiples of 1/K, so K < {MIN_MODELS} can only tell "
        "'perfectly separated' from 'not': the largest finite epsilon, log((1 - delta) K - 1), stays below 0.7",
    )


def max_measurable_epsilon(models: int, delta: float = DEFAULT_DELTA) -> float:
    """The largest finite epsilon ``K`` models per side can estimate: ``log((1 - delta) K - 1)``.

    Example:
        >>> round(max_measurable_epsilon(16), 2)
        2.7
    """
    return float(math.log(max((1 - delta) * models - 1, 1e-12)))


def epsilon_per_example(unlearned, retrained, delta: float = DEFAULT_DELTA) -> np.ndarray:
    """Per-example epsilon from the signals of ``K_u`` unlearned and ``K_r`` retrained models.

    Args:
        unlearned: ``(K_u, n)``: the signal of each unlearned model on each of ``n`` examples.
        retrained: ``(K_r, n)``: the same for the retrained models.
        delta: the delta of the (epsilon, delta) estimate, in (0, 1).

    Returns:
        ``(n,)`` epsilons >= 0; ``inf`` where some threshold separates the two samples perfectly.
        Every threshold between the pooled values is an attack, in both directions; for its FPR
        (retrained flagged) and FNR (unlearned missed), epsilon is
        ``max(log((1 - delta - FPR) / FNR), log((1 - delta - FNR) / FPR))`` (the hypothesis-testing
        view of differential privacy), attacks with one zero rate are discarded, and the example's
        epsilon is the largest over attacks (see the module docstring).

    Example:
        >>> eps = epsilon_per_example([[0.0, 1.0], [0.1, 1.1], [0.2, 1.2], [0.3, 1.3]],
        ...                           [[5.0, 1.05], [5.1, 1.15], [5.2, 1.25], [5.3, 1.35]])
        >>> float(eps[0]), bool(eps[1] < 1)
        (inf, True)
    """
    delta = check_delta(delta)
    a = np.asarray(unlearned, dtype=float)
    b = np.asarray(retrained, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) == 0:
        raise ValueError(f"expected signals (K_u, n) and (K_r, n) with K >= 1, got {a.shape} and {b.shape}")
    # Thresholds: every pooled value (flag "unlearned" when the signal is above it), per example.
    thresholds = np.concatenate([a, b]).T[:, :, None]  # (n, T, 1)
    above_a = (a.T[:, None, :] > thresholds).mean(2)  # (n, T): unlearned flagged
    above_b = (b.T[:, None, :] > thresholds).mean(2)  # retrained flagged
    fpr = np.concatenate([above_b, 1 - above_b], axis=1)  # the second half: "unlearned if below"
    fnr = np.concatenate([1 - above_a, above_a], axis=1)
    fpr, fnr = np.round(fpr, 12), np.round(fnr, 12)  # exact zeros despite float means
    with np.errstate(divide="ignore", invalid="ignore"):
        eps1 = np.log(1 - delta - fpr) - np.log(fnr)
        eps2 = np.log(1 - delta - fnr) - np.log(fpr)
        attack = np.fmax(eps1, eps2)  # nan only where both are
    attack = np.where(np.isnan(attack), np.inf, attack)  # an always-wrong rule: its reverse is perfect
    perfect = (fpr == 0) & (fnr == 0)
    discarded = ((fpr == 0) | (fnr == 0)) & ~perfect
    attack = np.where(perfect, np.inf, np.where(discarded, 0.0, attack))
    return np.maximum(attack.max(axis=1), 0.0)


def example_scores(epsilons) -> np.ndarray:
    """The per-example score ``H = 2 / 2**n``, ``n`` the 1-based index of epsilon's bin among the
    :data:`N_BINS` fixed bins of width :data:`BIN_WIDTH` (the competition's halving per bin; its
    released metric's bins depend on ``K`` instead, see the module docstring).

    Example:
        >>> example_scores([0.0, 0.49, 0.5, 1.2, float("inf")]).tolist()
        [1.0, 1.0, 0.5, 0.25, 0.000244140625]
    """
    eps = np.asarray(epsilons, dtype=float)
    bins = np.arange(N_BINS) * BIN_WIDTH
    return 2.0 / 2.0 ** np.digitize(eps, bins)


def _quality(unlearned, retrained, delta: float) -> np.ndarray:
    """The forgetting quality of each of ``B`` stacked resamples: ``(B, K_u, n)`` and ``(B, K_r, n)``
    signals -> ``(B,)`` scores (one call of the estimator on ``B * n`` columns)."""
    count, n = unlearned.shape[0], unlearned.shape[2]
    columns = lambda x: x.transpose(1, 0, 2).reshape(x.shape[1], count * n)  # noqa: E731
    return example_scores(epsilon_per_example(columns(unlearned), columns(retrained), delta)).reshape(count, n).mean(axis=1)


def forgetting_quality(
    unlearned, retrained, delta: float = DEFAULT_DELTA, *, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> stats.Estimate:
    """The mean per-example score over the forget set, with a 95 % interval over models and examples.

    ``n`` is the number of forget-set examples. Every example is scored with the same ``K`` models,
    so a model that runs high or low moves every example at once: the interval resamples the
    unlearned models, the retrained models and the examples together
    (:func:`qmu_kit.core.stats.crossed_bootstrap`, which places the resamples' spread at the estimate
    because duplicated models separate more easily). Resampling the examples alone ignores the
    variation between models and undercovers when the models differ (a test measures both by
    simulation). The interval is cut to the score's range (``2**-12`` to 1). It is for this
    estimator at this ``K``: compare a score with the ``"retrain"`` control at the same ``K``, never
    with 1 or with another ``K``.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> fq = forgetting_quality(rng.normal(size=(16, 30)), rng.normal(size=(16, 30)), n_resamples=200)
        >>> fq.n, 0.1 < fq.value <= 1.0, fq.ci95[0] <= fq.value <= fq.ci95[1]
        (30, True, True)
    """
    delta = check_delta(delta)
    a, b = np.asarray(unlearned, dtype=float), np.asarray(retrained, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) == 0:
        raise ValueError(f"expected signals (K_u, n) and (K_r, n) with K >= 1, got {a.shape} and {b.shape}")
    # Resamples per call of the estimator: its comparisons hold about chunk * n * 2K * K booleans.
    chunk = max(1, int(2e7 // (a.shape[1] * (a.shape[0] + b.shape[0]) * max(a.shape[0], b.shape[0]))))
    # The score lies between a perfectly separated example's H (2**-12) and 1: the interval is cut to that.
    bounds = (float(example_scores([math.inf])[0]), 1.0)
    return stats.crossed_bootstrap(lambda x, y: _quality(x, y, delta), a, b, n_resamples=n_resamples, seed=seed, chunk=chunk,
                                   bounds=bounds)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def available_methods() -> tuple[str, ...]:
    """The lessons' unlearning methods (read now from the registry, so a student's registered method
    is in), without ``retrain``, which is a control here: what ``"all"`` and the verification panel
    offer. The benchmark's further methods can be named one by one (:func:`parse_methods`)."""
    return method_names(lessons=True)


def parse_methods(methods) -> tuple[str, ...]:
    """``"all"`` (the lessons' methods, :func:`available_methods`), a name, a comma list or a
    sequence of names of any registered method -> method names (controls dropped: they always run).

    Example:
        >>> parse_methods("ga,rga"), parse_methods("all")
        (('ga', 'rga'), ('ga', 'ssd', 'rga', 'finetune'))
    """
    if isinstance(methods, str) and methods.strip() == "all":
        return available_methods()
    try:
        return check_names("methods", methods, method_names(), every=True, ignore=CONTROLS,
                           reason=f"the controls {' and '.join(CONTROLS)} always run")
    except ValueError as error:
        raise ConfigError(str(error), "methods") from None


#: The verification's own settings (beside its :class:`~qmu_kit.experiment.config.ExperimentConfig`):
#: each rule, help text, flag and default in one place, for :class:`VerifyConfig` and ``qmu-kit verify``.
VERIFY_FIELDS: dict[str, FieldSpec] = {
    "models": FieldSpec(check_models, f"models per side ({MIN_MODELS}..{MAX_MODELS}, default {DEFAULT_MODELS})", "--models", "K",
                        default=DEFAULT_MODELS),
    "delta": FieldSpec(check_delta, f"delta of the (epsilon, delta) estimate, in (0, 1) (default {DEFAULT_DELTA:g})", "--delta", "D",
                       default=DEFAULT_DELTA),
    "relearn_samples": FieldSpec(lambda value: check_int("relearn_samples", value, 1),
                                 f"forgotten samples the relearning attack trains on (1..forget-set size, default {DEFAULT_RELEARN_SAMPLES})",
                                 "--relearn-samples", "M", default=DEFAULT_RELEARN_SAMPLES),
    "relearn_accuracy": FieldSpec(check_relearn_accuracy, "accuracy on the forgotten class's test images that counts as relearned "
                                  f"(default {DEFAULT_RELEARN_ACCURACY:g})", "--relearn-accuracy", "A", default=DEFAULT_RELEARN_ACCURACY),
    "relearn_max_steps": FieldSpec(lambda value: check_int("relearn_max_steps", value, 1, MAX_RELEARN_STEPS),
                                   f"relearning budget in steps (1..{MAX_RELEARN_STEPS}, default {DEFAULT_RELEARN_MAX_STEPS})",
                                   "--relearn-max-steps", "N", default=DEFAULT_RELEARN_MAX_STEPS),
}


@dataclass(frozen=True)
class VerifyConfig:
    """Everything that determines a verification's numbers.

    Attributes:
        experiment: data, model, training, forget set, ``shots`` (every query and every unlearning
            gradient), method knobs and seed (:class:`~qmu_kit.experiment.config.ExperimentConfig`).
        models: ``K``, models per side, :data:`MIN_MODELS`..:data:`MAX_MODELS`.
        delta: the delta of the (epsilon, delta) estimate, in (0, 1).
        relearn_samples: ``m``, forgotten samples the relearning attack trains on, 1..(forget-set size).
        relearn_accuracy: the accuracy on the forget set's test counterpart that counts as relearned.
        relearn_max_steps: the relearning budget; a model that has not relearned by then counts as
            this many steps (and is reported as censored).

    Example:
        >>> VerifyConfig(models=8).to_dict()["models"]
        8
    """

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    models: int = DEFAULT_MODELS
    delta: float = DEFAULT_DELTA
    relearn_samples: int = DEFAULT_RELEARN_SAMPLES
    relearn_accuracy: float = DEFAULT_RELEARN_ACCURACY
    relearn_max_steps: int = DEFAULT_RELEARN_MAX_STEPS

    def __post_init__(self):
        if not isinstance(self.experiment, ExperimentConfig):
            raise ValueError(f"experiment={self.experiment!r} is not valid: it must be an ExperimentConfig")
        check_fields(self, VERIFY_FIELDS)

    def replace(self, **changes) -> "VerifyConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Flat and JSON-ready: the experiment's fields (defaults resolved) and the verification knobs."""
        return {**self.experiment.to_dict(), "models": self.models, "delta": self.delta, "relearn_samples": self.relearn_samples,
                "relearn_accuracy": self.relearn_accuracy, "relearn_max_steps": self.relearn_max_steps}

    @classmethod
    def from_dict(cls, data: Mapping) -> "VerifyConfig":
        knobs = {f.name for f in dataclasses.fields(cls)} - {"experiment"}
        experiment = {k: v for k, v in data.items() if k not in knobs}
        return cls(ExperimentConfig.from_dict(experiment), **{k: data[k] for k in knobs if k in data})


def _hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def method_identity(method) -> dict:
    """What identifies an unlearning method's behaviour in a cache key: its class, knobs and, for a
    class defined outside the kit (a student's), a hash of its source code and of its base classes
    outside the kit (:func:`~qmu_kit.core.fingerprint.external_source`, the rule experiments use)."""
    cls = type(method)
    identity = {"class": f"{cls.__module__}.{cls.__qualname__}", "options": method.options()}
    source = external_source(cls)
    if source != "":  # None: defined where its source cannot be read, the name and knobs must do
        identity["source"] = source
    return identity


# ---------------------------------------------------------------------------------------------
# One model's measurements (a "unit")
# ---------------------------------------------------------------------------------------------


#: Roles of the trained models: originals, the reference retrained models every method is compared
#: with, and the "retrain" control's own retrained models.
_TRAINED_ROLES = ("original", "reference", "control")


def _model_key(config: VerifyConfig, role: str, k: int) -> str:
    experiment = config.experiment
    base = experiment.cache_key("original") if role == "original" else experiment.cache_key("retrained")
    return _hash({"part": "verify-model", "role": role, "k": k, "base": base})


def _training_seed(config: VerifyConfig, role: str, k: int) -> int:
    return stream_seed(config.experiment.seed, f"verify-{role}-{k}")


@functools.lru_cache(maxsize=4)
def _data(config_json: str):
    return ExperimentConfig.from_dict(json.loads(config_json)).load_data()


def _prepared(config: VerifyConfig):
    return _data(json.dumps(config.experiment.to_dict(), sort_keys=True))


def _trained(config: VerifyConfig, role: str, k: int, cache: ResultCache) -> tuple[QNNClassifier, float]:
    """Model ``k`` of ``role``, trained or from the cache (:func:`~qmu_kit.experiment.pipeline.get_or_fit`'s
    corruption policy), and the seconds its training took."""

    def fit() -> tuple[QNNClassifier, float]:
        data = _prepared(config)
        settings = config.experiment.training()
        model = QNNClassifier(
            config.experiment.model, config.experiment.n_qubits, settings["depth"], n_classes=data.n_classes, lr=settings["lr"],
            batch_size=settings["batch_size"], epochs=settings["epochs"], seed=_training_seed(config, role, k),
        )
        rows = slice(None) if role == "original" else data.retain_train  # retrained from scratch on the retain set
        start = time.perf_counter()
        model.fit(data.x_train[rows], data.y_train[rows])
        return model, time.perf_counter() - start

    return get_or_fit(cache, _model_key(config, role, k), fit,
                      save=lambda fitted: {**fitted[0].to_state(), "seconds": fitted[1]},
                      load=lambda state: (QNNClassifier.from_state(state), float(state["seconds"])))


def _unit_key(config: VerifyConfig, name: str, k: int, method) -> str:
    experiment = config.experiment
    identity = method_identity(method) if method is not None else None
    return _hash({
        "part": "verify-unit", "name": name, "k": k, "method": identity, "shots": experiment.shots,
        "unlearn_params": experiment.unlearn_params, "base": experiment.cache_key("retrained"), "code": code_fingerprint(),
        "relearn": [config.relearn_samples, config.relearn_accuracy, config.relearn_max_steps], "schema": SCHEMA_VERSION,
    })


def _relearn_indices(config: VerifyConfig, n_forget: int) -> np.ndarray:
    rng = np.random.default_rng(stream_seed(config.experiment.seed, "verify-relearn"))
    return np.sort(rng.choice(n_forget, size=config.relearn_samples, replace=False))


def relearn_steps(model: QNNClassifier, x, y, x_check, y_check, target: float, max_steps: int, seed: int = 0) -> int:
    """Steps of fine-tuning on ``(x, y)`` (all of it every step, the model's own optimizer settings,
    exact gradients) until the accuracy on ``(x_check, y_check)`` reaches ``target``; ``max_steps + 1``
    if it never does within ``max_steps`` (censored). ``model`` is left untouched.
    """
    module = model.copy().module_
    if accuracy(module, x_check, y_check) >= target:
        return 0
    optimizer = model.training_config_.make_optimizer(module.parameters())
    x, y = as_tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for step in range(1, max_steps + 1):
            module.train()
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(module(x), y).backward()
            optimizer.step()
            module.eval()
            if accuracy(module, x_check, y_check) >= target:
                return step
    return max_steps + 1


def streisand_auc(member_probs, member_labels, nonmember_probs, nonmember_labels, seed: int = 0) -> float:
    """AUC of an attacker fitted on this model's outputs: forgotten members vs their non-member
    counterpart (logistic regression on the paper attack's features, every score out of fold).

    0.5: the forgotten samples look like samples the model never saw, as after retraining.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([paper_features(member_probs, member_labels), paper_features(nonmember_probs, nonmember_labels)])
    truth = np.r_[np.ones(len(member_labels)), np.zeros(len(nonmember_labels))]
    folds = min(STREISAND_FOLDS, len(member_labels), len(nonmember_labels))
    if folds < 2:
        return float("nan")
    attacker = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed % 2**31)
    scores = cross_val_predict(attacker, features, truth, cv=splitter, method="decision_function")
    return float(roc_auc_score(truth, scores))


def _measure(config: VerifyConfig, name: str, k: int, model: QNNClassifier, seconds: float) -> dict:
    """The record of one model: signal per forget example, accuracies, Streisand AUC, relearn steps."""
    data = _prepared(config)
    seed = config.experiment.seed

    def probs(x, part):
        return model.predict_proba(x, readout=make_readout(config.experiment.shots, stream_seed(seed, f"verify-{name}-{k}-{part}")))

    forget_x, forget_y = data.x_train[data.forget_train], data.y_train[data.forget_train]
    counterpart_x, counterpart_y = data.x_test[data.forget_test], data.y_test[data.forget_test]
    p_forget, p_counterpart = probs(forget_x, "forget"), probs(counterpart_x, "counterpart")
    p_retain = probs(data.x_test[data.retain_test], "retain")
    chosen = _relearn_indices(config, len(forget_y))
    steps = relearn_steps(model, forget_x[chosen], forget_y[chosen], counterpart_x, counterpart_y,
                          config.relearn_accuracy, config.relearn_max_steps, seed=stream_seed(seed, f"verify-relearn-{name}-{k}"))
    return {
        "name": name, "k": k,
        "signal": [float(v) for v in scaled_logit(p_forget, forget_y)],
        "retain_accuracy": float((p_retain.argmax(1) == data.y_test[data.retain_test]).mean()),
        "forget_accuracy": float((p_counterpart.argmax(1) == counterpart_y).mean()),
        "forget_train_accuracy": float((p_forget.argmax(1) == forget_y).mean()),
        "streisand_auc": streisand_auc(p_forget, forget_y, p_counterpart, counterpart_y, seed=stream_seed(seed, f"verify-streisand-{name}-{k}")),
        "relearn_steps": int(steps),
        "seconds": float(seconds),
    }


def _run_unit(config_dict: dict, name: str, k: int, method, cache_dir: str) -> dict:
    """One model's record, from the cache or computed (and cached)."""
    config = VerifyConfig.from_dict(config_dict)
    cache = ResultCache(cache_dir)
    key = _unit_key(config, name, k, method)
    record = cache.load_json(key)
    if record is not None and record.get("k") == k and record.get("name") == name:
        return record
    if name in ("reference", "retrain"):
        model, seconds = _trained(config, "reference" if name == "reference" else "control", k, cache)
    else:
        original, _ = _trained(config, "original", k, cache)
        if name == "none":
            model, seconds = original, 0.0
        else:
            data = _prepared(config)
            readout = make_readout(config.experiment.shots, stream_seed(config.experiment.seed, f"verify-task-{k}"))
            task = UnlearningTask.from_data(data, original, readout)
            model, report = method.unlearn(
                original, task, readout=make_readout(config.experiment.shots, stream_seed(config.experiment.seed, f"verify-unlearn-{name}-{k}")),
                params=config.experiment.unlearn_params, seed=stream_seed(config.experiment.seed, f"verify-unlearn-seed-{name}-{k}"),
            )
            seconds = report.seconds
    record = _measure(config, name, k, model, seconds)
    cache.store_json(key, record)
    return record


def _train_unit(config_dict: dict, role: str, k: int, cache_dir: str) -> None:
    _trained(VerifyConfig.from_dict(config_dict), role, k, ResultCache(cache_dir))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodVerification:
    """One method's (or control's) verification over ``K`` models.

    Attributes:
        name: registry name, ``"retrain"`` or ``"none"``.
        forgetting_quality: mean per-example score in [0, 1] (higher: closer to retraining; compare
            it with the ``"retrain"`` control at the same ``K``), with a bootstrap interval over the
            ``K`` models per side and the ``n`` forget-set examples (``n`` in the estimate).
        epsilon: per-example epsilons; perfectly separated examples are written as
            :attr:`max_measurable_epsilon` and counted in :attr:`n_separated`.
        max_measurable_epsilon: the largest finite epsilon ``K`` models can estimate.
        n_separated: examples whose two samples a threshold separates perfectly (epsilon = infinity).
        streisand_auc: the adaptive attacker's AUC, mean over the ``K`` models (t-interval, ``n = K``).
        relearn_steps: steps to relearn, mean over the ``K`` models (t-interval).
        relearn_censored: models that had not relearned within the budget (counted at budget + 1).
        retain_accuracy: accuracy on the retained classes' test images, mean over the models.
        forget_accuracy: accuracy on the forget set's test counterpart (a forgotten class's test
            images), mean over the models.
        forget_train_accuracy: accuracy on the forget set itself, mean over the models.
        seconds: total seconds the ``K`` models took to produce (unlearning; training for the
            ``"retrain"`` control; 0 for ``"none"``).
    """

    name: str
    forgetting_quality: stats.Estimate
    epsilon: tuple[float, ...]
    max_measurable_epsilon: float
    n_separated: int
    streisand_auc: stats.Estimate
    relearn_steps: stats.Estimate
    relearn_censored: int
    retain_accuracy: stats.Estimate
    forget_accuracy: stats.Estimate
    forget_train_accuracy: stats.Estimate
    seconds: float

    @classmethod
    def from_records(cls, name: str, records: Sequence[dict], reference: Sequence[dict], config: VerifyConfig) -> "MethodVerification":
        signals = np.array([r["signal"] for r in records])
        reference_signals = np.array([r["signal"] for r in reference])
        eps = epsilon_per_example(signals, reference_signals, config.delta)
        cap = max_measurable_epsilon(config.models, config.delta)
        steps = [r["relearn_steps"] for r in records]
        return cls(
            name=name,
            forgetting_quality=forgetting_quality(signals, reference_signals, config.delta,
                                                  seed=stream_seed(config.experiment.seed, f"verify-bootstrap-{name}")),
            epsilon=tuple(float(min(e, cap)) for e in eps),
            max_measurable_epsilon=cap,
            n_separated=int(np.isinf(eps).sum()),
            streisand_auc=stats.mean([r["streisand_auc"] for r in records], bounds=(0, 1)),
            relearn_steps=stats.mean(steps, bounds=(0, math.inf)),
            relearn_censored=int(sum(s > config.relearn_max_steps for s in steps)),
            retain_accuracy=stats.mean([r["retain_accuracy"] for r in records], bounds=(0, 1)),
            forget_accuracy=stats.mean([r["forget_accuracy"] for r in records], bounds=(0, 1)),
            forget_train_accuracy=stats.mean([r["forget_train_accuracy"] for r in records], bounds=(0, 1)),
            seconds=float(sum(r["seconds"] for r in records)),
        )

    def to_dict(self) -> dict:
        eps = np.asarray(self.epsilon)
        return {
            "forgetting_quality": self.forgetting_quality.to_dict(),
            "epsilon": {"mean": float(eps.mean()), "median": float(np.median(eps)), "per_example": [float(e) for e in eps],
                        "max_measurable": self.max_measurable_epsilon, "n_separated": self.n_separated},
            "streisand_auc": self.streisand_auc.to_dict(),
            "relearn_steps": {**self.relearn_steps.to_dict(), "censored": self.relearn_censored},
            "retain_accuracy": self.retain_accuracy.to_dict(),
            "forget_accuracy": self.forget_accuracy.to_dict(),
            "forget_train_accuracy": self.forget_train_accuracy.to_dict(),
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping) -> "MethodVerification":
        return cls(
            name=name,
            forgetting_quality=stats.Estimate.from_dict(data["forgetting_quality"]),
            epsilon=tuple(float(e) for e in data["epsilon"]["per_example"]),
            max_measurable_epsilon=float(data["epsilon"]["max_measurable"]),
            n_separated=int(data["epsilon"]["n_separated"]),
            streisand_auc=stats.Estimate.from_dict(data["streisand_auc"]),
            relearn_steps=stats.Estimate.from_dict(data["relearn_steps"]),
            relearn_censored=int(data["relearn_steps"].get("censored", 0)),
            retain_accuracy=stats.Estimate.from_dict(data["retain_accuracy"]),
            forget_accuracy=stats.Estimate.from_dict(data["forget_accuracy"]),
            forget_train_accuracy=stats.Estimate.from_dict(data["forget_train_accuracy"]),
            seconds=float(data["seconds"]),
        )


#: Columns of :meth:`VerifyResult.table` (each estimate's count and interval follow it with ``intervals``):
#: every row's forgetting quality sits beside the ``"retrain"`` control's at the same ``K``.
TABLE_COLUMNS = ("K", "forgetting quality", "retrain control FQ", "epsilon median", "separated", "Streisand AUC", "relearn steps", "retain acc",
                 "forget-class test acc")


@dataclass(frozen=True)
class VerifyResult(Result):
    """A verification: every method and the two controls (the JSON contract of ``qmu-kit verify``).

    ``to_dict()`` is ``{"schema": {"kind": "verification", "version": 3}, "config": {...}, "methods": {NAME: {"forgetting_quality": {"value", "ci95",
    "n", "kind"}, "epsilon": {"mean", "median", "per_example", "max_measurable", "n_separated"},
    "streisand_auc": {...}, "relearn_steps": {... "censored"}, "retain_accuracy": {...},
    "forget_accuracy": {...}, "forget_train_accuracy": {...}, "seconds"}}, "has_power", "verdict",
    "versions"}``, where ``NAME`` includes the controls ``"retrain"`` and ``"none"``.
    """

    config: VerifyConfig
    methods: dict
    versions: dict
    from_cache: bool = field(default=False, compare=False)

    KIND = "verification"
    VERSION = SCHEMA_VERSION

    @property
    def has_power(self) -> bool:
        """Whether the controls separate: the ``"retrain"`` control's interval lies above the
        ``"none"`` control's. Without that, no method may be ranked at this ``K``."""
        retrain, none = self.methods["retrain"].forgetting_quality, self.methods["none"].forgetting_quality
        return bool(retrain.ci95[0] > none.ci95[1])

    @property
    def verdict(self) -> str:
        retrain, none = self.methods["retrain"].forgetting_quality, self.methods["none"].forgetting_quality
        if self.has_power:
            return (f"the controls separate at K={self.config.models}: retrain {retrain.format()} vs none {none.format()}; "
                    "methods can be compared with them")
        return (f"no power at K={self.config.models}: the controls do not separate (retrain {retrain.format()} vs "
                f"none {none.format()}); do not rank methods, use more models")

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "config": self.config.to_dict(), "methods": {n: m.to_dict() for n, m in self.methods.items()},
                "has_power": self.has_power, "verdict": self.verdict, "versions": dict(self.versions)}

    @classmethod
    def from_dict(cls, data: Mapping, from_cache: bool = False) -> "VerifyResult":
        cls.check_schema(data)
        for key in ("config", "methods", "versions"):
            if key not in data:
                raise ValueError(f"not a verification result: the key {key!r} is missing")
        missing = [c for c in CONTROLS if c not in data["methods"]]
        if missing:
            raise ValueError(f"not a verification result: the controls {missing} are missing")
        methods = {name: MethodVerification.from_dict(name, m) for name, m in data["methods"].items()}
        return cls(VerifyConfig.from_dict(data["config"]), methods, dict(data["versions"]), from_cache)

    def table(self, intervals: bool = True):
        """One row per method and control: ``K``, the score beside the ``"retrain"`` control's at the
        same ``K``, the checks and utility (:data:`TABLE_COLUMNS`), each estimate with its count and
        95 % interval when ``intervals``."""
        import pandas as pd

        rows = {}
        control = self.methods["retrain"].forgetting_quality
        for name, m in self.methods.items():
            cells = {"K": self.config.models, "forgetting quality": m.forgetting_quality, "retrain control FQ": control,
                     "epsilon median": float(np.median(m.epsilon)),
                     "separated": m.n_separated, "Streisand AUC": m.streisand_auc, "relearn steps": m.relearn_steps,
                     "retain acc": m.retain_accuracy, "forget-class test acc": m.forget_accuracy}
            rows[name] = {k: v for column, value in cells.items() for k, v in interval_cells(column, value, intervals).items()}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        """A readable table with intervals and the verdict (what ``qmu-kit verify`` prints)."""
        n_examples = len(next(iter(self.methods.values())).epsilon)
        k = self.config.models
        header = (f"{'method':<10}{'forgetting quality':>20}  {f'retrain at K={k}':>18}  {'eps median':>10}  {'separated':>9}  {'Streisand AUC':>19}  "
                  f"{'relearn steps':>20}  {'retain acc':>18}  {'forget acc':>18}")
        lines = [header, "-" * len(header)]
        interval = lambda e, digits=2: f"{e.value:.{digits}f} [{e.ci95[0]:.{digits}f}, {e.ci95[1]:.{digits}f}]"  # noqa: E731
        control = self.methods["retrain"].forgetting_quality
        lines.insert(0, f"forgetting quality at K={k} models per side, each beside the retrain control at the same K "
                        f"({interval(control)}): this estimator's value for 'indistinguishable' is not 1 and moves with K")
        for name, m in self.methods.items():
            cells = [
                interval(m.forgetting_quality).rjust(20),
                interval(control).rjust(18),
                f"{float(np.median(m.epsilon)):.2f}".rjust(10),
                f"{m.n_separated}/{n_examples}".rjust(9),
                interval(m.streisand_auc).rjust(19),
                (interval(m.relearn_steps, 1) + ("+" if m.relearn_censored else "")).rjust(20),
                interval(m.retain_accuracy).rjust(18),
                interval(m.forget_accuracy).rjust(18),
            ]
            lines.append(f"{name:<10}" + "  ".join(cells))
        lines.append(f"[95 % intervals] forgetting quality: bootstrap over the K={k} models per side and the n={n_examples} "
                     "forget-set examples together; "
                     f"Streisand AUC, relearn steps and accuracies: t over the n={self.config.models} models")
        lines.append(f"verdict: {self.verdict}")
        if any(m.relearn_censored for m in self.methods.values()):
            lines.append(f"+: some models did not relearn within {self.config.relearn_max_steps} steps (counted as {self.config.relearn_max_steps + 1})")
        return "\n".join(lines)

    def plot(self, ax=None, *, methods: Iterable[str] | None = None):
        """Per-example epsilon histograms, one row per method, the controls first, each labelled with
        its forgetting quality beside the ``"retrain"`` control's at the same ``K`` (returns the figure).

        Args:
            ax: one Axes (every histogram overlaid on it), one Axes per method, or ``None`` (a new figure).
            methods: the methods drawn besides the controls (default: all).
        """
        import matplotlib.pyplot as plt

        names = [n for n in CONTROLS if n in self.methods] + [n for n in (methods or self.methods) if n not in CONTROLS]
        if ax is None:
            fig, axes = plt.subplots(len(names), 1, figsize=(6.5, 1.3 * len(names) + 0.6), sharex=True, squeeze=False)
            axes = axes[:, 0]
        else:
            axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
        overlaid = len(axes) == 1 and len(names) > 1
        cap = next(iter(self.methods.values())).max_measurable_epsilon
        control = self.methods["retrain"].forgetting_quality
        bins = np.linspace(0, cap + 1e-9, 14)
        for axis, name in zip(np.resize(axes, len(names)) if overlaid else axes, names):
            m = self.methods[name]
            # the controls in their roles' colours and hatchings (the row's label names each too)
            colour, hatch = {"retrain": (ROLES["retrained"], "//"), "none": (ROLES["original"], "..")}.get(name, (CYCLE[0], ""))
            # Perfectly separated examples and those merely at the cap share the last bin, so two rows
            # can look alike with different counts: the label gives the count.
            label = (f"FQ {m.forgetting_quality.format()}" + ("" if name == "retrain" else f" (retrain control {control.format()})")
                     + f"; {m.n_separated}/{len(m.epsilon)} perfectly separated")
            if overlaid:
                axis.hist(m.epsilon, bins=bins, histtype="step", linewidth=2, color=colour if name in CONTROLS else
                          CYCLE[names.index(name) % len(CYCLE)], ls=LINE_STYLES[names.index(name) % len(LINE_STYLES)],
                          label=f"{name}: {label}")
                continue
            axis.hist(m.epsilon, bins=bins, color=colour, alpha=0.8, hatch=hatch, edgecolor=ROLES["outline"])
            axis.set_ylabel(name, rotation=0, ha="right", va="center")
            axis.text(0.99, 0.8, label, transform=axis.transAxes, ha="right", fontsize=8)
        if overlaid:
            axes[0].legend(fontsize=7, title=f"K={self.config.models}: compare each with the retrain control")
        axes[-1].set_xlabel(f"per-example epsilon (delta={self.config.delta:g}; right edge: perfectly separated, "
                            f"the most K={self.config.models} can measure)")
        fig.tight_layout()
        return fig


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _result_key(config: VerifyConfig, methods: dict) -> str:
    return _hash({"part": "verify-result", "config": config.to_dict(), "methods": {n: method_identity(m) for n, m in methods.items()},
                  "base": config.experiment.cache_key("retrained"), "code": code_fingerprint(), "schema": SCHEMA_VERSION})


def cached_verification(config: VerifyConfig, methods="all", cache: ResultCache | bool = True) -> VerifyResult | None:
    """The stored verification, or ``None`` when it never ran (nothing is computed)."""
    store = resolve_cache(cache)
    if store is None:
        return None
    config = config.replace(experiment=config.experiment.resolved())
    objects = _method_objects(config, parse_methods(methods))
    stored = store.load_json(_result_key(config, objects))
    if stored is None:
        return None
    try:
        return VerifyResult.from_dict(stored, from_cache=True)
    except (ValueError, TypeError, KeyError):
        return None


def _method_objects(config: VerifyConfig, names: Sequence[str]) -> dict:
    options = config.experiment.method_options
    return {name: make_method(name, **options.get(name, {})) for name in names}


def verify(
    config: VerifyConfig | ExperimentConfig | None = None,
    methods: str | Sequence[str] = "all",
    *,
    cache: ResultCache | bool = True,
    n_jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> VerifyResult:
    """Verify unlearning methods against many retrained models, with the two controls.

    Args:
        config: a :class:`VerifyConfig`, or an ExperimentConfig (verified with the default knobs).
        methods: ``"all"`` (the lessons' methods, read now: :func:`available_methods`), a name, a comma
            list or a list of names of any registered method.
        cache: ``True`` for the default cache, ``False`` for none (a temporary one is used while
            running), or a :class:`~qmu_kit.core.cache.ResultCache`.
        n_jobs: local worker processes (joblib); 1 runs in this process.
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``); overrides ``n_jobs``.
        progress: show a progress bar.

    Returns:
        The :class:`VerifyResult`; ``from_cache`` says whether it was replayed whole.

    Raises:
        ValueError: unknown method, or ``relearn_samples`` larger than the forget set (with its size).
    """
    from tqdm.auto import tqdm

    if config is None:
        config = VerifyConfig()
    elif isinstance(config, ExperimentConfig):
        config = VerifyConfig(config)
    elif not isinstance(config, VerifyConfig):
        raise ValueError(f"config={config!r} is not valid: give a VerifyConfig or an ExperimentConfig")
    config = config.replace(experiment=config.experiment.resolved())
    names = parse_methods(methods)
    check_jobs(n_jobs)
    data = _prepared(config)
    n_forget = int(data.forget_train.sum())
    if config.relearn_samples > n_forget:
        raise ConfigError(
            f"relearn_samples={config.relearn_samples} is out of range: relearn_samples must be an integer from 1 to "
            f"{n_forget} (the forget set {config.experiment.forget} has {n_forget} training samples)", "relearn_samples"
        )
    objects = _method_objects(config, names)
    store = resolve_cache(cache)
    if store is not None:
        stored = cached_verification(config, names, store)
        if stored is not None:
            return stored
    scratch = None
    if store is None:
        scratch = tempfile.mkdtemp(prefix="qmu-kit-verify-")
        work = ResultCache(scratch)
    else:
        work = store
    try:
        config_dict, cache_dir = config.to_dict(), str(work.directory)
        units = [("reference", None), ("retrain", None), ("none", None), *objects.items()]
        todo = [(name, k, method) for name, method in units for k in range(config.models)
                if work.load_json(_unit_key(config, name, k, method)) is None]
        needed = sorted({("original" if name not in ("reference", "retrain") else ("reference" if name == "reference" else "control"), k)
                         for name, k, _ in todo})
        training = [(config_dict, role, k, cache_dir) for role, k in needed
                    if work.load_state(_model_key(config, role, k)) is None]
        total = len(training) + len(units) * config.models
        bar = tqdm(total=total, initial=len(units) * config.models - len(todo), desc="verify", disable=not progress)
        tick = lambda _index, _result: bar.update(1)  # noqa: E731
        try:
            parallel_map(_train_unit, training, n_jobs=n_jobs, scheduler=scheduler, on_result=tick)
            computed = parallel_map(_run_unit, [(config_dict, name, k, method, cache_dir) for name, k, method in todo],
                                    n_jobs=n_jobs, scheduler=scheduler, on_result=tick)
        finally:
            bar.close()
        fresh = {(record["name"], record["k"]): record for record in computed}
        records = {name: [fresh.get((name, k)) or _run_unit(config_dict, name, k, method, cache_dir) for k in range(config.models)]
                   for name, method in units}
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    reference = records.pop("reference")
    results = {name: MethodVerification.from_records(name, recs, reference, config) for name, recs in records.items()}
    result = VerifyResult(config, results, versions())
    if store is not None:
        store.store_json(_result_key(config, objects), result.to_dict())
    return result


def verify_over_k(config: VerifyConfig, ks: Sequence[int], methods="all", **options) -> dict[int, VerifyResult]:
    """Verifications at several ``K``, each with its own controls; smaller ``K`` reuse the first
    models of larger ones through the cache, so the largest ``K`` costs what the sweep costs.

    The estimator's value for "indistinguishable" moves with ``K``, and not monotonically (module
    docstring): compare each score with the ``"retrain"`` control of its own ``K``, never across ``K``.

    Example:
        >>> results = verify_over_k(VerifyConfig(), [8, 16], methods="ga")   # doctest: +SKIP
    """
    return {k: verify(config.replace(models=k), methods, **options) for k in sorted({check_models(k) for k in ks})}


__all__ = [
    "BIN_WIDTH", "CONTROLS", "DEFAULT_DELTA", "DEFAULT_MODELS", "MIN_MODELS", "MAX_MODELS", "N_BINS", "MethodVerification",
    "VERIFY_FIELDS", "VerifyConfig", "VerifyResult", "available_methods", "cached_verification", "epsilon_per_example",
    "example_scores", "forgetting_quality", "max_measurable_epsilon", "parse_methods", "relearn_steps", "streisand_auc",
    "verify", "verify_over_k",
]
