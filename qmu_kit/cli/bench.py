"""``qmu-kit bench``: the unlearning leaderboard (see :mod:`qmu_kit.studies.bench`).

Registered in :mod:`qmu_kit.cli.commands` with :func:`add_parser` and :func:`run`. It takes the experiment
flags of ``qmu-kit run`` that describe the data, the QNN's size, training and shots (the benchmark sets
the model, forget set, seed, methods and attacks itself), and its own: ``--methods``, ``--models``,
``--scenario class:K|random:F`` (repeatable), ``--tuning-seeds``, ``--seeds``, ``--budget``, ``--grid``,
``--attacks``, ``--verify-models K``, ``--jobs`` / ``--scheduler``, ``--json PATH`` and ``--markdown PATH``.
Bad input exits with status 2 and one line naming the flag and its allowed range.

Example:
    qmu-kit bench --preset classroom --methods ga,neggrad_plus,scrub --scenario class:4 --seeds 0,1,2 --json bench.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qmu_kit.cli.options import (
    UsageError,
    add_experiment_flags,
    add_field_flags,
    cache_from_args,
    config_from_args,
    field_values,
    flag_type,
)
from qmu_kit.core.parallel import PARALLEL_FIELDS
from qmu_kit.core.validation import ConfigError
from qmu_kit.studies.bench import BENCH_FIELDS, DEFAULT_SCENARIOS, check_scenario, run_bench
from qmu_kit.studies.tuning import parse_grid_item
from qmu_kit.unlearning.methods import make_method

#: Fields of the experiment the benchmark sets per run (their flags are not offered).
SET_PER_RUN = ("forget", "methods", "model", "seed", "attack", "attacks")
#: Which flag each bench argument comes from (for errors raised after parsing).
FLAGS = {"methods": "--methods", "models": "--models", "tuning_seeds": "--tuning-seeds", "evaluation_seeds": "--seeds",
         "budget": "--budget", "attacks": "--attacks", "scenario": "--scenario", "grid": "--grid"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to ``qmu-kit``'s subparsers."""

    parser = subparsers.add_parser(
        "bench", help="the unlearning leaderboard: every method tuned alike, both QNNs, class and random forgetting"
    )
    add_experiment_flags(parser, skip=SET_PER_RUN)
    add_field_flags(parser, BENCH_FIELDS)
    parser.add_argument("--scenario", type=flag_type(check_scenario), action="append", default=[], metavar="class:K|random:F",
                        help=f"a forget scenario (repeatable; default {' and '.join(DEFAULT_SCENARIOS)})")
    parser.add_argument("--grid", type=flag_type(parse_grid_item), action="append", default=[], metavar="M.KNOB=V1,V2",
                        help="replace a method's knob values (repeatable; default: its knob table's grid)")
    add_field_flags(parser, PARALLEL_FIELDS)
    parser.add_argument("--json", metavar="PATH", help="write every run, choice and setting as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the leaderboards as markdown")
    return parser


def _flag_for(message: str) -> str:
    """The flag an error message is about (the value's name starts it), else none."""
    if message.startswith("tuning and evaluation seeds"):
        return "argument --seeds/--tuning-seeds: "
    name = message.split("=", 1)[0].split(" ", 1)[0]
    for key, flag in FLAGS.items():
        if name in (key, f"{key}s") or message.startswith(f"unknown {key.rstrip('s')}"):
            return f"argument {flag}: "
    return ""


def run(args: argparse.Namespace) -> int:
    """Run ``qmu-kit bench``: print each leaderboard's summary; ``--json`` / ``--markdown`` write files."""

    if args.option:
        raise UsageError("argument --option: the benchmark tunes every knob itself; give candidate values with --grid METHOD.KNOB=V1,V2")
    base = config_from_args(args)
    grid = {}
    for method, knob, values in args.grid:
        try:
            for value in values:
                make_method(method, **{knob: value})
        except ValueError as error:
            raise UsageError(f"argument --grid: {error}") from None
        grid.setdefault(method, {})[knob] = values
    try:
        result = run_bench(base, scenarios=args.scenario or DEFAULT_SCENARIOS, grid=grid, cache=cache_from_args(args),
                       progress=not args.quiet and sys.stderr.isatty(), **field_values(args, BENCH_FIELDS),
                       **field_values(args, PARALLEL_FIELDS))
    except (ConfigError, ValueError) as error:
        raise UsageError(f"{_flag_for(str(error))}{error}") from None
    print(result.summary())
    if args.json:
        print(f"wrote {result.to_json(args.json)}")
    if args.markdown:
        Path(args.markdown).write_text(result.leaderboards(), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0
