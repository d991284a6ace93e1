"""The command line's shared pieces: the one-line usage error, flag types built from validators, and
the experiment flags every command that runs an experiment takes (built from the config's field table).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence

from qmu_kit.core.cache import ResultCache
from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.validation import ConfigError, check_choice, check_float, check_int, parse_names, parse_text, split_list
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
    """A flag type for an integer in ``[low, high]``."""
    return flag_type(lambda text: check_int(name, parse_text(text), low, high))


def number_flag(name: str, low: float = 0.0, high: float | None = None, *, low_inclusive: bool = False) -> Callable:
    """A flag type for a number in the interval (by default: positive)."""
    return flag_type(lambda text: check_float(name, parse_text(text), low, high, low_inclusive=low_inclusive))


def names_flag(kind: str, allowed: Sequence[str], all_word: bool = True) -> Callable:
    """A flag type for a comma list of names (:func:`~qmu_kit.core.validation.parse_names`)."""
    return flag_type(lambda text: parse_names(kind, text, allowed, all_word=all_word))


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


def add_field_flags(parser: argparse.ArgumentParser, fields: Mapping[str, FieldSpec], skip: Sequence[str] = (),
                    defaults: Mapping | None = None) -> None:
    """A flag for every field of ``fields`` that has one, built from its spec (range, parser, help,
    choices). A flag left out is ``None`` (the config's own default applies); ``defaults`` only adds
    them to the help text."""
    for name, spec in fields.items():
        if spec.flag is None or name in skip:
            continue
        default = f" (default {defaults[name]:g})" if defaults and isinstance(defaults.get(name), (int, float)) else ""
        if spec.names:
            allowed = spec.choices()
            parser.add_argument(spec.flag, dest=flag_dest(spec.flag), type=names_flag(name.rstrip("s"), allowed), metavar=spec.metavar,
                                help=f"{spec.help}: {'|'.join(allowed)}|all, or a comma list")
        elif spec.choices is not None:
            parser.add_argument(spec.flag, dest=flag_dest(spec.flag), choices=spec.choices(), help=spec.help)
        else:
            parser.add_argument(spec.flag, dest=flag_dest(spec.flag), type=flag_type(spec.parse), metavar=spec.metavar,
                                help=spec.help + default)


def fields_from_args(args: argparse.Namespace, fields: Mapping[str, FieldSpec]) -> dict:
    """The values the flags of ``fields`` were given (flags left out are not in the result)."""
    values = {}
    for name, spec in fields.items():
        value = getattr(args, flag_dest(spec.flag), None) if spec.flag else None
        if value is not None:
            values[name] = value
    return values


def add_experiment_flags(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """The flags that describe one experiment (``run``; the base of a ``sweep``, ``verify`` and
    ``device``), built from the config's field table (:data:`qmu_kit.experiment.config.FIELDS`): one place for
    each range and help text. Choices are read from the registries when the parser is built, so
    registered methods and attacks are choices too. ``skip`` leaves out fields a command sets its own
    way (``device`` has its own ``--shots``: a device always samples)."""

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
    parts = split_list(values)
    if not parts:
        raise ValueError(f"grid item {text!r} lists no values")
    return field, [FIELDS[field].parse(v, separator="+") for v in parts]


def flag_of(field: str, fields: Mapping[str, FieldSpec] = FIELDS) -> str:
    """The command-line flag that sets a config field (``--option`` for method knobs)."""
    if field == "method_options":
        return "--option"
    return fields[field].flag if field in fields and fields[field].flag else f"--{field.replace('_', '-')}"


def config_from_args(args: argparse.Namespace):
    """The experiment the flags describe; a bad value is reported against the flag of its field."""

    overrides = fields_from_args(args, FIELDS)
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
