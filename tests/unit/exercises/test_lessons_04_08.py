"""Lessons 04-08: every reference solution passes its check; typical wrong answers get their own hint,
and no hint gives the solution away."""

import math
import re
from types import SimpleNamespace

import pytest

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises import check, exercises
from qmu_kit.exercises._lesson07 import models_needed
from qmu_kit.exercises._readings import half_width_factor
from qmu_kit.studies.verification import max_measurable_epsilon
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, register


def auc(value, low, high, n=200):
    return Estimate(value, n, (low, high), "auc")


def rate(value, low, high, n=100):
    return Estimate(value, n, (low, high), "proportion")


ACCURACY = {10: rate(0.80, 0.74, 0.86), 30: rate(0.92, 0.905, 0.94), 100: rate(0.93, 0.91, 0.95),
            1000: rate(0.95, 0.93, 0.97), None: rate(0.95, 0.93, 0.97)}
BELOW_THEN_ABOVE = {10: rate(0.80, 0.74, 0.86), 30: rate(0.905, 0.89, 0.92), 100: rate(0.93, 0.91, 0.95), None: rate(0.95, 0.93, 0.97)}
NOWHERE = {10: rate(0.50, 0.4, 0.6), None: rate(0.91, 0.87, 0.95)}
FAKE_CHANCE, FAKE_ABOVE, FAKE_BELOW = auc(0.56, 0.45, 0.67, 60), auc(0.70, 0.60, 0.80, 60), auc(0.35, 0.25, 0.45, 60)
DIFF_NONE, DIFF_DOWN = Estimate(-0.02, 5, (-0.06, 0.02), "difference"), Estimate(-0.08, 5, (-0.12, -0.04), "difference")
STREISAND_SAME = dict(method=auc(0.58, 0.52, 0.64, 8), retrain=auc(0.55, 0.49, 0.61, 8))
STREISAND_HIGH = dict(method=auc(0.80, 0.74, 0.86, 8), retrain=auc(0.55, 0.49, 0.61, 8))
GAP = dict(train=rate(0.95, 0.88, 0.98, 80), test=rate(0.70, 0.60, 0.79, 80))


class YourMethod:
    """A method defined outside the kit (the test module), registered for 06.4 only."""


@pytest.fixture
def your_method():
    register("yours_06", label="Yours", colour="#000000")(YourMethod)
    yield "yours_06"
    UNLEARNING_METHODS.unregister("yours_06")


#: (exercise, the reference solution, the notebook's measured numbers)
SOLUTIONS = [
    ("04.1", half_width_factor(5, 8), dict(n_seeds=5)),
    ("04.1", round(half_width_factor(3, 8), 2), dict(n_seeds=3)),
    ("04.2", 30, dict(accuracy=ACCURACY)),
    ("04.2", 100, dict(accuracy=BELOW_THEN_ABOVE)),
    ("04.2", "none", dict(accuracy=NOWHERE)),
    ("04.3", "epochs run out", dict(ga_exact=[0.2, 0.0, 0.0], target=0.0)),
    ("05.1", 7.24, dict(n_seeds=5)),
    ("05.2", "no", dict(auc=FAKE_CHANCE)),
    ("05.2", "above", dict(auc=FAKE_ABOVE)),
    ("05.3", "no difference", dict(difference=DIFF_NONE)),
    ("05.3", "lower", dict(difference=DIFF_DOWN)),
    ("06.1", 1.09, dict(models=4)),  # the solution's rounding
    ("06.1", 1.085, dict(models=4)),
    ("06.1", max_measurable_epsilon(8), dict(models=8)),
    ("06.2", "no", {}),
    ("06.3", "not distinguishable", STREISAND_SAME),
    ("06.3", "higher", STREISAND_HIGH),
    ("07.1", round(half_width_factor(3, 5), 2), dict(n_seeds=3)),
    ("07.2", "smaller", dict(rdp=3.83, prv=3.58)),
    ("07.3", 12, {}),
    ("08.1", 0.25, GAP),
    ("08.1", "0.25", GAP),
    ("08.2", SimpleNamespace(models={"original": SimpleNamespace(attacks={"loss": 1, "lira": 2})}), {}),
    ("08.3", "not known", {}),
    ("08.4", "flatter", {}),
]

#: (exercise, a typical wrong answer, the numbers, words of its specific hint, the solution the hint must not name)
WRONG = [
    ("04.1", math.sqrt(8 / 5), dict(n_seeds=5), "the 1/sqrt(n) part alone", f"{half_width_factor(5, 8):.2f}"),
    ("04.1", 1 / half_width_factor(5, 8), dict(n_seeds=5), "the other way round", f"{half_width_factor(5, 8):.2f}"),
    ("04.1", 8 / 5, dict(n_seeds=5), "not like the number itself", f"{half_width_factor(5, 8):.2f}"),
    ("04.2", 10, dict(accuracy=ACCURACY), "mean test accuracy itself is below", "30"),
    ("04.2", 30, dict(accuracy=BELOW_THEN_ABOVE), "not only the point estimate", "100"),  # interval read as a point
    ("04.2", 1000, dict(accuracy=ACCURACY), "so it does at fewer shots", "30"),
    ("04.2", "exact", dict(accuracy=NOWHERE), "not only the point estimate", "none"),
    ("04.2", 50, dict(accuracy=ACCURACY), "was not swept", "'30'"),
    ("04.3", "shot noise", dict(ga_exact=[0.2, 0.0, 0.0], target=0.0), "no shot noise", "epochs run out"),
    ("04.3", "it overshoots", dict(ga_exact=[0.0], target=0.0), "below the target", "epochs run out"),
    ("05.1", half_width_factor(5, 2), dict(n_seeds=5), "the other way round", "7.24"),
    ("05.1", 12.71 / 2.78, dict(n_seeds=5), "the t factor alone", "7.24"),
    ("05.2", "above", dict(auc=FAKE_CHANCE), "point estimate is not the answer", "no"),  # interval read as a point
    ("05.2", "no", dict(auc=FAKE_ABOVE), "outside the interval", "above"),
    ("05.2", "above", dict(auc=FAKE_BELOW), "other side of 0.5", "below"),
    ("05.3", "higher", dict(difference=DIFF_DOWN), "its sign says", "lower"),  # wrong sign
    ("05.3", "lower", dict(difference=DIFF_NONE), "excludes 0", "no difference"),
    ("06.1", math.log(3), dict(models=4), "delta takes its share", "1.09"),
    ("06.1", math.log10(0.99 * 4 - 1), dict(models=4), "natural logarithm", "1.09"),
    ("06.2", "yes", {}, "more shots", "no"),
    ("06.3", "higher", STREISAND_SAME, "not with 0.5", "not distinguishable"),
    ("06.3", "not distinguishable", STREISAND_HIGH, "do not overlap", "higher"),
    ("06.3", "lower", STREISAND_HIGH, "which interval lies above", "higher"),
    ("07.1", math.sqrt(5 / 3), dict(n_seeds=3), "the 1/sqrt(n) part alone", f"{half_width_factor(3, 5):.2f}"),
    ("07.2", "larger", dict(rdp=3.83, prv=3.58), "tighter accountant", "smaller"),  # epsilon read backwards
    ("07.3", 10, {}, "2.5 %, not 5 %", "12"),
    ("07.3", 24, {}, "per side", "12"),
    ("07.3", 3, {}, "still below e^epsilon", "12"),
    ("08.1", -0.25, GAP, "wrong sign", "0.25"),
    ("08.1", 30, GAP, "looks like a percentage", "0.25"),
    ("08.1", (0.88, 0.98), GAP, "an interval is two ends", "0.25"),
    ("08.2", SimpleNamespace(models={"original": SimpleNamespace(attacks={"loss": 1})}), {}, "attacks=('loss', 'lira')", "scaled logit"),
    ("08.3", "counted", {}, "does it run yours", "not known"),
    ("08.4", "sharper", {}, "exponentiates", "flatter"),
    ("08.4", "unchanged", {}, "not the identity", "flatter"),
]


def test_every_exercise_of_lessons_04_to_08_is_registered_and_tested(your_method):
    ids = {i for lesson in ("04", "05", "06", "07", "08") for i in exercises(lesson)}
    assert ids == {"04.1", "04.2", "04.3", "05.1", "05.2", "05.3", "06.1", "06.2", "06.3", "06.4",
                   "07.1", "07.2", "07.3", "08.1", "08.2", "08.3", "08.4"}
    assert ids <= {case[0] for case in SOLUTIONS} | {"06.4"}
    assert ids <= {case[0] for case in WRONG} | {"06.4"}


@pytest.mark.parametrize("id, answer, measured", SOLUTIONS, ids=[f"{c[0]}-{c[1]!r:.20}" for c in SOLUTIONS])
def test_the_reference_solution_passes(id, answer, measured):
    feedback = check(id, answer, **measured)
    assert feedback.correct, feedback.message


@pytest.mark.parametrize("id, answer, measured, words, solution", WRONG, ids=[f"{c[0]}-{c[1]!r:.20}" for c in WRONG])
def test_a_typical_wrong_answer_gets_its_hint_without_the_solution(id, answer, measured, words, solution):
    feedback = check(id, answer, **measured)
    assert not feedback.correct
    assert words in feedback.message
    assert not re.search(rf"(?<![\w.']){re.escape(solution)}(?![\w.])", feedback.message), feedback.message


def test_06_4_knows_your_method_from_the_kits(your_method):
    kit_only = SimpleNamespace(methods={"retrain": 0, "none": 0, "ga": 0})
    assert not check("06.4", kit_only) and "register yours" in check("06.4", kit_only).message
    assert check("06.4", SimpleNamespace(methods={**kit_only.methods, your_method: 0}))
    assert "give the result that verify" in check("06.4", your_method).message


def test_a_single_seed_has_no_interval_to_narrow():
    assert "one seed gives no t-interval" in check("04.1", 1.2, n_seeds=1).message


def test_07_3_counts_as_clopper_pearson_does():
    assert models_needed(1.0, 0.95) == 12 and models_needed(1.0, 0.90) == 10
    tail = 0.025 ** (1 / 12)
    assert tail / (1 - tail) > math.e > 0.025 ** (1 / 11) / (1 - 0.025 ** (1 / 11))
