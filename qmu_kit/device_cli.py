"""``qmu-kit device``: the membership audit on an emulated or a cloud quantum device.

Example:
    >>> parser = __import__("argparse").ArgumentParser().add_subparsers()
    >>> add_parser(parser).parse_args(["--device", "aer:5x", "--queries", "500"]).queries
    500
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``device`` on the CLI's subparsers; returns its parser."""
    from qmu_kit.devices import DEVICE_HELP, ENGINES
    from qmu_kit.experiment import METHODS, PRESETS

    parser = subparsers.add_parser("device", help="audit a model on an emulated or cloud quantum device")
    parser.add_argument("--preset", choices=tuple(PRESETS), default="classroom", help="experiment preset (default classroom)")
    parser.add_argument("--device", default="aer:default", metavar="SPEC", help=f"{DEVICE_HELP} (default aer:default)")
    parser.add_argument("--queries", type=int, default=500, metavar="N", help="members and non-members queried (20..2000)")
    parser.add_argument("--shots", type=int, default=1000, metavar="S", help="shots per query (1..1000000; never exact)")
    parser.add_argument("--method", default="", metavar="NAMES",
                        help=f"unlearning methods also audited, comma list of {'|'.join(METHODS)}")
    parser.add_argument("--engine", default="fast", choices=tuple(e for e in ENGINES if e != "sampler"),
                        help="aer: devices: fast (exact noisy distribution, default) or aer (one circuit per query)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="experiment seed")
    parser.add_argument("--batch", type=int, default=100, metavar="N", help="circuits per cloud job")
    parser.add_argument("--yes", action="store_true", help="confirm submission to a cloud device (after the cost preview)")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``qmu-kit device``; bad input is one ``qmu-kit: error:`` line and exit status 2 (as every
    command's: :class:`qmu_kit.cli.UsageError`)."""
    from qmu_kit.cache import atomic_write
    from qmu_kit.cli import UsageError
    from qmu_kit.devices import run_device_audit
    from qmu_kit.experiment import ExperimentConfig

    try:
        config = ExperimentConfig.from_preset(args.preset).replace(seed=args.seed)
        methods = tuple(m for m in args.method.split(",") if m)
        audit = run_device_audit(config, args.device, shots=args.shots, n_queries=args.queries, engine=args.engine,
                                 methods=methods, cache=not args.no_cache, confirm=args.yes, batch_size=args.batch,
                                 progress=sys.stderr.isatty())
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(f"{audit.label} ({audit.engine}), {audit.n_queries} + {audit.n_queries} queries, {audit.shots} shots, "
          f"{audit.seconds:.1f} s")
    print(audit.table().to_string())
    if args.json:
        result = {"config": config.resolved().replace(methods=methods).to_dict(), **audit.to_dict()}
        payload = json.dumps(result, indent=1).encode()
        atomic_write(Path(args.json), lambda file: file.write(payload))
    return 0
