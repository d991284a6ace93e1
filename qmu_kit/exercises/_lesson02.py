"""Lesson 02 (membership leakage): the exercises' checks."""

from __future__ import annotations

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import Feedback, answer_in, exercise


def _overlap(a: Estimate, b: Estimate) -> bool:
    return a.ci95[0] <= b.ci95[1] and b.ci95[0] <= a.ci95[1]


@exercise("02.1", "Which model leaks more in this run: 'basic', 'hybrid', or 'cannot tell'?")
def _which_leaks_more(answer, *, basic: Estimate, hybrid: Estimate):
    """Right: the model whose AUC interval lies wholly above the other's, or 'cannot tell' when they overlap."""
    said = answer_in(answer, ("basic", "hybrid", "cannot tell"), "which model leaks more")
    if _overlap(basic, hybrid):
        if said == "cannot tell":
            return Feedback("02.1", True, "the two AUC intervals overlap, so this run does not separate the models.")
        return ("compare the two AUCs' 95 % intervals, not only their point estimates: "
                "do they overlap?")
    larger = "basic" if basic.value > hybrid.value else "hybrid"
    if said == larger:
        return Feedback("02.1", True, f"the {larger} QNN's AUC interval lies wholly above the other's.")
    if said == "cannot tell":
        return "the two AUC intervals do not overlap here: read their ends again."
    return ("leaking more means an attack separates members from non-members better: a larger AUC, "
            "not a larger accuracy. Which model's AUC is larger?")
