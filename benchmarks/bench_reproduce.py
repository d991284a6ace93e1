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

Every time is printed as wall-clock and CPU seconds of this (single-threaded) process: on a shared,
oversubscribed machine the wall clock measures the queue, the CPU time what a free core would need;
the estimate uses CPU time.

Run: ``python benchmarks/bench_reproduce.py`` (about 15-25 minutes on 2 free cores; run it once), or
``python benchmarks/bench_reproduce.py --quick``: one training epoch per model only, and the estimate
from the sample-epochs every run of the plan trains (training dominates; unlearning, attacks and
evaluation are not counted, so it is a lower bound).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import torch


def epoch_seconds(model: str, dtype: torch.dtype) -> float:
    """CPU seconds of one epoch (1000 samples) of the paper preset's training at ``dtype``."""
    from qmu_kit.qnn import models
    from qmu_kit.qnn import prepare_data
    from qmu_kit.qnn import PAPER_DEPTH, PAPER_TRAINING

    data = prepare_data("mnist", model=model, n_qubits=8, n_train=1000, n_test=500, seed=100)
    saved, models.DTYPE = models.DTYPE, dtype  # the quantum layer casts its input to models.DTYPE
    try:
        torch.manual_seed(0)
        module = models.build_model(model, 8, PAPER_DEPTH[model], 10, data.x_train.shape[1:]).to(dtype)
        config = PAPER_TRAINING[model]
        optimizer = config.make_optimizer(module.parameters())
        x, y = torch.as_tensor(data.x_train, dtype=dtype), torch.as_tensor(data.y_train)
        start = time.process_time()
        for begin in range(0, len(x), config.batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(module(x[begin : begin + config.batch_size]), y[begin : begin + config.batch_size]).backward()
            optimizer.step()
        return time.process_time() - start
    finally:
        models.DTYPE = saved


def sample_epochs(config) -> float:
    """Training samples x epochs of one cold run of ``config``, in units of the preset's 1000-sample epoch."""
    from qmu_kit.leakage import needs_reference

    epochs = config.training()["epochs"]
    forget_share = 0.1 if config.forget.startswith("class:") else float(config.forget.split(":")[1])
    trainings = config.n_train  # the original
    if needs_reference(config.attacks):
        trainings += config.n_shadows * config.n_train  # shadows train on min(n_train, population // 2)
    if config.retrain:
        trainings += (1 - forget_share) * config.n_train
    return trainings * epochs / 1000


def main() -> None:
    from qmu_kit.core import ResultCache
    from qmu_kit.core import workers as available_workers
    from qmu_kit.experiment import run_experiment
    from qmu_kit.report import EVALUATION_SEEDS, MODELS, plan

    torch.set_num_threads(1)
    quick = "--quick" in sys.argv[1:]
    seed = EVALUATION_SEEDS[0]
    workers = min(2, available_workers())
    print(f"paper preset, seed {seed}, one thread, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    epoch = {}
    for model in MODELS:
        f64, f32 = epoch_seconds(model, torch.float64), epoch_seconds(model, torch.float32)
        epoch[model] = f64
        print(f"dtype   {model:<7} epoch float64 {f64:6.2f} CPU s, float32 {f32:6.2f} CPU s: float32 takes {f32 / f64:.2f}x the time")
    if quick:
        per_model = {}
        for model in MODELS:
            cold = {variant: base.replace(model=model) for variant, (base, _grid) in plan("paper", (seed,)).items()}
            # Trained models are shared: the tuned and shots variants reuse the published run's.
            units = sum(sample_epochs(config) for variant, config in cold.items() if variant not in ("tuned", "shots"))
            per_model[model] = units * epoch[model]
            print(f"{model:<7} per seed: {units:.0f} epochs of 1000 samples -> {per_model[model]:.0f} CPU s of training")
        runs = len(EVALUATION_SEEDS) * sum(per_model.values())
        print(f"estimate (training only, a lower bound): {len(EVALUATION_SEEDS)} seeds x {len(MODELS)} models on {workers} cores: "
              f"{runs / workers / 60:.1f} min ({runs / workers / 60 / 30:.2f}x of the 30 min target)")
        return
    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-reproduce-"))
    per_model = {}
    for model in MODELS:
        total = 0.0
        for variant, (base, _grid) in plan("paper", (seed,)).items():
            wall, cpu = time.perf_counter(), time.process_time()
            run_experiment(base.replace(model=model, seed=seed), cache=cache)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            total += cpu
            print(f"{model:<7} {variant:<12} {wall:8.1f} s wall {cpu:8.1f} CPU s")
        per_model[model] = total
        print(f"{model:<7} {'per seed':<12} {total:8.1f} CPU s")
    runs = len(EVALUATION_SEEDS) * sum(per_model.values())
    print(f"estimate: make reproduce's runs, {len(EVALUATION_SEEDS)} seeds x {len(MODELS)} models on {workers} cores: "
          f"{runs / workers / 60:.1f} min ({runs / workers / 60 / 30:.2f}x of the 30 min target; notebooks and device audits not included)")


if __name__ == "__main__":
    main()
