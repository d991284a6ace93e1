import pytest

from qmu_kit.cache import ResultCache
from qmu_kit.devices import run_device_audit
from qmu_kit.experiment import ExperimentConfig
from qmu_kit.readout import NoiseSpec

QUICK = ExperimentConfig(model="basic", n_qubits=3, depth=1, n_train=100, n_test=100, epochs=2)


def test_sampler_and_noisy_device_audits(tmp_path):
    cache = ResultCache(tmp_path)
    noiseless = run_device_audit(QUICK, None, shots=200, n_queries=20, engine="sampler", cache=cache)
    assert noiseless["device"] == "noiseless device" and set(noiseless["attacks"]) == {"mlp", "loss", "confidence", "entropy"}
    for outcome in noiseless["attacks"].values():
        assert 0 <= outcome["mia_success_forget"] <= 1 and 0 <= outcome["overall"]["auc"] <= 1
    strong = NoiseSpec(p1=0.02, p2=0.1, readout=0.1)
    noisy = run_device_audit(QUICK, strong, shots=200, n_queries=20, cache=cache)
    assert noisy["device"].startswith("depolarizing p1=0.02")
    assert noisy["accuracy_members"] <= noiseless["accuracy_members"]
    assert run_device_audit(QUICK, strong, shots=200, n_queries=20, cache=cache) == noisy  # replayed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shots": None}, "a device always samples: shots must be an integer"),
        ({"shots": 0}, "shots=0 is out of range"),
        ({"n_queries": 5}, "n_queries=5 is out of range: n_queries must be an integer from 20 to 2000"),
        ({"engine": "ibm"}, "unknown engine 'ibm': choose one of 'aer', 'sampler'"),
        ({"engine": "sampler", "noise": NoiseSpec()}, "engine='sampler' is noiseless"),
    ],
)
def test_device_audit_bad_input(kwargs, message):
    noise = kwargs.pop("noise", None)
    with pytest.raises(ValueError, match=message):
        run_device_audit(QUICK, noise, cache=False, **kwargs)
