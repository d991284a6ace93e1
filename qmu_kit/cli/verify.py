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
    cache_from_args,
    config_from_args,
    flag_of,
    flag_type,
    integer_flag,
)
from qmu_kit.core.validation import ConfigError
from qmu_kit.core.parallel import workers
from qmu_kit.core.validation import MAX_JOBS
from qmu_kit.studies.verification import (
    DEFAULT_DELTA,
    DEFAULT_MODELS,
    DEFAULT_RELEARN_ACCURACY,
    DEFAULT_RELEARN_MAX_STEPS,
    DEFAULT_RELEARN_SAMPLES,
    MAX_MODELS,
    MIN_MODELS,
    VerifyConfig,
    check_delta,
    check_models,
    check_relearn_accuracy,
    verify,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``verify`` subcommand to ``qmu-kit``'s subparsers."""

    parser = subparsers.add_parser(
        "verify", help="did it really forget? many-model forgetting quality with two controls, Streisand and relearning checks"
    )
    add_experiment_flags(parser)
    parser.add_argument("--models", type=flag_type(lambda text: check_models(_number(text, int))), default=DEFAULT_MODELS,
                        metavar="K", help=f"models per side ({MIN_MODELS}..{MAX_MODELS}, default {DEFAULT_MODELS})")
    parser.add_argument("--delta", type=flag_type(lambda text: check_delta(_number(text, float))), default=DEFAULT_DELTA,
                        metavar="D", help=f"delta of the (epsilon, delta) estimate, in (0, 1) (default {DEFAULT_DELTA:g})")
    parser.add_argument("--relearn-samples", type=integer_flag("relearn_samples", 1), default=DEFAULT_RELEARN_SAMPLES, metavar="M",
                        help=f"forgotten samples the relearning attack trains on (1..forget-set size, default {DEFAULT_RELEARN_SAMPLES})")
    parser.add_argument("--relearn-accuracy", type=flag_type(lambda text: check_relearn_accuracy(_number(text, float))),
                        default=DEFAULT_RELEARN_ACCURACY, metavar="A",
                        help=f"accuracy on the forgotten class's test images that counts as relearned (default {DEFAULT_RELEARN_ACCURACY:g})")
    parser.add_argument("--relearn-max-steps", type=integer_flag("relearn_max_steps", 1, 10_000), default=DEFAULT_RELEARN_MAX_STEPS,
                        metavar="N", help=f"relearning budget in steps (default {DEFAULT_RELEARN_MAX_STEPS})")
    parser.add_argument("--jobs", type=integer_flag("jobs", 1, MAX_JOBS), default=workers(), metavar="N",
                        help="local worker processes (joblib; default: one per core)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    return parser


def _number(text: str, kind):
    """``kind(text)`` when the text parses, else the text itself (the validator names it)."""
    try:
        return kind(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> int:
    """Run ``qmu-kit verify``: print the table and the verdict; ``--json`` writes the result."""

    experiment = config_from_args(args)
    config = VerifyConfig(experiment, models=args.models, delta=args.delta, relearn_samples=args.relearn_samples,
                          relearn_accuracy=args.relearn_accuracy, relearn_max_steps=args.relearn_max_steps)
    methods = args.method if args.method is not None else "all"
    try:
        result = verify(config, methods, cache=cache_from_args(args), n_jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.quiet and sys.stderr.isatty())
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
