import pytest

from qmu_kit.cache import ResultCache
from qmu_kit.devices import run_device_audit
from qmu_kit.experiment import ExperimentConfig
from qmu_kit.readout import NoiseSpec
from qmu_kit.stats import Estimate

# Trained well enough (member accuracy 0.8 noiseless) that noise has something to destroy.
QUICK = ExperimentConfig(model="hybrid", n_qubits=3, n_train=100, n_test=100, epochs=15)


def test_sampler_and_noisy_device_audits(tmp_path):
    cache = ResultCache(tmp_path)
    noiseless = run_device_audit(QUICK, None, shots=200, n_queries=20, engine="sampler", cache=cache)
    assert noiseless["device"] == "noiseless device" and set(noiseless["attacks"]) == {"mlp", "loss", "confidence", "entropy"}
    for outcome in noiseless["attacks"].values():
        success, auc = Estimate.from_dict(outcome["mia_success_forget"]), Estimate.from_dict(outcome["overall"]["auc"])
        # a rate over the queried forget-set members (half of the 20 queries at most), inside its interval
        assert 0 < success.n <= 10 and success.ci95[0] <= success.value <= success.ci95[1]
        assert success.value * success.n == pytest.approx(round(success.value * success.n))  # k of n flagged
        assert auc.kind == "auc" and auc.n == outcome["overall"]["n_members"] + outcome["overall"]["n_nonmembers"]
        assert auc.ci95[0] <= auc.value <= auc.ci95[1] and 0 <= auc.p_value <= 1
    strong = NoiseSpec(p1=0.02, p2=0.1, readout=0.1)
    noisy = run_device_audit(QUICK, strong, shots=200, n_queries=20, cache=cache)
    assert noisy["device"].startswith("depolarizing p1=0.02")
    assert noisy["accuracy_members"] <= noiseless["accuracy_members"] - 0.3
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


def test_replay_comes_from_the_cache_not_a_rerun(tmp_path, monkeypatch):
    import qmu_kit.devices

    cache = ResultCache(tmp_path)
    first = run_device_audit(QUICK, None, shots=200, n_queries=20, engine="sampler", cache=cache)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached audit must not train or query again")

    monkeypatch.setattr(qmu_kit.devices, "train_original", no_training)
    assert run_device_audit(QUICK, None, shots=200, n_queries=20, engine="sampler", cache=cache) == first


def test_each_model_has_its_own_shot_stream_and_unlearns_the_configured_parameters():
    audit = lambda config, methods: run_device_audit(  # noqa: E731
        config, None, shots=50, n_queries=20, engine="sampler", methods=methods, cache=False
    )
    alone = audit(QUICK, ("rga",))
    together = audit(QUICK, ("ga", "rga"))
    assert together["models"]["rga"] == alone["models"]["rga"]  # auditing GA first changes nothing for RGA
    assert {k: v for k, v in together.items() if k not in ("models", "seconds")} == {
        k: v for k, v in alone.items() if k not in ("models", "seconds")
    }
    quantum_only = audit(QUICK.replace(unlearn_params="quantum"), ("rga",))
    assert quantum_only["models"]["rga"] != alone["models"]["rga"]
