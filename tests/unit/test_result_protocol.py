"""Every result type follows one protocol (:class:`qmu_kit.core.results.Result`): JSON round trip through
a dict and an atomically written file, its schema checked, tables as DataFrames with or without intervals,
a figure on a given Axes or a new one, and a summary text."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qmu_kit.core import results as protocol  # noqa: E402
from qmu_kit.core.cache import ResultCache  # noqa: E402
from qmu_kit.core.results import INTERVAL_SUFFIXES, Result  # noqa: E402
from qmu_kit.core.stats import proportion  # noqa: E402
from qmu_kit.experiment import ExperimentConfig, run_experiment  # noqa: E402
from qmu_kit.experiment.results import AuditResult, ExperimentResult  # noqa: E402
from qmu_kit.experiment.sweep import SweepResult  # noqa: E402
from qmu_kit.experiment.trends import ShotStability, ShotTrend, paired_shot_trend, shot_stability  # noqa: E402
from qmu_kit.leakage.metrics import membership_metrics  # noqa: E402
from qmu_kit.studies import verification as V  # noqa: E402
from qmu_kit.studies.devices import DeviceAudit, ModelOnDevice  # noqa: E402
from qmu_kit.studies.privacy import (  # noqa: E402
    PrivacyResult,
    PrivacySpec,
    PrivacySweep,
    RequeryAveraging,
    empirical_epsilon,
)
from qmu_kit.studies.bench import BenchResult, run_bench  # noqa: E402
from qmu_kit.studies.tuning import TuningResult, tune  # noqa: E402
from tests.unit.studies.test_verify import hand_made_methods

#: The smallest experiment that has every model: the basic QNN, 4 qubits, depth 1, 100/100 samples.
TINY = ExperimentConfig(model="basic", n_qubits=4, depth=1, n_train=100, n_test=100, epochs=2,
                        attacks=("mlp", "loss"), methods=("ga",))


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    return run_experiment(TINY, cache=ResultCache(tmp_path_factory.mktemp("protocol-cache")))


def _privacy_run(epsilon: float, seed: int) -> PrivacyResult:
    rng = np.random.default_rng(seed)
    members, nonmembers = rng.normal(0.3, 1, 80), rng.normal(0, 1, 80)
    metrics = membership_metrics(members, nonmembers, members > 0.5, nonmembers > 0.5)
    return PrivacyResult(PrivacySpec(epsilon=epsilon, delta=1e-3), seed, None, 3.9 if math.isfinite(epsilon) else math.inf,
                         0.8 if math.isfinite(epsilon) else 0.0, proportion(70, 80), proportion(60, 80),
                         {"loss": metrics}, {"loss": empirical_epsilon(members, nonmembers, 1e-3, seed)}, 1.5)


def _verification() -> V.VerifyResult:
    config = V.VerifyConfig(models=4)
    return V.VerifyResult(config, hand_made_methods(np.random.default_rng(0), config), {"qmu_kit": "test"})


def _tuning() -> TuningResult:
    def runner(config):  # a stand-in for run_experiment: only the learning rate matters
        return {"original": {"acc_train_forget": 1.0, "mia_success_forget": 0.9, "acc_test_retain": 0.9},
                "retrained": {"acc_train_forget": 0.0, "mia_success_forget": 0.1, "acc_test_retain": 0.9},
                "ga": {"acc_train_forget": proportion(int(100 * abs(config.method_options["ga"]["lr"] - 0.1)), 30),
                       "mia_success_forget": proportion(3, 30), "acc_test_retain": proportion(80, 90)}}

    return tune("classroom", ["ga"], [7, 8], [0, 1, 2], {"ga": {"lr": [0.05, 0.1]}}, runner=runner)


def _trend() -> ShotTrend:
    runs = pd.DataFrame({"shots": [10, 10, 10, "exact", "exact", "exact"], "seed": [0, 1, 2, 0, 1, 2],
                         "auc": [0.55, 0.52, 0.56, 0.60, 0.58, 0.61]})
    return paired_shot_trend(runs, "auc")


def _stability() -> ShotStability:
    replicates = pd.DataFrame({"shots": [10] * 6 + ["exact"] * 6, "seed": [0, 0, 0, 1, 1, 1] * 2,
                               "model_name": "original", "acc": [0.5, 0.6, 0.55, 0.7, 0.65, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7]})
    return shot_stability(replicates, "acc", "original")


def _device(experiment: ExperimentResult) -> DeviceAudit:
    def on_device(model):
        return ModelOnDevice(model.acc_train_retain, model.acc_test_retain, model.attacks)

    return DeviceAudit("aer:default", "depolarizing noise", "fast", 100, 100, on_device(experiment.models["original"]),
                       {"ga": on_device(experiment.models["ga"])}, ({"part": "members", "batch": 0, "job_id": "j", "status": "done"},), 2.0)


#: One builder per result type, each small and fast.
BUILDERS = {
    ExperimentResult: lambda experiment: experiment,
    AuditResult: lambda experiment: AuditResult(dict(experiment.models), "mlp", {"attacks": ["mlp", "loss"]}, {"qmu_kit": "test"}),
    SweepResult: lambda experiment: SweepResult({"seed": [0]}, (experiment,)),
    ShotTrend: lambda experiment: _trend(),
    ShotStability: lambda experiment: _stability(),
    V.VerifyResult: lambda experiment: _verification(),
    PrivacyResult: lambda experiment: _privacy_run(4.0, 0),
    PrivacySweep: lambda experiment: PrivacySweep((_privacy_run(4.0, 0), _privacy_run(4.0, 1), _privacy_run(math.inf, 0)), "loss"),
    RequeryAveraging: lambda experiment: RequeryAveraging(100, (1, 4, 16), (0.08, 0.04, 0.02), 10),
    TuningResult: lambda experiment: _tuning(),
    DeviceAudit: _device,
    BenchResult: lambda experiment: run_bench(ExperimentConfig(n_qubits=2, n_train=40, n_test=40, epochs=1), methods="finetune",
                                              scenarios=["class:4"], models=["hybrid"], tuning_seeds=[1000], evaluation_seeds=[0, 1],
                                              budget=1, attacks=("loss",), cache=False),
}

METHODS = ("to_dict", "from_dict", "to_json", "from_json", "summary", "table", "plot")


def _json(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True)


def test_every_result_type_is_covered_and_has_its_own_kind():
    kinds = [cls.KIND for cls in BUILDERS]
    assert all(kinds) and len(set(kinds)) == len(kinds)
    assert all(isinstance(cls.VERSION, int) and cls.VERSION >= 1 for cls in BUILDERS)


@pytest.mark.parametrize("cls", list(BUILDERS), ids=lambda cls: cls.__name__)
def test_result_protocol(cls, experiment, tmp_path, monkeypatch):
    result = BUILDERS[cls](experiment)
    assert isinstance(result, Result) and type(result) is cls
    for name in METHODS:  # implemented, not the protocol's abstract stub
        assert callable(getattr(cls, name, None)) and name not in getattr(cls, "__abstractmethods__", ()), name

    # round trip through a dict and through JSON text: every number kept
    data = result.to_dict()
    assert data["schema"] == {"kind": cls.KIND, "version": cls.VERSION}
    again = cls.from_dict(json.loads(json.dumps(data)))
    assert type(again) is cls and _json(again) == _json(result)
    with pytest.raises(ValueError, match="schema"):
        cls.from_dict({**data, "schema": {"kind": cls.KIND, "version": cls.VERSION - 1}})

    # through a file, written atomically (a temporary file next to it, then moved into place)
    writes = []
    real = protocol.atomic_write
    monkeypatch.setattr(protocol, "atomic_write", lambda path, write: (writes.append(path), real(path, write)))
    path = result.to_json(tmp_path / "out" / "result.json")
    assert writes == [path] and [p.name for p in path.parent.iterdir()] == ["result.json"]
    assert _json(cls.from_json(path)) == _json(result)

    # tables: DataFrames; with intervals each estimate brings its count and interval ends, without only values
    with_intervals, plain = result.table(intervals=True), result.table(intervals=False)
    assert isinstance(with_intervals, pd.DataFrame) and isinstance(plain, pd.DataFrame)
    assert len(with_intervals) == len(plain) > 0
    extra = [c for c in with_intervals.columns if c not in plain.columns]
    assert all(any(c == f"{base}{suffix}" for base in plain.columns for suffix in INTERVAL_SUFFIXES) for c in extra), extra
    assert not any(str(c).endswith(("_low", "_high")) for c in plain.columns)
    assert all(c in with_intervals.columns for c in plain.columns)

    # figures: a new one, or drawn on the given Axes
    figure = result.plot()
    assert isinstance(figure, Figure)
    plt.close(figure)
    own, ax = plt.subplots()
    assert result.plot(ax=ax) is own and ax.has_data()
    plt.close(own)

    summary = result.summary()
    assert isinstance(summary, str) and summary.strip()
