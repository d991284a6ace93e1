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

from qmu_kit._streams import stream_seed
from qmu_kit.cache import ResultCache
from qmu_kit.experiment import ExperimentConfig, train_original
from qmu_kit.readout import make_readout
from qmu_kit.training import accuracy
from qmu_kit.unlearning import SelectiveSynapticDampening, UnlearningTask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--shots", nargs="+", default=["30", "300", "3000", "exact"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[None], help="default: the kit's default alpha")
    parser.add_argument("--store", default="/tmp/ssd-measure", help="the model cache for the originals")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    # The kit's model cache: keyed by the training settings and the kit's code, so a changed
    # training never replays a stale original.
    cache = ResultCache(args.store)
    rows = []
    for seed in args.seeds:
        base = ExperimentConfig.from_preset("classroom", seed=seed)
        original = train_original(base, base.load_data(), cache)
        for forget in args.classes:
            config = base.replace(forget=f"class:{forget}")
            data = config.load_data()
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
                        "dampened_quantum": report.dampened_quantum,
                        "dampened_classical": report.dampened_classical,
                        "seconds": time.perf_counter() - start,
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
