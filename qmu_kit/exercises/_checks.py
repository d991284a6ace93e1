"""The exercise registry, the feedback a check returns, and the readers of answers."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_ID = re.compile(r"\d\d\.\d+\Z")


@dataclass(frozen=True)
class Feedback:
    """What a check says: ``correct`` and one message (praise with the reason, or a targeted hint).

    Shows as Markdown in a notebook and as one line in a terminal; true in ``if`` when the answer is right.
    """

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return f"{self.exercise}: {'right' if self.correct else 'not yet'}. {self.message}".rstrip()

    def _repr_markdown_(self) -> str:
        mark = "✅ **Right.**" if self.correct else "💡 **Not yet.**"
        return f"{mark} {self.message}"


@dataclass(frozen=True)
class Exercise:
    """One registered exercise: its id (``"03.2"``: lesson 03, exercise 2), its question, its checker."""

    id: str
    question: str
    checker: Callable[..., Feedback | bool | str]


#: What :func:`check` says to an answer that is still ``None`` (the answer cell as handed out).
NO_ANSWER = "write your answer in my_answer first (replace None), then run this cell again."

#: id -> :class:`Exercise`, in registration order.
EXERCISES: dict[str, Exercise] = {}


class WrongAnswer(Exception):
    """Raised inside a checker to answer with a hint (an answer of the wrong kind, say)."""


def hint(message: str) -> WrongAnswer:
    """A hint to ``raise`` from a checker when the answer cannot be read or is of the wrong kind."""
    return WrongAnswer(message)


def exercise(id: str, question: str, *, replace: bool = False) -> Callable:
    """Decorator registering ``checker(answer, **context)`` as exercise ``id``.

    The checker returns a :class:`Feedback`, ``True`` (right), or a hint string (wrong); ``False``
    alone is not a hint and is refused, so every wrong answer says what to look at.
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"exercise id {id!r} is not valid: use the lesson's two digits, a dot and the exercise's number, e.g. '03.2'")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"exercise {id!r} needs its question as text, got {question!r}")

    def decorator(checker: Callable) -> Callable:
        if id in EXERCISES and not replace and EXERCISES[id].checker is not checker:
            raise ValueError(f"exercise {id!r} is already registered: pick another id or pass replace=True")
        EXERCISES[id] = Exercise(id, question.strip(), checker)
        return checker

    return decorator


def exercises(lesson: str | None = None) -> tuple[str, ...]:
    """The registered ids, all or one lesson's (``exercises("03")``)."""
    return tuple(key for key in EXERCISES if lesson is None or key.split(".")[0] == lesson)


def check(id: str, answer, **context) -> Feedback:
    """Check ``answer`` to exercise ``id``; ``context`` passes the notebook's own measured numbers.

    An ``answer`` of ``None`` (nothing written yet) gets :data:`NO_ANSWER`, not an error.

    Raises:
        ValueError: an unknown exercise id (the message lists the known ones).
        TypeError: the notebook did not pass a number the checker needs (the message names it).
    """
    if id not in EXERCISES:
        raise ValueError(f"exercise {id!r} is not known: the exercises are {', '.join(EXERCISES) or 'none yet'}")
    if answer is None:  # the notebook's answer cell as handed out: nothing written yet
        # the measured numbers are still checked, so a notebook that passes the wrong ones fails in every run
        inspect.signature(EXERCISES[id].checker).bind(answer, **context)
        return Feedback(id, False, NO_ANSWER)
    try:
        said = EXERCISES[id].checker(answer, **context)
    except WrongAnswer as wrong:
        return Feedback(id, False, str(wrong))
    if isinstance(said, Feedback):
        return said
    if said is True:
        return Feedback(id, True, "")
    if isinstance(said, str) and said:
        return Feedback(id, False, said)
    raise TypeError(f"the checker of exercise {id!r} returned {said!r}: return a Feedback, True, or a hint string")


def as_number(answer, what: str = "a number", *, low: float = -math.inf, high: float = math.inf) -> float:
    """``answer`` as a float in ``[low, high]``, or a hint saying what was expected.

    A pair (an interval) where one number is asked for, text that is not a number, or a value outside
    the range (a percentage where a fraction is asked for) each get their own hint.
    """
    if isinstance(answer, (tuple, list)):
        raise hint(f"give one number for {what}, not {len(answer)} values: an interval is two ends around one estimate")
    if isinstance(answer, bool):
        raise hint(f"give {what} as a number, not {answer}")
    try:
        value = float(str(answer).strip().rstrip("%")) if isinstance(answer, str) else float(answer)
    except (TypeError, ValueError):
        raise hint(f"give {what} as a number, e.g. 0.6; {answer!r} is not one") from None
    if math.isnan(value):
        raise hint(f"{what} is a number; NaN is not an answer")
    if not low <= value <= high:
        if high == 1 and 1 < value <= 100:
            raise hint(f"{what} is a fraction between 0 and 1; {value:g} looks like a percentage (write {value / 100:g})")
        raise hint(f"{what} lies between {low:g} and {high:g}; {value:g} does not")
    return value


def answer_in(answer, choices: Sequence[str], what: str = "the answer") -> str:
    """``answer`` as one of ``choices`` (case and surrounding spaces ignored), or a hint listing them
    (a number or an interval where a choice is asked for gets its own hint)."""
    listed = ", ".join(repr(c) for c in choices)
    if isinstance(answer, (int, float, tuple, list)) and not isinstance(answer, bool):
        raise hint(f"answer {what} with one of {listed}, not a number: read the numbers, then choose.")
    text = answer.strip().lower() if isinstance(answer, str) else None
    allowed = {choice.lower(): choice for choice in choices}
    if text not in allowed:
        raise hint(f"answer {what} with one of {listed}; {answer!r} is not one of them")
    return allowed[text]


#: The three readings of two measured numbers with 95 % intervals (:func:`compared`).
COMPARISONS = ("higher", "lower", "not distinguishable")


def compared(first, second) -> str:
    """``first`` against ``second`` (two :class:`~qmu_kit.core.stats.Estimate` s): ``"higher"`` or
    ``"lower"`` when their 95 % intervals do not overlap, else ``"not distinguishable"`` (the rule of
    :func:`qmu_kit.report.claims.rate_claim`).

    Example:
        >>> from qmu_kit.core.stats import Estimate
        >>> compared(Estimate(0.8, 700, (0.77, 0.83)), Estimate(0.7, 700, (0.66, 0.73)))
        'higher'
        >>> compared(Estimate(0.63, 700, (0.59, 0.67)), Estimate(0.68, 700, (0.64, 0.71)))
        'not distinguishable'
    """
    if first.ci95[0] > second.ci95[1]:
        return "higher"
    if first.ci95[1] < second.ci95[0]:
        return "lower"
    return "not distinguishable"


def comparison_hint(said: str, truth: str, first: str, second: str) -> str:
    """The hint for a wrong reading of ``first`` against ``second`` (``said`` and ``truth`` from
    :data:`COMPARISONS`), naming the mistake without giving the reading."""
    if truth == "not distinguishable":
        return (f"the point estimates differ, but a difference counts only beyond the 95 % intervals: "
                f"do the intervals of {first} and {second} overlap?")
    if said == "not distinguishable":
        return f"read the ends of the two intervals again: do the intervals of {first} and {second} overlap?"
    return f"you have the direction reversed: which is larger, {first} or {second}?"
