"""Lesson 09's exercises (which unlearning method should I trust?): each reference answer passes its
check, each typical wrong answer gets its own hint, and an unanswered cell is a friendly message."""

import pandas as pd

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises import SEED_REASONS, check, exercises


def mean(value, low, high, n=2):
    return Estimate(value, n, (low, high), "mean")


LABELS = {"neggrad_plus": "NegGrad+", "scrub": "SCRUB", "salun": "SalUn"}
#: Costs apart; SalUn closest to retraining but the most expensive.
COSTS = {"neggrad_plus": mean(3000, 2900, 3100), "scrub": mean(9000, 8800, 9200), "salun": mean(12000, 11000, 13000)}
GAPS = {"neggrad_plus": mean(0.20, 0.05, 0.35), "scrub": mean(0.25, 0.10, 0.40), "salun": mean(0.10, 0.02, 0.18)}
#: Two methods apart and two overlapping.
APART = dict(first=mean(0.05, 0.03, 0.07), second=mean(0.30, 0.25, 0.35))
CLOSE = dict(first=mean(0.10, 0.02, 0.18), second=mean(0.20, 0.05, 0.35))
TABLE = pd.DataFrame([{"method": "retrained", "settings": "reference"}, {"method": "salun", "settings": "tuned"},
                      {"method": "my_relabel", "settings": "tuned"}])
OWN = dict(name="my_relabel", table=TABLE, closest=mean(0.10, 0.02, 0.18), yours=mean(0.40, 0.30, 0.50))


def test_lesson_09_registers_four_exercises():
    assert exercises("09") == ("09.1", "09.2", "09.3", "09.4")


REFERENCE = {
    "09.1": ("neggrad_plus", dict(costs=COSTS, gaps=GAPS, labels=LABELS)),
    "09.2": ("not distinguishable", CLOSE),
    "09.3": (SEED_REASONS[1], {}),
    "09.4": ("higher", OWN),
}

# The reference solutions and unanswered cells are checked with lessons 00-02's (test_lessons.py).


def test_09_1_the_cheapest_method():
    context = REFERENCE["09.1"][1]
    assert check("09.1", "NegGrad+", **context)  # the table's label is accepted too
    assert "closest to retraining (the avg gap column), not the cheapest" in check("09.1", "salun", **context).message
    assert "sort the table by circuit evaluations" in check("09.1", "scrub", **context).message
    assert "not a tuned method of this leaderboard" in check("09.1", "ga", **context).message
    assert "a method's name as text" in check("09.1", 3000, **context).message
    overlapping = dict(context, costs={**COSTS, "scrub": mean(3100, 2800, 3400)})
    accepted = check("09.1", "scrub", **overlapping)
    assert accepted and "do not rank the two" in accepted.message


def test_09_2_two_gaps_read_with_their_intervals():
    assert check("09.2", "higher", **APART) and not check("09.2", "not distinguishable", **APART)
    assert "do the two methods' average-gap intervals overlap" in check("09.2", "higher", **CLOSE).message
    assert "direction reversed" in check("09.2", "lower", **APART).message
    assert "read the ends of the two intervals again" in check("09.2", "not distinguishable", **APART).message
    assert "not a number" in check("09.2", 0.1, **CLOSE).message


def test_09_3_why_tuning_and_evaluation_seeds_differ():
    assert "cost more runs, not fewer" in check("09.3", "to save time").message
    assert "run as published, without tuning" in check("09.3", "because published settings need them").message
    assert "one of" in check("09.3", "luck").message


def test_09_4_your_method_must_be_on_the_leaderboard_before_it_is_compared():
    missing = dict(OWN, table=TABLE[TABLE["method"] != "my_relabel"])
    assert "the table has no row for 'my_relabel'" in check("09.4", "higher", **missing).message
    assert "has a row but no numbers" in check("09.4", "higher", **dict(OWN, yours=None)).message
    close = dict(OWN, yours=mean(0.15, 0.05, 0.25))
    assert check("09.4", "not distinguishable", **close)
    assert "do the intervals of your method's average gap and the closest method's overlap" in check("09.4", "higher", **close).message
    assert "direction reversed" in check("09.4", "lower", **OWN).message
