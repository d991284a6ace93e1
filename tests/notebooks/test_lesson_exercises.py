"""Lessons that answer back: every registered exercise of a lesson has its check cell in the notebook,
right after the exercise, starting from an unanswered ``my_answer = None``; every prediction is revealed
in a later cell. (Whether the checks run and what the reveals and solutions state is the nbval pass's
and the paper preset's business: they execute these cells and check every recorded claim.)"""

import re

import nbformat
import pytest

from qmu_kit.exercises import exercises
from tests.notebook_tools import NOTEBOOKS

#: The lessons whose exercises are all checked, and the predictions each asks before a key result.
LESSONS = {"00_start_here": ["spread_guess"], "01_qnn_classifiers": ["depth_guess"], "02_membership_leakage": ["auc_guess"],
           "09_which_unlearning_method": []}


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_every_exercise_has_its_check_cell_right_after_it(name):
    cells = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
    lesson = name[:2]
    registered = exercises(lesson)
    assert registered, f"lesson {lesson} registers no exercises"
    for id in registered:
        number = id.split(".")[1]
        heading = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and f"### Exercise {number}\n" in c.source + "\n")
        following = next(c for c in cells[heading + 1:] if c.cell_type == "code")
        assert f'check("{id}", my_answer' in following.source, f"{name}: exercise {number}'s next code cell must check {id}"
        assert re.search(r"^my_answer = None\b", following.source, flags=re.MULTILINE), f"{name}: {id} must start unanswered"
        assert "<details><summary>Solution" in cells[heading].source, f"{name}: exercise {number} needs its folded solution"


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_every_prediction_comes_before_its_reveal(name):
    code = [c.source for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code"]
    for guess in LESSONS[name]:
        asked = next(i for i, source in enumerate(code) if re.search(rf"^{guess} = Prediction\(", source, flags=re.MULTILINE))
        revealed = [i for i, source in enumerate(code) if f"{guess}.reveal(" in source]
        assert len(revealed) == 1 and revealed[0] > asked, f"{name}: {guess} must be revealed once, after it is asked"
