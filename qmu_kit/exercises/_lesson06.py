"""Lesson 06 (did it really forget?): the exercises' checks."""

from __future__ import annotations

import math

from qmu_kit.core.fingerprint import external_source
from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import COMPARISONS, Feedback, answer_in, as_number, compared, exercise, hint
from qmu_kit.studies.verification import DEFAULT_DELTA, max_measurable_epsilon
from qmu_kit.unlearning.methods import UNLEARNING_METHODS


@exercise("06.1", "The largest finite epsilon K models per side can measure, at this run's K (a number)?")
def _largest_epsilon(answer, *, models: int, delta: float = DEFAULT_DELTA):
    value = as_number(answer, "the largest measurable epsilon")
    target = max_measurable_epsilon(models, delta)
    if abs(value - math.log(models - 1)) <= 0.003:
        return "close: the estimate is of an (epsilon, delta) pair, and delta takes its share of the K models too."
    if abs(value - target) <= 0.006:
        return Feedback("06.1", True, f"log((1 - delta) K - 1) at K = {models}: every example beyond it is perfectly "
                                      "separated, so a score is read only against the retrain control at the same K.")
    if abs(value - math.log((1 - delta) * models)) <= 0.005:
        return "the count of models that can separate is one short of (1 - delta) K: look at the formula in the Background again."
    if (1 - delta) * models - 1 > 0 and abs(value - math.log10((1 - delta) * models - 1)) <= 0.005:
        return "epsilon is a natural logarithm, not a base-10 one."
    return "start from the formula in the Background, log((1 - delta) K - 1), with this run's K and delta."


@exercise("06.2", "Both sides read out with 100 shots, a method's forgetting quality comes closer to the retrain "
                  "control's. Is that evidence the method forgot more: 'yes' or 'no'?")
def _shots_as_evidence(answer):
    said = answer_in(answer, ("yes", "no"), "whether the closer score is evidence of forgetting")
    if said == "no":
        return Feedback("06.2", True, "shot noise blurs every model's outputs, the retrained ones' included: the readout "
                                      "hides the difference, and an attacker with more shots or queries gets it back.")
    return ("shot noise blurs the retrained models' outputs as much as the unlearned ones': would the closer score "
            "survive an attacker who queries with more shots, or averages many queries?")


@exercise("06.3", "Is the chosen method's Streisand AUC, against the retrain control's, 'higher', 'lower' or "
                  "'not distinguishable'?")
def _streisand_vs_retrain(answer, *, method: Estimate, retrain: Estimate):
    said = answer_in(answer, COMPARISONS, "how the two Streisand AUCs compare")
    truth = compared(method, retrain)
    overlapping = truth == "not distinguishable"
    if said == truth:
        reason = ("the intervals overlap: the attacker learns nothing the retrained models would not tell."
                  if overlapping else "the intervals do not overlap: an attacker can tell which samples were asked to be "
                  "forgotten (the Streisand effect), even where the forget accuracy is 0.")
        return Feedback("06.3", True, reason)
    if overlapping:
        if method.ci95[0] > 0.5 or method.ci95[1] < 0.5:
            return ("compare with the retrain row's interval, not with 0.5: the control is what an attacker finds when "
                    "the data were never trained on.")
        return "do the two 95 % intervals overlap? Read both rows' ends."
    if said == "not distinguishable":
        return "the two intervals do not overlap here: read their ends again."
    return "which interval lies above the other? Compare the chosen row's ends with the retrain row's."


def _outside_the_kit(name: str) -> bool:
    return name in UNLEARNING_METHODS and external_source(UNLEARNING_METHODS[name]) != ""


@exercise("06.4", "The result of verify(config, 'your_name') for a method you registered yourself?")
def _your_method_verified(answer):
    methods = getattr(answer, "methods", None)
    if not isinstance(methods, dict):
        raise hint("give the result that verify(config, 'your_name') returned (its .methods lists every row)")
    yours = [name for name in methods if _outside_the_kit(name)]
    if yours:
        return Feedback("06.4", True, f"{', '.join(yours)} was verified like the kit's methods, against the same "
                                      "retrain and no-unlearning controls, and is cached by its code and knobs.")
    return (f"this verification ran only the kit's methods ({', '.join(methods)}): register yours with "
            "@qmu_kit.unlearning.methods.register('your_name', ...) and verify it by that name.")
