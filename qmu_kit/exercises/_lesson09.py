"""Lesson 09 (which unlearning method should I trust?): the exercises' checks: the cheapest method, two
average gaps read with their intervals, why tuning and evaluation seeds differ, and a student's own
method on the leaderboard."""

from __future__ import annotations

from collections.abc import Mapping

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import COMPARISONS, Feedback, answer_in, compared, comparison_hint, exercise, hint


def _method(answer, names, what: str) -> str:
    """``answer`` as one of ``names`` (a method's registry name or its table label, case ignored)."""
    if not isinstance(answer, str):
        raise hint(f"answer {what} with a method's name as text, e.g. {next(iter(names))!r}")
    said = answer.strip().lower()
    for name, label in names.items():
        if said in (name.lower(), label.lower()):
            return name
    raise hint(f"{answer!r} is not a tuned method of this leaderboard: answer with one of {', '.join(map(repr, names))}")


@exercise("09.1", "Sorted by circuit evaluations, which tuned method ran the fewest (mean over the evaluation seeds)?")
def _cheapest(answer, *, costs: Mapping[str, Estimate], gaps: Mapping[str, Estimate], labels: Mapping[str, str]):
    """Right: the tuned method whose mean circuit evaluations are the lowest (a method whose cost
    interval overlaps the lowest one's is accepted, with the remark that the seeds cannot rank them)."""
    said = _method(answer, labels, "the cheapest method")
    cheapest = min(costs, key=lambda name: costs[name].value)
    if said == cheapest:
        return Feedback("09.1", True, "the quantum cost column counts every circuit the method ran, gradients included.")
    if compared(costs[said], costs[cheapest]) == "not distinguishable":
        return Feedback("09.1", True, f"its cost interval overlaps {labels[cheapest]}'s, whose mean is lower: "
                                      "these seeds do not rank the two.")
    if said == min(gaps, key=lambda name: gaps[name].value):
        return ("that is the method closest to retraining (the avg gap column), not the cheapest one: "
                "sort by circuit evaluations instead.")
    return "sort the table by circuit evaluations (ascending) and read the first tuned row."


@exercise("09.2", "Is the second-ranked method's average gap to retraining 'higher', 'lower' or 'not distinguishable' "
                  "from the first-ranked method's?")
def _second_against_first(answer, *, first: Estimate, second: Estimate):
    """Right: the reading of the two average gaps' 95 % intervals (:func:`compared`)."""
    said = answer_in(answer, COMPARISONS, "the comparison")
    truth = compared(second, first)
    if said == truth:
        if truth == "not distinguishable":
            return Feedback("09.2", True, "the ranking by point estimates is not a ranking the seeds support: more "
                                          "evaluation seeds narrow the intervals.")
        return Feedback("09.2", True, "the two intervals do not overlap, so these seeds do separate the two methods.")
    if said == "higher" and truth == "not distinguishable":
        return ("its point estimate is higher, which is what ranked it second; but a difference counts only beyond "
                "the 95 % intervals: do the two methods' average-gap intervals overlap?")
    return comparison_hint(said, truth, "the second method's average gap", "the first method's")


#: Why the kit tunes on some seeds and reports on others (exercise 09.3's choices).
SEED_REASONS = ("to save time", "so the reported numbers are not chosen on the same noise", "because published settings need them")


@exercise("09.3", "Why are each method's knobs chosen on the tuning seeds but reported on other seeds: 'to save time', "
                  "'so the reported numbers are not chosen on the same noise' or 'because published settings need them'?")
def _why_other_seeds(answer):
    """Right: picking the best of several candidates on some seeds favours the candidate whose noise
    happened to help; only fresh seeds report it without that selection bias."""
    said = answer_in(answer, SEED_REASONS, "the reason")
    if said == SEED_REASONS[1]:
        return Feedback("09.3", True, "the best of several candidates on a few seeds looks better than it is (it was "
                                      "selected partly for its lucky noise); fresh seeds measure it without that bias.")
    if said == SEED_REASONS[0]:
        return ("separate seeds cost more runs, not fewer: what would go wrong if the seeds that picked the "
                "best candidate also reported its score?")
    return ("the published settings are run as published, without tuning: the question is about the tuned "
            "ones. What does choosing the best of several candidates do to its score on the same seeds?")


@exercise("09.4", "Your own method on the leaderboard: is its average gap to retraining 'higher', 'lower' or "
                  "'not distinguishable' from the closest listed method's?")
def _own_method(answer, *, name: str, table, closest: Estimate | None, yours: Estimate | None):
    """Right: the reading of your method's average gap against the closest method's; first its row
    must be in the table (registered, named in ``methods``) with numbers (at least one candidate ran)."""
    tuned = table[(table["method"] == name) & (table["settings"] == "tuned")] if "method" in table else table.iloc[0:0]
    if tuned.empty:
        return (f"the table has no row for {name!r}: register the method (run its cell) and pass its name in "
                "methods to run_bench.")
    if yours is None or closest is None:
        return (f"{name!r} has a row but no numbers: read its note column (no candidate could run, or every "
                "knob value was out of range).")
    said = answer_in(answer, COMPARISONS, "the comparison")
    truth = compared(yours, closest)
    if said == truth:
        return Feedback("09.4", True, "your method was tuned with the same budget and seeds as every other row, "
                                      "so this comparison is as fair as the rest of the leaderboard.")
    return comparison_hint(said, truth, "your method's average gap", "the closest method's")
