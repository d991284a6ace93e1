"""Exercises that answer back: a student calls :func:`check` with an exercise's id and an answer.

Every lesson's exercises are registered here (one private module per lesson, ``_lessonNN``), each as a
function that reads the answer, and where it needs them the notebook's own measured numbers, and
returns a :class:`Feedback`: right, or what is wrong with a targeted hint (a wrong sign, an interval
read as a point, AUC confused with accuracy), never the solution itself. The solutions stay in the
notebooks behind their reveal.

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
        return answer_in(answer, ("first", "second"), "10.1") == ("first" if first > second else "second")

A checker returns a :class:`Feedback`, or ``True`` for right, or a hint string for wrong.
"""

from qmu_kit.exercises._checks import (
    EXERCISES,
    Exercise,
    Feedback,
    answer_in,
    as_number,
    check,
    exercise,
    exercises,
    hint,
)
from qmu_kit.exercises import _lesson02, _lesson04, _lesson05, _lesson06, _lesson07, _lesson08  # noqa: F401  (register their exercises)

__all__ = ["EXERCISES", "Exercise", "Feedback", "answer_in", "as_number", "check", "exercise", "exercises", "hint"]
