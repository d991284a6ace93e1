"""Predictions recorded before a reveal: the widget, the ranges, the reveal with and without a prediction."""

import pytest

from qmu_kit.ui import Prediction


def test_the_button_records_the_choice_and_the_reveal_shows_it_beside_the_result():
    guess = Prediction("Which model leaks more?", choices=("basic", "hybrid"))
    box = guess.widget()
    control, (button, status) = box.children[1], box.children[2].children
    button.click()
    assert guess.value is None and status.value == "Pick an answer first."
    control.value = "hybrid"
    button.click()
    assert guess.value == "hybrid" and "Recorded: hybrid" in status.value
    shown = guess.reveal("hybrid AUC 0.61 [0.57, 0.65] (N = 400)", "An attack separates members better.")
    assert str(shown).startswith("Your prediction: hybrid. The run shows: hybrid AUC 0.61")
    page = shown._repr_html_()
    assert "<details><summary>Reveal the explanation</summary><p>An attack separates members better.</p></details>" in page


def test_an_unclicked_run_says_no_prediction_was_recorded_and_still_shows_the_result():
    shown = Prediction("The AUC?", low=0, high=1).reveal("0.61")
    assert "No prediction was recorded" in str(shown) and "The run shows: 0.61." in str(shown)
    assert "<details>" not in shown._repr_html_()  # nothing to fold


def test_a_number_prediction_keeps_its_range():
    guess = Prediction("The AUC?", low=0.0, high=1.0)
    guess.widget().children[1].value = 0.7
    guess.widget().children[2].children[0].click()
    assert guess.value == 0.7 and "Your prediction: 0.7." in str(guess.reveal("0.61"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(question=" "), "question=' ' is not valid"),
    (dict(question="Q"), "give either choices"),
    (dict(question="Q", choices=("a",)), "at least two different options"),
    (dict(question="Q", choices=("a", "a")), "at least two different options"),
    (dict(question="Q", low=1, high=0), "low must be below high"),
    (dict(question="Q", choices=("a", "b"), low=0, high=1), "give either choices"),
])
def test_bad_questions_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Prediction(**kwargs)


def test_a_choice_outside_the_options_is_refused():
    with pytest.raises(ValueError, match=r"prediction='maybe' is not one of the choices \('yes', 'no'\)"):
        Prediction("Q", choices=("yes", "no")).record("maybe")
