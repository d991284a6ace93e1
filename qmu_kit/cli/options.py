"""The command line's shared pieces: the one-line usage error, flag types built from validators, and
the experiment flags every command that runs an experiment takes (built from the config's field table).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence

from qmu_kit.core.cache import ResultCache
from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.validation import ConfigError, check_choice, check_float, check_int, parse_text
from qmu_kit.experiment.config import FIELDS, PRESETS, ExperimentConfig
from qmu_kit.unlearning.methods import method_names

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def flag_type(check: Callable) -> Callable:
    """Wrap a validator so argparse reports its ValueError against the flag."""

    def convert(text: str):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def integer_flag(name: str, low: int, high: int | None = None) -> Callable:
    return flag_type(lambda text: check_int(name, parse_text(text), low, high))


def positive_number_flag(name: str) -> Callable:
    return flag_type(lambda text: check_float(name, parse_text(text), 0.0, low_inclusive=False))


def method_option(text: str) -> tuple[str, str, object]:
    """``METHOD.KNOB=VALUE`` -> (method, knob, value)."""

    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ValueError(f"option {text!r} is not METHOD.KNOB=VALUE (METHOD one of {', '.join(method_names())})")
    target, raw = text.split("=", 1)
    method, knob = target.split(".", 1)
    check_choice("method", method, method_names())
    return method, knob, parse_text(raw)


def flag_dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_field_flags(parser: argparse.ArgumentParser, fields: Mapping[str, FieldSpec], skip: Sequence[str] = ()) -> None:
    """One flag per field of a table of :class:`~qmu_kit.core.fields.FieldSpec` (its flag, placeholder,
    help, choices and default): the rule that checks a value in Python checks the flag. Choices are read
    when the parser is built, so registered methods and attacks are choices too. ``skip`` leaves out
    fields a command sets its own way. The values given are :func:`field_values`."""

    for name, spec in fields.items():
        if spec.flag is None or name in skip:
            continue
        options = dict(dest=flag_dest(spec.flag), default=spec.flag_default(), help=spec.help)
        if spec.names and spec.choices is not None:
            options["help"] = f"{spec.help}: {'|'.join(spec.choices())}|all, or a comma list"
        if spec.choices is not None and not spec.names:
            options["choices"] = spec.choices()
        else:
            options.update(type=flag_type(spec.parse), metavar=spec.metavar)
        parser.add_argument(spec.flag, **options)


def field_values(args: argparse.Namespace, fields: Mapping[str, FieldSpec]) -> dict:
    """``{field: value}`` for every flag of ``fields`` that has a value (given, or its default)."""

    values = {name: getattr(args, flag_dest(spec.flag), None) for name, spec in fields.items() if spec.flag}
    return {name: value for name, value in values.items() if value is not None}


def add_experiment_flags(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """The flags that describe one experiment (``run``; the base of a ``sweep``, ``verify`` and
    ``device``), built from the config's field table (:data:`qmu_kit.experiment.config.FIELDS`): one place for
    each range and help text. ``skip`` leaves out fields a command sets its own way (``device`` has its
    own ``--shots``: a device always samples)."""

    parser.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="starting point (default classroom)")
    add_field_flags(parser, FIELDS, skip)
    parser.add_argument("--option", type=flag_type(method_option), action="append", default=[], metavar="METHOD.KNOB=VALUE",
                        help="a method knob, e.g. ga.lr=0.02 (repeatable)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache location (default: the user cache dir)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def grid_item(text: str) -> tuple[str, list]:
    """``FIELD=V1,V2,...`` -> (field, [values]); tuple fields join names with ``+`` (``methods=ga+rga,ssd``)."""

    fields = list(FIELDS)
    if "=" not in text:
        raise ValueError(f"grid item {text!r} is not FIELD=V1,V2 (fields: {', '.join(fields)})")
    field, values = text.split("=", 1)
    field = field.strip().replace("-", "_")
    check_choice("sweep field", field, fields)
    parts = [v for v in values.split(",") if v.strip()]
    if not parts:
        raise ValueError(f"grid item {text!r} lists no values")
    return field, [FIELDS[field].parse(v, separator="+") for v in parts]


def flag_of(field: str) -> str:
    """The command-line flag that sets a config field (``--option`` for method knobs)."""

    if field == "method_options":
        return "--option"
    return FIELDS[field].flag if field in FIELDS and FIELDS[field].flag else f"--{field.replace('_', '-')}"


def config_from_args(args: argparse.Namespace):
    """The experiment the flags describe; a bad value is reported against the flag of its field."""

    overrides = field_values(args, FIELDS)
    options = {}
    for method, knob, value in args.option:
        options.setdefault(method, {})[knob] = value
    if options:
        overrides["method_options"] = options  # merged into the preset's knobs
    try:
        return ExperimentConfig.from_preset(args.preset, **overrides)
    except ConfigError as error:
        raise UsageError(f"argument {flag_of(error.field)}: {error}") from None
    except ValueError as error:
        raise UsageError(str(error)) from None


def cache_from_args(args):

    return False if args.no_cache else ResultCache(args.cache_dir)
