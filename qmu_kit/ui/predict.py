"""Predict, then observe, then explain: a prediction a student records before a result is shown.

A :class:`Prediction` is a question with a multiple-choice or a number answer, shown as a widget with a
"Record my prediction" button. The notebook computes the result afterwards and passes it to
:meth:`Prediction.reveal`, which shows the student's prediction beside the measurement and puts the
explanation (the generated sentences) behind a "Reveal" fold. In a run nobody clicks (papermill,
nbval, the site's executed pages) the reveal says that no prediction was recorded and still shows the
result, so the page reads the same for a teacher preparing it.

An explanation may be generated claims (:class:`qmu_kit.report.claims.Claim`): the reveal shows their
sentences behind the fold and records them beside the notebook's metrics, as
:func:`qmu_kit.report.claims.show` does, so the notebook checks test them at every preset. A
:class:`Solution` folds an exercise's generated sentences the same way, without a prediction.

Example:
    >>> guess = Prediction("How many shots make the histogram look smooth?", choices=("10", "100", "1000"))
    >>> guess.record("1000").value
    '1000'
    >>> print(guess.reveal("1000 shots", "Shot noise shrinks as one over the square root of the shots."))
    Your prediction: 1000. The run shows: 1000 shots.
    Why: Shot noise shrinks as one over the square root of the shots.
    >>> Prediction("The AUC?", low=0, high=1).record(1.5)
    Traceback (most recent call last):
    ...
    ValueError: prediction=1.5 is out of range: the answer lies between 0 and 1
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import ipywidgets as widgets

from qmu_kit.report.claims import CLAIM_PREFIX, Claim
from qmu_kit.report.notebook import METRICS_MIME, metrics_bundle


def _sentences(explanation: Sequence[str | Claim]) -> tuple[tuple[str, ...], dict]:
    """The explanation's sentences (a claim's text, capitalized, as :func:`~qmu_kit.report.claims.show`
    writes it) and the display bundle recording its claims (empty when there are none)."""
    for item in explanation:
        if not isinstance(item, (str, Claim)):
            raise TypeError(f"explanation item {item!r} is not valid: give sentences (str) or claims (qmu_kit.report.Claim)")
    claims = [item for item in explanation if isinstance(item, Claim)]
    sentences = tuple(item if isinstance(item, str) else f"{item.text[0].upper()}{item.text[1:]}." for item in explanation)
    bundle = metrics_bundle({f"{CLAIM_PREFIX}{c.name}": c.to_dict() for c in claims}) if claims else {}
    return sentences, bundle


def _bundle(shown, record: dict) -> dict:
    """What Jupyter displays: the text, the page, and the recorded claims' metrics (when there are any)."""
    out = {"text/plain": str(shown), "text/html": shown._repr_html_()}
    if record:
        out[METRICS_MIME] = record[METRICS_MIME]
    return out


class Reveal:
    """What :meth:`Prediction.reveal` returns: the prediction, the measurement, the explanation folded."""

    def __init__(self, prediction: str | None, measured: str, explanation: Sequence[str | Claim]):
        self.prediction, self.measured = prediction, measured
        self.explanation, self._record = _sentences(explanation)

    def _said(self) -> str:
        return (f"Your prediction: {self.prediction}." if self.prediction is not None
                else "No prediction was recorded (click 'Record my prediction' above, then rerun this cell).")

    def __str__(self) -> str:
        lines = [f"{self._said()} The run shows: {self.measured}."]
        if self.explanation:
            lines.append("Why: " + " ".join(self.explanation))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        why = "".join(f"<p>{html.escape(s)}</p>" for s in self.explanation)
        return (f"<p>{html.escape(self._said())} <strong>The run shows: {html.escape(self.measured)}.</strong></p>"
                + (f"<details><summary>Reveal the explanation</summary>{why}</details>" if why else ""))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return _bundle(self, self._record)


class Solution:
    """An exercise's solution generated from the run: its sentences (or claims) folded until opened.

    Claims among the sentences are recorded beside the notebook's metrics, so the notebook checks test
    every number a solution quotes at each preset the notebook runs with.

    Example:
        >>> print(Solution("1", "Depth 3 and depth 1 are not distinguishable here."))
        Solution 1 (generated from this run): Depth 3 and depth 1 are not distinguishable here.
    """

    def __init__(self, exercise: str, *explanation: str | Claim):
        if not explanation:
            raise ValueError(f"the solution of exercise {exercise!r} needs at least one sentence or claim")
        self.exercise = str(exercise)
        self.explanation, self._record = _sentences(explanation)

    def __str__(self) -> str:
        return f"Solution {self.exercise} (generated from this run): " + " ".join(self.explanation)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        body = "".join(f"<p>{html.escape(s)}</p>" for s in self.explanation)
        return f"<details><summary>Solution {html.escape(self.exercise)} (generated from this run)</summary>{body}</details>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return _bundle(self, self._record)


class Prediction:
    """A question the student answers before the result appears.

    Args:
        question: what to predict, as the student reads it.
        choices: the options of a multiple-choice question; or
        low, high: the range of a number question (give these instead of ``choices``).
    """

    def __init__(self, question: str, choices: Sequence[str] | None = None, *, low: float | None = None,
                 high: float | None = None):
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"question={question!r} is not valid: give the question as text")
        if (choices is None) == (low is None or high is None):
            raise ValueError("give either choices=(...) for a multiple-choice question or low= and high= for a number")
        if choices is not None and (len(choices) < 2 or len(set(map(str, choices))) != len(choices)):
            raise ValueError(f"choices={tuple(choices)!r} is not valid: give at least two different options")
        if choices is None and not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"low={low!r}, high={high!r} is not a range: low must be below high, both finite")
        self.question = question.strip()
        self.choices = None if choices is None else tuple(map(str, choices))
        self.low, self.high = low, high
        self.value: str | float | None = None
        self._widget = None

    def record(self, answer) -> Prediction:
        """Record ``answer`` (what the button does); returns ``self``.

        Raises:
            ValueError: an answer that is not one of the choices, or a number outside ``[low, high]``.
        """
        if self.choices is not None:
            if str(answer) not in self.choices:
                raise ValueError(f"prediction={answer!r} is not one of the choices {self.choices}")
            self.value = str(answer)
        else:
            number = float(answer)
            if not self.low <= number <= self.high:
                raise ValueError(f"prediction={answer!r} is out of range: the answer lies between {self.low:g} and {self.high:g}")
            self.value = number
        return self

    def widget(self) -> widgets.VBox:
        """The question, the answer control and the record button (built once)."""
        if self._widget is None:
            if self.choices is not None:
                control = widgets.RadioButtons(options=self.choices, value=None, description="")
            else:
                control = widgets.BoundedFloatText(value=(self.low + self.high) / 2, min=self.low, max=self.high,
                                                   step=(self.high - self.low) / 100, description="")
            button = widgets.Button(description="Record my prediction", tooltip="record before you run the next cell")
            status = widgets.Label("")

            def recorded(_):
                if control.value is None:
                    status.value = "Pick an answer first."
                    return
                self.record(control.value)
                status.value = f"Recorded: {self.value}. Now run the next cell."

            button.on_click(recorded)
            self._widget = widgets.VBox([widgets.HTML(f"<strong>Predict:</strong> {html.escape(self.question)}"),
                                         control, widgets.HBox([button, status])])
        return self._widget

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def reveal(self, measured: str, *explanation: str | Claim) -> Reveal:
        """The result, beside the recorded prediction, with the explanation folded behind a reveal.

        ``explanation`` holds sentences or generated claims; claims are recorded as :func:`~qmu_kit.report.claims.show` records them.
        """
        shown = None if self.value is None else (f"{self.value:g}" if isinstance(self.value, float) else self.value)
        return Reveal(shown, measured, explanation)
