"""Cloud quantum devices: the audit's queries as batched jobs on IBM Quantum, with a resumable journal.

The same code path serves a real IBM backend and, offline, the runtime's *local mode* with a fake
backend (``ibm:FakeManilaV2``): that is how the tests exercise it. Before anything is submitted,
:meth:`RemoteSession.preflight` checks the credentials and the qubit count and shows a cost preview
(circuits x shots, and the backend's queue where the API gives it); nothing runs without
``confirm=True`` (``--yes`` on the command line).

Credentials: the token comes from ``$QISKIT_IBM_TOKEN`` (with ``$QISKIT_IBM_INSTANCE`` optionally),
else from the account you saved with ``QiskitRuntimeService.save_account(...)``. The kit never writes
it anywhere: not into results, logs, cache keys, journals or error messages.

Every finished job's counts go into a journal in the cache (keyed by the audit), with the job ids of
unfinished ones; an interrupted audit reruns by reading finished batches from the journal and
fetching submitted jobs by id, instead of paying twice.

Example:
    >>> from qmu_kit.devices import run_device_audit
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> cfg = ExperimentConfig(model="hybrid", n_qubits=3, n_train=100, n_test=100, epochs=5)
    >>> run_device_audit(cfg, "ibm:FakeManilaV2", n_queries=20, confirm=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch

from qmu_kit.circuit import CircuitSpec, expvals, to_qiskit

TOKEN_ENV = "QISKIT_IBM_TOKEN"
INSTANCE_ENV = "QISKIT_IBM_INSTANCE"


class ConfirmationRequired(ValueError):
    """A cloud audit was asked for without ``confirm=True``; the message is the cost preview."""


class DeviceJobError(RuntimeError):
    """A device job failed or timed out; what finished is kept in the journal."""


def _scrub(message: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return re.sub(r"(token|apikey|api_key|login_key)=\S+", r"\1=***", message, flags=re.I)


class IBMRunner:
    """Submit circuits to an IBM backend through ``SamplerV2``; ``FakeXxx`` names run in local mode.

    Args:
        backend_name: an IBM backend (needs credentials) or a fake backend of
            ``qiskit_ibm_runtime.fake_provider`` (local mode, offline).
    """

    def __init__(self, backend_name: str):
        self.backend_name = backend_name
        self.local = backend_name.startswith("Fake")
        self._backend = None
        self._service = None
        self._secrets: tuple[str, ...] = ()

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

        token = os.environ.get(TOKEN_ENV, "")
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
                f"the runtime said: {_scrub(str(error), self._secrets)}"
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

    def prepare(self, circuits):
        from qiskit import transpile

        return transpile(circuits, backend=self.connect(), optimization_level=1, seed_transpiler=0)

    def submit(self, circuits, shots: int):
        """Submit one batch; returns the job (``job.job_id()`` names it)."""
        from qiskit_ibm_runtime import SamplerV2

        return SamplerV2(mode=self.connect()).run(circuits, shots=shots)

    def job(self, job_id: str):
        """A submitted job by id (only a real service can look one up)."""
        if self._service is None:
            return None
        return self._service.job(job_id)

    def counts(self, job, n_qubits: int, timeout: float | None = None) -> list[np.ndarray]:
        """Counts ``(2**n,)`` per circuit of a finished job, indexed like the kit's statevector."""
        result = job.result(timeout=timeout) if timeout is not None else job.result()
        out = []
        for pub in result:
            counts = pub.data.c.get_counts()
            row = np.zeros(2**n_qubits, dtype=np.int64)
            for bits, count in counts.items():
                row[int(bits.replace(" ", ""), 2)] += count
            out.append(row)
        return out


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
    """One audit's conversation with a cloud device: preflight, batched jobs, journal, resume."""

    def __init__(self, device, *, shots: int, store, journal_key: str, confirm: bool, batch_size: int,
                 runner=None, n_qubits: int, n_circuits: int, timeout: float | None = None):
        self.device, self.shots, self.store = device, shots, store
        self.journal_key = journal_key + "jobs"
        self.confirm, self.batch_size, self.timeout = confirm, batch_size, timeout
        self.n_qubits, self.n_circuits = n_qubits, n_circuits
        if runner is None:
            if device.kind != "ibm":
                raise ValueError(f"{device.spec}: only ibm: cloud devices are supported so far (Tianyan is not yet)")
            runner = IBMRunner(device.name)
        self.runner = runner
        self.journal = (store.load_json(self.journal_key) if store is not None else None) or {"batches": {}}
        self.jobs: list[dict] = []

    def preview(self) -> str:
        queue = self.runner.queue()
        queue_text = f"{queue} jobs queued" if queue is not None else "queue length not reported"
        done = sum(1 for b in self.journal["batches"].values() if b.get("counts") is not None)
        return (f"{self.device.spec}: up to {self.n_circuits} circuits x {self.shots} shots = "
                f"{self.n_circuits * self.shots} shots in batches of {self.batch_size} "
                f"({done} batches already finished in the journal); {queue_text}")

    def preflight(self) -> str:
        """Credentials, qubit count, cost preview; raises before anything is trained or submitted."""
        available = self.runner.n_qubits
        if available < self.n_qubits:
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
            error = None
            if entry.get("counts") is None and entry.get("job_id"):
                job = self.runner.job(entry["job_id"])  # submitted before an interruption: fetch, don't pay twice
                if job is not None:
                    error = self._collect(entry, job, spec, name)
            if entry.get("counts") is None:
                batch = states[start : start + self.batch_size]
                circuits = self.runner.prepare([to_qiskit(spec, s, weights) for s in batch])
                job = self.runner.submit(circuits, self.shots)
                entry.update(job_id=str(job.job_id()), status="submitted")
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
            entry["status"] = "failed"
            problem = f"{name} job {entry.get('job_id')}: {_scrub(str(error), getattr(self.runner, '_secrets', ()))}"
        else:
            entry.update(counts=[c.tolist() for c in counts], status="done")
            problem = None
        self._save()
        return problem
