"""The ``qmu-kit`` command line.

* ``qmu-kit run`` runs one experiment and prints a table (``--json PATH`` also writes the result).
* ``qmu-kit sweep`` runs a grid of experiments (joblib processes or a Dask cluster) into CSV and JSON.
* ``qmu-kit bench`` runs the unlearning leaderboard (every method tuned alike; ``--json``, ``--markdown``).
* ``qmu-kit app`` serves the Voila apps on 127.0.0.1; ``qmu-kit reproduce`` writes ``reports/``.
* ``qmu-kit --version`` prints the version (``qmu_kit.__version__``; ``CHANGELOG.md`` says what each has).

Bad input exits with status 2 and one line naming the flag and its allowed values; no traceback.

Example:
    qmu-kit run --preset classroom --shots 300 --method ga --json result.json
    qmu-kit sweep --grid shots=100,1000,exact --grid seed=0,1,2 --csv sweep.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from qmu_kit import __version__
from qmu_kit.apps.server import APP_FIELDS, PortInUseError
from qmu_kit.apps.static import serve_static
from qmu_kit.apps.voila import serve
from qmu_kit.cli import bench as bench_cli
from qmu_kit.cli import device as device_cli
from qmu_kit.cli import tune as tune_cli
from qmu_kit.cli import verify as verify_cli
from qmu_kit.cli.options import (
    EXIT_BAD_INPUT,
    Parser,
    UsageError,
    add_experiment_flags,
    add_field_flags,
    cache_from_args,
    config_from_args,
    flag_of,
    flag_type,
    grid_item,
    integer_flag,
    positive_number_flag,
)
from qmu_kit.core.parallel import PARALLEL_FIELDS
from qmu_kit.core.validation import MAX_QUERIES, MIN_QUERIES, ConfigError
from qmu_kit.experiment.config import PRESETS
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.experiment.sweep import DEFAULT_MAX_HOURS, SweepError, run_sweep
from qmu_kit.report.reproduction import EVALUATION_SEEDS, MIN_DEVICE_QUERIES, TUNING_SEEDS, reproduce
from qmu_kit.studies.devices import DEVICE_FIELDS


def build_parser() -> argparse.ArgumentParser:

    parser = Parser(prog="qmu-kit", description="Membership leakage and unlearning of quantum neural networks.")
    parser.add_argument("--version", action="version", version=f"qmu-kit {__version__}",
                        help="print the kit's version (pyproject.toml's, as installed) and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    run = commands.add_parser("run", help="run one experiment and print its table")
    add_experiment_flags(run)
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")

    sweep = commands.add_parser("sweep", help="run a grid of experiments (joblib or Dask) into CSV and JSON")
    add_experiment_flags(sweep)
    sweep.add_argument("--grid", type=flag_type(grid_item), action="append", default=[], metavar="FIELD=V1,V2",
                       help="a config field and its values, e.g. shots=100,1000,exact (repeatable)")
    sweep.add_argument("--file", metavar="YAML", help="a sweep file: preset, base fields and a grid")
    add_field_flags(sweep, PARALLEL_FIELDS)
    sweep.add_argument("--csv", metavar="PATH", default="sweep.csv", help="tidy table, one row per run and model")
    sweep.add_argument("--json", metavar="PATH", help="every result in full")
    sweep.add_argument("--max-hours", type=positive_number_flag("max_hours"), default=DEFAULT_MAX_HOURS,
                       metavar="H", help=f"refuse grids estimated to need more CPU-hours (default {DEFAULT_MAX_HOURS:g})")

    app = commands.add_parser("app", help="serve the apps with Voila (localhost only by default)")
    add_field_flags(app, APP_FIELDS)
    app.add_argument("--no-warm", action="store_true", help="skip precomputing the apps' default results")
    app.add_argument("--warm", action="store_true",
                     help="first compute every slider stop of every app (resumable; about half an hour of one core the first time)")
    app.add_argument("--static", action="store_true",
                     help="serve precomputed classroom pages (every slider stop rendered ahead of class; no kernel per visitor)")
    app.add_argument("--site", metavar="DIR", help="where --static keeps its pages (default: in the cache, named by the code)")

    device_cli.add_parser(commands)
    reproduce = commands.add_parser("reproduce", help="run the claims' sweeps and every notebook at the paper preset; write reports/summary.md and reports/reproduction.json")
    reproduce.add_argument("--out", default="reports", metavar="DIR", help="output directory (default reports)")
    reproduce.add_argument("--preset", choices=tuple(PRESETS), default="paper", help="preset for every notebook (default paper)")
    reproduce.add_argument("--seeds", type=integer_flag("seeds", 1, 20), default=len(EVALUATION_SEEDS), metavar="N",
                           help=f"evaluation seeds {EVALUATION_SEEDS[0]}, {EVALUATION_SEEDS[0] + 1}, ... (default "
                                f"{len(EVALUATION_SEEDS)}; disjoint from the tuning seeds {', '.join(map(str, TUNING_SEEDS))})")
    queries = dataclasses.replace(DEVICE_FIELDS["n_queries"], default=MIN_DEVICE_QUERIES,
                                  help=f"members and non-members queried on the emulated device ({MIN_QUERIES}..{MAX_QUERIES}, "
                                       f"default {MIN_DEVICE_QUERIES}, what the device claim needs)")
    add_field_flags(reproduce, {"n_queries": queries, **PARALLEL_FIELDS})
    tune_cli.add_parser(commands)
    verify_cli.add_parser(commands)
    bench_cli.add_parser(commands)
    return parser


def command_run(args: argparse.Namespace) -> int:

    config = config_from_args(args)
    try:
        result = run_experiment(config, cache=cache_from_args(args), progress=not args.quiet and sys.stderr.isatty())
    except (ValueError, FileNotFoundError) as error:  # bad data files and the like
        prefix = "argument --data-path: " if config.data_path else ""
        raise UsageError(f"{prefix}{error}") from None
    training = config.training()
    print(
        f"qmu-kit {args.preset}: {config.model} QNN, {config.n_qubits} qubits, depth {training['depth']}, "
        f"{config.dataset} {config.n_train}/{config.n_test}, forget {config.forget}, "
        f"shots {config.shots or 'exact'}, seed {config.seed}, attack {config.primary_attack}"
        + (" (from cache)" if result.from_cache else "")
    )
    print(result.summary())
    if args.json:
        path = result.to_json(args.json)
        print(f"wrote {path}")
    return 0


def _sweep_file(path: str) -> tuple[str | None, dict, dict]:
    """Read a YAML sweep file: ``preset``, ``base`` (config fields) and ``grid`` ({field: [values]})."""
    import yaml

    try:
        data = yaml.safe_load(open(path, encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"argument --file: no such file: {path}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"argument --file: {path} is not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict) or set(data) - {"preset", "base", "grid"}:
        raise UsageError(f"argument --file: {path} must be a mapping with keys preset, base and grid")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict) or not isinstance(data.get("base") or {}, dict):
        raise UsageError(f"argument --file: in {path}, base and grid must be mappings (grid: field -> list of values)")
    return data.get("preset"), dict(data.get("base") or {}), {k: (v if isinstance(v, list) else [v]) for k, v in grid.items()}


def command_sweep(args: argparse.Namespace) -> int:

    grid = dict(args.grid)
    if args.file:
        preset, base_fields, file_grid = _sweep_file(args.file)
        if preset:
            args.preset = preset
        grid = {**file_grid, **grid}
    else:
        base_fields = {}
    base = config_from_args(args)
    try:
        base = base.replace(**base_fields) if base_fields else base
        result = run_sweep(base, grid, n_jobs=args.jobs, scheduler=args.scheduler, cache=cache_from_args(args),
                           progress=not args.quiet and sys.stderr.isatty(), max_hours=args.max_hours)
    except ConfigError as error:  # a bad value from the sweep file's base, the grid (as a whole or one field) or a flag
        flag_grid = dict(args.grid)
        if error.field in flag_grid or (error.field == "grid" and (flag_grid or not args.file)):
            source = "--grid"
        elif error.field in base_fields or error.field in grid or error.field == "grid":
            source = "--file"
        else:
            source = flag_of(error.field)
        raise UsageError(f"argument {source}: {error}") from None
    except SweepError as error:
        print(f"qmu-kit: sweep failed: {error}", file=sys.stderr)
        return 1
    csv_path = result.to_csv(args.csv)
    # one row per run and model (the grid has no repeated points): each rate with its interval and n
    print(f"qmu-kit sweep: {result.summary()}")
    print(f"wrote {csv_path}")
    if args.json:
        print(f"wrote {result.to_json(args.json)}")
    return 0


def command_app(args: argparse.Namespace) -> int:

    try:
        if args.static:
            try:
                return serve_static(args.host, args.port, warm_all=args.warm, n_jobs=args.jobs, site=args.site)
            except (FileExistsError, FileNotFoundError) as error:  # a --site that holds something else
                raise UsageError(str(error)) from None
        return serve(args.host, args.port, warm=not args.no_warm, pool_size=args.pool, warm_all=args.warm, n_jobs=args.jobs)
    except (ValueError, PortInUseError) as error:
        raise UsageError(str(error)) from None


def command_reproduce(args: argparse.Namespace) -> int:

    path = reproduce(args.out, preset=args.preset, n_seeds=args.seeds, n_queries=args.queries, n_jobs=args.jobs,
                     scheduler=args.scheduler, progress=sys.stderr.isatty())
    print(f"wrote {path}")
    return 0


COMMANDS = {"run": command_run, "sweep": command_sweep, "app": command_app, "reproduce": command_reproduce, "tune": tune_cli.run,
            "verify": verify_cli.run, "device": device_cli.run,
            "bench": bench_cli.run}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as error:
        if "required: COMMAND" in str(error):
            error = UsageError(f"give a command: {', '.join(COMMANDS)} (see qmu-kit --help)")
        print(f"qmu-kit: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("qmu-kit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
