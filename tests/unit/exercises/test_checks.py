"""The exercise registry, the answer readers and the feedback (lesson checks have their own files)."""

import doctest

import pytest

import qmu_kit.exercises as exercises
from qmu_kit.core.stats import Estimate
from qmu_kit.exercises import Feedback, answer_in, as_number, check, exercise


def test_the_package_example_runs():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(exercises, "qmu_kit.exercises"):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.fixture
def scratch():
    """A throw-away exercise, removed afterwards."""
    @exercise("98.1", "Which is larger, 'first' or 'second'?")
    def _larger(answer, *, first, second):
        said = answer_in(answer, ("first", "second"))
        return True if said == ("first" if first > second else "second") else "compare the two numbers again"

    yield "98.1"
    del exercises.EXERCISES["98.1"]


def test_a_student_adds_an_exercise_in_a_few_lines(scratch):
    assert scratch in exercises.exercises("98")
    assert check(scratch, " First ", first=2, second=1) == Feedback("98.1", True, "")
    wrong = check(scratch, "second", first=2, second=1)
    assert not wrong and wrong.message == "compare the two numbers again"
    assert str(wrong) == "98.1: not yet. compare the two numbers again"
    assert "Not yet" in wrong._repr_markdown_()
    unreadable = check(scratch, "third", first=2, second=1)
    assert not unreadable.correct and "'first', 'second'" in unreadable.message and "'third'" in unreadable.message


def test_bad_exercises_and_checkers_are_refused(scratch):
    with pytest.raises(ValueError, match=r"exercise '98\.1' is already registered"):
        exercise("98.1", "again")(lambda answer: True)
    with pytest.raises(ValueError, match=r"exercise id '3\.2' is not valid"):
        exercise("3.2", "a question")
    with pytest.raises(ValueError, match="needs its question as text"):
        exercise("98.2", " ")
    with pytest.raises(ValueError, match=r"exercise '99\.9' is not known: the exercises are .*98\.1"):
        check("99.9", 1)
    exercise("98.3", "a checker that says only False")(lambda answer: False)
    try:
        with pytest.raises(TypeError, match=r"returned False: return a Feedback, True, or a hint string"):
            check("98.3", 1)
    finally:
        del exercises.EXERCISES["98.3"]
    with pytest.raises(TypeError, match="hybrid"):  # the notebook forgot to pass a measured number
        check("02.1", "basic", basic=Estimate(0.5, 10, (0.4, 0.6), "auc"))


@pytest.mark.parametrize("answer, hint", [
    ((0.5, 0.6), "not 2 values: an interval is two ends around one estimate"),
    ("about a half", "'about a half' is not one"),
    (62, "looks like a percentage (write 0.62)"),
    (float("nan"), "NaN is not an answer"),
    (True, "not True"),
    (-0.2, "lies between 0 and 1; -0.2 does not"),
])
def test_as_number_names_what_is_wrong(answer, hint):
    with pytest.raises(exercises._checks.WrongAnswer, match=None) as raised:
        as_number(answer, "the AUC", low=0, high=1)
    assert hint in str(raised.value)


def test_as_number_reads_text_and_percent_signs():
    assert as_number(" 0.25 ", low=0, high=1) == 0.25
    assert as_number("40%", high=100) == 40.0


AUCS = dict(basic=Estimate(0.52, 400, (0.49, 0.55), "auc"), hybrid=Estimate(0.61, 400, (0.57, 0.65), "auc"))
CLOSE = dict(basic=Estimate(0.55, 400, (0.50, 0.60), "auc"), hybrid=Estimate(0.58, 400, (0.53, 0.63), "auc"))


def test_lesson_02_exercise_1_which_model_leaks_more():
    assert check("02.1", "hybrid", **AUCS) and check("02.1", "cannot tell", **CLOSE)
    assert "a larger AUC, not a larger accuracy" in check("02.1", "basic", **AUCS).message
    assert "intervals, not only their point estimates" in check("02.1", "hybrid", **CLOSE).message
    assert "do not overlap" in check("02.1", "cannot tell", **AUCS).message
