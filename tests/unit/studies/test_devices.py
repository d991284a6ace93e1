import dataclasses
import json

import numpy as np
import pytest
import torch

from qmu_kit.core.cache import ResultCache
from qmu_kit.qnn.circuit import CircuitSpec, simulate_probs, to_qiskit
from qmu_kit.core import stats
from qmu_kit.leakage.audit import AttackOutcome
from qmu_kit.leakage.metrics import membership_metrics
from qmu_kit.studies.devices import DeviceAudit, DeviceAuditsOverSeeds, ModelOnDevice, parse_device, run_device_audit
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.qnn.readout import CalibratedReadout, NoiseSpec, noise_model, noisy_povm, noisy_probs
from qmu_kit.qnn.remote import ConfirmationRequired, DeviceJobError, IBMRunner
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, UnlearningMethod
from tests.cli_tools import usage_error

# Trained well enough (member accuracy 0.8 noiseless) that noise has something to destroy.
QUICK = ExperimentConfig(model="hybrid", n_qubits=3, n_train=100, n_test=100, epochs=15)


def _states(n, count, seed=0):
    rng = np.random.default_rng(seed)
    states = torch.tensor(rng.normal(size=(count, 2**n)))
    return states / states.norm(dim=1, keepdim=True)


def _aer_probs(spec, states, weights, noise, measure=False, shots=None, seed=0):
    """qiskit-aer's density-matrix method on the same circuit, the input state set exactly."""
    from qiskit import QuantumCircuit, transpile
    from qiskit_aer import AerSimulator
    from qiskit_aer.library import SetStatevector

    circuits = []
    for state in states.numpy():
        body = to_qiskit(spec, state, weights.numpy(), measure=False)
        body.data = body.data[1:]  # drop the StatePreparation: the state is set exactly instead
        qc = QuantumCircuit(spec.n_qubits, spec.n_qubits)
        qc.append(SetStatevector(state.astype(complex)), range(spec.n_qubits))
        qc.compose(transpile(body, basis_gates=["u", "cx"], optimization_level=0), inplace=True)
        if measure:
            qc.measure(range(spec.n_qubits), range(spec.n_qubits))
        else:
            qc.save_probabilities()
        circuits.append(qc)
    simulator = AerSimulator(method="density_matrix", noise_model=noise_model(noise), seed_simulator=seed)
    result = simulator.run(circuits, shots=shots).result()
    if not measure:
        return np.array([result.data(i)["probabilities"] for i in range(len(circuits))])
    counts = np.zeros((len(circuits), spec.dim))
    for i in range(len(circuits)):
        for bits, c in result.get_counts(i).items():
            counts[i, int(bits, 2)] += c
    return counts


@pytest.mark.parametrize("n, depth", [(3, 1), (4, 2), (5, 1)])
def test_noisy_distribution_equals_aer_density_matrix(n, depth):
    spec = CircuitSpec(n, depth)
    weights = torch.tensor(np.random.default_rng(n).uniform(0, 2 * np.pi, spec.weight_shape))
    states = _states(n, 4, seed=depth)
    gates_only = NoiseSpec(p1=0.03, p2=0.08, readout=0.0)
    reference = _aer_probs(spec, states, weights, gates_only)
    np.testing.assert_allclose(noisy_probs(spec, states, weights, gates_only).numpy(), reference, atol=1e-10)
    povm = noisy_povm(spec, weights, gates_only)  # the general path, also for depth 1
    np.testing.assert_allclose(noisy_probs(spec, states, weights, gates_only, povm=povm).numpy(), reference, atol=1e-10)
    silent = NoiseSpec(0.0, 0.0, 0.0)
    np.testing.assert_allclose(noisy_probs(spec, states, weights, silent).numpy(), simulate_probs(spec, states, weights).numpy(), atol=1e-12)


def test_readout_error_matches_aer_sampling_statistically():
    from scipy.stats import chisquare

    spec, shots = CircuitSpec(3, 1), 20000
    weights = torch.tensor(np.random.default_rng(1).uniform(0, 2 * np.pi, spec.weight_shape))
    states = _states(3, 3, seed=2)
    noise = NoiseSpec(p1=0.02, p2=0.05, readout=0.08)
    expected = noisy_probs(spec, states, weights, noise).numpy() * shots
    counts = _aer_probs(spec, states, weights, noise, measure=True, shots=shots)
    for observed, model in zip(counts, expected):
        assert chisquare(observed, model).pvalue > 1e-3  # a wrong readout model fails with p ~ 0
    wrong = noisy_probs(spec, states, weights, NoiseSpec(p1=0.02, p2=0.05, readout=0.0)).numpy() * shots
    assert min(chisquare(o, m).pvalue for o, m in zip(counts, wrong)) < 1e-6  # the test can fail


def test_device_specs_and_bad_input():
    assert parse_device("aer:5x").noise == NoiseSpec(p1=2.5e-3, p2=2.5e-2, readout=5e-2)
    assert parse_device(NoiseSpec()).spec == "aer:default"
    assert parse_device("fake:FakeGuadalupeV2").noise.backend == "FakeGuadalupeV2"
    for spec, message in [("bogus", "unknown device 'bogus'"), ("qpu:x", "unknown device kind 'qpu'"),
                          ("aer:10x", "unknown aer noise level '10x'"), ("ibm:", "names no backend")]:
        with pytest.raises(ValueError, match=message):
            parse_device(spec)
    with pytest.raises(ValueError, match="fake backend FakeManilaV2 has 5 qubits, the circuit needs 6"):
        run_device_audit(QUICK.replace(n_qubits=6), "fake:FakeManilaV2", cache=False)
    with pytest.raises(ValueError, match="a device always samples"):
        run_device_audit(QUICK, "aer:default", shots=None, cache=False)


def test_fake_backend_audit_is_the_batched_calibrated_model(tmp_path, monkeypatch):
    """``fake:`` devices run the calibrated model (engine "fast", many queries per aer job, labelled as a
    noise model); ``engine="aer"`` keeps the gate-level state preparation, one circuit per query."""
    import qmu_kit.studies.devices as devices

    made = []

    class Recording(CalibratedReadout):
        def __init__(self, *args, **kwargs):
            made.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(devices, "CalibratedReadout", Recording)
    audit = run_device_audit(QUICK, "fake:FakeManilaV2", shots=200, n_queries=20, cache=ResultCache(tmp_path))
    assert audit.engine == "fast" and audit.label == "calibrated noise model of FakeManilaV2"
    assert len(made) == 2 and all(args[2] == "FakeManilaV2" for args in made)  # members and non-members
    assert audit.original.accuracy_members.n == 20 and audit.outcome().mia_success_forget.n > 0
    gate_level = run_device_audit(QUICK, "fake:FakeManilaV2", shots=200, n_queries=20, engine="aer", cache=False)
    assert gate_level.engine == "aer" and len(made) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shots": None}, r"shots='exact' is not possible on a device \(a device always samples\): shots must be an integer from 1 to"),
        ({"shots": 0}, "shots=0 is out of range"),
        ({"n_queries": 5}, "n_queries=5 is out of range: n_queries must be an integer from 20 to 2000"),
        ({"engine": "ibm"}, "unknown engine 'ibm'"),
        ({"engine": "sampler", "device": "aer:default"}, "unknown engine 'sampler'"),
    ],
)
def test_device_audit_bad_input(kwargs, message):
    device = kwargs.pop("device", None)
    with pytest.raises(ValueError, match=message):
        run_device_audit(QUICK, device, cache=False, **kwargs)


def test_noisy_audit_is_typed_cached_and_reproducible(tmp_path):
    cache = ResultCache(tmp_path)
    noiseless = run_device_audit(QUICK, "aer:noiseless", shots=200, n_queries=40, cache=cache)
    strong = NoiseSpec(p1=0.1, p2=0.3, readout=0.25)
    noisy = run_device_audit(QUICK, strong, shots=200, n_queries=40, cache=cache)
    assert isinstance(noisy, DeviceAudit) and noisy.engine == "fast"
    acc = noisy.original.accuracy_members
    assert acc.n == 40 and acc.ci95[0] <= acc.value <= acc.ci95[1]
    assert acc.value <= noiseless.original.accuracy_members.value - 0.2
    mia = noisy.outcome("original", "mlp").mia_success_forget
    assert mia.n == int(noisy.outcome("original", "mlp").flag_rate_forget_nonmembers.n) > 0
    assert noisy.original.attacks["loss"].overall.auc.kind == "auc"
    assert DeviceAudit.from_dict(json.loads(json.dumps(noisy.to_dict()))) == noisy
    assert run_device_audit(QUICK, strong, shots=200, n_queries=40, cache=cache) == noisy  # replayed
    again = run_device_audit(QUICK, strong, shots=200, n_queries=40, cache=False)
    mia_auc = noisy.outcome("original", "mlp").overall.auc.value
    assert again.outcome("original", "mlp").overall.auc.value == pytest.approx(mia_auc, abs=1e-9)
    assert 0 <= mia_auc <= 1 and list(noisy.table().columns)[:2] == ["accuracy (members)", "accuracy (members)_n"]
    assert noisy.plot() is not None



def _numbers(accuracy, flagged, control, auc):
    """A model's numbers on a device, made by hand (10 members and 10 non-members queried)."""
    measured = membership_metrics(np.linspace(0, 1, 10), np.linspace(0, 1, 10))
    outcome = AttackOutcome("mlp", stats.proportion(flagged, 10), stats.proportion(control, 10),
                            dataclasses.replace(measured, auc=stats.Estimate(auc, 20, (0.0, 1.0), "auc")),
                            dataclasses.replace(measured, auc=stats.Estimate(auc, 20, (auc - 0.2, auc + 0.2), "auc")))
    return ModelOnDevice(stats.proportion(accuracy, 10), stats.proportion(5, 10), {"mlp": outcome})


def test_audits_over_seeds_average_each_number_and_pair_the_devices():
    def audit(device, seed, shift):
        return DeviceAudit(device, device, "fast", 100, 10, _numbers(9 - shift, 8 + seed - shift, 5, 0.7 - shift / 10),
                           {"rga": _numbers(8, 5 + seed, 5, 0.5)})

    audits = {"aer:noiseless": tuple(audit("aer:noiseless", s, 0) for s in range(3)),
              "aer:5x": tuple(audit("aer:5x", s, 2) for s in range(3))}
    over_seeds = DeviceAuditsOverSeeds(audits)
    assert over_seeds.values("aer:5x", "mia_success") == pytest.approx([0.6, 0.7, 0.8])
    assert over_seeds.values("aer:5x", "accuracy") == [0.7] * 3 and over_seeds.values("aer:5x", "mia_success", "rga") == [0.5, 0.6, 0.7]
    assert over_seeds.mean("aer:5x", "mia_success") == stats.mean([0.6, 0.7, 0.8], bounds=(0, 1))
    assert over_seeds.mean("aer:noiseless", "mia_success").ci95[1] == 1.0  # cut to [0, 1]
    difference = over_seeds.difference("aer:5x", "aer:noiseless", "auc")
    assert difference == stats.paired_difference(over_seeds.values("aer:5x", "auc"), over_seeds.values("aer:noiseless", "auc"))
    assert difference.value == pytest.approx(-0.2) and difference.kind == "difference"
    table = over_seeds.table(("original", "rga"))
    assert list(table.columns) == ["accuracy (members)", "MIA success", "control", "AUC (held out)"]
    assert list(table.index) == [("aer:noiseless", "original"), ("aer:noiseless", "rga"), ("aer:5x", "original"), ("aer:5x", "rga")]
    assert table.loc[("aer:5x", "original"), "MIA success"] == over_seeds.mean("aer:5x", "mia_success").format()
    figure = over_seeds.plot(("original", "rga"), title="devices")
    assert len(figure.axes[0].patches) == 4 * 3 and figure.axes[0].get_xticklabels()[2].get_text() == "5x\noriginal"
    for call, message in ((lambda: over_seeds.values("aer:default", "auc"), "unknown device 'aer:default'"),
                          (lambda: over_seeds.values("aer:5x", "tpr"), "unknown number 'tpr': choose one of 'accuracy'"),
                          (lambda: over_seeds.values("aer:5x", "auc", "ga"), "unknown model 'ga': choose one of 'original', 'rga'")):
        with pytest.raises(ValueError, match=message):
            call()


def test_each_model_has_its_own_shot_stream():
    audit = lambda methods: run_device_audit(QUICK, "aer:default", shots=50, n_queries=20, methods=methods, cache=False)  # noqa: E731
    alone, together = audit(("rga",)), audit(("ga", "rga"))
    assert together.models["rga"] == alone.models["rga"] and together.original == alone.original


class _Scale(UnlearningMethod):
    """A student's method with no knobs: multiply every parameter by SCALE."""

    SCALE = 0.5

    def _update(self, model, task, readout, parameters, seed, progress):
        with torch.no_grad():
            for p in parameters:
                p *= self.SCALE
        return {}


class _Edited(_Scale):
    """The same name and knobs as _Scale after an edit of its code: every parameter's sign flipped."""

    SCALE = -1.0


def test_editing_a_registered_method_invalidates_its_cached_audit(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path)
    audit = lambda: run_device_audit(QUICK, "aer:default", shots=50, n_queries=20, methods=("student",), cache=cache)  # noqa: E731
    monkeypatch.setitem(UNLEARNING_METHODS, "student", _Scale)
    first = audit()
    assert audit() == first  # unchanged code: replayed
    monkeypatch.setitem(UNLEARNING_METHODS, "student", _Edited)
    edited = audit()
    assert edited.original == first.original and edited.models["student"] != first.models["student"]


class _Job:
    def __init__(self, job, fail=False, queued=False):
        self._job, self.fail, self.queued = job, fail, queued

    def job_id(self):
        return self._job.job_id()

    def result(self, timeout=None):  # as the runtime's jobs: waits up to ``timeout`` seconds
        from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

        if self.fail:
            raise RuntimeError("job failed on the device (status ERROR)")
        if self.queued:
            raise RuntimeJobTimeoutError(f"timed out after {timeout} s")
        return self._job.result()


class _CountingRunner(IBMRunner):
    """The real IBM runner in local mode (FakeManilaV2), counting submissions; can fail one batch."""

    def __init__(self, fail_batch=None):
        super().__init__("FakeManilaV2")
        self.submitted, self.fail_batch = 0, fail_batch

    def submit(self, circuits, shots):
        self.submitted += 1
        return _Job(super().submit(circuits, shots), fail=self.submitted == self.fail_batch)


def test_ibm_local_mode_confirmation_journal_and_resume(tmp_path):
    cache = ResultCache(tmp_path)
    run = lambda runner, confirm=True: run_device_audit(  # noqa: E731
        QUICK, "ibm:FakeManilaV2", shots=100, n_queries=20, cache=cache, confirm=confirm, batch_size=10, runner=runner)
    runner = _CountingRunner()
    with pytest.raises(ConfirmationRequired, match=r"nothing submitted\. Cost preview: ibm:FakeManilaV2: up to 40 circuits x 100 shots"):
        run(runner, confirm=False)
    assert runner.submitted == 0
    failing = _CountingRunner(fail_batch=3)
    with pytest.raises(DeviceJobError, match="1 job\\(s\\) on ibm:FakeManilaV2 did not finish .*job failed on the device"):
        run(failing)
    assert failing.submitted == 4  # every batch was tried; the failed one is recorded, the others kept
    resumed = _CountingRunner()
    audit = run(resumed)
    assert resumed.submitted == 1  # only the failed batch is paid for again
    assert audit.engine == "remote" and len(audit.jobs) == 4 and all(j["job_id"] for j in audit.jobs)
    assert audit.original.accuracy_members.n == 20


class _ResumingRunner(_CountingRunner):
    """As a real service: submitted jobs can be fetched by id; every fetched one has failed."""

    def job(self, job_id, readout=None):
        self.fetched.append(job_id)
        return _Job(None, fail=True)


def test_a_failed_fetch_then_a_finished_resubmission_completes_the_audit(tmp_path):
    cache = ResultCache(tmp_path)
    run = lambda runner: run_device_audit(  # noqa: E731
        QUICK, "ibm:FakeManilaV2", shots=100, n_queries=20, cache=cache, confirm=True, batch_size=10, runner=runner)
    with pytest.raises(DeviceJobError):
        run(_CountingRunner(fail_batch=3))
    resumed = _ResumingRunner()
    resumed.fetched = []
    audit = run(resumed)  # the journaled job fails again when fetched; its resubmission finishes
    assert len(resumed.fetched) == 1 and resumed.submitted == 1
    assert audit.original.accuracy_members.n == 20 and all(j["status"] == "done" for j in audit.jobs)


class _QueueRunner(_CountingRunner):
    """As a real service: one batch's job is still queued when waited for; jobs are looked up by id in
    ``service`` (shared between runs, as the cloud is) and have finished by the next run."""

    def __init__(self, service, queued_batch=None, lookup=True):
        super().__init__()
        self.service, self.queued_batch, self.lookup, self.fetched = service, queued_batch, lookup, []

    def submit(self, circuits, shots):
        job = super().submit(circuits, shots)
        self.service[job.job_id()] = job
        return _Job(job._job, queued=self.submitted == self.queued_batch)

    def job(self, job_id, readout=None):
        if not self.lookup:  # local mode: no service to ask
            return None
        self.fetched.append(job_id)
        return self.service[job_id]


@pytest.mark.parametrize("lookup", [True, False])
def test_a_timed_out_job_is_fetched_by_id_on_rerun_not_paid_for_twice(tmp_path, lookup):
    cache, service = ResultCache(tmp_path), {}
    run = lambda runner: run_device_audit(  # noqa: E731
        QUICK, "ibm:FakeManilaV2", shots=100, n_queries=20, cache=cache, confirm=True, batch_size=10, runner=runner,
        timeout=5)
    with pytest.raises(DeviceJobError, match=r"1 job\(s\) .* no result after 5 s; the job may still be queued"):
        run(_QueueRunner(service, queued_batch=4, lookup=lookup))  # the last of 4 batches
    resumed = _QueueRunner(service, lookup=lookup)
    audit = run(resumed)
    if lookup:  # the queued job is fetched by its id: nothing is paid for twice
        assert resumed.submitted == 0 and len(resumed.fetched) == 1
    else:  # a job nobody can look up is resubmitted (the only way to get its counts)
        assert resumed.submitted == 1
    assert audit.original.accuracy_members.n == 20 and all(j["status"] == "done" for j in audit.jobs)


def test_credentials_never_leak(tmp_path, monkeypatch, capsys, caplog):
    token = "PLANTED-SECRET-TOKEN-0123456789"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", token)
    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path))
    monkeypatch.setenv("QISKIT_IBM_RUNTIME_CONFIG_PATH", str(tmp_path / "none.json"))  # never a saved account
    import qiskit_ibm_runtime

    def offline(*args, token=None, **kwargs):  # the network is never contacted: the service echoes the token
        raise RuntimeError(f"401 unauthorized for token={token} ({token})")

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", offline)
    with pytest.raises(ValueError) as caught:
        run_device_audit(QUICK, "ibm:ibm_brisbane", n_queries=20, cache=ResultCache(tmp_path), confirm=True)
    assert "QISKIT_IBM_TOKEN" in str(caught.value) and token not in str(caught.value)
    from qmu_kit.cli.commands import main

    assert main(["device", "--device", "ibm:ibm_brisbane", "--yes", "--preset", "classroom",
                 "--json", str(tmp_path / "out.json")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("qmu-kit: error: cannot reach IBM backend 'ibm_brisbane'") and "Traceback" not in captured.err
    outputs = captured.out + captured.err + caplog.text
    outputs += "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())
    assert token not in outputs


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "bogus"], "unknown device 'bogus': give one of aer:noiseless|aer:default"),
        (["--device", "fake:FakeManilaV2"], "fake backend FakeManilaV2 has 5 qubits, the circuit needs 6"),
        (["--shots", "exact"], "--shots"),
        (["--shots", "0"], "shots=0 is out of range"),
        (["--queries", "5"], "n_queries=5 is out of range"),
        (["--device", "tianyan:a b", "--yes"], "tianyan machine name 'a b' is not valid"),
    ],
)
def test_device_cli_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    assert message in usage_error(["device", "--no-cache", *argv, "--json", str(tmp_path / "out.json")], capsys)
    assert not any(tmp_path.iterdir())  # no result file, not even a partial one


def test_device_cli_json_is_the_audit_with_its_config(tmp_path, capsys):
    from qmu_kit.cli.commands import main

    out = tmp_path / "audit.json"
    argv = ["device", "--model", "hybrid", "--qubits", "3", "--n-train", "100", "--n-test", "100", "--epochs", "15",
            "--shots", "50", "--queries", "20", "--method", "ga", "--cache-dir", str(tmp_path / "cache"), "--quiet",
            "--json", str(out)]
    assert main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    written = DeviceAudit.from_json(out)
    direct = run_device_audit(QUICK, "aer:default", shots=50, n_queries=20, methods=("ga",), cache=ResultCache(tmp_path / "cache"))
    assert written == direct
    assert written.config["n_qubits"] == 3 and written.config["methods"] == ["ga"] and written.config["seed"] == 0
