"""``qmu-kit tune``: the command line of :func:`qmu_kit.studies.tuning.tune`."""

from __future__ import annotations

import sys
from pathlib import Path

from qmu_kit.cli.options import UsageError, add_field_flags, field_values, flag_type
from qmu_kit.core.validation import check_shots
from qmu_kit.experiment.config import PRESETS
from qmu_kit.studies.tuning import DEFAULT_GRID, TUNE_FIELDS, parse_grid_item, tune


def add_parser(subparsers) -> None:
    """Register ``qmu-kit tune`` on the CLI's subparsers."""

    tune_parser = subparsers.add_parser(
        "tune", help="pick each unlearning method's knobs on tuning seeds, report them on evaluation seeds"
    )
    tune_parser.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="preset (default classroom)")
    add_field_flags(tune_parser, TUNE_FIELDS)
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
    parts = ["qmu-kit tune", f"--preset {args.preset}", f"--methods {','.join(args.methods)}",
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
    full_grid = {**DEFAULT_GRID, **grid}
    overrides = {}
    if args.shots is not None:

        try:
            overrides["shots"] = check_shots(args.shots)
        except ValueError as error:
            raise UsageError(f"argument --shots: {error}") from None
    try:
        result = tune(args.preset, grid=full_grid, overrides=overrides, cache=not args.no_cache, progress=not args.quiet,
                      **field_values(args, TUNE_FIELDS))
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
