"""The Tianyan path (``tianyan:MACHINE``), offline: cqlib's own local StatevectorSimulator runs the QCIS
the kit writes, behind a stub of cqlib's ``TianYanPlatform`` that answers in the platform's recorded
response format (``query_ids`` on submission; ``experimentResultModelList`` items with
``experimentTaskId`` and ``resultStatus``: a header row of measured qubits, then one row per shot).
The network is never contacted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

# cqlib is a test dependency (the lock pins it): imported, never skipped.
from cqlib import Circuit
from cqlib.simulator import StatevectorSimulator

from qmu_kit.core.cache import ResultCache
from qmu_kit.qnn.circuit import CircuitSpec, simulate_probs, to_qiskit
from qmu_kit.studies.devices import parse_device, run_device_audit
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.qnn.remote import ConfirmationRequired, DeviceJobError, TianyanRunner, to_qcis
from tests.cli_tools import PREFIX, usage_error

# As in test_devices: trained well enough that the attacks have something to find.
QUICK = ExperimentConfig(model="hybrid", n_qubits=3, n_train=100, n_test=100, epochs=15)
TOKEN = "PLANTED-TIANYAN-KEY-9f8e7d6c5b4a"


def _chip(n_qubits: int = 6, broken: int | None = None) -> dict:
    """A machine config in the platform's format (the fields cqlib's get_coupling_map reads): ``n``
    qubits on a line, the first one numbered 10 as on a real chip's numbering; ``broken`` is a qubit
    the calibration lists as unused (its couplers must not be used)."""
    names = [f"Q{10 + i}" for i in range(n_qubits)]
    return {
        "overview": {"qubits": names, "coupler_map": {f"G{i}": [names[i], names[i + 1]] for i in range(n_qubits - 1)}},
        "qubit": {"singleQubit": {"gate error": {"qubit_used": [q for i, q in enumerate(names) if i != broken]}}},
    }


class RecordedTianyan:
    """cqlib's ``TianYanPlatform`` as the kit calls it, answering like the platform, offline.

    The platform's state (submitted circuits, shots) lives on the class, as a server's outlives its
    clients: a rerun's new client finds the earlier queries. Each circuit runs on cqlib's
    ``StatevectorSimulator``, seeded by its query id. ``failing`` lists circuit numbers (in submission
    order, from 0) that fail on the device: their results come back without measurements; ``pending`` lists
    submission numbers whose results do not arrive (cqlib gives up after its waiting time).
    """

    submissions: list = []  # circuits per submission; each _platform() class has its own
    circuits: dict = {}
    shots: dict = {}
    config: dict | None = _chip()
    failing: set = set()
    pending: set = set()
    accept = TOKEN

    def __init__(self, login_key, machine_name=None, auto_login=True):
        if login_key != self.accept:  # as a careless server might: echo what it was given
            raise RuntimeError(f"Login failed: {{'openId': '{login_key}'}} login_key={login_key}")
        self.machine_name = machine_name

    def download_config(self, read_time=None, machine=None):
        if self.config is None:
            raise RuntimeError("Only quantum physics machines can obtain configuration")
        return json.loads(json.dumps(self.config))

    def query_quantum_computer_list(self):
        return [["tianyan_sw", "simulator", "running", "free"], [self.machine_name, 66, "running", "paid"]]

    def submit_experiment(self, circuit, num_shots=12000, **kwargs):
        assert isinstance(circuit, list) and len(circuit) <= 50 and num_shots <= 100_000
        ids = []
        for text in circuit:
            query_id = str(7_000_000 + len(self.circuits))
            failed = len(self.circuits) in self.failing  # a task that failed stays failed
            self.circuits[query_id] = (text, len(self.submissions), failed)
            self.shots[query_id] = num_shots
            ids.append(query_id)
        self.submissions.append(len(circuit))
        return ids

    def query_experiment(self, query_id, max_wait_time=3600, sleep_time=5, readout_calibration=False):
        assert not readout_calibration and len(query_id) <= 50  # raw counts; the platform takes 50 ids a query
        if any(self.circuits[q][1] in self.pending for q in query_id):
            raise RuntimeError("Failed to query the experimental result.")  # cqlib's words after max_wait_time
        items = []
        for q in query_id:
            if self.circuits[q][2]:
                items.append({"experimentTaskId": q, "status": 3, "resultStatus": None})
                continue
            circuit = Circuit.load(self.circuits[q][0])
            simulator = StatevectorSimulator(circuit)
            raw = simulator.sample(self.shots[q], is_raw_data=True, rng_seed=int(q))
            measured = [int(str(circuit.qubits[i])[1:]) for i in simulator.measure_qubits]
            rows = [[(value >> i) & 1 for i in range(len(measured))] for value in raw]  # first measured = bit 0
            items.append({"experimentTaskId": q, "status": 2, "resultStatus": [measured, *rows], "probability": "{}"})
        return items[::-1]  # not in query order: the kit must match results by id


def _platform(**attributes):
    """A fresh stub platform (its own server state) with ``attributes`` overridden."""
    return type("Stub", (RecordedTianyan,), {"submissions": [], "circuits": {}, "shots": {}, **attributes})


def _exact_probs(text: str, readout, n: int) -> np.ndarray:
    """The measured distribution of QCIS ``text`` from cqlib's simulator, indexed like the kit's."""
    circuit = Circuit.load(text)
    simulator = StatevectorSimulator(circuit)
    measured = [int(str(circuit.qubits[i])[1:]) for i in simulator.measure_qubits]
    place = dict(map(tuple, readout))
    out = np.zeros(2**n)
    for bits, p in simulator.measure().items():
        index = sum(int(bit) << place[measured[i]] for i, bit in enumerate(reversed(bits)))
        out[index] += p
    return out


def _states(n, count, seed=0):
    rng = np.random.default_rng(seed)
    states = torch.tensor(rng.normal(size=(count, 2**n)))
    return states / states.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("n, depth, chip", [(3, 1, _chip(6, broken=1)), (4, 2, _chip(5)), (3, 2, None)])
def test_qcis_on_the_machines_gates_is_the_kits_circuit(n, depth, chip):
    """The compiled QCIS (native gates only, routed on the chip's couplers) has the kit's exact output
    distribution, computed by cqlib's own simulator."""
    spec = CircuitSpec(n, depth)
    weights = torch.tensor(np.random.default_rng(n + depth).uniform(0, 2 * np.pi, spec.weight_shape))
    states = _states(n, 3, seed=depth)
    runner = TianyanRunner("chip", token=TOKEN, platform=_platform(config=chip))
    prepared = runner.prepare([to_qiskit(spec, s, weights.numpy()) for s in states.numpy()])
    exact = simulate_probs(spec, states, weights).numpy()
    allowed = {frozenset(pair) for pair in runner.coupling()} if chip else None
    for (text, readout), reference in zip(prepared, exact):
        lines = [line.split() for line in text.splitlines()]
        assert {line[0] for line in lines} <= {"RZ", "X2P", "X", "CZ", "M"}, text
        if allowed is not None:  # only the chip's working couplers, only its working qubits
            assert all(frozenset(int(q[1:]) for q in line[1:]) in allowed for line in lines if line[0] == "CZ"), text
            assert {int(q[1:]) for line in lines for q in line[1:] if q.startswith("Q")} <= set().union(*allowed), text
        np.testing.assert_allclose(_exact_probs(text, readout, n), reference, atol=1e-9)
    wrong = [[q, n - 1 - c] for q, c in prepared[0][1]]  # the bit order reversed: must not agree
    assert np.abs(_exact_probs(prepared[0][0], wrong, n) - exact[0]).max() > 1e-3


def test_to_qcis_refuses_what_it_cannot_write():
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    with pytest.raises(ValueError, match="gate 'h' has no QCIS form here"):
        to_qcis(qc)


def test_counts_from_the_platform_match_the_kits_sampler_statistically():
    from scipy.stats import chisquare

    spec, shots = CircuitSpec(3, 1), 20_000
    weights = torch.tensor(np.random.default_rng(5).uniform(0, 2 * np.pi, spec.weight_shape))
    states = _states(3, 3, seed=9)
    runner = TianyanRunner("chip", token=TOKEN, platform=_platform())
    job = runner.submit(runner.prepare([to_qiskit(spec, s, weights.numpy()) for s in states.numpy()]), shots)
    counts = runner.counts(runner.job(job.job_id(), job.readout), spec.n_qubits)  # looked up by id, as on resume
    expected = simulate_probs(spec, states, weights).numpy() * shots
    for observed, model in zip(counts, expected):
        assert observed.sum() == shots
        keep = model > 0
        assert chisquare(observed[keep], model[keep]).pvalue > 1e-3
    reversed_bits = expected[:, [int(format(i, "03b")[::-1], 2) for i in range(8)]]
    assert min(chisquare(o, m).pvalue for o, m in zip(counts, reversed_bits)) < 1e-6  # the test can fail


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The attacks' and the model's torch work on one thread: on a shared 2-core machine two threads
    per process oversubscribe it and slow every audit down many times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One cache for the module: QUICK's original model is trained once."""
    return tmp_path_factory.mktemp("tianyan-cache")


def _audit(cache_dir, machine, platform, confirm=True, token=TOKEN, **kwargs):
    runner = TianyanRunner(machine, token=token, platform=platform, poll_seconds=0)
    kwargs = {"shots": 2000, "n_queries": 20, "batch_size": 10, **kwargs}
    return run_device_audit(QUICK, f"tianyan:{machine}", cache=ResultCache(cache_dir), confirm=confirm,
                            runner=runner, **kwargs)


def test_tianyan_audit_end_to_end_agrees_with_the_kits_sampler(trained):
    platform = _platform()
    with pytest.raises(ConfirmationRequired, match=r"nothing submitted\. Cost preview: tianyan:chipa: up to 40 "
                       r"circuits x 2000 shots = 80000 shots in batches of 10 .*machine running; queue length not reported; "
                       r"routed on the machine's coupler map \(6 usable qubits\)"):
        _audit(trained, "chipa", platform, confirm=False)
    assert platform.submissions == []
    audit = _audit(trained, "chipa", platform)
    assert platform.submissions == [10, 10, 10, 10] and audit.engine == "remote"
    assert [len(j["job_id"].split(",")) for j in audit.jobs] == [10, 10, 10, 10]
    assert all(j["status"] == "done" for j in audit.jobs)
    reference = run_device_audit(QUICK, "aer:noiseless", shots=2000, n_queries=20, cache=ResultCache(trained))
    for got, want in ((audit.original.accuracy_members, reference.original.accuracy_members),
                      (audit.original.accuracy_nonmembers, reference.original.accuracy_nonmembers)):
        assert got.n == want.n == 20 and abs(got.value - want.value) <= 0.1  # 2000 shots: at most a borderline query flips
    for attack in ("loss", "confidence"):
        for key, read in (("auc", lambda o: o.overall.auc), ("mia_success", lambda o: o.mia_success_forget)):
            got, want = read(audit.outcome("original", attack)), read(reference.outcome("original", attack))
            assert got.n == want.n and abs(got.value - want.value) <= 0.15, (attack, key, got, want)
    assert _audit(trained, "chipa", platform) == audit and len(platform.submissions) == 4  # replayed from the cache


def test_a_failed_and_a_pending_job_keep_what_finished_and_resume_without_paying_twice(trained):
    # The members' batch 0 does not answer in time, circuit 13 (in batch 1) fails on the device: the
    # audit stops after the members' part, naming both.
    platform = _platform(failing={13}, pending={0})
    with pytest.raises(DeviceJobError) as caught:
        _audit(trained, "chipb", platform, timeout=5)
    message = str(caught.value)
    assert message.startswith("2 job(s) on tianyan:chipb did not finish")
    assert "original-members:10 job 7000010," in message and "returned no measurements (status 3)" in message
    assert "original-members:0 job 7000000," in message and "no result after 5 s (still queued or running?)" in message
    assert "rerun the same audit to resume" in message and platform.submissions == [10, 10]

    platform.failing, platform.pending = set(), set()  # the queue has moved on
    audit = _audit(trained, "chipb", platform)
    # Batch 0 is fetched by its query ids, only the failed batch 1 is paid for again, then the
    # non-members' two batches.
    assert platform.submissions == [10, 10, 10, 10, 10]
    assert [j["job_id"].split(",")[0] for j in audit.jobs] == ["7000000", "7000020", "7000030", "7000040"]
    assert all(j["status"] == "done" for j in audit.jobs) and audit.original.accuracy_members.n == 20


def test_tianyan_bad_input_and_missing_credentials(trained, monkeypatch):
    monkeypatch.delenv("TIANYAN_LOGIN_KEY", raising=False)
    platform = _platform()
    with pytest.raises(ValueError, match=r"tianyan:chipd needs your Tianyan login key: set \$TIANYAN_LOGIN_KEY .*"
                       r"nothing was submitted"):
        _audit(trained, "chipd", platform, token=None)
    with pytest.raises(ValueError, match=r"batch_size=100 is out of range: batch_size must be an integer from 1 to 50 "
                       r"\(tianyan:chipd takes at most 50 circuits per job\)"):
        _audit(trained, "chipd", platform, batch_size=100)
    with pytest.raises(ValueError, match=r"shots=200000 is out of range: .*from 1 to 100000"):
        _audit(trained, "chipd", platform, shots=200_000)
    with pytest.raises(ValueError, match="tianyan:chipd has 2 qubits, the circuit needs 3"):
        _audit(trained, "chipd", _platform(config=_chip(2)))
    with pytest.raises(ValueError, match=r"timeout=0 is out of range: timeout must be a number in \(0.0, inf\)"):
        _audit(trained, "chipd", platform, timeout=0)
    with pytest.raises(ValueError, match="tianyan machine name 'a b' is not valid"):
        parse_device("tianyan:a b")
    assert platform.submissions == []


def test_cli_preview_and_credentials_never_leak(tmp_path, monkeypatch, capsys, caplog):
    import cqlib

    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path))
    monkeypatch.delenv("TIANYAN_LOGIN_KEY", raising=False)
    stub = _platform()
    monkeypatch.setattr(cqlib, "TianYanPlatform", stub)
    flags = ["device", "--device", "tianyan:tianyan504", "--model", "hybrid", "--qubits", "3", "--queries", "20"]
    assert "needs your Tianyan login key: set $TIANYAN_LOGIN_KEY" in usage_error([*flags, "--yes"], capsys)
    monkeypatch.setenv("TIANYAN_LOGIN_KEY", TOKEN)
    preview = usage_error(flags, capsys)  # no --yes: the cost preview, nothing submitted
    assert preview.startswith("nothing submitted. Cost preview: tianyan:tianyan504: up to 40 circuits x 1000 shots")
    assert "in batches of 50" in preview and "Confirm with --yes" in preview and stub.submissions == []

    # A wrong key: the platform's answer echoes it, the kit's message must not.
    monkeypatch.setattr(stub, "accept", "another-key")
    error = usage_error([*flags, "--yes"], capsys)
    assert error.startswith("cannot log in to the Tianyan cloud for machine 'tianyan504'") and TOKEN not in error
    with pytest.raises(ValueError) as caught:
        run_device_audit(QUICK, "tianyan:tianyan504", n_queries=20, cache=ResultCache(tmp_path), confirm=True)
    assert TOKEN not in str(caught.value)

    # The right key, and the platform's answers to the queries echo it: the audit stops with one line
    # (exit 1) naming the unfinished jobs, without the key; the rerun fetches them and finishes.
    monkeypatch.setattr(stub, "accept", TOKEN)

    def leaky_query(self, query_id, **kwargs):
        raise RuntimeError(f"gateway error for login_key={TOKEN} ({TOKEN})")

    flags += ["--n-train", "100", "--n-test", "100", "--epochs", "15", "--shots", "100", "--yes"]
    from qmu_kit.cli.commands import main

    with monkeypatch.context() as patch:
        patch.setattr(stub, "query_experiment", leaky_query)
        assert main(flags) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{PREFIX}1 job(s) on tianyan:tianyan504 did not finish") and err.count("\n") == 1
    assert "***" in err and "Traceback" not in err
    out_json = tmp_path / "out.json"
    assert main([*flags, "--json", str(out_json)]) == 0
    assert stub.submissions == [20, 20]  # the rerun fetched the members' batch by id, then sent the non-members'
    audit = json.loads(out_json.read_text())
    assert audit["device"] == "tianyan:tianyan504" and len(audit["jobs"]) == 2 and audit["original"]["attacks"]["mlp"]["overall"]["auc"]["n"] > 0
    captured = capsys.readouterr()
    outputs = err + captured.out + captured.err + caplog.text
    outputs += "".join(p.read_text(errors="ignore") + str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert TOKEN not in outputs
