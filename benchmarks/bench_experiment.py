"""End-to-end cost of the classroom preset: cold, from the cache, and each mechanism vs retraining.

Prints, from one run on this machine:
  cold    - run_experiment at the classroom preset with an empty cache (target <= 30 s);
  warm    - the same call again, replayed from the cache (target <= 0.5 s);
  shots   - a shots slider move (same config, shots=300): reuses the cached trained models;
  per method - unlearning seconds and circuit evaluations, as speed-ups over retraining.

Run: ``python benchmarks/bench_experiment.py``.
"""

from __future__ import annotations

import tempfile
import time

from qmu_kit.core import ResultCache
from qmu_kit.experiment import ExperimentConfig
from qmu_kit.experiment import run_experiment


def timed(config, cache):
    start = time.perf_counter()
    result = run_experiment(config, cache=cache)
    return time.perf_counter() - start, result


def main() -> None:
    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
    config = ExperimentConfig()
    cold, result = timed(config, cache)
    warm, replay = timed(config, cache)
    assert replay.from_cache
    moved, _ = timed(config.replace(shots=300), cache)
    print("classroom preset (hybrid QNN, 6 qubits, 300/700 digits, all methods and attacks)")
    print(f"cold run            {cold:8.2f} s   ({cold / 30:.2f}x of the 30 s target)")
    print(f"replay from cache   {warm:8.3f} s   ({warm / 0.5:.3f}x of the 0.5 s target; {cold / warm:.0f}x faster than cold)")
    print(f"shots slider move   {moved:8.2f} s   ({moved / cold:.2f}x of cold: trained models come from the cache)")
    retrain = result.models["retrained"]
    print(f"retrain             {retrain.seconds:8.2f} s   {retrain.circuit_evaluations:.2e} circuit evaluations")
    for name in config.methods:
        model = result.models[name]
        print(
            f"{name:<19} {model.seconds:8.2f} s   speed-up {retrain.seconds / model.seconds:6.1f}x  "
            f"circuits {retrain.circuit_evaluations / model.circuit_evaluations:6.1f}x fewer"
        )
    print(f"cold: {cold:.1f}s  cached: {warm:.3f}s  cached-vs-cold: {warm / cold:.4f}x")


if __name__ == "__main__":
    main()
