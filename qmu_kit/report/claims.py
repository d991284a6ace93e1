"""Sentences that follow their numbers: what a notebook states is generated from what it measured.

A notebook never writes "the AUC is 0.64, clearly better than a coin flip" as fixed prose: at another
preset, seed or CPU the number moves and the sentence becomes false. Instead it measures an
:class:`~qmu_kit.core.stats.Estimate` (a value, its sample count and 95 % interval) and asks this module
for the sentence. Each claim function decides the verdict by one stated rule, writes the sentence
with the numbers behind it, and :func:`show` displays the sentences and records them (with the
estimates) beside the notebook's metrics, so a test can check every stated claim against its numbers
at every preset.

It also holds the kit's one rule for comparing a recorded number with a reference measured on
another machine (:func:`tolerance`), and :func:`measure`, which turns a number of an experiment's
result into an estimate with its sample count.

The verdict rules (the statistics guide, docs/guides/statistics.md, says the same):

- an AUC is *better (worse) than a coin flip* when its 95 % DeLong interval lies above (below) 0.5
  and the Mann-Whitney p-value against 0.5 is below 0.05 (both, so that small samples, where the two
  can disagree, never give a verdict), otherwise *not distinguishable from a coin flip*;
- a rate is *above (below)* another rate when their 95 % Wilson intervals do not overlap, otherwise
  *not distinguishable*;
- a paired difference over seeds *increases / decreases* when its 95 % paired t-interval excludes 0.

Example:
    >>> from qmu_kit.core import auc, proportion
    >>> claim = auc_claim("the forget-set AUC", auc([0.9, 0.8, 0.7, 0.4], [0.1, 0.5, 0.3, 0.2]))
    >>> claim.verdict   # the DeLong interval excludes 0.5, but with 4 vs 4 samples p = 0.06
    'chance'
    >>> claim.text
    'the forget-set AUC is 0.94 [0.76, 1.00] (n=8, p = 0.06): not distinguishable from a coin flip at 95 %'
    >>> rate_claim("MIA success", proportion(28, 30), "its control", proportion(42, 70)).verdict
    'above'
    >>> round(tolerance(0.90, 700), 4)   # 3 sd = 3 sqrt(0.9 * 0.1 / 700); 2 / 700 = 0.0029
    0.034
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qmu_kit.core.stats import Estimate, auc
from qmu_kit.core.validation import check_float, check_int
from qmu_kit.experiment.results import ExperimentResult
from qmu_kit.report.notebook import metrics_bundle, recordable

#: Prefix of the recorded-metric keys that hold claims (``claim:<name>``).
CLAIM_PREFIX = "claim:"


# --------------------------------------------------------------------------------------------------
# The tolerance rule: one place.
# --------------------------------------------------------------------------------------------------


def tolerance(value: float, n: int) -> float:
    """How far a rate or AUC over ``n`` samples may move between machines: ``max(2 / n, 3 sd)``.

    Another CPU (SIMD width, BLAS kernels) changes floating-point last bits; a sample near a
    decision boundary can then land on the other side, and every later step (training, attack
    fitting) can amplify that. The rule allows two samples' worth of change (``2 / n``) or three
    binomial standard deviations ``sqrt(p (1 - p) / n)`` of the reference value, whichever is larger.
    For an AUC, ``n`` is the smaller of the two groups (a conservative reading of its standard error);
    for a mean over seeds, the per-run ``n``.

    Example:
        >>> round(tolerance(0.5, 60), 3), round(tolerance(1.0, 30), 3)
        (0.194, 0.067)
    """
    n = check_int("n", n, 1)  # a tolerance needs a sample count
    p = min(max(float(value), 0.0), 1.0)
    return max(2 / n, 3 * math.sqrt(p * (1 - p) / n))


def measured(value: float, n: int) -> dict:
    """A recorded number with the sample count its tolerance comes from: ``{"value", "n"}``."""
    return {"value": None if value is None or value != value else float(value), "n": int(n)}


def approximately(value: float, relative: float, why: str) -> dict:
    """A recorded count that is not a sampled rate but still depends on the machine, with the
    relative tolerance and the reason, e.g. a transpiled circuit's depth (qiskit's stochastic layout
    and routing see other float last bits on another CPU)::

        record_metrics(device_depth=approximately(device.depth(), 0.1, "routing differs by CPU"))

    Example:
        >>> agrees(approximately(289, 0.1, "routing"), approximately(285, 0.1, "routing"))[0]
        True
    """
    relative = check_float("relative", relative, 0, 1, low_inclusive=False, high_inclusive=False)
    return {"value": float(value), "relative_tolerance": relative, "why": str(why)}


def agrees(reference, actual) -> tuple[bool, str]:
    """Whether a recorded metric agrees with its reference, and why not.

    Counts recorded with :func:`approximately` must agree within their relative tolerance.
    Numbers recorded with a sample count (:func:`measured` or an :class:`Estimate`'s ``to_dict``)
    must agree within :func:`tolerance` of the reference. Everything else (strings, integers such as
    ``n_seeds``, ``None``, lists of them) must be equal, except floats recorded without a count,
    which only deterministic arithmetic may produce: they must agree to 1e-6 relative.
    Claims (``claim:...``) must reach the same verdict.
    """
    if isinstance(reference, Mapping) and "verdict" in reference:
        if not isinstance(actual, Mapping) or "verdict" not in actual:
            return False, f"{actual!r} is not a claim"
        if actual["verdict"] == reference["verdict"]:
            return True, ""
        # A verdict may flip only where the reference sat on the rule's edge: then its numbers moved
        # no more than the tolerance allows (and the sentence still follows its own numbers).
        moved = [agrees(ref, actual.get("estimates", {}).get(role)) for role, ref in reference.get("estimates", {}).items()
                 if isinstance(ref, Mapping) and "n" in ref]
        ok = bool(moved) and all(flag for flag, _ in moved)
        return ok, "" if ok else (f"verdict {actual['verdict']!r} != reference {reference['verdict']!r}, and its numbers moved beyond "
                                  f"the tolerance: {'; '.join(why for flag, why in moved if not flag)}")
    if isinstance(reference, Mapping) and "relative_tolerance" in reference:
        got = actual.get("value") if isinstance(actual, Mapping) else actual
        allowed = reference["relative_tolerance"] * abs(reference["value"])
        ok = isinstance(got, (int, float)) and abs(got - reference["value"]) <= allowed
        return ok, "" if ok else f"{got!r} differs from the reference {reference['value']!r} by more than {allowed:g} ({reference['why']})"
    if isinstance(reference, Mapping) and "value" in reference and "n" in reference:
        if not isinstance(actual, Mapping) or "value" not in actual:
            return False, f"{actual!r} is not a measured number like the reference {reference!r}"
        ref, got = reference["value"], actual["value"]
        if ref is None or got is None:
            return ref is None and got is None, f"{got!r} vs reference {ref!r}"
        allowed = tolerance(ref, reference["n"])
        ok = abs(got - ref) <= allowed + 1e-12
        return ok, "" if ok else f"{got:.4f} differs from the reference {ref:.4f} by more than {allowed:.4f} (n={reference['n']})"
    if isinstance(reference, float) or isinstance(actual, float):
        ok = isinstance(actual, (int, float)) and math.isclose(actual, reference, rel_tol=1e-6, abs_tol=1e-9)
        return ok, "" if ok else f"{actual!r} != reference {reference!r}"
    return actual == reference, "" if actual == reference else f"{actual!r} != reference {reference!r}"


# --------------------------------------------------------------------------------------------------
# Estimates from an experiment's result (the one place that knows where each count comes from).
# --------------------------------------------------------------------------------------------------


_SIZES: dict = {}  # subset sizes by the data's cache key: preparing the data again is not free


def _subset_sizes(config) -> dict:
    key = config.cache_key("retrained")  # everything the data and the forget set depend on
    if key not in _SIZES:
        _SIZES[key] = _count_subsets(config.load_data())
    return _SIZES[key]


def _count_subsets(data) -> dict:
    return {
        "acc_train_retain": int(data.retain_train.sum()),
        "acc_train_forget": int(data.forget_train.sum()),
        "acc_test_retain": int(data.retain_test.sum()),
        "acc_test_forget": int(data.forget_test.sum()),
        "mia_success_forget": int(data.forget_train.sum()),
        "mia_flag_rate_forget_nonmembers": int(data.forget_test.sum()),
    }


def sample_count(config, name: str) -> int:
    """How many samples one run's ``name`` rests on: an accuracy's subset, MIA success's forget-set
    members, its control's forget-set non-members, an AUC's smaller group (``mia_auc_overall``,
    ``loss_auc``: retained members vs retained non-members; ``mia_auc``: the forget set).

    A mean over seeds is recorded with the per-run count: :func:`tolerance` then allows what one run
    may move, which bounds what the mean may move.
    """
    sizes = _subset_sizes(config.resolved() if hasattr(config, "resolved") else config)
    aucs = {"mia_auc_overall": min(sizes["acc_train_retain"], sizes["acc_test_retain"]),
            "loss_auc": min(sizes["acc_train_retain"], sizes["acc_test_retain"]),
            "mia_auc": min(sizes["acc_train_forget"], sizes["acc_test_forget"])}
    if name not in {**sizes, **aucs}:
        raise ValueError(f"unknown number {name!r}: allowed are {', '.join([*sizes, *aucs])}")
    return {**sizes, **aucs}[name]


def _typed(result):
    """An :class:`~qmu_kit.experiment.results.ExperimentResult` (its JSON is read back with ``from_dict``)."""

    return ExperimentResult.from_dict(result) if isinstance(result, Mapping) else result


def auc_from_roc(roc: Mapping, n_members: int, n_nonmembers: int) -> Estimate:
    """The AUC of a stored ROC curve with DeLong's interval and p-value (:func:`qmu_kit.core.stats.auc`).

    Results keep the ROC curve, not the scores; the curve's steps give back how many members and
    non-members share each threshold, which is all the AUC and its interval depend on (collinear
    points scikit-learn drops merge into ties, which DeLong's estimator handles).
    """
    tpr, fpr = np.asarray(roc["tpr"], float), np.asarray(roc["fpr"], float)
    members = np.rint(np.diff(tpr) * n_members).astype(int)
    nonmembers = np.rint(np.diff(fpr) * n_nonmembers).astype(int)
    steps = -np.arange(1, len(members) + 1, dtype=float)  # threshold falls along the curve
    return auc(np.repeat(steps, np.maximum(members, 0)), np.repeat(steps, np.maximum(nonmembers, 0)))


def measure(result, model: str, name: str, attack: str | None = None) -> Estimate:
    """A number of an experiment's result as an :class:`Estimate` with its sample count and interval.

    Args:
        result: an :class:`~qmu_kit.experiment.results.ExperimentResult` (or its ``to_dict()``).
        model: ``"original"``, ``"retrained"`` or a method.
        name: an accuracy (``acc_train_forget``, ...), ``mia_success_forget``,
            ``mia_flag_rate_forget_nonmembers``, ``mia_auc`` (forget set) or ``mia_auc_overall``.
        attack: the attack behind the ``mia_*`` numbers (default: the experiment's primary attack).

    Example:
        >>> from qmu_kit.experiment import ExperimentConfig, run_experiment
        >>> result = run_experiment(ExperimentConfig(methods=(), retrain=False, attacks=("loss",)))  # doctest: +SKIP
        >>> print(measure(result, "original", "acc_test_retain"))                                     # doctest: +SKIP
        0.92 [0.90, 0.94] (n=630)
    """
    typed = _typed(result)
    entry = typed.models[model]
    outcome = entry.attacks[attack or entry.primary_attack]
    estimates = {
        "acc_train_retain": entry.acc_train_retain, "acc_train_forget": entry.acc_train_forget,
        "acc_test_retain": entry.acc_test_retain, "acc_test_forget": entry.acc_test_forget,
        "mia_success_forget": outcome.mia_success_forget,
        "mia_flag_rate_forget_nonmembers": outcome.flag_rate_forget_nonmembers,
        "mia_auc": outcome.forget.auc, "mia_auc_overall": outcome.overall.auc,
    }
    if name not in estimates:
        raise ValueError(f"unknown measurable number {name!r}: allowed are {', '.join(estimates)}")
    return estimates[name]


# --------------------------------------------------------------------------------------------------
# Claims.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A sentence a notebook states, the verdict it rests on and the numbers behind it.

    Attributes:
        name: a short identifier (the recorded key is ``claim:<name>``).
        text: the sentence, with its numbers.
        verdict: the rule's outcome, e.g. ``"above"``, ``"below"``, ``"chance"``, ``"same"``.
        rule: which rule decided (``"auc_vs_chance"``, ``"rates_overlap"``, ``"paired_difference"``,
            ``"all_reached"``).
        estimates: the numbers, by role (``Estimate.to_dict()`` or plain values).
    """

    name: str
    text: str
    verdict: str
    rule: str
    estimates: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"text": self.text, "verdict": self.verdict, "rule": self.rule, "estimates": self.estimates}


def _p(p_value: float | None) -> str:
    if p_value is None or p_value != p_value:
        return ""
    return ", p < 0.001" if p_value < 0.001 else f", p = {p_value:.2f}" if p_value >= 0.01 else f", p = {p_value:.3f}"


def auc_claim(subject: str, estimate: Estimate, name: str = "auc") -> Claim:
    """``subject`` is an AUC: better than, worse than, or not distinguishable from a coin flip."""
    low, high = estimate.ci95
    numbers = f"{estimate.value:.2f} [{low:.2f}, {high:.2f}] (n={estimate.n}{_p(estimate.p_value)})"
    significant = estimate.p_value is not None and estimate.p_value < 0.05
    if estimate.value != estimate.value:
        verdict, tail = "unmeasured", "could not be measured"
    elif low > 0.5 and significant:
        verdict, tail = "above", "better than a coin flip at 95 %"
    elif high < 0.5 and significant:
        verdict, tail = "below", ("below a coin flip at 95 %: the attack's scores point the "
                                  "wrong way here, which is no evidence of leakage")
    else:
        below = " It is below 0.5, which is no leakage at all." if estimate.value < 0.5 else ""
        verdict, tail = "chance", f"not distinguishable from a coin flip at 95 %{'.' + below if below else ''}"
    text = f"{subject} is {numbers}: {tail}"
    return Claim(name, text.rstrip("."), verdict, "auc_vs_chance", {"auc": estimate.to_dict()})


def rate_claim(subject: str, rate: Estimate, other_subject: str, other: Estimate, name: str = "rates") -> Claim:
    """Two rates on different samples: above, below or not distinguishable (95 % intervals overlap)."""
    if rate.ci95[0] > other.ci95[1]:
        verdict, relation = "above", "higher than"
    elif rate.ci95[1] < other.ci95[0]:
        verdict, relation = "below", "lower than"
    else:
        verdict, relation = "same", "not distinguishable from"
    digits = 3 if max(abs(rate.value), abs(other.value)) < 0.1 else 2  # small spreads need a third decimal
    text = (f"{subject} {rate.format(digits)} is {relation} {other_subject} {other.format(digits)} "
            f"(95 % intervals{' do not' if verdict != 'same' else ''} overlap)")
    return Claim(name, text, verdict, "rates_overlap", {"rate": rate.to_dict(), "other": other.to_dict()})


def change_claim(subject: str, difference: Estimate, name: str = "change", unit: str = "",
                 words: tuple[str, str, str] = ("an increase", "a decrease", "no change detectable at 95 %")) -> Claim:
    """A paired difference (:func:`qmu_kit.core.stats.paired_difference`): increases, decreases or no change.

    ``words`` say what an increase, a decrease and no detectable change mean for this difference.
    """
    low, high = difference.ci95
    numbers = f"{difference.value:+.3f}{unit} [{low:+.3f}, {high:+.3f}] (paired over n={difference.n}{_p(difference.p_value)})"
    if difference.n < 2:
        verdict, tail = "unmeasured", "one pair cannot show a change"
    elif low > 0:
        verdict, tail = "increase", words[0]
    elif high < 0:
        verdict, tail = "decrease", words[1]
    else:
        verdict, tail = "none", words[2]
    return Claim(name, f"{subject}: {numbers}, {tail}", verdict, "paired_difference", {"difference": difference.to_dict()})


def tradeoff_claim(setting: str, protection: Claim, cost: Claim, name: str = "tradeoff") -> Claim:
    """Whether a setting buys privacy and what it costs, from two :func:`change_claim` s on the same
    models: ``protection`` the paired change of an attack's AUC, ``cost`` that of the test accuracy.

    Verdicts: ``"both"`` (both decrease: privacy is bought with accuracy), ``"protection"`` (only the
    AUC decreases: a cost is not shown at 95 %, nor ruled out), ``"cost"`` (only the accuracy
    decreases), ``"neither"``.

    Example:
        >>> from qmu_kit.core import Estimate
        >>> auc = change_claim("AUC", Estimate(-0.03, 5, (-0.052, -0.009), "difference"))
        >>> accuracy = change_claim("accuracy", Estimate(-0.033, 5, (-0.066, 0.001), "difference"))
        >>> tradeoff_claim("10 shots", auc, accuracy).verdict
        'protection'
    """
    auc_down, accuracy_down = protection.verdict == "decrease", cost.verdict == "decrease"
    numbers = {role: claim.estimates["difference"] for role, claim in (("protection", protection), ("cost", cost))}

    def change(role: str) -> str:
        d = numbers[role]
        return f"{d['value']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"

    moves = f"at {setting} the attack's AUC changes by {change('protection')} and the test accuracy by {change('cost')} (paired)"
    if auc_down and accuracy_down:
        verdict, tail = "both", "both decrease on the same models: the dial buys privacy with accuracy, along one curve"
    elif auc_down:
        verdict, tail = "protection", ("the AUC decreases, the accuracy does not decrease detectably at 95 % with these seeds: "
                                       "a cost is not shown here, nor ruled out")
    elif accuracy_down:
        verdict, tail = "cost", "the accuracy decreases, the AUC does not decrease detectably at 95 %: a cost with no privacy gain shown"
    else:
        verdict, tail = "neither", "neither decreases detectably at 95 %: no privacy gain is shown at this setting"
    text = f"{moves}: {tail}"
    estimates = numbers
    return Claim(name, text, verdict, "tradeoff", estimates)


def reached_claim(subject: str, values: Sequence[float], target: float, name: str = "reached") -> Claim:
    """How many runs reach a target (value <= target), e.g. GA's forget accuracy at the retrained level."""
    values = [float(v) for v in values]
    hits = sum(v <= target + 1e-12 for v in values)
    verdict = "all" if hits == len(values) else "none" if hits == 0 else "some"
    text = f"{subject} reaches {target:.2f} in {hits} of {len(values)} runs"
    return Claim(name, text, verdict, "all_reached", {"values": values, "target": float(target)})


def sentences(*claims: Claim) -> tuple[str, ...]:
    """The claims' sentences as a reader sees them: capitalised, each ending in a full stop.

    Example:
        >>> from qmu_kit.core import proportion
        >>> sentences(rate_claim("the forget accuracy", proportion(0, 30), "the retrained model's", proportion(0, 30)))
        ("The forget accuracy 0.000 [0.000, 0.114] (n=30) is not distinguishable from the retrained model's 0.000 [0.000, 0.114] (n=30) (95 % intervals overlap).",)
    """
    return tuple(f"{c.text[0].upper() + c.text[1:]}." for c in claims)


def show(*claims: Claim, record: bool = True, fold: str | None = None):
    """Display the claims as a Markdown list; with ``record``, the same output records them
    (``claim:<name>``) beside the notebook's metrics (:func:`qmu_kit.report.notebook.record_metrics`).

    With ``fold``, the list sits behind a fold whose summary is ``fold`` (an exercise's measured
    answer, which a student opens after answering); a terminal shows the list as it is.
    """
    from IPython.display import display

    text = "\n".join(f"- {sentence}" for sentence in sentences(*claims))
    markdown = text if fold is None else f"<details><summary>{fold}</summary>\n\n{text}\n\n</details>"
    bundle = {"text/markdown": markdown, "text/plain": text}
    if record:

        bundle = {**metrics_bundle({f"{CLAIM_PREFIX}{c.name}": c.to_dict() for c in claims}), **bundle}
    display(bundle, raw=True)


def record_claims(*claims: Claim) -> tuple[str, ...]:
    """Record the claims as :func:`show` does, without showing them, and return their sentences for a
    display that shows them elsewhere (behind a prediction's reveal:
    ``prediction.reveal(measured, *record_claims(...))``)."""
    from IPython.display import display

    display({**metrics_bundle({f"{CLAIM_PREFIX}{c.name}": c.to_dict() for c in claims}), "text/plain": ""}, raw=True)
    return sentences(*claims)


def recorded_claims(metrics: Mapping) -> dict:
    """The claims among recorded metrics (``{name: claim dict}``)."""
    return {key[len(CLAIM_PREFIX):]: value for key, value in metrics.items() if key.startswith(CLAIM_PREFIX)}


__all__ = [
    "Claim", "agrees", "approximately", "auc_claim", "auc_from_roc", "change_claim", "measure", "measured", "reached_claim",
    "recordable", "rate_claim", "record_claims", "recorded_claims", "sample_count", "sentences", "show", "tolerance",
    "tradeoff_claim",
]
