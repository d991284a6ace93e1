"""Does SSD forget at the classroom preset, for every class, seed and shot count?

Trains the classroom preset's original model per seed (hybrid QNN, 300 training samples), then runs
SSD (the kit's defaults, and the published ``alpha=10``) for each forget class and shot count and
records the exact forget-set accuracy, the retained classes' test accuracy and how many quantum and
classical parameters were dampened. Writes one JSON list of rows.

    python reports/ssd_forgetting.py --seeds 0 1 2 --out reports/ssd_forgetting.json

(about 10 minutes on one core; ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from qmu_kit._random import stream_seed
from qmu_kit.experiment import ExperimentConfig
from qmu_kit.readout import make_readout
from qmu_kit.training import QNNClassifier, accuracy
from qmu_kit.unlearning import SelectiveSynapticDampening, UnlearningTask


def original_for(config: ExperimentConfig, store: Path) -> QNNClassifier:
    path = store / f"original-seed{config.seed}.pt"
    if path.exists():
        return QNNClassifier.from_state(torch.load(path, weights_only=False))
    data = config.prepare_data()
    settings = config.training()
    model = QNNClassifier(
        config.model, config.n_qubits, settings["depth"], n_classes=data.n_classes, lr=settings["lr"],
        batch_size=settings["batch_size"], epochs=settings["epochs"], seed=config.seed,
    ).fit(data.x_train, data.y_train)
    torch.save(model.to_state(), path)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--shots", nargs="+", default=["30", "300", "3000", "exact"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[None], help="default: the kit's default alpha")
    parser.add_argument("--store", default="/tmp/ssd-measure")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        base = ExperimentConfig.from_preset("classroom", seed=seed)
        original = original_for(base, store)
        for forget in args.classes:
            config = base.replace(forget=f"class:{forget}")
            data = config.prepare_data()
            task = UnlearningTask.from_data(data, original)
            retain_test = data.retain_test
            for shots in args.shots:
                shots_value = None if shots == "exact" else int(shots)
                for alpha in args.alphas:
                    method = SelectiveSynapticDampening() if alpha is None else SelectiveSynapticDampening(alpha=alpha)
                    readout = make_readout(shots_value, stream_seed(seed, "unlearn-ssd"))
                    start = time.perf_counter()
                    model, report = method.unlearn(original, task, readout=readout, seed=seed)
                    row = {
                        "seed": seed, "forget": forget, "shots": shots, "alpha": method.alpha,
                        "forget_acc": accuracy(model.module_, task.x_forget, task.y_forget),
                        "retain_test_acc": accuracy(model.module_, data.x_test[retain_test], data.y_test[retain_test]),
                        "original_retain_test_acc": accuracy(original.module_, data.x_test[retain_test], data.y_test[retain_test]),
                        "dampened": report.dampened,
                        "seconds": time.perf_counter() - start,
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
