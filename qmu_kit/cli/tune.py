"""``qmu-kit tune``: the command line of :func:`qmu_kit.studies.tuning.tune`."""

from __future__ import annotations

import sys
from pathlib import Path

from qmu_kit.cli.options import UsageError, flag_type
from qmu_kit.core.validation import check_shots
from qmu_kit.experiment.config import PRESETS
from qmu_kit.studies.tuning import (
    DEFAULT_EVALUATION_SEEDS,
    DEFAULT_GRID,
    DEFAULT_TUNING_SEEDS,
    check_seeds,
    parse_grid_item,
    tune,
)


def add_parser(subparsers) -> None:
    """Register ``qmu-kit tune`` on the CLI's subparsers."""

    seeds = flag_type(lambda text: check_seeds("seeds", [int(s) if s.strip().isdigit() else s for s in text.split(",")]))
    tune_parser = subparsers.add_parser(
        "tune", help="pick each unlearning method's knobs on tuning seeds, report them on evaluation seeds"
    )
    tune_parser.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="preset (default classroom)")
    tune_parser.add_argument("--methods", default=",".join(DEFAULT_GRID), metavar="M1,M2",
                             help=f"methods to tune (default {','.join(DEFAULT_GRID)})")
    tune_parser.add_argument("--tuning-seeds", type=seeds, default=DEFAULT_TUNING_SEEDS, metavar="S1,S2",
                             help=f"seeds that choose the knobs (default {','.join(map(str, DEFAULT_TUNING_SEEDS))})")
    tune_parser.add_argument("--evaluation-seeds", type=seeds, default=DEFAULT_EVALUATION_SEEDS, metavar="S1,S2",
                             help=f"disjoint seeds that report them (default {','.join(map(str, DEFAULT_EVALUATION_SEEDS))})")
    tune_parser.add_argument("--grid", type=flag_type(parse_grid_item), action="append", default=[], metavar="M.KNOB=V1,V2",
                             help="replace a method's grid by these knob values (repeatable; default: the built-in grid)")
    tune_parser.add_argument("--shots", default=None, metavar="exact|S", help="shots for every run (default: the preset's)")
    tune_parser.add_argument("--json", metavar="PATH", help="write every trial and evaluation as JSON")
    tune_parser.add_argument("--write-defaults", metavar="PATH",
                             help="write the chosen knobs and their provenance as a tuned_defaults.py module")
    tune_parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    tune_parser.add_argument("--quiet", action="store_true", help="no per-run progress lines")


def _command(args) -> str:
    """The command line that reproduces ``args`` (recorded with the defaults it writes)."""
    parts = ["qmu-kit tune", f"--preset {args.preset}", f"--methods {args.methods}",
             f"--tuning-seeds {','.join(map(str, args.tuning_seeds))}",
             f"--evaluation-seeds {','.join(map(str, args.evaluation_seeds))}"]
    parts += [f"--grid {m}.{k}={','.join(map(str, v))}" for m, k, v in args.grid]
    if args.shots is not None:
        parts.append(f"--shots {args.shots}")
    return " ".join(parts)


def run(args) -> int:
    """``qmu-kit tune``: tune, print the candidates and the tuned-vs-published table, write files."""

    grid = {}
    for method, knob, values in args.grid:
        grid.setdefault(method, {})[knob] = values
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    full_grid = {**DEFAULT_GRID, **grid}
    overrides = {}
    if args.shots is not None:

        try:
            overrides["shots"] = check_shots(args.shots)
        except ValueError as error:
            raise UsageError(f"argument --shots: {error}") from None
    try:
        result = tune(args.preset, methods, args.tuning_seeds, args.evaluation_seeds, full_grid,
                      overrides=overrides, cache=not args.no_cache, progress=not args.quiet)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(result.summary())
    if args.json:
        print(f"wrote {result.to_json(args.json)}")
    if args.write_defaults:
        Path(args.write_defaults).write_text(result.defaults_source(_command(args)))
        print(f"wrote {args.write_defaults}")
    if not all(result.feasible.values()):
        infeasible = [m for m, ok in result.feasible.items() if not ok]
        print(f"note: no candidate of {', '.join(infeasible)} kept the retained accuracy within the tolerance; "
              "the closest one was chosen", file=sys.stderr)
    return 0
