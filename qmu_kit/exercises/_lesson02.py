"""Lesson 02 (membership leakage): the exercises' checks: which model leaks, shots, the entropy signal, a rerun."""

from __future__ import annotations

import re
import shlex

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import COMPARISONS, Feedback, answer_in, compared, comparison_hint, exercise, hint

#: The names in notebook 02's parameters cell (a test keeps them equal): what ``papermill -p`` can set.
NOTEBOOK_PARAMETERS = ("preset", "model", "depth", "shots", "attack", "seed")


@exercise("02.1", "Which model leaks more in this run: 'basic', 'hybrid', or 'cannot tell'?")
def _which_leaks_more(answer, *, basic: Estimate, hybrid: Estimate):
    """Right: the model whose AUC interval lies wholly above the other's, or 'cannot tell' when they overlap."""
    said = answer_in(answer, ("basic", "hybrid", "cannot tell"), "which model leaks more")
    if compared(basic, hybrid) == "not distinguishable":
        if said == "cannot tell":
            return Feedback("02.1", True, "the two AUC intervals overlap, so this run does not separate the models.")
        return ("compare the two AUCs' 95 % intervals, not only their point estimates: "
                "do they overlap?")
    larger = "basic" if basic.value > hybrid.value else "hybrid"
    if said == larger:
        return Feedback("02.1", True, f"the {larger} QNN's AUC interval lies wholly above the other's.")
    if said == "cannot tell":
        return "the two AUC intervals do not overlap here: read their ends again."
    if (basic if said == "basic" else hybrid).ci95[1] < 0.5:
        return ("an AUC below 0.5 is not a leak in reverse: the attack's rule points the wrong way on fresh samples. "
                "Leaking more means an AUC further above 0.5; which model's is?")
    return ("leaking more means an attack separates members from non-members better: a larger AUC, "
            "not a larger accuracy. Which model's AUC is larger?")


@exercise("02.2", "At 10 shots, is the attack's AUC over all retained classes 'higher', 'lower' or "
                  "'not distinguishable' from the exact run's?")
def _ten_shots(answer, *, exact: Estimate, ten_shots: Estimate):
    """Right: the reading of the 10-shot AUC against the exact one (:func:`compared`)."""
    said = answer_in(answer, COMPARISONS, "the comparison")
    truth = compared(ten_shots, exact)
    if said == truth:
        return Feedback("02.2", True, "read from the two AUCs' 95 % intervals, not from what shot noise should do.")
    if said == "lower" and truth == "not distinguishable":
        return ("noise should blur the attacker's view, but expected is not measured: "
                "do the intervals of the 10-shot AUC and the exact AUC overlap?")
    return comparison_hint(said, truth, "the 10-shot AUC", "the exact AUC")


#: What the entropy signal leaves out (exercise 02.3's choices).
ENTROPY_CHOICES = ("the true label", "the number of shots", "the class probabilities")


@exercise("02.3", "What does the entropy signal ignore that the loss uses: 'the true label', 'the number of shots' "
                  "or 'the class probabilities'?")
def _entropy_ignores(answer):
    """Right: the true label (entropy reads only how peaked the prediction is)."""
    said = answer_in(answer, ENTROPY_CHOICES, "what entropy ignores")
    if said == "the true label":
        return Feedback("02.3", True, "a confident prediction has low entropy whether it is right or wrong, so a "
                                      "well-recognized digit looks like a member whether or not it was trained on.")
    if said == "the number of shots":
        return "shots add noise to every signal alike, the loss included: what does the loss -log p_y need that entropy does not?"
    return "entropy is computed from the class probabilities alone: what else does the loss -log p_y use?"


def _papermill_parameters(command: str) -> dict:
    words = shlex.split(command)
    if not words or "papermill" not in words[0]:
        raise hint("start the command with papermill (.venv/bin/papermill), then the notebook, the output file and -p NAME VALUE pairs")
    parameters, i = {}, 0
    while i < len(words):
        if words[i] in ("-p", "--parameters"):
            if i + 2 >= len(words):
                raise hint(f"each {words[i]} needs a name and a value: -p NAME VALUE")
            parameters[words[i + 1]] = words[i + 2]
            i += 3
        else:
            i += 1
    return parameters


@exercise("02.4", "The papermill command that reruns notebook 02 with the loss attack and 100 shots?")
def _rerun_command(answer):
    """Right: a papermill command running notebooks/02_membership_leakage.ipynb with -p attack loss -p shots 100."""
    if not isinstance(answer, str):
        raise hint("write the command as one string, e.g. '.venv/bin/papermill notebooks/...'")
    parameters = _papermill_parameters(answer)
    if not re.search(r"02_membership_leakage\.ipynb", answer):
        return "run notebook 02: name notebooks/02_membership_leakage.ipynb first, then the output notebook."
    unknown = [name for name in parameters if name not in NOTEBOOK_PARAMETERS]
    if unknown:
        return (f"{', '.join(map(repr, unknown))} is not a parameter of notebook 02: papermill would stop at its validation "
                "cell. Read the names in 02's parameters cell.")
    if not parameters:
        return "set the parameters with -p NAME VALUE; without them papermill runs the defaults."
    wanted = {"attack": "loss", "shots": "100"}
    wrong = [name for name, value in wanted.items() if parameters.get(name) != value]
    if wrong:
        return f"check the value of {' and '.join(wrong)}: the exercise asks for the loss attack and 100 shots."
    return Feedback("02.4", True, "papermill injects the values after the parameters cell, and the validation cell checks them.")
