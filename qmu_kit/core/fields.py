"""One table of rules per group of settings: :class:`FieldSpec`.

A setting's range, its parser from text, its help text and its command-line flag live in one
:class:`FieldSpec`. A configuration class validates its fields with :func:`check_fields`, the command
line builds its flags from the same table (:func:`qmu_kit.cli.options.add_field_flags`), sweep grids
and notebook parameters parse text with :meth:`FieldSpec.parse`. The experiment's table is
:data:`qmu_kit.experiment.config.FIELDS`; verification, devices, tuning, privacy and the apps each have
theirs beside the code they configure.

Example:
    >>> from qmu_kit.core.validation import check_int
    >>> spec = FieldSpec(lambda value: check_int("models", value, 4, 256), "models per side", "--models", "K")
    >>> spec.parse("16")
    16
    >>> spec.parse("3")
    Traceback (most recent call last):
    ...
    ValueError: models=3 is out of range: models must be an integer from 4 to 256
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qmu_kit.core.validation import ConfigError, parse_text


@dataclass(frozen=True)
class FieldSpec:
    """One setting's rules, in the one place they live.

    A configuration validates with :attr:`check` (through :func:`check_fields`); the command line
    builds its flag from :attr:`flag`, :attr:`metavar`, :attr:`help`, :attr:`choices` and
    :attr:`default`; sweep grids, YAML files and notebook parameters parse text with :meth:`parse`.

    Attributes:
        check: ``value -> value`` (normalized); raises ``ValueError`` naming the value and the range.
        help: one line for ``--help``.
        flag: the command-line flag (``None``: not on the command line).
        metavar: the flag's placeholder.
        choices: ``() -> tuple`` of the allowed names (read live: registries), for a field of names or
            a choice the command line offers.
        names: the value is a tuple of names (``methods``, ``attacks``), written as a comma list.
        nullable: ``None`` is allowed and means a default chosen elsewhere (the model's, the provider's).
        text: :attr:`check` reads text itself (``shots="exact"``): :meth:`parse` hands it the text as typed.
        default: the flag's default when it is not given: a value, or a function called when the parser
            is built (``workers``); ``None`` leaves the setting to the configuration's own default.

    Example:
        >>> FieldSpec(str, "an address", nullable=True).parse("none") is None
        True
    """

    check: Callable[[Any], Any]
    help: str
    flag: str | None = None
    metavar: str | None = None
    choices: Callable[[], tuple] | None = None
    names: bool = False
    nullable: bool = False
    text: bool = False
    default: Any = None

    def validate(self, value):
        """``check(value)``, with ``None`` passed through where the field allows it."""
        return None if value is None and self.nullable else self.check(value)

    def parse(self, text: str, separator: str = ","):
        """A value written as text, validated: ``"300"`` -> 300; names split at ``separator``
        (:func:`~qmu_kit.core.validation.check_names` reads the list)."""
        if self.names:
            return self.validate(text.split(separator) if separator in text else text)
        if self.nullable and text.strip().lower() in ("none", "default"):
            return None
        return self.validate(text.strip() if self.text else parse_text(text))

    def flag_default(self):
        """The flag's default: :attr:`default`, called if it is a function."""
        return self.default() if callable(self.default) else self.default


def check_fields(instance, fields: Mapping[str, FieldSpec]) -> None:
    """Validate and normalize the fields of a frozen dataclass ``instance`` named in ``fields``, in
    place; a bad value raises :class:`~qmu_kit.core.validation.ConfigError` naming its field, so the
    command line can point at the flag.

    Example:
        >>> from dataclasses import dataclass
        >>> from qmu_kit.core.validation import check_float
        >>> @dataclass(frozen=True)
        ... class Knobs:
        ...     rate: float = 0.5
        ...     def __post_init__(self):
        ...         check_fields(self, {"rate": FieldSpec(lambda v: check_float("rate", v, 0.0, 1.0), "a rate")})
        >>> Knobs(1).rate
        1.0
        >>> Knobs(2).rate
        Traceback (most recent call last):
        ...
        qmu_kit.core.validation.ConfigError: rate=2 is out of range: rate must be a number in [0.0, 1.0]
    """
    for name, spec in fields.items():
        try:
            object.__setattr__(instance, name, spec.validate(getattr(instance, name)))
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(str(error), name) from None
