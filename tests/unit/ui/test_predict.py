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


def _claim(name="sweep"):
    from qmu_kit.core.stats import Estimate
    from qmu_kit.report import rate_claim

    return rate_claim("at depth 10, the accuracy", Estimate(0.82, 700, (0.79, 0.85)),
                      "the accuracy at depth 1", Estimate(0.68, 700, (0.65, 0.72)), name=name)


def test_claims_behind_a_reveal_are_folded_and_recorded_as_show_records_them():
    from qmu_kit.report import METRICS_MIME, RECORDED

    claim = _claim("predict_test_sweep")
    shown = Prediction("Depth?", choices=("up", "down")).reveal("0.82 at depth 10", claim, "One run is not a trend.")
    assert shown.explanation == (claim.text[0].upper() + claim.text[1:] + ".", "One run is not a trend.")
    bundle = shown._repr_mimebundle_()
    assert bundle[METRICS_MIME] == {"claim:predict_test_sweep": claim.to_dict()}
    assert RECORDED["claim:predict_test_sweep"] == claim.to_dict()
    assert "<details><summary>Reveal the explanation</summary><p>At depth 10, the accuracy 0.82" in bundle["text/html"]
    assert METRICS_MIME not in Prediction("Q", choices=("a", "b")).reveal("x", "plain.")._repr_mimebundle_()


def test_a_solution_folds_its_generated_sentences_and_records_its_claims():
    from qmu_kit.report import METRICS_MIME
    from qmu_kit.ui import Solution

    claim = _claim("predict_test_solution")
    solution = Solution("2", claim)
    assert str(solution).startswith("Solution 2 (generated from this run): At depth 10, the accuracy 0.82 [0.79, 0.85]")
    page = solution._repr_mimebundle_()
    assert page["text/html"].startswith("<details><summary>Solution 2 (generated from this run)</summary><p>At depth 10")
    assert list(page[METRICS_MIME]) == ["claim:predict_test_solution"]
    with pytest.raises(ValueError, match="needs at least one sentence or claim"):
        Solution("3")
    with pytest.raises(TypeError, match="explanation item 0.5 is not valid"):
        Solution("3", 0.5)


def test_a_notebook_reads_the_recorded_claims_back_from_a_reveal():
    """The display IPython makes of a reveal carries the metrics, as read_metrics reads them from an executed notebook."""
    from IPython.core.interactiveshell import InteractiveShell

    from qmu_kit.report import read_metrics

    data, _ = InteractiveShell.instance().display_formatter.format(Prediction("Q", low=0, high=1).reveal("0.8", _claim("predict_test_read")))
    notebook = {"cells": [{"outputs": [{"output_type": "display_data", "data": data}]}]}
    assert read_metrics(notebook)["claim:predict_test_read"]["verdict"] == "above"
