"""Predict, then observe, then explain: a prediction a student records before a result is shown.

A :class:`Prediction` is a question with a multiple-choice or a number answer, shown as a widget with a
"Record my prediction" button. The notebook computes the result afterwards and passes it to
:meth:`Prediction.reveal`, which shows the student's prediction beside the measurement and puts the
explanation (the generated sentences) behind a "Reveal" fold. In a run nobody clicks (papermill,
nbval, the site's executed pages) the reveal says that no prediction was recorded and still shows the
result, so the page reads the same for a teacher preparing it.

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


class Reveal:
    """What :meth:`Prediction.reveal` returns: the prediction, the measurement, the explanation folded."""

    def __init__(self, prediction: str | None, measured: str, explanation: Sequence[str]):
        self.prediction, self.measured, self.explanation = prediction, measured, tuple(explanation)

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

    def reveal(self, measured: str, *explanation: str) -> Reveal:
        """The result, beside the recorded prediction, with the explanation folded behind a reveal."""
        shown = None if self.value is None else (f"{self.value:g}" if isinstance(self.value, float) else self.value)
        return Reveal(shown, measured, explanation)
