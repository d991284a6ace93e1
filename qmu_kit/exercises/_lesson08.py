"""Lesson 08 (bring your own QNN): the exercises' checks."""

from __future__ import annotations

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import Feedback, answer_in, as_number, exercise, hint


@exercise("08.1", "Your model's training accuracy minus its test accuracy (a fraction)?")
def _generalization_gap(answer, *, train: Estimate, test: Estimate):
    value = as_number(answer, "the training accuracy minus the test accuracy", low=-1, high=1)
    gap = train.value - test.value
    if abs(value - gap) <= 0.01:
        return Feedback("08.1", True, "where this gap shrinks, the attacks' AUC tends toward 0.5; whether the AUC "
                                      "sentence still says 'better than a coin flip' is for its interval to say.")
    if abs(value + gap) <= 0.01 and abs(gap) > 0.01:
        return "wrong sign: the training accuracy minus the test accuracy, not the other way round."
    return "read the two accuracies printed under 'Train it briefly' (their values, not their intervals) and subtract."


@exercise("08.2", "The result of audit_model with LiRA among the attacks?")
def _lira_audit(answer):
    models = getattr(answer, "models", None)
    if not isinstance(models, dict) or "original" not in models:
        raise hint("give the result audit_model returned")
    attacks = tuple(getattr(models["original"], "attacks", {}))
    if "lira" in attacks:
        return Feedback("08.2", True, "LiRA compared the target's scaled logit on every sample with shadow models "
                                      "trained on the attacker's population, disjoint from members and non-members.")
    return (f"this audit ran the attacks {', '.join(attacks)}: pass attacks=('loss', 'lira'), the population and the "
            "recipe (build=..., training=...) that trains the shadow models.")


@exercise("08.3", "With your own training loop (train_fn), what does the retrained model's circuit-evaluation "
                  "column report: 'counted' or 'not known'?")
def _cost_of_your_loop(answer):
    said = answer_in(answer, ("counted", "not known"), "what the cost column reports")
    if said == "not known":
        return Feedback("08.3", True, "the kit cannot see inside your loop: its circuit evaluations and optimizer "
                                      "steps show as 0 (not known), and only wall time remains to compare costs.")
    return "the kit counts the circuits of the loops it runs itself: does it run yours?"


@exercise("08.4", "A softmax applied to outputs that are already probabilities makes them: 'flatter', 'sharper' "
                  "or 'unchanged'?")
def _softmax_of_probabilities(answer):
    said = answer_in(answer, ("flatter", "sharper", "unchanged"), "what the softmax does to probabilities")
    if said == "flatter":
        return Feedback("08.4", True, "probabilities differ by at most 1, so their exponentials by at most a factor e: "
                                      "every attack would see a distorted model, so the kit refuses.")
    if said == "unchanged":
        return "softmax is not the identity on probabilities: try torch.softmax(torch.tensor([0.9, 0.1]), 0)."
    return ("softmax exponentiates: inputs between 0 and 1 differ by at most 1; how far apart can their "
            "exponentials then be?")
