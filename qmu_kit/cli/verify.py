"""``qmu-kit verify``: did it really forget? (see :mod:`qmu_kit.studies.verification`).

Registered in :mod:`qmu_kit.cli.commands` with :func:`add_parser` and :func:`run`. It takes the experiment
flags of ``qmu-kit run`` (preset, model, shots, forget set, seed, method knobs, cache) and the
verification's own: ``--models K``, ``--delta``, ``--relearn-samples m``, ``--relearn-accuracy``,
``--relearn-max-steps``, ``--jobs`` / ``--scheduler`` and ``--json PATH``. Bad input exits with status 2
and one line naming the flag and its allowed range.

Example:
    qmu-kit verify --preset classroom --method ga --models 8 --json out.json
    qmu-kit verify --preset classroom --method all --models 16 --shots 1000
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
    flag_of,
)
from qmu_kit.core.parallel import PARALLEL_FIELDS
from qmu_kit.core.validation import ConfigError
from qmu_kit.studies.verification import VERIFY_FIELDS, VerifyConfig, verify


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand to ``qmu-kit``'s subparsers: the experiment flags, the
    verification's own (:data:`~qmu_kit.studies.verification.VERIFY_FIELDS`), ``--jobs`` / ``--scheduler``
    (:data:`~qmu_kit.core.parallel.PARALLEL_FIELDS`) and ``--json``."""

    parser = subparsers.add_parser(
        "verify", help="did it really forget? many-model forgetting quality with two controls, Streisand and relearning checks"
    )
    add_experiment_flags(parser)
    add_field_flags(parser, VERIFY_FIELDS)
    add_field_flags(parser, PARALLEL_FIELDS)
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``qmu-kit verify``: print the table (every forgetting quality beside the retrain control's at
    the same ``K``) and the verdict; ``--json`` writes the result."""

    experiment = config_from_args(args)
    config = VerifyConfig(experiment, **field_values(args, VERIFY_FIELDS))
    methods = args.method if args.method is not None else "all"
    try:
        result = verify(config, methods, cache=cache_from_args(args), progress=not args.quiet and sys.stderr.isatty(),
                        **field_values(args, PARALLEL_FIELDS))
    except ConfigError as error:  # a method or relearning budget this experiment cannot take
        raise UsageError(f"argument {flag_of(error.field)}: {error}") from None
    print(
        f"qmu-kit verify {args.preset}: {experiment.model} QNN, forget {experiment.forget}, shots {experiment.shots or 'exact'}, "
        f"seed {experiment.seed}, K={config.models} models per side, delta {config.delta:g}"
        + (" (from cache)" if result.from_cache else "")
    )
    print(result.summary())
    if args.json:
        print(f"wrote {result.to_json(args.json)}")
    return 0
