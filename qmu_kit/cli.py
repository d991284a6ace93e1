"""The ``qmu-kit`` command line.

* ``qmu-kit run`` runs one experiment and prints a table (``--json PATH`` also writes the result).
* ``qmu-kit sweep`` runs a grid of experiments (joblib processes or a Dask cluster) into CSV and JSON.
* ``qmu-kit app`` serves the Voila apps on 127.0.0.1; ``qmu-kit reproduce`` writes ``reports/``.

Bad input exits with status 2 and one line naming the flag and its allowed values; no traceback.

Example:
    qmu-kit run --preset classroom --shots 300 --method ga --json result.json
    qmu-kit sweep --grid shots=100,1000,exact --grid seed=0,1,2 --csv sweep.csv
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Callable, Sequence

from qmu_kit import device_cli, tuning, verify_cli
from qmu_kit._validation import MAX_QUERIES, MIN_QUERIES, check_choice, check_float, check_int

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def _flag_type(check: Callable) -> Callable:
    """Wrap a validator so argparse reports its ValueError against the flag."""

    def convert(text: str):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _integer(name: str, low: int, high: int | None = None) -> Callable:
    return _flag_type(lambda text: check_int(name, _parsed_int(text), low, high))


def _positive_number(name: str) -> Callable:
    return _flag_type(lambda text: check_float(name, _parsed_float(text), 0.0, low_inclusive=False))


def _parsed_float(text: str):
    """``float(text)`` when the text is a number, else the text itself (the validator names it)."""
    try:
        return float(text)
    except ValueError:
        return text


def _parsed_int(text: str):
    """``int(text)`` when the text is an integer, else the text itself (the validator names it)."""
    try:
        return int(text)
    except ValueError:
        return text


def _names(kind: str, allowed: Sequence[str], all_word: bool = True) -> Callable:
    def check(text: str) -> tuple[str, ...]:
        if all_word and text.strip() == "all":
            return tuple(allowed)
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:
            raise ValueError(f"{kind}={text!r} is empty: give one or more of {', '.join(allowed)}" + (" or 'all'" if all_word else ""))
        for name in names:
            if name not in allowed:
                raise ValueError(
                    f"unknown {kind} {name!r}: choose from {', '.join(allowed)}" + (", or 'all'" if all_word else "")
                )
        return names

    return _flag_type(check)


def _option(text: str) -> tuple[str, str, object]:
    """``METHOD.KNOB=VALUE`` -> (method, knob, value)."""
    from qmu_kit.experiment import METHODS

    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ValueError(f"option {text!r} is not METHOD.KNOB=VALUE (METHOD one of {', '.join(METHODS)})")
    target, raw = text.split("=", 1)
    method, knob = target.split(".", 1)
    check_choice("method", method, METHODS)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return method, knob, value


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _add_experiment_flags(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """The flags that describe one experiment (``run``; the base of a ``sweep``, ``verify`` and
    ``device``), built from the config's field table (:data:`qmu_kit.experiment.FIELDS`): one place for
    each range and help text. Choices are read from the registries when the parser is built, so
    registered methods and attacks are choices too. ``skip`` leaves out fields a command sets its own
    way (``device`` has its own ``--shots``: a device always samples)."""
    from qmu_kit.experiment import FIELDS, PRESETS

    parser.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="starting point (default classroom)")
    for name, spec in FIELDS.items():
        if spec.flag is None or name in skip:
            continue
        if spec.names:
            allowed = spec.choices()
            parser.add_argument(spec.flag, dest=_dest(spec.flag), type=_names(name.rstrip("s"), allowed), metavar=spec.metavar,
                                help=f"{spec.help}: {'|'.join(allowed)}|all, or a comma list")
        elif spec.choices is not None:
            parser.add_argument(spec.flag, dest=_dest(spec.flag), choices=spec.choices(), help=spec.help)
        else:
            parser.add_argument(spec.flag, dest=_dest(spec.flag), type=_flag_type(spec.parse), metavar=spec.metavar, help=spec.help)
    parser.add_argument("--option", type=_flag_type(_option), action="append", default=[], metavar="METHOD.KNOB=VALUE",
                        help="a method knob, e.g. ga.lr=0.02 (repeatable)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache location (default: the user cache dir)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from qmu_kit.app import DEFAULT_HOST, DEFAULT_POOL_SIZE, DEFAULT_PORT, MAX_POOL_SIZE
    from qmu_kit.experiment import PRESETS
    from qmu_kit.reproduce import EVALUATION_SEEDS, MIN_DEVICE_QUERIES, TUNING_SEEDS
    from qmu_kit.sweep import DEFAULT_MAX_HOURS, MAX_JOBS, default_workers

    parser = _Parser(prog="qmu-kit", description="Membership leakage and unlearning of quantum neural networks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    run = commands.add_parser("run", help="run one experiment and print its table")
    _add_experiment_flags(run)
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")

    sweep = commands.add_parser("sweep", help="run a grid of experiments (joblib or Dask) into CSV and JSON")
    _add_experiment_flags(sweep)
    sweep.add_argument("--grid", type=_flag_type(_grid_item), action="append", default=[], metavar="FIELD=V1,V2",
                       help="a config field and its values, e.g. shots=100,1000,exact (repeatable)")
    sweep.add_argument("--file", metavar="YAML", help="a sweep file: preset, base fields and a grid")
    sweep.add_argument("--jobs", type=_integer("jobs", 1, MAX_JOBS), default=default_workers(), metavar="N",
                       help="local worker processes (joblib; default: one per core)")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead")
    sweep.add_argument("--csv", metavar="PATH", default="sweep.csv", help="tidy table, one row per run and model")
    sweep.add_argument("--json", metavar="PATH", help="every result in full")
    sweep.add_argument("--max-hours", type=_positive_number("max_hours"), default=DEFAULT_MAX_HOURS,
                       metavar="H", help=f"refuse grids estimated to need more CPU-hours (default {DEFAULT_MAX_HOURS:g})")

    app = commands.add_parser("app", help="serve the apps with Voila (localhost only by default)")
    app.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    app.add_argument("--port", type=_integer("port", 1, 65535), default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    app.add_argument("--no-warm", action="store_true", help="skip precomputing the apps' default results")
    app.add_argument("--warm", action="store_true",
                     help="first compute every slider stop of every app (resumable; about half an hour of one core the first time)")
    app.add_argument("--jobs", type=_integer("jobs", 1, MAX_JOBS), default=default_workers(), metavar="N",
                     help="processes for --warm (default: one per core)")
    app.add_argument("--pool", type=_integer("pool", 0, MAX_POOL_SIZE), default=DEFAULT_POOL_SIZE, metavar="N",
                     help=f"preheated kernels kept ready per app (default {DEFAULT_POOL_SIZE}; about 0.3 GB each)")
    app.add_argument("--static", action="store_true",
                     help="serve precomputed classroom pages (every slider stop rendered ahead of class; no kernel per visitor)")
    app.add_argument("--site", metavar="DIR", help="where --static keeps its pages (default: in the cache, named by the code)")

    device_cli.add_parser(commands)
    reproduce = commands.add_parser("reproduce", help="run every notebook at the paper preset and write reports/summary.md")
    reproduce.add_argument("--out", default="reports", metavar="DIR", help="output directory (default reports)")
    reproduce.add_argument("--preset", choices=tuple(PRESETS), default="paper", help="preset for every notebook (default paper)")
    reproduce.add_argument("--seeds", type=_integer("seeds", 1, 20), default=len(EVALUATION_SEEDS), metavar="N",
                           help=f"evaluation seeds {EVALUATION_SEEDS[0]}, {EVALUATION_SEEDS[0] + 1}, ... (default "
                                f"{len(EVALUATION_SEEDS)}; disjoint from the tuning seeds {', '.join(map(str, TUNING_SEEDS))})")
    reproduce.add_argument("--queries", type=_integer("queries", MIN_QUERIES, MAX_QUERIES), default=MIN_DEVICE_QUERIES, metavar="N",
                           help=f"members and non-members queried on the emulated device (default {MIN_DEVICE_QUERIES}, "
                                "what the device claim needs)")
    reproduce.add_argument("--jobs", type=_integer("jobs", 1, MAX_JOBS), default=default_workers(), metavar="N",
                           help="parallel worker processes for the runs (default: one per core)")
    reproduce.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead")
    tuning.add_parser(commands)
    verify_cli.add_parser(commands)
    return parser


def _grid_item(text: str) -> tuple[str, list]:
    """``FIELD=V1,V2,...`` -> (field, [values]); tuple fields join names with ``+`` (``methods=ga+rga,ssd``)."""
    from qmu_kit.experiment import FIELDS

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


def _flag_of(field: str) -> str:
    """The command-line flag that sets a config field (``--option`` for method knobs)."""
    from qmu_kit.experiment import FIELDS

    if field == "method_options":
        return "--option"
    return FIELDS[field].flag if field in FIELDS and FIELDS[field].flag else f"--{field.replace('_', '-')}"


def config_from_args(args: argparse.Namespace):
    """The experiment the flags describe; a bad value is reported against the flag of its field."""
    from qmu_kit._validation import ConfigError
    from qmu_kit.experiment import FIELDS, ExperimentConfig

    overrides = {}
    for name, spec in FIELDS.items():
        value = getattr(args, _dest(spec.flag), None) if spec.flag else None
        if value is not None:
            overrides[name] = value
    options = {}
    for method, knob, value in args.option:
        options.setdefault(method, {})[knob] = value
    if options:
        overrides["method_options"] = options  # merged into the preset's knobs
    try:
        return ExperimentConfig.from_preset(args.preset, **overrides)
    except ConfigError as error:
        raise UsageError(f"argument {_flag_of(error.field)}: {error}") from None
    except ValueError as error:
        raise UsageError(str(error)) from None


def _cache(args):
    from qmu_kit.cache import ResultCache

    return False if args.no_cache else ResultCache(args.cache_dir)


def command_run(args: argparse.Namespace) -> int:
    from qmu_kit.experiment import run_experiment

    config = config_from_args(args)
    try:
        result = run_experiment(config, cache=_cache(args), progress=not args.quiet and sys.stderr.isatty())
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
    from qmu_kit._validation import ConfigError
    from qmu_kit.sweep import SweepError, run_sweep

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
        result = run_sweep(base, grid, n_jobs=args.jobs, scheduler=args.scheduler, cache=_cache(args),
                           progress=not args.quiet and sys.stderr.isatty(), max_hours=args.max_hours)
    except ConfigError as error:  # a bad value from the sweep file's base, the grid (as a whole or one field) or a flag
        flag_grid = dict(args.grid)
        if error.field in flag_grid or (error.field == "grid" and (flag_grid or not args.file)):
            source = "--grid"
        elif error.field in base_fields or error.field in grid or error.field == "grid":
            source = "--file"
        else:
            source = _flag_of(error.field)
        raise UsageError(f"argument {source}: {error}") from None
    except SweepError as error:
        print(f"qmu-kit: sweep failed: {error}", file=sys.stderr)
        return 1
    import pandas as pd

    from qmu_kit.stats import Estimate

    table = result.table()
    csv_path = result.to_csv(args.csv)
    # one row per run and model (the grid has no repeated points): each rate with its interval and n
    columns = ["acc_train_forget", "acc_test_retain", "mia_success_forget", "mia_auc"]
    cells = {c: [Estimate(v, n, (low, high)).format() for v, n, low, high in
                 table[[c, f"{c}_n", f"{c}_low", f"{c}_high"]].itertuples(index=False)] for c in columns}
    summary = pd.DataFrame(cells, index=pd.MultiIndex.from_frame(table[[*grid, "model_name"]]))
    print(f"qmu-kit sweep: {len(result.results)} runs over {', '.join(f'{k} ({len(v)})' for k, v in grid.items())}")
    print("value [95 % interval] (n samples):")
    print(summary.to_string())
    print(f"wrote {csv_path}")
    if args.json:
        print(f"wrote {result.to_json(args.json)}")
    return 0


def command_app(args: argparse.Namespace) -> int:
    from qmu_kit.app import PortInUseError, serve, serve_static

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
    from qmu_kit.reproduce import reproduce

    path = reproduce(args.out, preset=args.preset, n_seeds=args.seeds, n_queries=args.queries, n_jobs=args.jobs,
                     scheduler=args.scheduler, progress=sys.stderr.isatty())
    print(f"wrote {path}")
    return 0


COMMANDS = {"run": command_run, "sweep": command_sweep, "app": command_app, "reproduce": command_reproduce, "tune": tuning.run,
            "verify": verify_cli.run, "device": device_cli.run}


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
