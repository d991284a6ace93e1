"""Lesson 01 (QNN classifiers): the exercises' checks: the depth sweep, extra depth for the hybrid QNN, padding."""

from __future__ import annotations

from collections.abc import Mapping

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import COMPARISONS, Feedback, answer_in, as_number, compared, comparison_hint, exercise

#: The readings of a depth sweep (exercise 01.1 and notebook 01's prediction offer the same three).
DEPTH_TRENDS = ("rises at every step", "rises overall, not at every step", "no rise shown")


def depth_trend(accuracies: Mapping[int, Estimate]) -> str:
    """What a sweep of test accuracies by depth shows beyond its 95 % intervals (one of :data:`DEPTH_TRENDS`).

    Example:
        >>> sweep = {1: Estimate(0.68, 700, (0.65, 0.72)), 2: Estimate(0.63, 700, (0.60, 0.67)),
        ...          10: Estimate(0.82, 700, (0.79, 0.85))}
        >>> depth_trend(sweep)
        'rises overall, not at every step'
    """
    if len(accuracies) < 2:
        raise ValueError(f"a depth sweep needs at least two depths, got {sorted(accuracies)}")
    depths = sorted(accuracies)
    if compared(accuracies[depths[-1]], accuracies[depths[0]]) != "higher":
        return DEPTH_TRENDS[2]
    steps = [compared(accuracies[b], accuracies[a]) for a, b in zip(depths, depths[1:])]
    return DEPTH_TRENDS[0] if all(step == "higher" for step in steps) else DEPTH_TRENDS[1]


@exercise("01.1", "What does the basic QNN's depth sweep show beyond its intervals: "
                  "'rises at every step', 'rises overall, not at every step', or 'no rise shown'?")
def _depth_sweep(answer, *, accuracies: Mapping[int, Estimate]):
    """Right: :func:`depth_trend` of the sweep's test accuracies (depth -> Estimate)."""
    said = answer_in(answer, DEPTH_TRENDS, "what the sweep shows")
    truth = depth_trend(accuracies)
    if said == truth:
        return Feedback("01.1", True, "each step and the whole sweep read against their 95 % intervals.")
    if said == DEPTH_TRENDS[0]:
        return ("compare each step's two intervals, not only the ends: a step where the intervals overlap, or the "
                "accuracy falls, is not a rise this run shows.")
    if said == DEPTH_TRENDS[2]:
        return "compare the deepest model's interval with the shallowest's: do they overlap?"
    if truth == DEPTH_TRENDS[0]:
        return "check each step again: is there a step whose two intervals overlap?"
    return "compare the deepest model's interval with the shallowest's: a rise needs them apart."


@exercise("01.2", "Is the hybrid QNN's test accuracy at depth 3 'higher', 'lower' or 'not distinguishable' from depth 1?")
def _hybrid_depth(answer, *, depth_1: Estimate, depth_3: Estimate):
    """Right: the reading of depth 3's test accuracy against depth 1's (:func:`compared`)."""
    said = answer_in(answer, COMPARISONS, "the comparison")
    truth = compared(depth_3, depth_1)
    if said == truth:
        return Feedback("01.2", True, "read from the two test accuracies' 95 % intervals.")
    return comparison_hint(said, truth, "depth 3", "depth 1")


@exercise("01.3", "With 8 qubits, how many of the 256 amplitudes carry a 64-pixel digit's values?")
def _padded_amplitudes(answer, *, n_qubits: int, carried: int):
    """Right: the number of amplitudes the encoded digits use (``carried``, counted in the notebook)."""
    said = as_number(answer, "the number of amplitudes", low=0)
    if said == carried:
        return Feedback("01.3", True, f"the other {2**n_qubits - carried} amplitudes are zero padding: "
                                      "more room in the circuit, no more information.")
    if said == 2**n_qubits:
        return "that is every amplitude of the state; how many numbers does one digit image have?"
    if said == n_qubits:
        return "that is the number of qubits; the question asks how many amplitudes carry pixel values."
    if said == 2**n_qubits - carried:
        return "that many amplitudes are there, but they hold no pixel: which ones carry the image?"
    return f"count the numbers one digit image has; {2**n_qubits} amplitudes can hold that many and more."
