"""Input checks shared by every layer of the kit.

Each helper raises ``ValueError`` whose message names the offending value *and* the allowed values,
so that a learner who mistypes a slider value or a papermill parameter knows what to type instead.
Nothing is ever clamped silently.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

#: Largest circuit the kit simulates. A statevector of 2**n complex128 amplitudes per sample, times a
#: batch of 256 samples and the autograd tape of every layer, needs about 2**n * 256 * 16 bytes * 3 *
#: depth; at 12 qubits and depth 10 that is ~0.5 GB, beyond which a 2-core teaching machine swaps.
MIN_QUBITS = 2
MAX_QUBITS = 12
MAX_DEPTH = 50
#: Shots above this gain nothing a learner can see (sd 1/sqrt(S) < 1e-3) and only cost time.
MAX_SHOTS = 1_000_000
#: Members (and as many non-members) a device audit queries: fewer give no usable interval, more cost
#: device time without changing the teaching point.
MIN_QUERIES, MAX_QUERIES = 20, 2000
#: The most local worker processes a sweep, a verification or the apps' warm-up accepts.
MAX_JOBS = 256


class ConfigError(ValueError):
    """A bad value for one configuration field; ``field`` names it, so the command line can name the
    flag (and a widget its control) without reading the message.

    Attributes:
        field: the :class:`~qmu_kit.experiment.config.ExperimentConfig` field the value was given for (or the
            knob of another command: ``"grid"`` for a sweep's grid as a whole, ``"relearn_samples"``).
    """

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def parse_text(text: str) -> Any:
    """The kit's one reader of values typed as text (command-line flags, sweep grids, method knobs):
    an ``int``, a ``float``, ``True``/``False`` for ``true``/``false``, ``None`` for ``none``, else the
    text itself, for a validator to judge (and name in its message).

    Example:
        >>> parse_text("300"), parse_text("0.5"), parse_text("true"), parse_text("none"), parse_text("exact")
        (300, 0.5, True, None, 'exact')
    """
    text = text.strip()
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def split_list(text: str, separator: str = ",") -> list[str]:
    """The kit's one reader of lists typed as text: the parts between separators, stripped, empty ones dropped.

    Example:
        >>> split_list(" ga, rga,,ssd ")
        ['ga', 'rga', 'ssd']
    """
    return [part.strip() for part in text.split(separator) if part.strip()]


def parse_names(kind: str, text: str, allowed: Sequence[str], *, all_word: bool = True, separator: str = ",") -> tuple[str, ...]:
    """Names typed as text (``"ga,rga"``, or ``"all"`` for every allowed name), each checked.

    Raises:
        ValueError: an empty list or an unknown name, naming it and the allowed ones.

    Example:
        >>> parse_names("method", "ga, rga", ("ga", "rga", "ssd")), parse_names("method", "all", ("ga", "rga"))
        (('ga', 'rga'), ('ga', 'rga'))
    """
    allowed = tuple(allowed)
    or_all = " or 'all'" if all_word else ""
    if all_word and text.strip() == "all":
        return allowed
    names = tuple(split_list(text, separator))
    if not names:
        raise ValueError(f"{kind}={text!r} is empty: give one or more of {', '.join(allowed)}{or_all}")
    for name in names:
        if name not in allowed:
            raise ValueError(f"unknown {kind} {name!r}: choose from {', '.join(allowed)}" + (", or 'all'" if all_word else ""))
    return names


def check_int(name: str, value: Any, low: int, high: int | None = None, *, reason: str | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``, else raise ``ValueError``.

    Booleans and floats (even ``3.0``) are refused: a float usually means a units mistake. ``reason``,
    if given, is appended to the message in parentheses: why the range is what it is.

    Example:
        >>> check_int("depth", 3, 1, 50)
        3
    """
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    why = f" ({reason})" if reason else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} is not valid: {name} must be {allowed}{why}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} is out of range: {name} must be {allowed}{why}")
    return value


def check_float(
    name: str,
    value: Any,
    low: float,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number in the given interval.

    Example:
        >>> check_float("lr", 0.05, 0.0, low_inclusive=False)
        0.05
    """
    lo = "[" if low_inclusive else "("
    hi = "]" if high_inclusive else ")"
    allowed = f"a number in {lo}{low}, {high if high is not None else 'inf'}{hi if high is not None else ')'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name}={value!r} is not valid: {name} must be {allowed}")
    number = float(value)
    too_low = number < low or (not low_inclusive and number == low)
    too_high = high is not None and (number > high or (not high_inclusive and number == high))
    if too_low or too_high:
        raise ValueError(f"{name}={value!r} is out of range: {name} must be {allowed}")
    return number


def check_delta(value, n_train: int | None = None) -> float:
    """``value`` as a float if it is a valid delta: in (0, 1) and, given the training-set size, below
    ``1 / n_train`` (a larger delta allows a mechanism that publishes one training sample outright).

    Example:
        >>> check_delta(1e-5, n_train=300)
        1e-05
        >>> check_delta(0.01, n_train=300)
        Traceback (most recent call last):
        ...
        ValueError: delta=0.01 is out of range: delta must be below 1/n_train = 1/300 = 0.00333 ...
    """
    delta = check_float("delta", value, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    if n_train is not None and delta >= 1 / n_train:
        raise ValueError(
            f"delta={value!r} is out of range: delta must be below 1/n_train = 1/{n_train} = {1 / n_train:.3g} "
            "(with delta >= 1/n a mechanism may publish a training sample outright); 1e-5 is usual"
        )
    return delta


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    Example:
        >>> check_choice("model", "basic", ("basic", "hybrid"))
        'basic'
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(repr(c) for c in choices)}")
    return value


def check_shots(value: Any) -> int | None:
    """Validate a shot count: ``None`` (or ``"exact"``) for exact expectations, else an integer.

    Strings of digits (from a command line or a text box) are accepted; anything else that is not a
    positive integer no larger than ``MAX_SHOTS`` is refused.

    Example:
        >>> check_shots("exact") is None, check_shots(1000), check_shots("300")
        (True, 1000, 300)
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("exact", "none", "inf"):
            return None
        if text.isdigit():
            value = int(text)
        else:
            raise ValueError(
                f"shots={value!r} is not valid: shots must be 'exact' or an integer from 1 to {MAX_SHOTS}"
            )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"shots={value!r} is not valid: shots must be 'exact' (None) or an integer from 1 to {MAX_SHOTS}"
        )
    if not 1 <= int(value) <= MAX_SHOTS:
        raise ValueError(
            f"shots={value!r} is out of range: shots must be 'exact' (None) or an integer from 1 to {MAX_SHOTS}"
        )
    return int(value)



def check_device_shots(value: Any) -> int:
    """Validate shots per query on a device: like :func:`check_shots`, but never ``"exact"`` (a device
    always samples).

    Example:
        >>> check_device_shots("1000")
        1000
    """
    shots = check_shots(value)
    if shots is None:
        raise ValueError(f"shots='exact' is not possible on a device (a device always samples): "
                         f"shots must be an integer from 1 to {MAX_SHOTS}")
    return shots


def check_qubits(value: Any) -> int:
    """Validate the number of qubits against the memory-bounded range ``[MIN_QUBITS, MAX_QUBITS]``."""
    return check_int(
        "n_qubits", value, MIN_QUBITS, MAX_QUBITS,
        reason=f"the statevector needs 2**n_qubits amplitudes per sample; beyond {MAX_QUBITS} qubits "
        "a batch no longer fits comfortably in a teaching machine's memory",
    )


def check_depth(value: Any) -> int:
    """Validate the number of circuit layers, ``[1, MAX_DEPTH]``."""
    return check_int("depth", value, 1, MAX_DEPTH)


def check_host(value: Any) -> str:
    """Validate an address to listen on: a non-empty string without whitespace (what it resolves to is
    the server's business).

    Example:
        >>> check_host("127.0.0.1")
        '127.0.0.1'
    """
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError(f"host={value!r} is not valid: give an address such as 127.0.0.1")
    return value
