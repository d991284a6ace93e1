"""Lesson 05 (noisy devices): the exercises' checks."""

from __future__ import annotations

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import Feedback, answer_in, exercise
from qmu_kit.exercises._lesson04 import narrowing
from qmu_kit.exercises._readings import side_of


@exercise("05.1", "How many times wider is a paired 95 % interval over 2 seeds than over this run's n_seeds, "
                  "if the seeds spread as much as now (a number)?")
def _bands_at_two_seeds(answer, *, n_seeds: int):
    return narrowing("05.1", answer, 2, n_seeds)


@exercise("05.2", "Is the fake backend's loss-attack AUC distinguishable from 0.5: 'above', 'below' or 'no'?")
def _fake_auc_vs_chance(answer, *, auc: Estimate):
    said = answer_in(answer, ("above", "below", "no"), "whether the AUC is distinguishable from 0.5")
    side = side_of(auc, 0.5)
    truth = "no" if side == "includes" else side
    if said == truth:
        reason = ("its 95 % interval contains 0.5: these queries do not show leakage on this device; more queries narrow it."
                  if truth == "no" else f"its whole 95 % interval lies {side} 0.5.")
        return Feedback("05.2", True, reason)
    if truth == "no":
        return "the point estimate is not the answer: does the 95 % interval contain 0.5?"
    if said == "no":
        return "0.5 lies outside the interval here: read both of its ends again."
    return "the interval lies on the other side of 0.5: compare both of its ends with 0.5."


@exercise("05.3", "On aer:5x, is the MIA success, paired with the noiseless device's on the same models, "
                  "'lower', 'higher' or 'no difference'?")
def _noise_vs_noiseless(answer, *, difference: Estimate):
    """``difference``: aer:5x minus noiseless MIA success, paired over seeds."""
    said = answer_in(answer, ("lower", "higher", "no difference"), "how the noise changes the MIA success")
    side = side_of(difference, 0.0)
    truth = {"includes": "no difference", "above": "higher", "below": "lower"}[side]
    if said == truth:
        reason = ("the paired difference's interval includes 0: no change shown at these shots. Rerun with other shots and "
                  "compare: whichever change moves the MIA success beyond its interval matters more."
                  if truth == "no difference" else "the paired difference's interval excludes 0. Rerun with other shots and "
                  "compare: whichever change moves the MIA success beyond its interval matters more.")
        return Feedback("05.3", True, reason)
    if truth == "no difference":
        return "a paired difference is a finding only where its interval excludes 0: does it here?"
    if said == "no difference":
        return "the paired difference's interval excludes 0 here: read both of its ends again."
    return "the difference is aer:5x minus noiseless: its sign says which device's MIA success is larger."
