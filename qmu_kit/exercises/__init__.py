"""Exercises that answer back: a student calls :func:`check` with an exercise's id and an answer.

Every lesson's exercises are registered here (one private module per lesson, ``_lessonNN``), each as a
function that reads the answer, and where it needs them the notebook's own measured numbers, and
returns a :class:`Feedback`: right, or what is wrong with a targeted hint (a wrong sign, an interval
read as a point, AUC confused with accuracy), never the solution itself. The solutions stay in the
notebooks behind their reveal. Ids are the lesson's two digits, a dot and the exercise's number
(``"02.1"``); a lesson with an optional advanced notebook numbers that notebook's exercises from 11
(``"03.11"`` is the first exercise of ``03b_unlearning_in_depth``).

Example:
    >>> from qmu_kit.core import stats
    >>> aucs = dict(basic=stats.Estimate(0.52, 400, (0.49, 0.55), "auc"),
    ...             hybrid=stats.Estimate(0.61, 400, (0.57, 0.65), "auc"))
    >>> check("02.1", "hybrid", **aucs).correct
    True
    >>> print(check("02.1", "basic", **aucs))  # doctest: +ELLIPSIS
    02.1: not yet. leaking more means ... a larger AUC, not a larger accuracy. ...
    >>> check("99.1", "anything")
    Traceback (most recent call last):
    ...
    ValueError: exercise '99.1' is not known: the exercises are ...

A teacher or student adds an exercise in a few lines::

    @exercise("10.1", "Which of the two AUCs is larger?")
    def _larger(answer, *, first, second):
        right = answer_in(answer, ("first", "second")) == ("first" if first > second else "second")
        return True if right else "compare the two numbers again: which is larger?"

A checker returns a :class:`Feedback`, or ``True`` for right, or a hint string for wrong.
"""

from qmu_kit.exercises._checks import (
    EXERCISES,
    Exercise,
    Feedback,
    COMPARISONS,
    NO_ANSWER,
    answer_in,
    as_number,
    check,
    compared,
    comparison_hint,
    exercise,
    exercises,
    hint,
)
from qmu_kit.exercises import (  # noqa: F401  (register their exercises)
    _lesson00, _lesson01, _lesson02, _lesson03, _lesson04, _lesson05, _lesson06, _lesson07, _lesson08, _lesson09,
)

from qmu_kit.exercises._lesson01 import DEPTH_TRENDS, depth_trend
from qmu_kit.exercises._lesson02 import ENTROPY_CHOICES, NOTEBOOK_PARAMETERS
from qmu_kit.exercises._lesson09 import SEED_REASONS

__all__ = ["COMPARISONS", "DEPTH_TRENDS", "ENTROPY_CHOICES", "EXERCISES", "Exercise", "Feedback", "NO_ANSWER",
           "NOTEBOOK_PARAMETERS", "SEED_REASONS", "answer_in", "as_number", "check", "compared", "comparison_hint", "depth_trend",
           "exercise", "exercises", "hint"]
