"""Lesson 03 (quantum machine unlearning): the exercises' checks.

The lesson has two notebooks: the core, ``03_quantum_unlearning`` (exercises ``03.1`` to ``03.9``), and
the optional advanced part, ``03b_unlearning_in_depth`` (exercises ``03.11`` onwards: the advanced
part's exercise N is ``03.1N``), so both share the lesson's id and neither renumbers the other.

Example:
    >>> from qmu_kit.exercises import check
    >>> measured = dict(retrained_forget=Estimate(0.83, 30, (0.66, 0.93), "rate"),
    ...                 original_forget=Estimate(1.0, 30, (0.89, 1.0), "rate"))
    >>> check("03.2", 0.8, **measured).correct
    True
    >>> print(check("03.2", 0, **measured))  # doctest: +ELLIPSIS
    03.2: not yet. 0 is the retrained model's level only when a whole class is forgotten; ...
"""

from __future__ import annotations

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import Feedback, answer_in, as_number, compared, exercise, hint


@exercise("03.1", "At 30 shots, which keeps the retained classes' test accuracy better: 'GA', 'RGA' or 'cannot tell'?")
def _retained_at_30_shots(answer, *, ga_retain: Estimate, rga_retain: Estimate, ga_forget: Estimate,
                          rga_forget: Estimate):
    """Right: the method whose retained-accuracy interval lies wholly above the other's while it forgot
    no less; 'cannot tell' when the intervals overlap or the higher one forgot less."""
    said = answer_in(answer, ("GA", "RGA", "cannot tell"), "which method keeps the retained accuracy better")
    retain, forget = {"GA": ga_retain, "RGA": rga_retain}, {"GA": ga_forget, "RGA": rga_forget}
    if compared(ga_retain, rga_retain) == "not distinguishable":
        if said == "cannot tell":
            return Feedback("03.1", True, "the two retained accuracies' 95 % intervals overlap: one run at 30 shots "
                                          "does not rank the methods (notebook 04 compares them over seeds).")
        return "compare the two retained accuracies' 95 % intervals, not only their values: do they overlap?"
    higher, lower = ("GA", "RGA") if ga_retain.value > rga_retain.value else ("RGA", "GA")
    forgot_less = compared(forget[higher], forget[lower]) == "higher"
    if forgot_less:
        if said == "cannot tell":
            return Feedback("03.1", True, f"{higher} keeps more of the retained classes, but it also forgot less of the "
                                          "digit: at unequal forgetting the retained accuracies do not rank the methods.")
        if said == higher:
            return ("read the forget-set accuracy beside the retained one: a method keeps the retained classes "
                    "better only at an equal amount of forgetting")
    elif said == higher:
        return Feedback("03.1", True, f"{higher}'s retained-accuracy interval lies wholly above {lower}'s, and it "
                                      "forgot no less of the digit.")
    if said == "cannot tell":
        return "the retained accuracies' intervals do not overlap here: read their ends, and the forget-set accuracies, again."
    return ("the retained accuracy is acc_test_retain (test images of the classes that were kept), not the "
            "forget-set accuracy: which method's interval lies higher?")


@exercise("03.2", "Forgetting a random 10 % of the training set, what forget-set accuracy does the retrained model reach?")
def _retrained_on_a_random_forget_set(answer, *, retrained_forget: Estimate, original_forget: Estimate):
    """Right: a number inside the retrained model's 95 % interval (read to two decimals)."""
    value = as_number(answer, "the retrained model's forget-set accuracy", low=0, high=1)
    low, high = retrained_forget.ci95
    if low - 0.005 <= value <= high + 0.005:
        return Feedback("03.2", True, "a model that never saw a random tenth of the training set classifies it about "
                                      "as well as any images it never saw: not 0.")
    if value <= 0.02:
        return ("0 is the retrained model's level only when a whole class is forgotten; a model that never saw "
                "a random tenth of the digits still knows every class")
    if original_forget.ci95[0] - 0.005 <= value <= original_forget.ci95[1] + 0.005:
        return "that is the original model's accuracy on images it trained on: read the retrained row"
    return "read the retrained row's acc_train_forget in this exercise's table, with its interval"


@exercise("03.3", "On the random forget set, which model is closest to the retrained one: 'original', 'GA' or 'RGA'?")
def _closest_to_retraining(answer, *, distances: dict, forget_accuracies: dict):
    """Right: the model with the smallest ``distance_to_retrained`` (ties all count as right).

    ``distances`` and ``forget_accuracies`` map the names ``original``, ``ga``, ``rga`` to plain numbers.
    """
    names = {"original": "original", "GA": "ga", "RGA": "rga"}
    said = names[answer_in(answer, tuple(names), "which model is closest")]
    closest = min(distances.values())
    if distances[said] <= closest + 1e-9:
        return Feedback("03.3", True, "it has the smallest total-variation distance to the retrained model on the "
                                      "forget set: its predictions are the retrained model's most nearly.")
    lowest_forget = min(forget_accuracies, key=forget_accuracies.get)
    if said == lowest_forget:
        return ("closest means the smallest distance_to_retrained, not the lowest forget-set accuracy: the "
                "retrained model does not get 0 on a random forget set")
    return "compare every row's distance_to_retrained, the model before unlearning included: the smallest is closest"


@exercise("03.11", "How many parameters did SSD dampen at the paper's threshold alpha = 10?")
def _dampened_at_alpha_10(answer, *, dampened: int, tuned_dampened: int):
    """Right: the count of the alpha = 10 run (``details["dampened"]``); ``tuned_dampened`` is the count of
    the notebook's first SSD run, at the preset's own alpha."""
    value = as_number(answer, "the number of dampened parameters", low=0)
    if value != int(value):
        raise hint(f"a count of parameters is a whole number; {value:g} is not one")
    if int(value) == dampened:
        return Feedback("03.11", True, "the kit averages squared gradients of mini-batches, which lets the ratio "
                                       "I_f / I_D exceed 10 (with per-sample gradients it could not).")
    if int(value) == 0:
        return ("with per-sample gradients nothing could pass alpha = 10 for one class of ten; this kit's Fisher "
                "estimate averages mini-batch gradients: read the count of the alpha = 10 run itself")
    if int(value) == tuned_dampened:
        return "that is the count of the first run's SSD, at its own alpha; the exercise asks for the alpha = 10 run"
    return "read details['dampened'] of the alpha = 10 run's SSD model"


@exercise("03.12", "At alpha = 10, did SSD keep the retained classes' test accuracy: 'kept' or 'fell'?")
def _retained_at_alpha_10(answer, *, ssd_retain: Estimate, original_retain: Estimate):
    """Right: 'fell' when SSD's interval lies wholly below the original's, 'kept' otherwise."""
    said = answer_in(answer, ("kept", "fell"), "whether the retained accuracy held")
    fell = compared(original_retain, ssd_retain) == "higher"
    if said == ("fell" if fell else "kept"):
        why = ("its interval lies wholly below the original's: the dampened parameters served the retained classes too"
               if fell else "its interval is not wholly below the original's: no loss shows at 95 %")
        return Feedback("03.12", True, why + ".")
    if said == "kept":
        return "compare SSD's acc_test_retain with the original's, both with their 95 % intervals: do they overlap?"
    return "a drop counts only when SSD's interval lies wholly below the original's: read both intervals' ends"


@exercise("03.13", "Is relabel's forget-set accuracy indistinguishable from the retrained model's: 'yes' or 'no'?")
def _relabel_like_retraining(answer, *, relabel_forget: Estimate, retrained_forget: Estimate):
    """Right: 'yes' when the two 95 % intervals overlap, 'no' otherwise."""
    said = answer_in(answer, ("yes", "no"), "whether relabel forgot like retraining")
    same = compared(relabel_forget, retrained_forget) == "not distinguishable"
    if said == ("yes" if same else "no"):
        return Feedback("03.13", True, "the two forget-set accuracies' intervals overlap." if same
                        else "relabel's forget-set accuracy interval lies wholly above the retrained model's.")
    if said == "yes":
        return ("indistinguishable means overlapping 95 % intervals: compare relabel's acc_train_forget interval "
                "with the retrained row's")
    return "read both acc_train_forget intervals' ends: overlapping intervals are not distinguishable"
