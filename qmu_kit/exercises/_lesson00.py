"""Lesson 00 (start here): the exercises' checks: shot noise, eigenstates, the rerun parameters, the primer's angle."""

from __future__ import annotations

import math
import re

from qmu_kit.exercises._checks import Feedback, answer_in, as_number, exercise, hint
from qmu_kit.exercises._lesson02 import NOTEBOOK_PARAMETERS
from qmu_kit.leakage.metrics import shot_noise_std


def _stop_shots(stop) -> int | None:
    """A shots-slider stop as a number of shots (``None`` for ``"exact"``)."""
    return None if str(stop) == "exact" else int(stop)


@exercise("00.1", "The smallest shots-slider stop whose spread of <Z> estimates is below the target?")
def _smallest_stop(answer, *, expval: float, target: float, stops):
    """Right: the first stop (in increasing shots) whose spread sqrt((1 - <Z>^2) / S) is below ``target``."""
    counts = [s for s in map(_stop_shots, stops) if s is not None]
    first = next((s for s in sorted(counts) if shot_noise_std(expval, s) < target), None)
    if first is None:
        raise ValueError(f"target={target!r} is out of range: no stop of {tuple(stops)} gets the spread below it")
    if isinstance(answer, str) and answer.strip().lower() == "exact":
        return "exact readout has no spread at all, but the question asks for the smallest number of shots that suffices."
    shots = as_number(answer, "the number of shots", low=1)
    if shots == first:
        return Feedback("00.1", True, f"at {first} shots the spread is {shot_noise_std(expval, first):.3f}, below {target:g}; "
                                      "the stop before it is not.")
    if shots not in counts:
        return (f"{shots:g} is not a stop of the slider ({', '.join(map(str, stops))}): solve the formula for S, "
                "then pick the first stop at or above it.")
    if shot_noise_std(expval, shots) >= target:
        return "at that stop the spread is still not below the target: compute sqrt((1 - <Z>^2) / S) there."
    return "that stop is below the target, but is it the smallest? Try the stop before it."


@exercise("00.2", "With the exact <Z> set to +1 (or -1), what is the spread of the estimates?")
def _eigenstate_spread(answer, *, expval: float, spread: float):
    """Right: the spread measured at ``expval`` = +-1, which is 0 (an eigenstate of Z always gives the same outcome)."""
    if abs(abs(expval) - 1) > 1e-12:
        raise ValueError(f"expval={expval!r} is not valid: this exercise measures the spread at <Z> = +1 or -1")
    said = as_number(answer, "the spread", low=0, high=1)
    if math.isclose(said, spread, abs_tol=1e-9):
        return Feedback("00.2", True, "every shot of an eigenstate of Z gives the same outcome, so every estimate is the same.")
    if said > 0.01:
        return ("1 / sqrt(S) is the largest the spread can be (at <Z> = 0). What does 1 - <Z>^2 give at <Z> = +1 or -1? "
                "Or read the spread the cell above measured.")
    return "read the spread the cell above measured at <Z> = +1 or -1 again."


def _parameter_names(answer) -> list[str]:
    if isinstance(answer, str):
        return [name for name in re.split(r"[\s,;]+", answer.strip()) if name]
    if isinstance(answer, (list, tuple, set, frozenset)):
        return [str(name).strip() for name in answer]
    raise hint(f"give the parameter names as a list of strings, e.g. ['seed']; {answer!r} is not one")


@exercise("00.3", "Which parameters could a rerun of notebook 02 change?")
def _rerun_parameters(answer):
    """Right: exactly the names in notebook 02's parameters cell."""
    names = _parameter_names(answer)
    unknown = [name for name in names if name not in NOTEBOOK_PARAMETERS]
    if unknown:
        near = [name for name in unknown if any(name.rstrip("s") == known.rstrip("s") for known in NOTEBOOK_PARAMETERS)]
        if near:
            return (f"{', '.join(map(repr, near))} is misspelled: papermill would stop at the validation cell. "
                    "Copy the names from 02's parameters cell.")
        return (f"{', '.join(map(repr, unknown))} is not in notebook 02's parameters cell (other notebooks have other "
                "parameters): open 02 and read the cell tagged 'parameters'.")
    missing = len(set(NOTEBOOK_PARAMETERS) - set(names))
    if missing:
        return f"all your names are right, but {missing} more can be changed: read 02's parameters cell to the end."
    return Feedback("00.3", True, "each line of 02's parameters cell is one name papermill's -p can set.")


@exercise("00.4", "Which angle theta (radians, 0..pi) makes the primer's qubit give <Z> = 0?")
def _primer_angle(answer, *, z_of_theta):
    """Right: an angle in [0, pi] at which the primer's circuit (``z_of_theta``, exact <Z> of wire 0) gives |<Z>| < 0.01."""
    if isinstance(answer, (int, float)) and not isinstance(answer, bool) and 3.5 < answer <= 180:
        return (f"{answer:g} looks like degrees; the kit's angles are in radians (pi is about 3.14): "
                "convert, or find where <Z> crosses 0.")
    said = as_number(answer, "the angle in radians", low=0, high=math.pi + 1e-9)
    z = float(z_of_theta(said))
    if abs(z) < 0.01:
        return Feedback("00.4", True, "there the qubit is an equal superposition of |0> and |1>: each shot gives +1 or -1 "
                                      "with probability 1/2, so the average is 0 and the shot noise is largest.")
    if z < -0.99:
        return "at that angle the qubit is flipped to |1> (<Z> = -1, an eigenstate): go back part of the way."
    if z > 0.99:
        return "at that angle the qubit is still |0> (<Z> = +1, an eigenstate): rotate further."
    return f"your angle gives <Z> = {z:+.2f}, not 0: which way must theta move to bring it to 0?"
