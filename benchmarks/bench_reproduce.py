"""Cost of the paper preset (real MNIST, 1000/500, 8 qubits) and an estimate of ``make reproduce``.

Prints, from one run on this machine (one thread per process, as the sweep's workers run):
  per model   - every run of one evaluation seed (seed 100) that ``qmu-kit reproduce`` makes, cold:
                the published settings (original, 2 LiRA shadows, retrained, GA/SSD/RGA/fine-tune, all
                attacks), then the tuned settings, 100 shots and the two smaller training sets of
                the leakage curve (these reuse the cached trained models where they can);
  estimate    - ``make reproduce``'s runs for 5 seeds x 2 models spread over the machine's cores
                (target <= 30 min cold on 2 cores), without the notebooks and device audits;
  dtype       - one training epoch of each model in float32 vs the kit's float64 (the same run, as a
                ratio), the measurement behind keeping float64.

Run: ``python benchmarks/bench_reproduce.py`` (about 15-25 minutes on 2 free cores; run it once).
"""

from __future__ import annotations

import os
import tempfile
import time

import torch


def epoch_seconds(model: str, dtype: torch.dtype) -> float:
    """One epoch of the paper preset's training at ``dtype`` (the model cast as a whole)."""
    from qmu_kit import models
    from qmu_kit.data import prepare_data
    from qmu_kit.training import PAPER_DEPTH, PAPER_TRAINING

    data = prepare_data("mnist", model=model, n_qubits=8, n_train=1000, n_test=500, seed=100)
    saved, models.DTYPE = models.DTYPE, dtype  # the quantum layer casts its input to models.DTYPE
    try:
        torch.manual_seed(0)
        module = models.build_model(model, 8, PAPER_DEPTH[model], 10, data.x_train.shape[1:]).to(dtype)
        config = PAPER_TRAINING[model]
        optimizer = config.make_optimizer(module.parameters())
        x, y = torch.as_tensor(data.x_train, dtype=dtype), torch.as_tensor(data.y_train)
        start = time.perf_counter()
        for begin in range(0, len(x), config.batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(module(x[begin : begin + config.batch_size]), y[begin : begin + config.batch_size]).backward()
            optimizer.step()
        return time.perf_counter() - start
    finally:
        models.DTYPE = saved


def main() -> None:
    from qmu_kit.cache import ResultCache
    from qmu_kit.experiment import run_experiment
    from qmu_kit.reproduce import EVALUATION_SEEDS, MODELS, plan

    torch.set_num_threads(1)
    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-reproduce-"))
    seed = EVALUATION_SEEDS[0]
    print(f"paper preset, seed {seed}, one thread, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    per_model = {}
    for model in MODELS:
        total = 0.0
        for variant, (base, _grid) in plan("paper", (seed,)).items():
            start = time.perf_counter()
            run_experiment(base.replace(model=model, seed=seed), cache=cache)
            seconds = time.perf_counter() - start
            total += seconds
            print(f"{model:<7} {variant:<12} {seconds:8.1f} s")
        per_model[model] = total
        print(f"{model:<7} {'per seed':<12} {total:8.1f} s")
    workers = min(2, os.cpu_count() or 1)
    runs = len(EVALUATION_SEEDS) * sum(per_model.values())
    print(f"estimate: make reproduce's runs, {len(EVALUATION_SEEDS)} seeds x {len(MODELS)} models on {workers} cores: "
          f"{runs / workers / 60:.1f} min ({runs / workers / 60 / 30:.2f}x of the 30 min target; notebooks and device audits not included)")
    for model in MODELS:
        f64, f32 = epoch_seconds(model, torch.float64), epoch_seconds(model, torch.float32)
        print(f"dtype   {model:<7} epoch float64 {f64:6.2f} s, float32 {f32:6.2f} s: float32 takes {f32 / f64:.2f}x the time")


if __name__ == "__main__":
    main()
