"""``qmu-kit device``: the membership audit on an emulated or a cloud quantum device.

Example:
    >>> parser = __import__("argparse").ArgumentParser().add_subparsers()
    >>> add_parser(parser).parse_args(["--device", "aer:5x", "--queries", "500"]).queries
    500
"""

from __future__ import annotations

import argparse
import sys

from qmu_kit.cli.options import (
    UsageError,
    add_experiment_flags,
    add_field_flags,
    cache_from_args,
    config_from_args,
    field_values,
)
from qmu_kit.core.results import interval_strings
from qmu_kit.qnn.remote import DeviceJobError
from qmu_kit.studies.devices import DEVICE_FIELDS, run_device_audit


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``device`` on the CLI's subparsers; returns its parser. It takes the experiment flags of
    ``qmu-kit run`` (preset, model, qubits, seed, forget set, ``--method`` for the unlearned models also
    audited, method knobs, cache) except ``--shots``, which here are the device's shots per query: the
    device flags are :data:`~qmu_kit.studies.devices.DEVICE_FIELDS`'s."""

    parser = subparsers.add_parser("device", help="audit a model on an emulated or cloud quantum device")
    add_experiment_flags(parser, skip=("shots",))
    add_field_flags(parser, DEVICE_FIELDS)
    parser.add_argument("--yes", action="store_true",
                        help="confirm submission to a cloud device (after the cost preview); credentials come from "
                             "$QISKIT_IBM_TOKEN or a saved IBM account, and $TIANYAN_LOGIN_KEY, never from a flag")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``qmu-kit device``; bad input is one ``qmu-kit: error:`` line and exit status 2 (as every
    command's: :class:`qmu_kit.cli.options.UsageError`); cloud jobs that did not finish are one such line naming
    them and exit status 1 (rerun to resume)."""

    config = config_from_args(args)
    methods = config.methods if args.method is not None else ()  # unlearned models only when asked for
    try:
        audit = run_device_audit(config, methods=methods, cache=cache_from_args(args), confirm=args.yes,
                                 progress=not args.quiet and sys.stderr.isatty(), **field_values(args, DEVICE_FIELDS))
    except ValueError as error:
        raise UsageError(str(error)) from None
    except DeviceJobError as error:  # not bad input: the device let us down; the journal keeps what finished
        print(f"qmu-kit: error: {error}", file=sys.stderr)
        return 1
    print(f"{audit.label} ({audit.engine}), {audit.n_queries} + {audit.n_queries} queries, {audit.shots} shots, "
          f"{audit.seconds:.1f} s")
    print(interval_strings(audit.table()).to_string())
    if args.json:
        print(f"wrote {audit.to_json(args.json)}")
    return 0
