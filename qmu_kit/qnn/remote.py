"""Cloud quantum devices: the audit's queries as batched jobs on IBM Quantum or China Telecom's Tianyan
cloud, with a resumable journal.

What every cloud device shares lives here once, in :class:`RemoteSession`: the preflight (credentials,
qubit count, a cost preview, and nothing without ``confirm=True``, ``--yes`` on the command line), the
batches, the journal of job ids and finished counts (an interrupted audit resumes by fetching, instead
of paying twice), and scrubbing credentials out of every message. What differs per provider is a
:class:`CloudRunner`: how to log in, prepare circuits, submit a batch, look a job up and read its
counts.

* :class:`IBMRunner` (``ibm:BACKEND``): ``qiskit-ibm-runtime``'s ``SamplerV2``; the token comes from
  ``token=...``, ``$QISKIT_IBM_TOKEN`` (with ``$QISKIT_IBM_INSTANCE`` optionally) or the account you
  saved with ``QiskitRuntimeService.save_account(...)``. ``ibm:FakeManilaV2`` and the other fake
  backends run the very same code offline in the runtime's local mode: that is how the tests exercise it.
* :class:`TianyanRunner` (``tianyan:MACHINE``, e.g. ``tianyan:tianyan504``): ``cqlib``'s
  ``TianYanPlatform`` (the optional extra, ``pip install 'qmu-kit[tianyan]'``); the login key (the SDK
  key of your Tianyan account) comes from ``token=...`` or ``$TIANYAN_LOGIN_KEY``. The circuits go as
  QCIS, compiled to the machine's native gates (see :meth:`TianyanRunner.prepare`).

The kit never writes a credential anywhere: not into results, logs, cache keys, journals or error
messages.

Example:
    >>> from qmu_kit.studies import run_device_audit
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> cfg = ExperimentConfig(model="hybrid", n_qubits=3, n_train=100, n_test=100, epochs=5)
    >>> run_device_audit(cfg, "ibm:FakeManilaV2", n_queries=20, confirm=True)  # doctest: +SKIP
    >>> run_device_audit(cfg, "tianyan:tianyan504", n_queries=20, confirm=True)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import torch

from qmu_kit.core.validation import check_int
from qmu_kit.qnn.circuit import CircuitSpec, expvals, to_qiskit

TOKEN_ENV = "QISKIT_IBM_TOKEN"
INSTANCE_ENV = "QISKIT_IBM_INSTANCE"
TIANYAN_KEY_ENV = "TIANYAN_LOGIN_KEY"


class ConfirmationRequired(ValueError):
    """A cloud audit was asked for without ``confirm=True``; the message is the cost preview."""


class DeviceJobError(RuntimeError):
    """A device job failed or timed out; what finished is kept in the journal."""


class JobPending(TimeoutError):
    """A submitted job gave no result in time: it may still be queued or running. A rerun fetches it
    again by id instead of submitting it again."""


def _scrub(message: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return re.sub(r"(token|apikey|api_key|login_key|openid)(['\"]?\s*[=:]\s*['\"]?)[^\s'\",}]+", r"\1\2***",
                  message, flags=re.I)


def counts_from_bits(bits: np.ndarray, weights: np.ndarray, n_qubits: int) -> np.ndarray:
    """Counts ``(2**n,)`` indexed like the kit's statevector from shots ``bits[shot, position]`` (0/1).

    ``weights[position]`` is the place value of that measured bit in the kit's index (wire 0 is the most
    significant bit).

    Example:
        >>> counts_from_bits(np.array([[1, 0], [1, 0], [0, 1]]), np.array([2, 1]), 2).tolist()
        [0, 1, 2, 0]
    """
    index = np.asarray(bits, dtype=np.int64) @ np.asarray(weights, dtype=np.int64)
    return np.bincount(index, minlength=2**n_qubits).astype(np.int64)


class CloudRunner:
    """The provider-specific half of a cloud audit; :class:`RemoteSession` does the rest.

    A runner logs in (:meth:`connect`), says how many qubits the device has (:attr:`n_qubits`, ``None``
    when the device does not say) and what its queue looks like (:meth:`queue_text`), prepares the
    kit's qiskit circuits for the device (:meth:`prepare`), submits one batch (:meth:`submit`, a job
    whose ``job_id()`` names it and whose ``readout`` attribute, if any, is journaled with it), looks a
    submitted job up again (:meth:`job`, ``None`` if it cannot) and reads a finished job's counts
    (:meth:`counts`). Messages that may echo a credential go through :meth:`scrub`.

    Attributes:
        max_batch: circuits one job may hold.
        default_batch: the batch size when the caller gives none.
        max_shots: shots per circuit the provider accepts (``None``: no limit known).
    """

    kind = ""
    max_batch = 10_000
    default_batch = 100
    max_shots: int | None = None

    def __init__(self, name: str, token: str | None = None):
        self.name = name
        self._token = token or ""
        self._secrets: tuple[str, ...] = (self._token,) if self._token else ()

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.name}"

    def scrub(self, message: str) -> str:
        """``message`` without any credential this runner has seen."""
        return _scrub(message, self._secrets)

    def check(self, shots: int, batch_size: int) -> None:
        """Refuse shots or a batch size the provider would reject, before anything is trained or sent."""

        check_int("batch_size", batch_size, 1, self.max_batch, reason=f"{self.spec} takes at most {self.max_batch} circuits per job")
        if self.max_shots is not None:
            check_int("shots", shots, 1, self.max_shots, reason=f"{self.spec} takes at most {self.max_shots} shots per circuit")

    def connect(self):  # pragma: no cover - every runner overrides it
        raise NotImplementedError

    @property
    def n_qubits(self) -> int | None:  # pragma: no cover - every runner overrides it
        raise NotImplementedError

    def queue_text(self) -> str:
        """The device's queue for the cost preview, where the API gives it."""
        return "queue length not reported"

    def prepare(self, circuits):
        return circuits

    def submit(self, circuits, shots: int):  # pragma: no cover - every runner overrides it
        raise NotImplementedError

    def job(self, job_id: str, readout=None):
        """A submitted job by id (``None`` when this runner cannot look jobs up)."""
        return None

    def counts(self, job, n_qubits: int, timeout: float | None = None) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError


class IBMRunner(CloudRunner):
    """Submit circuits to an IBM backend through ``SamplerV2``; ``FakeXxx`` names run in local mode.

    Args:
        backend_name: an IBM backend (needs credentials) or a fake backend of
            ``qiskit_ibm_runtime.fake_provider`` (local mode, offline).
        token: an IBM Quantum API key; by default ``$QISKIT_IBM_TOKEN``, else your saved account.
    """

    kind = "ibm"

    def __init__(self, backend_name: str, token: str | None = None):
        super().__init__(backend_name, token)
        self.backend_name = backend_name
        self.local = backend_name.startswith("Fake")
        self._backend = None
        self._service = None

    def connect(self):
        """The backend object; raises a ValueError naming what is missing (never the token)."""
        if self._backend is not None:
            return self._backend
        if self.local:
            from qiskit_ibm_runtime import fake_provider

            if not hasattr(fake_provider, self.backend_name):
                raise ValueError(f"unknown fake backend {self.backend_name!r} in qiskit_ibm_runtime.fake_provider")
            self._backend = getattr(fake_provider, self.backend_name)()
            return self._backend
        from qiskit_ibm_runtime import QiskitRuntimeService

        token = self._token or os.environ.get(TOKEN_ENV, "")
        self._secrets = (token,)
        try:
            if token:
                self._service = QiskitRuntimeService(channel="ibm_quantum_platform", token=token,
                                                     instance=os.environ.get(INSTANCE_ENV) or None)
            else:
                self._service = QiskitRuntimeService()
            self._backend = self._service.backend(self.backend_name)
        except Exception as error:  # the runtime's errors may echo what it was given
            missing = "" if token else f" (no ${TOKEN_ENV} set and no saved account found)"
            raise ValueError(
                f"cannot reach IBM backend {self.backend_name!r}{missing}: set ${TOKEN_ENV} (and optionally "
                f"${INSTANCE_ENV}) or save an account with QiskitRuntimeService.save_account(...); "
                f"the runtime said: {self.scrub(str(error))}"
            ) from None
        return self._backend

    @property
    def n_qubits(self) -> int:
        return self.connect().num_qubits

    def queue(self) -> int | None:
        """Pending jobs on the backend, where the API gives it."""
        try:
            return int(self.connect().status().pending_jobs)
        except Exception:
            return None

    def queue_text(self) -> str:
        queue = self.queue()
        return f"{queue} jobs queued" if queue is not None else "queue length not reported"

    def prepare(self, circuits):
        from qiskit import transpile

        return transpile(circuits, backend=self.connect(), optimization_level=1, seed_transpiler=0)

    def submit(self, circuits, shots: int):
        """Submit one batch; returns the job (``job.job_id()`` names it)."""
        from qiskit_ibm_runtime import SamplerV2

        return SamplerV2(mode=self.connect()).run(circuits, shots=shots)

    def job(self, job_id: str, readout=None):
        """A submitted job by id (only a real service can look one up)."""
        if self._service is None:
            return None
        return self._service.job(job_id)

    def counts(self, job, n_qubits: int, timeout: float | None = None) -> list[np.ndarray]:
        """Counts ``(2**n,)`` per circuit of a finished job, indexed like the kit's statevector.

        A job that gives no result within ``timeout`` seconds raises :class:`JobPending` (it may still be
        queued: a rerun fetches it by id); any other error means the job failed (a rerun resubmits it).
        """
        from qiskit.providers import JobTimeoutError

        # The runtime's jobs wait up to a timeout; local mode's (qiskit's PrimitiveJob) run in-process and
        # take none.
        waits = timeout is not None and "timeout" in inspect.signature(job.result).parameters
        try:
            result = job.result(timeout=timeout) if waits else job.result()
        except (JobTimeoutError, TimeoutError):
            waited = f"after {timeout:g} s" if timeout is not None else "in time"
            raise JobPending(f"no result {waited}; the job may still be queued or running: rerun "
                             "the same audit to fetch it again without resubmitting") from None
        out = []
        for pub in result:
            counts = pub.data.c.get_counts()
            row = np.zeros(2**n_qubits, dtype=np.int64)
            for bits, count in counts.items():
                row[int(bits.replace(" ", ""), 2)] += count
            out.append(row)
        return out


#: QCIS names of the qiskit gates :meth:`TianyanRunner.prepare` compiles to (``sx`` is ``X2P`` up to a
#: global phase).
QCIS_GATES = {"rz": "RZ", "sx": "X2P", "sxdg": "X2M", "x": "X", "cz": "CZ"}


def to_qcis(circuit) -> tuple[str, list[list[int]]]:
    """A qiskit circuit in :data:`QCIS_GATES` (plus final measurements) as QCIS text.

    Qubit ``i`` of the circuit becomes ``Q{i}`` (after :meth:`TianyanRunner.prepare`, ``i`` is the
    machine's own qubit number). Returns the text and the readout map ``[[qubit, clbit], ...]`` of the
    measurements, which :meth:`TianyanRunner.counts` needs to put each measured bit in its place.
    Rotation angles are written wrapped into [-pi, pi).

    Example:
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(2, 2)
        >>> _ = qc.sx(0), qc.cz(0, 1), qc.rz(0.5, 1), qc.measure([0, 1], [1, 0])
        >>> text, readout = to_qcis(qc)
        >>> print(text)
        X2P Q0
        CZ Q0 Q1
        RZ Q1 0.5
        M Q0
        M Q1
        >>> readout
        [[0, 1], [1, 0]]
    """
    lines, readout = [], []
    index = {bit: i for i, bit in enumerate(circuit.qubits)}
    clbits = {bit: i for i, bit in enumerate(circuit.clbits)}
    for instruction in circuit.data:
        name = instruction.operation.name
        qubits = [index[q] for q in instruction.qubits]
        if name == "measure":
            readout.append([qubits[0], clbits[instruction.clbits[0]]])
        elif name in ("barrier", "delay"):
            continue
        elif name not in QCIS_GATES:
            raise ValueError(f"gate {name!r} has no QCIS form here: compile to {', '.join(QCIS_GATES)} first")
        elif readout:
            raise ValueError(f"gate {name!r} after a measurement: the kit's circuits measure once, at the end")
        else:
            # Angles wrapped into [-pi, pi): RZ(t + 2 pi) = -RZ(t) differs by a global phase only.
            params = [repr(float((p + np.pi) % (2 * np.pi) - np.pi)) for p in instruction.operation.params]
            lines.append(" ".join([QCIS_GATES[name], *(f"Q{q}" for q in qubits), *params]))
    lines += [f"M Q{qubit}" for qubit, _ in readout]
    return "\n".join(lines), readout


class _TianyanJob:
    """One batch on Tianyan: the platform's query ids (one per circuit) and each circuit's readout map."""

    def __init__(self, query_ids, readout):
        self.query_ids, self.readout = [str(q) for q in query_ids], readout

    def job_id(self) -> str:
        return ",".join(self.query_ids)


class TianyanRunner(CloudRunner):
    """Submit circuits to a machine of China Telecom's Tianyan cloud through ``cqlib`` (QCIS).

    Args:
        machine: the machine's name on the platform, e.g. ``"tianyan504"`` (a superconducting chip) or
            one of the platform's simulators.
        token: your Tianyan login key (the SDK key on the web console's personal page); by default
            ``$TIANYAN_LOGIN_KEY``. Never written anywhere.
        platform: how to make the platform client, ``platform(login_key=..., machine_name=...)``;
            by default ``cqlib.TianYanPlatform``. Tests pass a recorded-response stub.
        poll_seconds: pause between two result queries.

    Every circuit of a batch gets its own query id on the platform; the job id the kit journals is
    their comma-separated list, so a rerun fetches the results by id instead of submitting again.
    Counts are the raw measurements (``resultStatus``), without the platform's optional readout
    correction, as on IBM.

    Example:
        >>> runner = TianyanRunner("tianyan504")
        >>> runner.spec, runner.max_batch, runner.max_shots
        ('tianyan:tianyan504', 50, 100000)
    """

    kind = "tianyan"
    #: The platform accepts 50 circuits per submission, and 100,000 shots per circuit at that size.
    max_batch = 50
    default_batch = 50
    max_shots = 100_000

    def __init__(self, machine: str, token: str | None = None, platform=None, poll_seconds: float = 5):
        super().__init__(machine, token)
        self._factory = platform
        self._platform = None
        self._config: dict | None | bool = False  # False: not asked yet; None: the machine has none
        self.poll_seconds = poll_seconds

    def connect(self):
        """The logged-in platform client; raises a ValueError naming what is missing (never the key)."""
        if self._platform is not None:
            return self._platform
        key = self._token or os.environ.get(TIANYAN_KEY_ENV, "")
        if not key:
            raise ValueError(
                f"{self.spec} needs your Tianyan login key: set ${TIANYAN_KEY_ENV} (the SDK key on your personal "
                "page of the Tianyan console) or pass token=... to run_device_audit; nothing was submitted"
            )
        self._secrets = (key,)
        factory = self._factory
        if factory is None:
            try:
                from cqlib import TianYanPlatform as factory
            except ImportError:
                raise ValueError(f"{self.spec} needs the optional package cqlib: pip install 'qmu-kit[tianyan]'") from None
        try:
            self._platform = factory(login_key=key, machine_name=self.name)
        except Exception as error:  # a failed login may echo what it was given
            raise ValueError(
                f"cannot log in to the Tianyan cloud for machine {self.name!r}: check ${TIANYAN_KEY_ENV} (or token=...); "
                f"nothing was submitted; the platform said: {self.scrub(str(error))}"
            ) from None
        return self._platform

    def machine_config(self) -> dict | None:
        """The machine's calibration and wiring from the platform (``None`` for a simulator, which has none)."""
        if self._config is False:
            try:
                self._config = self.connect().download_config(machine=self.name)
            except ValueError:
                raise
            except Exception:
                self._config = None
        return self._config

    def coupling(self) -> list[list[int]] | None:
        """The machine's usable qubit pairs ``[[a, b], ...]`` (cqlib's reading of its config), or ``None``."""
        config = self.machine_config()
        if not config:
            return None
        from cqlib.utils.laboratory_utils import LaboratoryUtils

        return LaboratoryUtils().get_coupling_map(config)

    @property
    def n_qubits(self) -> int | None:
        """Qubits that take part in a usable coupler; ``None`` for a machine without a config (a simulator)."""
        pairs = self.coupling()
        return None if pairs is None else len({q for pair in pairs for q in pair})

    def queue_text(self) -> str:
        """The machine's state from the platform's machine list (the API reports no queue length), and
        whether the circuits will be routed on a coupler map."""
        pairs = self.coupling()
        routing = ("no coupler map from the platform (a simulator?): circuits are not routed" if pairs is None
                   else f"routed on the machine's coupler map ({self.n_qubits} usable qubits)")
        state = None
        try:
            for row in self.connect().query_quantum_computer_list():
                if self.name in row:
                    state = next((v for v in row if v in ("running", "calibration", "under maintenance", "off-line")), None)
                    break
        except Exception:
            pass
        return f"{'machine ' + state + '; ' if state else ''}queue length not reported; {routing}"

    def prepare(self, circuits):
        """Compile to the machine and write QCIS: returns ``[(qcis, readout map), ...]``.

        qiskit's ``transpile`` (optimization level 1, seeded) rewrites each circuit into Tianyan's
        native set - ``CZ``, ``RZ``, ``X2P`` (``sx``) and ``X`` - routed on the machine's coupler map
        when the platform gives one (SWAPs become three CZs each), all-to-all on a simulator. The
        amplitude-encoding state preparation is qiskit's ``StatePreparation`` (uniformly controlled
        rotations), which the same pass lowers to those gates.
        """
        from qiskit import transpile
        from qiskit.transpiler import CouplingMap

        pairs = self.coupling()
        coupling = None
        if pairs:
            coupling = CouplingMap([tuple(p) for p in pairs])
            coupling.make_symmetric()
        compiled = transpile(circuits, basis_gates=["rz", "sx", "x", "cz"], coupling_map=coupling,
                             optimization_level=1, seed_transpiler=0)
        return [to_qcis(c) for c in compiled]

    def submit(self, circuits, shots: int):
        """Submit one batch of prepared circuits; returns a job whose id lists the platform's query ids."""
        query_ids = self.connect().submit_experiment(circuit=[text for text, _ in circuits], num_shots=shots)
        if not isinstance(query_ids, (list, tuple)) or len(query_ids) != len(circuits):
            raise RuntimeError(f"{self.spec} answered the submission of {len(circuits)} circuits with {query_ids!r}")
        return _TianyanJob(query_ids, [readout for _, readout in circuits])

    def job(self, job_id: str, readout=None):
        """The journaled batch ``job_id`` (its query ids) with its readout maps: fetched, never resubmitted."""
        if readout is None:
            return None
        return _TianyanJob(job_id.split(","), readout)

    def counts(self, job, n_qubits: int, timeout: float | None = None) -> list[np.ndarray]:
        """Counts ``(2**n,)`` per circuit, indexed like the kit's statevector, from the raw shots.

        Waits up to ``timeout`` seconds (default: cqlib's hour). cqlib answers only when every circuit
        of the batch has a result, so no answer in time raises :class:`JobPending` (a rerun asks again,
        it does not submit again); a result without measurements raises a ``RuntimeError`` (the batch
        failed on the device and a rerun submits it again).
        """
        wait = {} if timeout is None else {"max_wait_time": timeout}
        try:
            results = self.connect().query_experiment(job.query_ids, sleep_time=self.poll_seconds,
                                                      readout_calibration=False, **wait)
        except Exception as error:
            waited = f"{timeout:g} s" if timeout is not None else "cqlib's waiting time"
            raise JobPending(f"no result after {waited} (still queued or running?): {error}; a rerun fetches it "
                             "again without resubmitting") from None
        by_id = {}
        for position, item in enumerate(results or []):
            key = next((item[k] for k in ("experimentTaskId", "query_id", "queryId") if item.get(k) is not None), None)
            by_id[str(key) if key is not None else job.query_ids[position]] = item
        out = []
        for query_id, readout in zip(job.query_ids, job.readout):
            item = by_id.get(query_id)
            rows = item.get("resultStatus") if item else None
            if not rows or len(rows) < 2:
                state = f"status {item.get('status')!r}" if item else "no result"
                raise RuntimeError(f"query {query_id} returned no measurements ({state})")
            header = [int(q) for q in rows[0]]
            place = {qubit: clbit for qubit, clbit in readout}
            if sorted(header) != sorted(place):
                raise RuntimeError(f"query {query_id} measured qubits {header}, the circuit measures {sorted(place)}")
            weights = np.array([1 << place[q] for q in header])
            out.append(counts_from_bits(np.asarray(rows[1:]), weights, n_qubits))
        return out


#: The runner for each cloud device kind of :func:`qmu_kit.studies.devices.parse_device`.
RUNNERS = {"ibm": IBMRunner, "tianyan": TianyanRunner}


class RemoteReadout:
    """A readout whose circuits run on a cloud device, batch by batch, through a :class:`RemoteSession`."""

    def __init__(self, session: "RemoteSession", part: str):
        self.session, self.part = session, part
        self.shots = session.shots

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=None):
        counts = self.session.run(self.part, spec, states.detach().cpu().numpy(), weights.detach().cpu().numpy())
        frequencies = torch.from_numpy(counts / self.shots)
        return expvals(frequencies.to(states.dtype), spec.n_qubits)


class RemoteSession:
    """One audit's conversation with a cloud device: preflight, batched jobs, journal, resume.

    Args:
        device: the parsed device spec (``ibm:`` or ``tianyan:``).
        shots: shots per circuit.
        store: the cache that keeps the journal (``None``: no journal, nothing to resume).
        journal_key: the audit's cache key (credentials are never part of it).
        confirm: submit only if true; else :meth:`preflight` raises :class:`ConfirmationRequired`.
        batch_size: circuits per job (``None``: the runner's default).
        runner: a ready :class:`CloudRunner` (tests pass stubs); by default one from :data:`RUNNERS`.
        token: the credential for the default runner (else its environment variable).
        n_qubits, n_circuits: what the audit needs: qubits per circuit, circuits at most.
        timeout: seconds to wait for one job.
    """

    def __init__(self, device, *, shots: int, store, journal_key: str, confirm: bool, batch_size: int | None = None,
                 runner=None, token: str | None = None, n_qubits: int, n_circuits: int, timeout: float | None = None):
        self.device, self.shots, self.store = device, shots, store
        self.journal_key = journal_key + "jobs"
        self.confirm, self.timeout = confirm, timeout
        self.n_qubits, self.n_circuits = n_qubits, n_circuits
        if runner is None:
            if device.kind not in RUNNERS:
                raise ValueError(f"{device.spec} is not a cloud device: use one of {', '.join(k + ':NAME' for k in RUNNERS)}")
            runner = RUNNERS[device.kind](device.name, token=token)
        self.runner = runner
        self.batch_size = batch_size if batch_size is not None else runner.default_batch
        runner.check(shots, self.batch_size)
        self.journal = (store.load_json(self.journal_key) if store is not None else None) or {"batches": {}}
        self.jobs: list[dict] = []

    def preview(self) -> str:
        queue_text = self.runner.queue_text()
        done = sum(1 for b in self.journal["batches"].values() if b.get("counts") is not None)
        return (f"{self.device.spec}: up to {self.n_circuits} circuits x {self.shots} shots = "
                f"{self.n_circuits * self.shots} shots in batches of {self.batch_size} "
                f"({done} batches already finished in the journal); {queue_text}")

    def preflight(self) -> str:
        """Credentials, qubit count, cost preview; raises before anything is trained or submitted."""
        available = self.runner.n_qubits
        if available is not None and available < self.n_qubits:
            raise ValueError(f"{self.device.spec} has {available} qubits, the circuit needs {self.n_qubits}")
        preview = self.preview()
        if not self.confirm:
            raise ConfirmationRequired(f"nothing submitted. Cost preview: {preview}. Confirm with --yes (CLI) or confirm=True (API)")
        return preview

    def readout(self, part: str) -> RemoteReadout:
        return RemoteReadout(self, part)

    def _save(self):
        if self.store is not None:
            self.store.store_json(self.journal_key, self.journal)

    def run(self, part: str, spec: CircuitSpec, states: np.ndarray, weights: np.ndarray) -> np.ndarray:
        out = np.zeros((len(states), spec.dim), dtype=np.int64)
        failures = []
        for start in range(0, len(states), self.batch_size):
            name = f"{part}:{start}"
            entry = self.journal["batches"].setdefault(name, {})
            error, fetched = None, False
            if entry.get("counts") is None and entry.get("job_id"):
                job = self.runner.job(entry["job_id"], entry.get("readout"))  # submitted before: fetch, don't pay twice
                if job is not None:
                    fetched = True
                    error = self._collect(entry, job, spec, name)
            # A job still queued or running is fetched again next time, never paid for twice; a job that
            # failed on the device, or that cannot be looked up by id (local mode has no service), is resubmitted.
            still_pending = fetched and entry.get("status") == "pending"
            if entry.get("counts") is None and not still_pending:
                batch = states[start : start + self.batch_size]
                circuits = self.runner.prepare([to_qiskit(spec, s, weights) for s in batch])
                job = self.runner.submit(circuits, self.shots)
                entry.update(job_id=str(job.job_id()), status="submitted")
                if getattr(job, "readout", None) is not None:  # what the runner needs to read the counts later
                    entry["readout"] = job.readout
                self._save()
                error = self._collect(entry, job, spec, name)  # a resubmission that finished clears the fetch's error
            if error is not None:
                failures.append(error)
            self.jobs.append({"part": part, "batch": start // self.batch_size, "job_id": entry.get("job_id"),
                              "status": entry.get("status")})
            if entry.get("counts") is not None:
                out[start : start + len(entry["counts"])] = np.asarray(entry["counts"])
        if failures:
            raise DeviceJobError(
                f"{len(failures)} job(s) on {self.device.spec} did not finish ({'; '.join(failures)}); the finished "
                "batches are kept in the journal: rerun the same audit to resume"
            )
        return out

    def _collect(self, entry, job, spec, name) -> str | None:
        """Wait for ``job`` and journal its counts; returns what went wrong, or ``None``."""
        try:
            counts = self.runner.counts(job, spec.n_qubits, self.timeout)
        except Exception as error:
            entry["status"] = "pending" if isinstance(error, JobPending) else "failed"
            problem = f"{name} job {entry.get('job_id')}: {self.runner.scrub(str(error))}"
        else:
            entry.update(counts=[c.tolist() for c in counts], status="done")
            problem = None
        self._save()
        return problem
