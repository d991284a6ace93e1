"""Cost of ``qmu-kit bench``: the classroom leaderboard (the ``leaderboard`` preset; all methods, both
QNNs, class and random forgetting, 5 evaluation seeds, the many-model verification at K = 16).

Prints, from one run on this machine:
  reference - one cold experiment at the same preset (``run_experiment`` with the lessons' methods and
              every attack), measured in the same run, so every time below is also a multiple of it;
  cold      - ``run_bench`` with an empty cache, wall and (with ``--jobs 1``) CPU seconds, and as a
              share of TARGET_SECONDS;
  replay    - the same call again in the same cache (every run and the verification replayed);
  per run   - with ``--stage-costs``: the CPU seconds of one run of each method at one seed (and of one
              baseline run: the original and retrained models and their audit), and the projection to
              the whole leaderboard (runs per method = budget x tuning seeds + settings x evaluation
              seeds, per scenario and model); ``--preset paper --stage-costs`` gives the paper preset's
              cost per method for planning without running it.

``--tiny`` shrinks every experiment (2 qubits, 40 / 40 samples, 1 epoch) to check the script runs.

``--record PATH`` writes the measurement (machine, settings, cold and replay seconds) as JSON;
``--leaderboard PATH.json`` writes the leaderboard itself and its markdown beside it (``PATH.md``), so
the committed leaderboard and its cost come from one cold run.

Run: ``python benchmarks/bench_leaderboard.py`` (the classroom leaderboard, cold: long), or
``python benchmarks/bench_leaderboard.py --stage-costs [--preset paper]``, or ``--tiny`` to try it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import psutil

from qmu_kit.core import ResultCache, workers
from qmu_kit.experiment import PRESETS, ExperimentConfig, run_experiment
from qmu_kit.studies import BUDGET, DEFAULT_SCENARIOS, run_bench
from qmu_kit.studies.bench import BENCH_ATTACKS, DEFAULT_EVALUATION_SEEDS, _bench_run, bench_grid, budget_candidates
from qmu_kit.studies.tuning import DEFAULT_TUNING_SEEDS, PUBLISHED
from qmu_kit.unlearning import method_names

#: The issue's budget for the cold classroom leaderboard on 2 cores.
TARGET_SECONDS = 45 * 60.0
TINY = dict(n_qubits=2, n_train=40, n_test=40, epochs=1)


def cpu_seconds() -> float:
    """CPU seconds of this process and its whole tree: finished children (reaped) and running ones (the
    worker processes stay alive between calls)."""
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    running = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            running += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + running


def cpu_timed(function, *args, **kwargs):
    """Wall and CPU seconds of this process (with --jobs 1 all work runs here)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="leaderboard", choices=tuple(PRESETS))
    parser.add_argument("--methods", default="all", help="'all' or a comma list")
    parser.add_argument("--models", default="basic,hybrid")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--seeds", type=int, default=len(DEFAULT_EVALUATION_SEEDS), help="evaluation seeds 0..N-1")
    parser.add_argument("--tuning-seeds", type=int, default=len(DEFAULT_TUNING_SEEDS), help="tuning seeds 1000..")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--verify-models", type=int, default=16, help="K of the verification (0: none)")
    parser.add_argument("--jobs", type=int, default=workers())
    parser.add_argument("--tiny", action="store_true", help="2 qubits, 40/40 samples, 1 epoch: checks the script")
    parser.add_argument("--stage-costs", action="store_true", help="CPU seconds per run and a projection")
    parser.add_argument("--record", type=Path, help="write the measurement as JSON to this path")
    parser.add_argument("--leaderboard", type=Path, help="write the leaderboard's JSON here and its markdown beside it")
    args = parser.parse_args()
    base = ExperimentConfig.from_preset(args.preset, **(TINY if args.tiny else {}))
    methods = method_names() if args.methods == "all" else tuple(args.methods.split(","))
    models, scenarios = args.models.split(","), args.scenarios.split(",")
    tuning, evaluation = [1000 + i for i in range(args.tuning_seeds)], list(range(args.seeds))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; jobs={args.jobs}; preset {args.preset}"
          f"{' (tiny)' if args.tiny else ''}; {len(methods)} methods, {len(models)} models, {len(scenarios)} scenarios, "
          f"{len(tuning)} tuning and {len(evaluation)} evaluation seeds, budget {args.budget}, K={args.verify_models}", flush=True)
    reference, reference_cpu, _ = cpu_timed(run_experiment, base, cache=ResultCache(tempfile.mkdtemp(prefix="qmu-bench-")))
    print(f"reference: one cold experiment {reference:7.1f} s wall, {reference_cpu:7.1f} CPU-s", flush=True)
    if args.stage_costs:
        stage_costs(args, base, methods, models, scenarios, tuning, evaluation, reference_cpu)
        return
    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
    options = dict(methods=methods, scenarios=scenarios, models=models, tuning_seeds=tuning, evaluation_seeds=evaluation,
                   budget=args.budget, verify_models=args.verify_models or None, cache=cache, n_jobs=args.jobs)
    load, tree_cpu = os.getloadavg()[0], cpu_seconds()
    cold, cpu, result = cpu_timed(run_bench, base, **options)
    tree_cpu = cpu_seconds() - tree_cpu
    warm, _, again = cpu_timed(run_bench, base, **options)
    assert again.to_dict()["runs"] == result.to_dict()["runs"]
    if args.leaderboard:
        result.to_json(args.leaderboard)
        args.leaderboard.with_suffix(".md").write_text(result.leaderboards(), encoding="utf-8")
    if args.record:
        args.record.write_text(json.dumps({
            "date": datetime.date.today().isoformat(),
            "command": "python benchmarks/bench_leaderboard.py " + " ".join(
                f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                for k, v in vars(args).items() if v not in (None, False) and k not in ("record", "leaderboard")),
            "machine": {"cores": os.cpu_count(), "load_average_before": round(load, 2)},
            "settings": {"preset": args.preset, "methods": len(methods), "models": models, "scenarios": scenarios,
                         "tuning_seeds": tuning, "evaluation_seeds": evaluation, "budget": args.budget,
                         "verify_models": args.verify_models, "jobs": args.jobs},
            "reference_experiment": {"wall_s": round(reference, 1), "cpu_s": round(reference_cpu, 1)},
            "cold": {"wall_s": round(cold, 1), "cpu_s_process_tree": round(tree_cpu, 1), "runs": len(result.runs)},
            "replay": {"wall_s": round(warm, 2)},
            "target_s": TARGET_SECONDS,
        }, indent=1) + "\n")
    cpu_note = f", {cpu:7.1f} CPU-s = {cpu / reference_cpu:5.1f}x the experiment's" if args.jobs == 1 else ""
    print(f"cold {cold:7.1f} s wall{cpu_note} ({cold / reference:5.1f}x the experiment's wall; {cold / TARGET_SECONDS:.2f}x of "
          f"the {TARGET_SECONDS:.0f} s target)   replay {warm:6.2f} s   runs {len(result.runs)}", flush=True)
    print(result.leaderboard(scenarios[0], models[-1]))


def stage_costs(args, base, methods, models, scenarios, tuning, evaluation, reference_cpu) -> None:
    """CPU seconds of one run per method (one scenario and model at a time, seed ``evaluation[0]``) and
    the projection to the whole leaderboard on ``--jobs`` idle cores (the verification not included)."""
    import torch

    torch.set_num_threads(1)  # as in a worker process
    grids = bench_grid(methods)
    total = 0.0
    for scenario in scenarios:
        for model in models:
            directory = str(ResultCache(tempfile.mkdtemp(prefix="qmu-bench-")).directory)
            config = base.replace(model=model, forget=scenario, seed=evaluation[0], attacks=BENCH_ATTACKS, attack=BENCH_ATTACKS[0],
                                  method_options={})
            _, baseline_cpu, _ = cpu_timed(_bench_run, config.replace(methods=()).to_dict(), directory)
            line = [f"{scenario} {model}: baseline {baseline_cpu:.1f} CPU-s per seed"]
            total += baseline_cpu * (len(tuning) + len(evaluation))
            for name in methods:
                options = budget_candidates(name, grids[name], args.budget)[0]
                _, cpu, _ = cpu_timed(_bench_run, config.replace(methods=(name,), method_options={name: options}).to_dict(), directory)
                runs = args.budget * len(tuning) + (2 if name in PUBLISHED else 1) * len(evaluation)
                total += cpu * runs  # a method run replays the cached original and retrained models: its cost is its own
                line.append(f"{name} {cpu:.1f} x {runs} runs = {cpu * runs:.0f}")
            print("; ".join(line), flush=True)
    print(f"projection (without verification): {total:.0f} CPU-s = {total / reference_cpu:.1f}x the experiment's -> "
          f"{total / args.jobs:.0f} s on {args.jobs} idle cores ({total / args.jobs / TARGET_SECONDS:.2f}x of the "
          f"{TARGET_SECONDS:.0f} s target)", flush=True)


if __name__ == "__main__":
    main()
