"""The ``qmu-kit`` command line.

``qmu-kit run`` runs one experiment and prints a table (``--json PATH`` also writes the result).
Bad input exits with status 2 and one line naming the flag and its allowed values; no traceback.

Example:
    qmu-kit run --preset classroom --shots 300 --method ga --json result.json
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Callable, Sequence

from qmu_kit._validation import MAX_SHOTS, check_choice, check_depth, check_int, check_qubits, check_shots
from qmu_kit.data import DATASETS, MODELS, ForgetSpec

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
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
            raise ValueError(f"{name}={text!r} is not valid: {name} must be {allowed}") from None
        return check_int(name, value, low, high)

    return _flag_type(check)


def _parsed_int(text: str):
    """``int(text)`` when the text is an integer, else the text itself (the validator names it)."""
    try:
        return int(text)
    except ValueError:
        return text


def _qubits(text: str) -> int:
    return check_qubits(_parsed_int(text))


def _depth(text: str) -> int:
    return check_depth(_parsed_int(text))


def _shots(text: str) -> int | None:
    return check_shots(text)


def _forget(text: str) -> str:
    return str(ForgetSpec.parse(text))


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


def build_parser() -> argparse.ArgumentParser:
    from qmu_kit.experiment import ATTACK_NAMES, METHODS, PRESETS
    from qmu_kit.unlearning import PARAMETER_GROUPS

    parser = _Parser(prog="qmu-kit", description="Membership leakage and unlearning of quantum neural networks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    run = commands.add_parser("run", help="run one experiment and print its table")
    run.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="starting point (default classroom)")
    run.add_argument("--model", choices=MODELS, help="basic or hybrid QNN")
    run.add_argument("--qubits", type=_flag_type(_qubits), metavar="N", help="number of qubits (2..12)")
    run.add_argument("--depth", type=_flag_type(_depth), metavar="L", help="circuit layers (1..50)")
    run.add_argument("--shots", type=_flag_type(_shots), metavar="exact|S", help=f"'exact' or 1..{MAX_SHOTS} shots")
    run.add_argument("--method", type=_names("method", METHODS), metavar="NAMES", help=f"{'|'.join(METHODS)}|all, or a comma list")
    run.add_argument("--forget", type=_flag_type(_forget), metavar="class:K|random:F", help="what to forget")
    run.add_argument("--seed", type=_integer("seed", 0, 2**32 - 1), metavar="N", help="the one seed (0..2**32-1)")
    run.add_argument("--dataset", choices=DATASETS, help="digits (embedded) or mnist (local files)")
    run.add_argument("--data-path", metavar="PATH", help="MNIST directory of IDX files or mnist.npz")
    run.add_argument("--n-train", type=_integer("n_train", 20, 100_000), metavar="N", help="training-set size")
    run.add_argument("--n-test", type=_integer("n_test", 20, 100_000), metavar="N", help="test-set size")
    run.add_argument("--epochs", type=_integer("epochs", 1, 10_000), metavar="N", help="training epochs")
    run.add_argument("--attacks", type=_names("attack", ATTACK_NAMES), metavar="NAMES", help=f"{'|'.join(ATTACK_NAMES)}|all")
    run.add_argument("--attack", choices=ATTACK_NAMES, help="attack behind the headline MIA numbers (default mlp)")
    run.add_argument("--shadows", type=_integer("n_shadows", 1, 64), metavar="K", help="LiRA shadow models")
    run.add_argument("--unlearn-params", choices=PARAMETER_GROUPS, help="parameters unlearning may change")
    run.add_argument("--option", type=_flag_type(_option), action="append", default=[], metavar="METHOD.KNOB=VALUE",
                     help="a method knob, e.g. ga.lr=0.02 (repeatable)")
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    run.add_argument("--cache-dir", metavar="DIR", help="cache location (default: the user cache dir)")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


#: CLI flag -> ExperimentConfig field.
FLAG_FIELDS = {
    "model": "model", "qubits": "n_qubits", "depth": "depth", "shots": "shots", "method": "methods",
    "forget": "forget", "seed": "seed", "dataset": "dataset", "data_path": "data_path", "n_train": "n_train",
    "n_test": "n_test", "epochs": "epochs", "attacks": "attacks", "attack": "attack", "shadows": "n_shadows",
    "unlearn_params": "unlearn_params",
}


def config_from_args(args: argparse.Namespace):
    from qmu_kit.experiment import ExperimentConfig

    overrides = {field: getattr(args, flag) for flag, field in FLAG_FIELDS.items() if getattr(args, flag) is not None}
    if args.shots is None and "--shots" in sys.argv:  # 'exact' parses to None
        overrides["shots"] = None
    if args.dataset == "mnist" and not args.data_path:
        raise UsageError("argument --data-path: --dataset mnist needs --data-path (a directory of IDX files or an .npz)")
    if args.data_path and args.dataset != "mnist":
        raise UsageError("argument --data-path: only used with --dataset mnist")
    if args.attacks and "attack" not in overrides:
        overrides["attack"] = "mlp" if "mlp" in args.attacks else args.attacks[0]
    options = {}
    for method, knob, value in args.option:
        options.setdefault(method, {})[knob] = value
    if options:
        from qmu_kit.experiment import PRESETS

        merged = {k: dict(v) for k, v in PRESETS[args.preset].get("method_options", {}).items()}
        for method, knobs in options.items():
            merged.setdefault(method, {}).update(knobs)
        overrides["method_options"] = merged
    try:
        return ExperimentConfig.from_preset(args.preset, **overrides)
    except ValueError as error:
        flag = "--option" if "option" in str(error) else None
        raise UsageError(f"argument {flag}: {error}" if flag else str(error)) from None


def command_run(args: argparse.Namespace) -> int:
    from qmu_kit.cache import ResultCache
    from qmu_kit.experiment import run_experiment

    config = config_from_args(args)
    cache = False if args.no_cache else ResultCache(args.cache_dir)
    try:
        result = run_experiment(config, cache=cache, progress=not args.quiet and sys.stderr.isatty())
    except (ValueError, FileNotFoundError) as error:  # bad data files and the like
        prefix = "argument --data-path: " if config.data_path else ""
        raise UsageError(f"{prefix}{error}") from None
    training = config.training()
    print(
        f"qmu-kit {args.preset}: {config.model} QNN, {config.n_qubits} qubits, depth {training['depth']}, "
        f"{config.dataset} {config.n_train}/{config.n_test}, forget {config.forget}, "
        f"shots {config.shots or 'exact'}, seed {config.seed}, attack {config.attack}"
        + (" (from cache)" if result.from_cache else "")
    )
    print(result.summary())
    if args.json:
        path = result.to_json(args.json)
        print(f"wrote {path}")
    return 0


COMMANDS = {"run": command_run}


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
