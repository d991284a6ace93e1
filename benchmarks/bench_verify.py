"""Cost of ``qmu-kit verify`` at the classroom preset: K = 8 and 16, one method and all methods.

Prints, from one run on this machine (each cold run in its own empty cache):
  reference - one cold classroom experiment (``run_experiment``, all methods and attacks), measured in
              the same run, so every time below is also given as a multiple of it (the ratio survives a
              slower or busier machine better than seconds do);
  cold      - ``verify`` with an empty cache, for each (K, methods) asked for; target for
              ``--method all --models 16``: <= 600 s on 2 cores;
  replay    - the same call again, replayed from the cache (target: well under a second of work
              after imports);
  resume    - K = 16 after K = 8 in the same cache: only the second half of the models is new.

``--stage-costs`` instead measures, in this process, the CPU seconds of each piece of one model's
work at the classroom preset (a training; each method's unlearning and checks; the controls' checks)
and projects the cold time of any K and method set on an idle machine: the pieces are independent,
so with J workers the wall time is about total CPU / J. Use it when the machine is too busy for
the cold runs to finish (the projection says so; it is not a measurement of the whole run).

Run: ``python benchmarks/bench_verify.py`` (all four combinations, about 4x the headline's time),
or e.g. ``python benchmarks/bench_verify.py --models 16 --methods all`` for the headline alone.
``--jobs`` sets the worker processes (default: one per core).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from qmu_kit.core import ResultCache, workers
from qmu_kit.experiment import ExperimentConfig
from qmu_kit.experiment import run_experiment
from qmu_kit.studies import VerifyConfig, verify

TARGET_SECONDS = 600.0


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def cpu_timed(function, *args, **kwargs):
    """Wall and CPU seconds of this process (with --jobs 1 all work runs here, so the CPU seconds are
    what the run costs whatever else the machine is doing; CPU / cores is the idle-machine time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--methods", nargs="+", default=["ga", "all"], help="'all' or one method name per entry")
    parser.add_argument("--jobs", type=int, default=workers())
    parser.add_argument("--stage-costs", action="store_true", help="CPU seconds per piece of work and a projection")
    args = parser.parse_args()
    if args.stage_costs:
        stage_costs(args)
        return

    reference, reference_cpu, _ = cpu_timed(run_experiment, ExperimentConfig(), cache=ResultCache(tempfile.mkdtemp(prefix="qmu-bench-")))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; jobs={args.jobs}")
    print(f"reference: one cold classroom experiment {reference:7.1f} s wall, {reference_cpu:7.1f} CPU-s", flush=True)
    headline = None
    for models in args.models:
        for methods in args.methods:
            cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
            config = VerifyConfig(ExperimentConfig(), models=models)
            cold, cpu, result = cpu_timed(verify, config, methods, cache=cache, n_jobs=args.jobs)
            warm, replay = timed(verify, config, methods, cache=cache, n_jobs=args.jobs)
            assert replay.from_cache
            cpu_note = f", {cpu:7.1f} CPU-s = {cpu / reference_cpu:5.1f}x the experiment's" if args.jobs == 1 else ""
            line = (f"K={models:<3d} methods={methods:<5s} cold {cold:7.1f} s wall{cpu_note} ({cold / reference:5.1f}x the experiment's wall"
                    f"{f'; {cold / TARGET_SECONDS:.2f}x of the {TARGET_SECONDS:.0f} s target' if models == 16 and methods == 'all' else ''})"
                    f"   replay {warm:6.3f} s   controls separate: {result.has_power}")
            print(line, flush=True)
            if models == 16 and methods == "all":
                headline = (cold, warm)
    if 8 in args.models and 16 in args.models:
        cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
        first, _ = timed(verify, VerifyConfig(models=8), "ga", cache=cache, n_jobs=args.jobs)
        second, _ = timed(verify, VerifyConfig(models=16), "ga", cache=cache, n_jobs=args.jobs)
        print(f"resume: K=8 ga {first:.1f} s, then K=16 ga in the same cache {second:.1f} s (only models 8..15 are new)")
    if headline:
        print(f"headline: verify --method all --models 16: cold {headline[0]:.1f}s  cached {headline[1]:.3f}s  "
              f"target-ratio {headline[0] / TARGET_SECONDS:.2f}")


def stage_costs(args) -> None:
    import torch

    import qmu_kit.studies.verification as V

    torch.set_num_threads(1)  # as in a worker process
    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
    config = VerifyConfig(ExperimentConfig().resolved(), models=16)
    config_dict, directory = config.to_dict(), str(cache.directory)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    _, train_cpu, _ = cpu_timed(V._train_unit, config_dict, "original", 0, directory)
    _, retrain_cpu, _ = cpu_timed(V._train_unit, config_dict, "reference", 0, directory)
    _, control_cpu, _ = cpu_timed(V._train_unit, config_dict, "control", 0, directory)
    print(f"training: original {train_cpu:.1f} CPU-s, retrained {retrain_cpu:.1f}, control {control_cpu:.1f}", flush=True)
    units = {}
    for name in ("reference", "retrain", "none"):
        units[name] = cpu_timed(V._run_unit, config_dict, name, 0, None, directory)[1]
    for name, method in V._method_objects(config, V.available_methods()).items():
        units[name] = cpu_timed(V._run_unit, config_dict, name, 0, method, directory)[1]
    print("per model (unlearning where it applies + checks): "
          + ", ".join(f"{name} {cpu:.1f}" for name, cpu in units.items()) + " CPU-s", flush=True)
    trainings = train_cpu + retrain_cpu + control_cpu
    for models in args.models:
        for methods in args.methods:
            names = ["reference", "retrain", "none", *(V.available_methods() if methods == "all" else [methods])]
            total = models * (trainings + sum(units[n] for n in names))
            print(f"projection K={models:<3d} methods={methods:<5s} {total:7.0f} CPU-s -> {total / args.jobs:6.0f} s on "
                  f"{args.jobs} idle cores" + (f" ({total / args.jobs / TARGET_SECONDS:.2f}x of the {TARGET_SECONDS:.0f} s target)"
                                              if models == 16 and methods == "all" else ""), flush=True)


if __name__ == "__main__":
    main()
