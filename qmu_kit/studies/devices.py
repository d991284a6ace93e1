"""Leakage on quantum devices: the same attack, with outputs from an emulated or a real device.

The paper saw less leakage on cloud hardware than in noiseless simulation (average MIA success 75.3 %
vs 90.2 %). :func:`run_device_audit` lets a learner test that: it takes the original model of an
experiment (and, optionally, its unlearned versions), queries it on a device, fits the attacks on the
device's outputs and returns a :class:`DeviceAudit` whose rates and AUCs carry their sample counts and
95 % intervals (:mod:`qmu_kit.core.stats`).

Devices are named by a spec string (:func:`parse_device`):

* ``aer:noiseless``, ``aer:default``, ``aer:5x`` - the circuit's exact (noisy) output distribution,
  sampled with a seeded multinomial (:class:`~qmu_kit.qnn.readout.NoisyReadout`); pinned by tests to
  qiskit-aer's density-matrix method on the same circuit and noise model. ``engine="aer"`` instead
  runs qiskit-aer itself, one compiled circuit (with a gate-level, noisy state preparation) per query.
* ``fake:FakeGuadalupeV2`` (and the other :data:`~qmu_kit.qnn.readout.FAKE_BACKENDS`) - qiskit-aer with
  a real IBM device's stored calibration and wiring; one circuit per query, so slow.
* ``ibm:BACKEND`` - IBM Quantum through ``qiskit-ibm-runtime``'s ``SamplerV2`` with your own
  credentials (``ibm:FakeManilaV2`` and friends run the very same code offline, in the runtime's
  local mode); see :mod:`qmu_kit.qnn.remote`.
* ``tianyan:MACHINE`` - a machine of China Telecom's Tianyan cloud (the paper's own device, e.g.
  ``tianyan:tianyan504``) through ``cqlib`` (``pip install 'qmu-kit[tianyan]'``), with your login
  key in ``$TIANYAN_LOGIN_KEY``; the circuits go as QCIS in the machine's native gates.

Example:
    >>> from qmu_kit.experiment import ExperimentConfig
    >>> audit = run_device_audit(ExperimentConfig(), "aer:default", n_queries=500)  # doctest: +SKIP
    >>> audit.table()  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from qmu_kit.core import stats
from qmu_kit.core.cache import ResultCache, resolve_cache
from qmu_kit.core.results import Result
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.validation import MAX_QUERIES, MIN_QUERIES, check_choice, check_device_shots, check_float, check_int
from qmu_kit.experiment.config import ExperimentConfig, external_code
from qmu_kit.experiment.pipeline import train_original
from qmu_kit.leakage.attacks import Observations
from qmu_kit.leakage.audit import AuditSplit, MembershipAudit
from qmu_kit.plots.figures import error_bars
from qmu_kit.qnn.readout import FAKE_BACKENDS, AerReadout, NoiseSpec, NoisyReadout, ShotReadout
from qmu_kit.qnn.remote import RemoteSession
from qmu_kit.unlearning.methods import UnlearningTask, make_method

#: ``"fast"``: exact (noisy) distribution + multinomial shots; ``"aer"``: qiskit-aer, one circuit per
#: query; ``"sampler"``: the noiseless fast path (kept as a name for older calls).
ENGINES = ("fast", "aer", "sampler")
#: Circuits per cloud job at most (providers cap a job's size; 100 is the default).
MAX_BATCH = 10_000
#: Attacks that need nothing but the target's outputs (LiRA's shadows would need the device too).
DEVICE_ATTACKS = ("mlp", "loss", "confidence", "entropy")
#: The emulated noise levels of ``aer:LEVEL``: the authors' defaults, and five times them.
NOISE_LEVELS = {
    "noiseless": None,
    "default": NoiseSpec(),
    "5x": NoiseSpec(p1=5 * NoiseSpec.p1, p2=5 * NoiseSpec.p2, readout=5 * NoiseSpec.readout),
}
DEVICE_KINDS = ("aer", "fake", "ibm", "tianyan")
DEVICE_HELP = "aer:noiseless|aer:default|aer:5x|fake:BACKEND|ibm:BACKEND|tianyan:MACHINE"


@dataclass(frozen=True)
class Device:
    """A parsed device spec (see :func:`parse_device`).

    Attributes:
        kind: ``"aer"`` (emulated noise model), ``"fake"`` (aer with a fake backend's calibration),
            ``"ibm"`` or ``"tianyan"`` (a cloud device, or its offline stand-in).
        name: the noise level, backend or machine name.
    """

    kind: str
    name: str

    @property
    def noise(self) -> NoiseSpec | None:
        """The emulated noise model (``None`` for noiseless and for cloud devices)."""
        if self.kind == "aer":
            return NOISE_LEVELS[self.name]
        if self.kind == "fake":
            return NoiseSpec(backend=self.name)
        return None

    @property
    def remote(self) -> bool:
        """Whether queries go to a cloud runtime (real, or its local mode), with confirmation first."""
        return self.kind in ("ibm", "tianyan")

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.name}"

    def label(self) -> str:
        noise = self.noise
        if self.kind == "aer" and noise is None:
            return "noiseless device"
        if self.kind == "aer":
            return f"depolarizing p1={noise.p1:g}, p2={noise.p2:g}, readout {noise.readout:g}"
        if self.kind == "fake":
            return f"{self.name} calibration"
        return f"{self.kind} {self.name}"


def parse_device(spec: "str | Device | NoiseSpec | None") -> Device:
    """A :class:`Device` from ``"aer:default"``, ``"fake:FakeGuadalupeV2"``, ``"ibm:ibm_brisbane"`` ...

    ``None`` and a :class:`~qmu_kit.qnn.readout.NoiseSpec` (the older call style) are accepted too.

    Example:
        >>> parse_device("aer:5x").noise.p2, parse_device("ibm:FakeManilaV2").remote
        (0.025, True)
    """
    if isinstance(spec, Device):
        return spec
    if spec is None:
        return Device("aer", "noiseless")
    if isinstance(spec, NoiseSpec):
        if spec.backend:
            return Device("fake", spec.backend)
        level = next((k for k, v in NOISE_LEVELS.items() if v == spec), None)
        return Device("aer", level) if level else _CustomNoise(spec)
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"unknown device {spec!r}: give one of {DEVICE_HELP}")
    kind, name = spec.split(":", 1)
    check_choice("device kind", kind, DEVICE_KINDS)
    if kind == "aer":
        check_choice("aer noise level", name, NOISE_LEVELS)
    elif kind == "fake":
        check_choice("fake backend", name, FAKE_BACKENDS)
    elif not name:
        raise ValueError(f"device {spec!r} names no {'backend' if kind == 'ibm' else 'machine'}: give {kind}:NAME")
    elif kind == "tianyan" and not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"tianyan machine name {name!r} is not valid: letters, digits, '_' and '-' only (e.g. tianyan504)")
    return Device(kind, name)


@dataclass(frozen=True)
class _CustomNoise(Device):
    """An ``aer`` device with explicit error rates (a :class:`NoiseSpec` given directly)."""

    custom: NoiseSpec = field(default_factory=NoiseSpec)

    def __init__(self, noise: NoiseSpec):
        object.__setattr__(self, "kind", "aer")
        object.__setattr__(self, "name", f"p1={noise.p1:g},p2={noise.p2:g},readout={noise.readout:g}")
        object.__setattr__(self, "custom", noise)

    @property
    def noise(self) -> NoiseSpec:
        return self.custom


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelOnDevice:
    """One model queried on a device.

    Attributes:
        accuracy_members, accuracy_nonmembers: accuracy of the device's outputs on the queried members
            (training images) and non-members (test images).
        metrics: per attack, ``{"mia_success": share of forget-set members flagged (the paper's
            metric), "control": the same share on the forget class's non-members, "auc": held-out
            AUC on the retained members vs non-members, "auc_forget": AUC on the forget set}``.
        attacks: per attack, the full :class:`~qmu_kit.leakage.audit.AttackOutcome` (as a dict, no curves).
    """

    accuracy_members: stats.Estimate
    accuracy_nonmembers: stats.Estimate
    metrics: dict[str, dict[str, stats.Estimate]]
    attacks: dict[str, dict]

    def to_dict(self) -> dict:
        return {
            # Plain numbers first: the shape older code and the reproduction report read.
            "accuracy_members": self.accuracy_members.value,
            "accuracy_nonmembers": self.accuracy_nonmembers.value,
            "attacks": self.attacks,
            "accuracy": {"members": self.accuracy_members.to_dict(), "nonmembers": self.accuracy_nonmembers.to_dict()},
            "metrics": {a: {k: e.to_dict() for k, e in m.items()} for a, m in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ModelOnDevice":
        return cls(
            stats.Estimate.from_dict(data["accuracy"]["members"]),
            stats.Estimate.from_dict(data["accuracy"]["nonmembers"]),
            {a: {k: stats.Estimate.from_dict(e) for k, e in m.items()} for a, m in data["metrics"].items()},
            data["attacks"],
        )


@dataclass(frozen=True, eq=False)
class DeviceAudit(Mapping, Result):
    """The audit of a model (and its unlearned versions) on one device.

    Also a read-only mapping over :meth:`to_dict`, so ``audit["attacks"]["mlp"]`` keeps working for
    code written against the older plain-dict result.

    Attributes:
        device: the device spec, e.g. ``"aer:default"``.
        label: a readable description of the device.
        engine: how it was emulated (``"fast"``, ``"aer"``) or ``"remote"``.
        shots, n_queries: shots per query; members and non-members queried (each).
        original: the original model's numbers.
        models: the unlearned models' numbers, by method, scored by the attacks fitted on the original.
        jobs: for a cloud device, every submitted job (``{"part", "batch", "job_id", "status"}``).
        seconds: wall time of the queries, attacks and unlearning.
    """

    device: str
    label: str
    engine: str
    shots: int
    n_queries: int
    original: ModelOnDevice
    models: dict[str, ModelOnDevice]
    jobs: tuple[dict, ...] = ()
    seconds: float = float("nan")

    def to_dict(self) -> dict:
        """JSON-ready: ``{"device", "label", "engine", "shots", "n_queries", "seconds", "jobs",
        **original.to_dict(), "models": {method: ModelOnDevice.to_dict()}}``."""
        return {"device": self.device, "label": self.label, "engine": self.engine, "shots": self.shots,
                "n_queries": self.n_queries, "seconds": self.seconds, "jobs": [dict(j) for j in self.jobs],
                **self.original.to_dict(), "models": {k: v.to_dict() for k, v in self.models.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "DeviceAudit":
        return cls(data["device"], data["label"], data["engine"], int(data["shots"]), int(data["n_queries"]),
                   ModelOnDevice.from_dict(data), {k: ModelOnDevice.from_dict(v) for k, v in data["models"].items()},
                   tuple(data.get("jobs", ())), float(data["seconds"]))

    # A read-only mapping over to_dict() (see the class docstring).
    def __getitem__(self, key):
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __eq__(self, other):
        if not isinstance(other, DeviceAudit):
            return NotImplemented
        return json.dumps(self.to_dict(), sort_keys=True) == json.dumps(other.to_dict(), sort_keys=True)

    __hash__ = None

    def summary(self) -> str:
        """The device, the queries and :meth:`table` as text."""
        return (f"{self.label} ({self.device}, {self.engine}): {self.n_queries} members + {self.n_queries} non-members, "
                f"{self.shots} shots per query\n{self.table().to_string()}")

    def table(self, attack: str = "mlp"):
        """One row per model: accuracy, MIA success, its control and the AUCs, each ``value [low, high]``
        (a pandas DataFrame of strings; the numbers are in :attr:`original` and :attr:`models`)."""
        import pandas as pd

        rows = {}
        for name, model in {"original": self.original, **self.models}.items():
            m = model.metrics[attack]
            rows[name] = {
                "accuracy (members)": model.accuracy_members.format(),
                "MIA success": m["mia_success"].format(),
                "control": m["control"].format(),
                "AUC": m["auc"].format(),
                "AUC (forget set)": m["auc_forget"].format(),
            }
        return pd.DataFrame(rows).T

    def plot(self, attack: str = "mlp", ax=None):
        """MIA success, control and AUC per model with 95 % error bars; returns the figure."""
        import matplotlib.pyplot as plt


        if ax is None:
            figure, ax = plt.subplots(figsize=(7, 3.2))
            plt.close(figure)
        figure = ax.figure
        names = ["original", *self.models]
        models = [self.original, *self.models.values()]
        keys = ("mia_success", "control", "auc")
        width = 0.8 / len(keys)
        for i, key in enumerate(keys):
            est = [m.metrics[attack][key] for m in models]
            values = np.array([e.value for e in est])
            ax.bar(np.arange(len(names)) + (i - 1) * width, values, width, yerr=error_bars(est), capsize=3, label=key)
        ax.set(xticks=range(len(names)), xticklabels=names, ylim=(0, 1.05), ylabel="fraction / AUC",
               title=f"{self.label}: {self.n_queries} + {self.n_queries} queries, {self.shots} shots")
        ax.legend(fontsize=8)
        return figure


# --- The audit ----------------------------------------------------------------------------------


def _subset(forget_mask: np.ndarray, size: int, n_forget: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` indices: ``n_forget`` from the forget part, the rest from the retained part."""
    forget, retain = np.flatnonzero(forget_mask), np.flatnonzero(~forget_mask)
    take_retain = min(len(retain), size - n_forget)
    return np.sort(np.r_[rng.choice(forget, n_forget, replace=False), rng.choice(retain, take_retain, replace=False)])


def _model_numbers(audit: MembershipAudit, members: Observations, nonmembers: Observations) -> ModelOnDevice:
    outcomes = audit.evaluate(members, nonmembers)
    split = audit.split_
    metrics = {}
    for name in audit.attacks:
        # The same out-of-fold scores and flags evaluate() used, for the intervals.
        m_scores, m_flags = audit.out_of_fold(name, members, split.member_fold)
        n_scores, n_flags = audit.out_of_fold(name, nonmembers, split.nonmember_fold)
        fm, fn = split.forget_members, split.forget_nonmembers
        metrics[name] = {
            "mia_success": stats.rate(m_flags[fm]),
            "control": stats.rate(n_flags[fn]),
            "auc": stats.auc(m_scores[~fm], n_scores[~fn]),
            "auc_forget": stats.auc(m_scores[fm], n_scores[fn]),
        }
    return ModelOnDevice(
        stats.rate(members.probs.argmax(1) == members.labels),
        stats.rate(nonmembers.probs.argmax(1) == nonmembers.labels),
        metrics,
        {name: outcome.to_dict(curves=False) for name, outcome in outcomes.items()},
    )


def run_device_audit(
    config: ExperimentConfig,
    device: "str | Device | NoiseSpec | None" = "aer:default",
    *,
    shots: int = 1000,
    n_queries: int = 500,
    engine: str = "fast",
    methods: tuple[str, ...] = (),
    cache: ResultCache | bool = True,
    progress: bool = False,
    confirm: bool = False,
    batch_size: int | None = None,
    runner=None,
    token: str | None = None,
    timeout: float | None = None,
) -> DeviceAudit:
    """Audit the experiment's original model (and unlearned versions) on a device.

    Args:
        config: the experiment whose original model is audited (any dataset; its ``shots`` field is
            ignored: a device always samples, give ``shots`` here).
        device: a spec string (:func:`parse_device`), a :class:`Device`, or (older style) ``None``
            for noiseless / a :class:`~qmu_kit.qnn.readout.NoiseSpec`.
        shots: measurement shots per query, 1..1000000 (never exact on a device).
        n_queries: members and non-members queried (each), 20..2000.
        engine: for ``aer:`` devices, ``"fast"`` (exact noisy distribution + seeded multinomial) or
            ``"aer"`` (qiskit-aer, one compiled circuit per query, gate-level state preparation).
            ``"sampler"`` is the older name of the noiseless fast path.
        methods: unlearning methods (with the config's knobs) whose unlearned models are also
            deployed on the device and scored by the attacks fitted on the original. Unlearning
            itself runs in simulation, with exact gradients, on the config's ``unlearn_params``.
        cache: as in :func:`~qmu_kit.experiment.pipeline.run_experiment`; also where a cloud audit keeps its
            job journal, so an interrupted audit resumes instead of paying twice.
        confirm: a cloud device (``ibm:``, ``tianyan:``) runs only with ``confirm=True``; without it
            a :class:`~qmu_kit.qnn.remote.ConfirmationRequired` error shows the cost preview.
        batch_size: circuits per cloud job (default: the provider's, 100 on IBM, 50 on Tianyan, which
            takes no more).
        runner: a ready cloud runner (tests use stubs); by default one is made from ``device``.
        token: the cloud credential (IBM API key, Tianyan login key); by default ``$QISKIT_IBM_TOKEN``
            or a saved IBM account, ``$TIANYAN_LOGIN_KEY``. Never stored, logged or part of a cache key.
        timeout: seconds to wait for one cloud job (default: the provider library's).

    Returns:
        a :class:`DeviceAudit`.
    """
    shots = check_device_shots(shots)
    check_int("n_queries", n_queries, MIN_QUERIES, MAX_QUERIES)
    check_choice("engine", engine, ENGINES)
    dev = parse_device(device)
    if engine == "sampler":
        if dev.noise is not None or dev.kind != "aer":
            raise ValueError("engine='sampler' is noiseless; use engine='fast' or 'aer' with a noise model")
        engine = "fast"
    if dev.kind == "fake":
        engine = "aer"  # a calibration (wiring, per-qubit errors) has no fast path
    if dev.remote:
        engine = "remote"
    if batch_size is not None:
        check_int("batch_size", batch_size, 1, MAX_BATCH)
    if timeout is not None:
        timeout = check_float("timeout", timeout, 0.0, low_inclusive=False)
    config = config.resolved().replace(methods=tuple(methods), retrain=True)  # validates the method names
    if dev.kind == "fake" and FAKE_BACKENDS[dev.name] < config.n_qubits:
        raise ValueError(
            f"fake backend {dev.name} has {FAKE_BACKENDS[dev.name]} qubits, the circuit needs {config.n_qubits}: "
            f"choose one of {', '.join(k for k, v in FAKE_BACKENDS.items() if v >= config.n_qubits)}"
        )
    store = resolve_cache(cache)
    noise = dev.noise
    # A student's registered method is identified by its source, as in experiments: editing it must
    # not replay the old numbers; when its source cannot be read the audit is not cached (None).
    external = external_code(config)
    payload = {"config": config.cache_key("original"), "device": dev.spec, "noise": asdict(noise) if noise else None,
               "shots": shots, "n_queries": n_queries, "engine": engine, "seed": config.seed, "forget": config.forget,
               "unlearn_params": config.unlearn_params, "external": external,
               "methods": {m: config.method_options.get(m, {}) for m in config.methods}}
    key = "device" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
    cacheable = store is not None and external is not None
    if cacheable and (cached := store.load_json(key)) is not None and "metrics" in cached:
        try:
            return DeviceAudit.from_dict(cached)
        except (KeyError, TypeError, ValueError):
            pass  # an entry from an older format: recompute

    session = None
    if dev.remote:

        session = RemoteSession(dev, shots=shots, store=store, journal_key=key, confirm=confirm,
                                batch_size=batch_size, runner=runner, token=token, n_qubits=config.n_qubits,
                                n_circuits=2 * n_queries * (1 + len(config.methods)), timeout=timeout)
        session.preflight()  # credentials, qubits, cost preview and confirmation: before any training

    data = config.load_data()
    original = train_original(config, data, store, progress)
    rng = np.random.default_rng([config.seed, 5])
    # Members and non-members hold the same number of forget-set samples, so that no attack can
    # learn "this class means non-member" from the query mix.
    n_forget = min(int(data.forget_train.sum()), int(data.forget_test.sum()), n_queries // 2)
    members = _subset(data.forget_train, n_queries, n_forget, rng)
    nonmembers = _subset(data.forget_test, n_queries, n_forget, rng)
    start = time.perf_counter()

    def query(model, name):
        # One random stream per model and query set: auditing another method never changes these numbers.
        def readout(part):
            seed = stream_seed(config.seed, f"device-{name}-{part}")
            if session is not None:
                return session.readout(f"{name}-{part}")
            if engine == "aer":
                return AerReadout(shots, seed, noise)
            return ShotReadout(shots, seed) if noise is None else NoisyReadout(shots, seed, noise)

        return (
            Observations(model.predict_proba(data.x_train[members], readout=readout("members")), data.y_train[members]),
            Observations(model.predict_proba(data.x_test[nonmembers], readout=readout("nonmembers")), data.y_test[nonmembers]),
        )

    observed = query(original, "original")
    split = AuditSplit.from_masks(data.forget_train[members], data.forget_test[nonmembers], config.seed)
    audit = MembershipAudit(DEVICE_ATTACKS, config.seed).fit(*observed, split)
    original_numbers = _model_numbers(audit, *observed)
    unlearned = {}
    if config.methods:
        task = UnlearningTask.from_data(data, original)
        for name in config.methods:
            method = make_method(name, **config.method_options.get(name, {}))
            model, _ = method.unlearn(original, task, params=config.unlearn_params, seed=config.seed)
            unlearned[name] = _model_numbers(audit, *query(model, name))
    result = DeviceAudit(dev.spec, dev.label(), engine, shots, n_queries, original_numbers, unlearned,
                         tuple(session.jobs) if session else (), time.perf_counter() - start)
    if cacheable:
        store.store_json(key, result.to_dict())
    return result
