"""Every result type of the kit follows one protocol (qmu_kit.core.results.Result): it round-trips
through to_dict/from_dict and through its atomic to_json/from_json, summarizes itself as text, tabulates
itself as a DataFrame and draws itself as a matplotlib Figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from qmu_kit.core.results import Result  # noqa: E402
from qmu_kit.experiment import ExperimentConfig, SweepResult, run_experiment  # noqa: E402
from qmu_kit.studies import PrivacySpec, PrivacySweep, audit_model, privacy_config, run_device_audit, run_private  # noqa: E402
from qmu_kit.studies.tuning import tune  # noqa: E402
from qmu_kit.studies.verification import VerifyConfig, verify  # noqa: E402

TINY = dict(model="basic", n_qubits=4, depth=1, n_train=60, n_test=60, epochs=1, attacks=("loss",), attack="loss")


def experiment():
    return run_experiment(ExperimentConfig(**TINY, methods=("ga",)), cache=False)


def byo_audit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    return audit_model(nn.Linear(4, 3), (x[:30], y[:30]), (x[30:], y[30:]), attacks=("loss",), forget="class:1")


def sweep():
    base = ExperimentConfig(**TINY, methods=("ga",))
    return SweepResult({"seed": [0, 1]}, tuple(run_experiment(base.replace(seed=s), cache=False) for s in (0, 1)))


def verification():
    config = VerifyConfig(ExperimentConfig(**(TINY | {"n_train": 40, "n_test": 40})), models=4, relearn_samples=2, relearn_max_steps=2)
    return verify(config, "ga", cache=False)


def tuning():
    def runner(config):  # a stand-in for run_experiment: only GA's learning rate matters
        return {"retrained": {"acc_train_forget": 0.0, "mia_success_forget": 0.1, "acc_test_retain": 0.9},
                "ga": {"acc_train_forget": abs(config.method_options["ga"]["lr"] - 0.02), "mia_success_forget": 0.1,
                       "acc_test_retain": 0.9}}

    return tune("classroom", ["ga"], [7], [8, 9], {"ga": {"lr": [0.01, 0.02]}}, runner=runner)


def private():
    return run_private(privacy_config(**(TINY | {"n_qubits": 2, "n_train": 20, "n_test": 20}), ), PrivacySpec(epsilon=float("inf")),
                       cache=False)


def privacy_sweep():
    return PrivacySweep((private(),), "loss")


def device():
    return run_device_audit(ExperimentConfig(**(TINY | {"attacks": ("loss", "mlp"), "attack": None})), "aer:default",
                            n_queries=20, cache=False)


RESULTS = {"ExperimentResult": experiment, "AuditResult": byo_audit, "SweepResult": sweep, "VerifyResult": verification,
           "TuningResult": tuning, "PrivacyResult": private, "PrivacySweep": privacy_sweep, "DeviceAudit": device}


@pytest.fixture(scope="module", params=list(RESULTS))
def result(request):
    made = RESULTS[request.param]()
    assert type(made).__name__ == request.param
    return made


def test_round_trips_through_dict_and_atomic_json(result, tmp_path):
    assert isinstance(result, Result)
    data = result.to_dict()
    again = type(result).from_dict(data)
    assert again.to_dict() == data
    path = result.to_json(tmp_path / "result.json")
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left behind
    assert type(result).from_json(path).to_dict() == data


def test_summary_table_and_plot(result):
    summary = result.summary()
    assert isinstance(summary, str) and summary.strip()
    assert isinstance(result.table(), pd.DataFrame) and len(result.table())
    figure = result.plot()
    assert isinstance(figure, Figure) and figure.axes


def test_every_result_type_is_covered():
    import qmu_kit.experiment.results
    import qmu_kit.experiment.sweep
    import qmu_kit.studies.devices
    import qmu_kit.studies.privacy
    import qmu_kit.studies.tuning
    import qmu_kit.studies.verification

    concrete = {cls.__name__ for module in (qmu_kit.experiment.results, qmu_kit.experiment.sweep, qmu_kit.studies.devices,
                                            qmu_kit.studies.privacy, qmu_kit.studies.tuning, qmu_kit.studies.verification)
                for cls in vars(module).values()
                if isinstance(cls, type) and issubclass(cls, Result) and cls is not Result and not getattr(cls, "__abstractmethods__", None)}
    assert concrete == set(RESULTS)
