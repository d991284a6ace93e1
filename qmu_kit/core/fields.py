"""Field specs: each setting's range, parser, help and command-line flag, written once.

A config (the experiment's, a verification's, ...) keeps a table ``{name: FieldSpec}``; the config
validates its fields with it and the command line builds its flags from it, so a range or a help text
lives in one place.

Example:
    >>> spec = FieldSpec(ranged("seed", 0, 9), "the seed", "--seed", "N")
    >>> spec.parse("3")
    3
    >>> spec.parse("12")
    Traceback (most recent call last):
    ...
    ValueError: seed=12 is out of range: seed must be an integer from 0 to 9
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qmu_kit.core.validation import check_choice, check_int, parse_text, split_list


def names_in(name: str, value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` (a name or names) as a tuple of distinct names from ``allowed``."""
    if isinstance(value, str):
        value = (value,)
    value = tuple(value)
    for item in value:
        check_choice(name.rstrip("s"), item, allowed)
    if len(set(value)) != len(value):
        raise ValueError(f"{name}={list(value)!r} repeats a name: list each of {', '.join(allowed)} at most once")
    return value


def check_bool_of(name: str):
    """A check that ``name`` is ``True`` or ``False``."""
    def check(value) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r} is not valid: {name} must be True or False")
        return value

    return check


@dataclass(frozen=True)
class FieldSpec:
    """One setting's rules, in the one place they live (a field of a config or of a command).

    A config validates with :attr:`check`; the command line builds its flag from :attr:`flag`,
    :attr:`metavar`, :attr:`help` and :attr:`choices`; sweep grids, sweep files and notebook parameters
    parse and check values with :meth:`parse` and :attr:`check`. Each config keeps a table of them
    (``experiment.FIELDS``, ``studies.verification.VERIFY_FIELDS``, ...).

    Attributes:
        check: ``value -> value`` (normalized); raises ``ValueError`` naming the value and the range.
        help: one line for ``--help``.
        flag: the command-line flag (``None``: not on the command line).
        metavar: the flag's placeholder.
        choices: for a field of names, ``() -> tuple`` of the allowed names (read live: registries).
        names: the value is a tuple of names (``methods``, ``attacks``).
        nullable: ``None`` is allowed and means the model's or attack's default.
        text: :attr:`check` reads text itself (``shots="exact"``): :meth:`parse` hands it the text as typed.
    """

    check: Callable[[Any], Any]
    help: str
    flag: str | None = None
    metavar: str | None = None
    choices: Callable[[], tuple] | None = None
    names: bool = False
    nullable: bool = False
    text: bool = False

    def validate(self, value):
        """``check(value)``, with ``None`` passed through where the field allows it."""
        return None if value is None and self.nullable else self.check(value)

    def parse(self, text: str, separator: str = ","):
        """A value written as text, validated: ``"300"`` -> 300, names split at ``separator``."""
        if self.names:
            text = text.strip()
            return self.validate(() if text in ("", "none") else tuple(split_list(text, separator)))
        if self.nullable and text.strip().lower() in ("none", "default"):
            return None
        return self.validate(text.strip() if self.text else parse_text(text))


def choice_of(name: str, allowed: Callable[[], tuple]):
    """A check that ``name`` is one of ``allowed()`` (read when checked: registries grow)."""
    return lambda value: check_choice(name, value, allowed())


def ranged(name: str, low: int, high: int | None = None):
    """A check that ``name`` is an integer in ``[low, high]``."""
    return lambda value: check_int(name, value, low, high)


__all__ = ["FieldSpec", "check_bool_of", "choice_of", "names_in", "ranged"]
