"""Lessons 00, 01 and 02: every exercise's reference solution passes its check, typical wrong answers get
their own hint, no hint gives the solution away, and an unanswered cell (None) is a friendly message."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises import COMPARISONS, DEPTH_TRENDS, ENTROPY_CHOICES, NO_ANSWER, NOTEBOOK_PARAMETERS, check, compared, depth_trend, exercises
from qmu_kit.leakage import shot_noise_std
from tests.unit.exercises.test_lesson09 import REFERENCE as LESSON_09

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
STOPS = ("10", "30", "100", "300", "1000", "3000", "10000", "exact")


def rate(value, low, high, n=700, kind="proportion"):
    return Estimate(value, n, (low, high), kind)


#: The classroom run's measured test accuracies by depth (the issue's numbers) and a sweep that rises at every step.
SWEEP = {1: rate(0.68, 0.65, 0.72), 2: rate(0.63, 0.60, 0.67), 4: rate(0.75, 0.71, 0.78), 10: rate(0.82, 0.79, 0.85)}
RISING = {1: rate(0.50, 0.46, 0.54), 2: rate(0.60, 0.56, 0.64), 4: rate(0.70, 0.66, 0.74), 10: rate(0.80, 0.77, 0.83)}
FLAT = {1: rate(0.70, 0.66, 0.73), 10: rate(0.72, 0.68, 0.75)}
APART = dict(depth_1=rate(0.85, 0.82, 0.88), depth_3=rate(0.94, 0.92, 0.96))
CLOSE = dict(depth_1=rate(0.91, 0.88, 0.93), depth_3=rate(0.94, 0.92, 0.96))


def z_of_theta(theta):
    """The primer's exact <Z> of wire 0 after U3(theta, 0, 0) on |0>."""
    return math.cos(theta)


#: Every exercise of the three lessons: its reference solution, the measured numbers it is read from.
REFERENCE = {
    "00.1": ("1000", dict(expval=0.4, target=0.05, stops=STOPS)),
    "00.2": (0, dict(expval=1.0, spread=0.0)),
    "00.3": ("preset, model, depth, shots, attack, seed", {}),
    "00.4": (math.pi / 2, dict(z_of_theta=z_of_theta)),
    "01.1": ("rises overall, not at every step", dict(accuracies=SWEEP)),
    "01.2": ("not distinguishable", CLOSE),
    "01.3": (64, dict(n_qubits=8, carried=64)),
    "02.1": ("hybrid", dict(basic=rate(0.43, 0.38, 0.48, 540, "auc"), hybrid=rate(0.60, 0.56, 0.64, 540, "auc"))),
    "02.2": ("not distinguishable", dict(exact=rate(0.60, 0.56, 0.64, 540, "auc"), ten_shots=rate(0.57, 0.53, 0.61, 540, "auc"))),
    "02.3": ("the true label", {}),
    "02.4": (".venv/bin/papermill notebooks/02_membership_leakage.ipynb out.ipynb -p attack loss -p shots 100", {}),
}


def test_every_exercise_of_the_three_lessons_is_registered_and_has_a_reference_here():
    assert set(exercises("00") + exercises("01") + exercises("02")) == set(REFERENCE)


#: Every lesson whose references are (id: (answer, measured)) tables: these lessons' and lesson 09's.
REFERENCES = {**REFERENCE, **LESSON_09}


@pytest.mark.parametrize("id", sorted(REFERENCES))
def test_the_reference_solution_passes(id):
    answer, measured = REFERENCES[id]
    feedback = check(id, answer, **measured)
    assert feedback.correct, feedback.message


@pytest.mark.parametrize("id", sorted(REFERENCES))
def test_an_unanswered_cell_is_a_friendly_message_not_an_error(id):
    feedback = check(id, None, **REFERENCES[id][1])
    assert not feedback.correct and feedback.message == NO_ANSWER and "my_answer" in str(feedback)


def test_an_unanswered_cell_still_needs_the_measured_numbers():
    with pytest.raises(TypeError, match="depth_3"):
        check("01.2", None, depth_1=CLOSE["depth_1"])


#: (exercise, a typical wrong answer, the measured numbers, what its hint must say)
WRONG = [
    ("00.1", "300", REFERENCE["00.1"][1], "still not below the target"),
    ("00.1", 337, REFERENCE["00.1"][1], "is not a stop of the slider"),
    ("00.1", "3000", REFERENCE["00.1"][1], "is it the smallest"),
    ("00.1", "exact", REFERENCE["00.1"][1], "asks for the smallest number of shots"),
    ("00.2", 0.1, REFERENCE["00.2"][1], "1 / sqrt(S) is the largest the spread can be"),
    ("00.3", "preset model depth shot attack seed", {}, "'shot' is misspelled"),
    ("00.3", ["method", "shots"], {}, "'method' is not in notebook 02's parameters cell"),
    ("00.3", ["shots", "attack"], {}, "4 more can be changed"),
    ("00.4", 90, REFERENCE["00.4"][1], "looks like degrees"),
    ("00.4", math.pi, REFERENCE["00.4"][1], "flipped to |1>"),
    ("00.4", 0, REFERENCE["00.4"][1], "still |0>"),
    ("00.4", 1.0, REFERENCE["00.4"][1], "gives <Z> = +0.54"),
    ("01.1", "rises at every step", dict(accuracies=SWEEP), "compare each step's two intervals"),
    ("01.1", "no rise shown", dict(accuracies=SWEEP), "deepest model's interval with the shallowest's"),
    ("01.1", "rises overall, not at every step", dict(accuracies=RISING), "is there a step whose two intervals overlap"),
    ("01.1", 0.82, dict(accuracies=SWEEP), "not a number"),
    ("01.2", "higher", CLOSE, "do the intervals of depth 3 and depth 1 overlap"),
    ("01.2", "lower", APART, "direction reversed"),
    ("01.2", "not distinguishable", APART, "read the ends of the two intervals again"),
    ("01.2", (0.92, 0.96), CLOSE, "not a number"),
    ("01.3", 256, REFERENCE["01.3"][1], "every amplitude of the state"),
    ("01.3", 8, REFERENCE["01.3"][1], "the number of qubits"),
    ("01.3", 192, REFERENCE["01.3"][1], "hold no pixel"),
    ("02.1", "basic", REFERENCE["02.1"][1], "an AUC below 0.5 is not a leak in reverse"),
    ("02.1", 0.6, REFERENCE["02.1"][1], "not a number"),
    ("02.2", "lower", REFERENCE["02.2"][1], "expected is not measured"),
    ("02.2", "higher", dict(exact=rate(0.60, 0.56, 0.64, 540, "auc"), ten_shots=rate(0.51, 0.47, 0.55, 540, "auc")),
     "direction reversed"),
    ("02.2", 0.57, REFERENCE["02.2"][1], "not a number"),
    ("02.3", "the number of shots", {}, "shots add noise to every signal alike"),
    ("02.3", "the class probabilities", {}, "computed from the class probabilities alone"),
    ("02.4", "papermill notebooks/02_membership_leakage.ipynb out.ipynb -p attack loss -p shot 100", {},
     "'shot' is not a parameter of notebook 02"),
    ("02.4", "papermill notebooks/02_membership_leakage.ipynb out.ipynb -p attack mlp -p shots 100", {}, "check the value of attack"),
    ("02.4", "papermill notebooks/02_membership_leakage.ipynb out.ipynb", {}, "without them papermill runs the defaults"),
    ("02.4", "python notebooks/02_membership_leakage.ipynb", {}, "start the command with papermill"),
]


@pytest.mark.parametrize("id, answer, measured, hint", WRONG, ids=[f"{w[0]}-{w[1]!r}"[:40] for w in WRONG])
def test_a_typical_wrong_answer_gets_its_own_hint(id, answer, measured, hint):
    feedback = check(id, answer, **measured)
    assert not feedback.correct
    assert hint in feedback.message, feedback.message


#: The choices of the multiple-choice exercises.
CHOICES = {"01.1": DEPTH_TRENDS, "01.2": COMPARISONS, "02.1": ("basic", "hybrid", "cannot tell"), "02.2": COMPARISONS,
           "02.3": ENTROPY_CHOICES}


@pytest.mark.parametrize("id, answer, measured, hint", WRONG, ids=[f"{w[0]}-{w[1]!r}"[:40] for w in WRONG])
def test_no_hint_gives_the_solution_away(id, answer, measured, hint):
    message = check(id, answer, **measured).message.lower()
    if id in CHOICES:  # naming the right choice is allowed only in a list of all of them
        solution = str(REFERENCE[id][0]) if id != "02.2" or "ten_shots" not in measured else compared(measured["ten_shots"], measured["exact"])
        named = [choice for choice in CHOICES[id] if f"'{choice}'" in message]
        assert f"'{solution}'" not in message or len(named) == len(CHOICES[id]), message
    elif id == "00.1":
        assert "1000" not in message.replace(", ".join(STOPS), "")  # the slider's stops may be listed
    elif id == "00.2":
        assert "is 0" not in message and "0.0" not in message
    elif id == "00.4":
        assert "1.57" not in message and "pi / 2" not in message and "pi/2" not in message
    elif id == "00.3":
        assert not all(name in message for name in NOTEBOOK_PARAMETERS)
    elif id == "01.3":
        assert "64" not in message.split()
    elif id == "02.4":
        assert "-p attack loss" not in message and "-p shots 100" not in message


def test_the_readings_follow_the_intervals():
    assert compared(*CLOSE.values()) == "not distinguishable" and compared(APART["depth_3"], APART["depth_1"]) == "higher"
    assert depth_trend(SWEEP) == DEPTH_TRENDS[1] and depth_trend(RISING) == DEPTH_TRENDS[0] and depth_trend(FLAT) == DEPTH_TRENDS[2]
    with pytest.raises(ValueError, match="at least two depths"):
        depth_trend({1: SWEEP[1]})


def test_the_smallest_stop_follows_the_formula_at_other_settings():
    # at <Z> = 0 the spread 1 / sqrt(S) is below 0.05 from S = 401: the first stop is 1000; below 0.1 from 101: 300
    assert check("00.1", "300", expval=0.0, target=0.1, stops=STOPS).correct
    assert shot_noise_std(0.0, 100) == pytest.approx(0.1)  # exactly at the target is not below it
    with pytest.raises(ValueError, match="target=0.0001 is out of range"):
        check("00.1", "10", expval=0.4, target=1e-4, stops=STOPS)


def test_the_rerun_parameters_are_notebook_02s():
    import nbformat

    notebook = nbformat.read(NOTEBOOKS / "02_membership_leakage.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    names = tuple(node.targets[0].id for node in ast.parse(cell.source).body)
    assert names == NOTEBOOK_PARAMETERS


def test_the_primer_angle_is_checked_on_the_circuit_it_is_given():
    # a circuit whose <Z> crosses 0 elsewhere: the check follows the circuit, not a stored angle
    shifted = dict(z_of_theta=lambda theta: math.cos(theta + 0.5))
    assert check("00.4", math.pi / 2 - 0.5, **shifted).correct
    assert not check("00.4", math.pi / 2, **shifted).correct
    assert check("00.4", float(np.pi / 2), **REFERENCE["00.4"][1]).correct
