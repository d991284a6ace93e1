"""Lesson 07 (privacy by design): the exercises' checks."""

from __future__ import annotations

import math

from qmu_kit.exercises._checks import Feedback, answer_in, as_number, exercise
from qmu_kit.exercises._lesson04 import narrowing


@exercise("07.1", "How many times wider is a 95 % t-interval over this run's n_seeds than over 5 seeds, "
                  "if the seeds spread as much as now (a number)?")
def _bands_at_five_seeds(answer, *, n_seeds: int):
    return narrowing("07.1", answer, n_seeds, 5)


@exercise("07.2", "At the same (epsilon, delta), is the PRV accountant's noise multiplier 'smaller' or 'larger' "
                  "than the RDP accountant's?")
def _prv_against_rdp(answer, *, rdp: float, prv: float):
    said = answer_in(answer, ("smaller", "larger"), "how PRV's noise multiplier compares with RDP's")
    truth = "smaller" if prv < rdp else "larger"
    if said == truth:
        reason = ("PRV accounts more tightly than RDP, so it certifies the same budget with less noise."
                  if truth == "smaller" else "at this recipe PRV's bound is the looser one; compare its epsilon curve with RDP's.")
        return Feedback("07.2", True, reason)
    return ("a tighter accountant wastes less of the budget on slack in its bound; compare your PRV run's noise "
            "multiplier with the RDP one at epsilon 4 printed above (PRV's against RDP's, not the other way round).")


def models_needed(epsilon: float = 1.0, confidence: float = 0.95) -> int:
    """The fewest models per side whose perfect guesses let Clopper-Pearson certify ``epsilon``:
    the smallest ``m`` with ``q / (1 - q) > exp(epsilon)``, ``q = ((1 - confidence) / 2) ** (1 / m)``."""
    tail = (1 - confidence) / 2
    m = 1
    while tail ** (1 / m) / (1 - tail ** (1 / m)) <= math.exp(epsilon):
        m += 1
    return m


@exercise("07.3", "Roughly how many trained models per side would a perfect attack need for a Clopper-Pearson audit "
                  "to certify epsilon >= 1 at 95 % (a whole number)?")
def _canary_models(answer, *, epsilon: float = 1.0, confidence: float = 0.95):
    value = as_number(answer, "the number of models per side", low=0)
    needed = models_needed(epsilon, confidence)
    if round(value) == needed and abs(value - needed) < 0.5:
        return Feedback("07.3", True, "a realistic attack, right a little more often than not, needs hundreds: "
                                      "this is why audits in one training run exist.")
    if round(value) == models_needed(epsilon, 1 - 2 * (1 - confidence)):
        return "a 95 % two-sided interval leaves 2.5 %, not 5 %, in each tail."
    if round(value) == 2 * needed:
        return "count the models per side (members, and as many non-members), not in total."
    if value < needed:
        return ("with m right guesses out of m, Clopper-Pearson bounds TPR from below and FPR from above: at that m "
                "their ratio is still below e^epsilon.")
    return "fewer suffice for a perfect attack: find the smallest m whose Clopper-Pearson ratio TPR/FPR passes e^epsilon."
