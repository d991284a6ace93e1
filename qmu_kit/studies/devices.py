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
* ``fake:FakeTorino`` (a Heron), ``fake:FakeSherbrooke`` (an Eagle) and the other
  :data:`~qmu_kit.qnn.readout.FAKE_BACKENDS` - a calibrated device model: qiskit-aer with a real IBM
  device's stored calibration (gate errors, thermal relaxation, readout errors) on its best-calibrated
  connected qubits, the model's gates routed there and the input state set exactly, many queries per
  aer job (:class:`~qmu_kit.qnn.readout.CalibratedReadout`). ``engine="aer"`` instead compiles the
  state preparation to gates too (all noisy, as hardware would run it), one aer circuit per query.
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
from qmu_kit.core.palette import COLOURS, ROLES, series_hatch
from qmu_kit.core.results import Result, interval_cells, interval_strings
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.validation import MAX_QUERIES, MAX_SHOTS, MIN_QUERIES, check_choice, check_device_shots, check_float, check_int
from qmu_kit.experiment.config import ExperimentConfig, external_code
from qmu_kit.experiment.pipeline import train_original
from qmu_kit.leakage.audit import AttackOutcome, AuditedModels, AuditQueries, AuditSplit, audit_models
from qmu_kit.plots.figures import error_bars, one_panel
from qmu_kit.plots.figures import estimate_bars_figure
from qmu_kit.qnn.readout import FAKE_BACKENDS, AerReadout, CalibratedReadout, NoiseSpec, NoisyReadout, ShotReadout, check_fake_backend_size
from qmu_kit.qnn.remote import RemoteSession
from qmu_kit.unlearning.methods import UnlearningTask, make_method

#: ``"fast"``: the input state set exactly, the exact (noisy) distribution + multinomial shots, many
#: queries at once; ``"aer"``: qiskit-aer with the state preparation compiled to noisy gates, one
#: circuit per query.
ENGINES = ("fast", "aer")
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
DEFAULT_DEVICE = "aer:default"
DEFAULT_DEVICE_SHOTS = 1000
DEFAULT_QUERIES = 500


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
            return f"calibrated noise model of {self.name}"
        return f"{self.kind} {self.name}"


def parse_device(spec: "str | Device | NoiseSpec") -> Device:
    """A :class:`Device` from ``"aer:default"``, ``"fake:FakeGuadalupeV2"``, ``"ibm:ibm_brisbane"`` ...,
    or an emulated device with the noise of a :class:`~qmu_kit.qnn.readout.NoiseSpec` (custom error rates).

    Example:
        >>> parse_device("aer:5x").noise.p2, parse_device("ibm:FakeManilaV2").remote
        (0.025, True)
    """
    if isinstance(spec, Device):
        return spec
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
        attacks: per attack, its :class:`~qmu_kit.leakage.audit.AttackOutcome` on every queried sample (as
            ``ModelResult.attacks`` of an experiment): ``mia_success_forget`` (the paper's metric) and its
            control ``flag_rate_forget_nonmembers``, ``overall`` (retained members vs non-members, the
            held-out AUC) and ``forget`` (the forget set).
    """

    accuracy_members: stats.Estimate
    accuracy_nonmembers: stats.Estimate
    attacks: dict[str, AttackOutcome]

    def to_dict(self) -> dict:
        return {"accuracy_members": self.accuracy_members.to_dict(), "accuracy_nonmembers": self.accuracy_nonmembers.to_dict(),
                "attacks": {name: outcome.to_dict() for name, outcome in self.attacks.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ModelOnDevice":
        return cls(stats.Estimate.from_dict(data["accuracy_members"]), stats.Estimate.from_dict(data["accuracy_nonmembers"]),
                   {name: AttackOutcome.from_dict(outcome) for name, outcome in data["attacks"].items()})


#: Columns of :meth:`DeviceAudit.table`: a label -> what it reads from a model's attack outcome.
DEVICE_TABLE_COLUMNS = {
    "MIA success": lambda outcome: outcome.mia_success_forget,
    "control": lambda outcome: outcome.flag_rate_forget_nonmembers,
    "AUC": lambda outcome: outcome.overall.auc,
    "AUC (forget set)": lambda outcome: outcome.forget.auc,
}


@dataclass(frozen=True)
class DeviceAudit(Result):
    """The audit of a model (and its unlearned versions) on one device.

    Attributes:
        device: the device spec, e.g. ``"aer:default"``.
        label: a readable description of the device.
        engine: how it was emulated (``"fast"``, ``"aer"``) or ``"remote"``.
        shots, n_queries: shots per query; members and non-members queried (each).
        original: the original model's numbers.
        models: the unlearned models' numbers, by method, scored by the attacks fitted on the original.
        jobs: for a cloud device, every submitted job (``{"part", "batch", "job_id", "status"}``).
        seconds: wall time of the queries, attacks and unlearning.
        config: the audited experiment (:meth:`~qmu_kit.experiment.ExperimentConfig.to_dict`, its
            ``methods`` the unlearned models').
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
    config: dict = field(default_factory=dict)

    KIND = "device-audit"
    VERSION = 3

    def model(self, name: str = "original") -> ModelOnDevice:
        """The numbers of ``"original"`` or of an unlearned model, by method name."""
        return self.original if name == "original" else self.models[name]

    def outcome(self, model: str = "original", attack: str = "mlp") -> AttackOutcome:
        """One attack's outcome against one model (e.g. ``outcome("rga").mia_success_forget``)."""
        return self.model(model).attacks[attack]

    def to_dict(self) -> dict:
        """JSON-ready: ``{"schema", "device", "label", "engine", "shots", "n_queries", "seconds", "jobs",
        "original": ModelOnDevice.to_dict(), "models": {method: ModelOnDevice.to_dict()}, "config"}``."""
        return {"schema": self.schema(), "device": self.device, "label": self.label, "engine": self.engine,
                "shots": self.shots, "n_queries": self.n_queries, "seconds": self.seconds, "jobs": [dict(j) for j in self.jobs],
                "original": self.original.to_dict(), "models": {k: v.to_dict() for k, v in self.models.items()},
                "config": dict(self.config)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "DeviceAudit":
        cls.check_schema(data)
        return cls(data["device"], data["label"], data["engine"], int(data["shots"]), int(data["n_queries"]),
                   ModelOnDevice.from_dict(data["original"]), {k: ModelOnDevice.from_dict(v) for k, v in data["models"].items()},
                   tuple(dict(j) for j in data["jobs"]), float(data["seconds"]), dict(data["config"]))

    def table(self, intervals: bool = True, *, attack: str = "mlp"):
        """One row per model: the members' accuracy, then ``attack``'s MIA success, its control and the
        AUCs (:data:`DEVICE_TABLE_COLUMNS`), each with its count and 95 % interval when ``intervals``."""
        import pandas as pd

        rows = {}
        for name in ("original", *self.models):
            model = self.model(name)
            rows[name] = interval_cells("accuracy (members)", model.accuracy_members, intervals)
            for label, read in DEVICE_TABLE_COLUMNS.items():
                rows[name].update(interval_cells(label, read(model.attacks[attack]), intervals))
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        """The device and the query sets, then :meth:`table` (the paper's MLP attack where it ran)."""
        attack = "mlp" if "mlp" in self.original.attacks else next(iter(self.original.attacks))
        return (f"{self.label} ({self.engine}): {self.original.accuracy_members.n} members and "
                f"{self.original.accuracy_nonmembers.n} non-members queried, {self.shots} shots, the {attack} attack\n"
                f"{interval_strings(self.table(attack=attack)).to_string()}")

    def plot(self, ax=None, *, attack: str = "mlp"):
        """MIA success, control and AUC per model with 95 % error bars; returns the figure."""
        figure, ax = one_panel(ax, 7, 3.2)
        names = ["original", *self.models]
        columns = ("MIA success", "control", "AUC")
        # MIA success on members against its control on non-members: their roles' colours, and a hatching each
        colours = {"MIA success": ROLES["members"], "control": ROLES["nonmembers"], "AUC": COLOURS["reddish_purple"]}
        width = 0.8 / len(columns)
        for i, column in enumerate(columns):
            est = [DEVICE_TABLE_COLUMNS[column](self.outcome(name, attack)) for name in names]
            values = np.array([e.value for e in est])
            ax.bar(np.arange(len(names)) + (i - 1) * width, values, width, yerr=error_bars(est), capsize=3, label=column,
                   color=colours[column], hatch=series_hatch(i), edgecolor=ROLES["outline"])
        ax.set(xticks=range(len(names)), xticklabels=names, ylim=(0, 1.05), ylabel="fraction / AUC",
               title=f"{self.label}: {self.n_queries} + {self.n_queries} queries, {self.shots} shots")
        ax.legend(fontsize=8)
        return figure


#: The numbers :class:`DeviceAuditsOverSeeds` averages, with their table labels: the accuracy on the
#: queried members, then one attack's outcome (:func:`_device_number` says which field each is).
SEED_NUMBERS = {"accuracy": "accuracy (members)", "mia_success": "MIA success", "control": "control",
                "auc": "AUC (held out)", "auc_forget": "AUC (forget set)"}


def _device_number(numbers: ModelOnDevice, attack: str, number: str) -> stats.Estimate:
    """One of :data:`SEED_NUMBERS` (but the accuracy) from a model's attack outcome on the device."""
    outcome = numbers.attacks[attack]
    if number == "mia_success":
        return outcome.mia_success_forget
    if number == "control":
        return outcome.flag_rate_forget_nonmembers
    return (outcome.overall if number == "auc" else outcome.forget).auc


@dataclass(frozen=True)
class DeviceAuditsOverSeeds:
    """Device audits of models trained with several seeds, per device: each number's mean over the
    seeds with its t-interval (:func:`~qmu_kit.core.stats.mean`, cut to [0, 1]) and the paired
    difference between two devices (:func:`~qmu_kit.core.stats.paired_difference`, the same seeds).

    Attributes:
        audits: per device spec, one :class:`DeviceAudit` per seed (the same seeds in the same order
            on every device), as :func:`run_device_audit` returns them.
        attack: the attack whose metrics are read (the paper's attack, ``"mlp"``).

    Example:
        >>> import dataclasses
        >>> from qmu_kit.core import proportion
        >>> def audit(device, flagged):  # hand-made numbers; run_device_audit measures real ones
        ...     outcome = AttackOutcome("mlp", proportion(flagged, 10), proportion(5, 10), None, None)
        ...     numbers = ModelOnDevice(proportion(9, 10), proportion(7, 10), {"mlp": outcome})
        ...     return DeviceAudit(device, device, "fast", 100, 10, numbers, {})
        >>> seeds = DeviceAuditsOverSeeds({"aer:noiseless": (audit("aer:noiseless", 8), audit("aer:noiseless", 9)),
        ...                                "aer:5x": (audit("aer:5x", 6), audit("aer:5x", 6))})
        >>> print(seeds.mean("aer:5x", "mia_success"))
        0.60 [0.60, 0.60] (n=2)
        >>> round(seeds.difference("aer:5x", "aer:noiseless", "mia_success").value, 2)
        -0.25
    """

    audits: Mapping[str, tuple[DeviceAudit, ...]]
    attack: str = "mlp"

    def values(self, device: str, number: str, model: str = "original") -> list[float]:
        """One number of one model on one device, per seed: a key of :data:`SEED_NUMBERS`."""
        check_choice("device", device, tuple(self.audits))
        check_choice("number", number, tuple(SEED_NUMBERS))
        values = []
        for audit in self.audits[device]:
            check_choice("model", model, ("original", *audit.models))
            numbers = audit.original if model == "original" else audit.models[model]
            values.append(numbers.accuracy_members.value if number == "accuracy" else _device_number(numbers, self.attack, number).value)
        return values

    def mean(self, device: str, number: str, model: str = "original") -> stats.Estimate:
        """The mean over seeds of :meth:`values`, with its t-interval cut to [0, 1] (every number is a rate or an AUC)."""
        return stats.mean(self.values(device, number, model), bounds=(0, 1))

    def difference(self, device: str, reference: str, number: str, model: str = "original") -> stats.Estimate:
        """``device`` minus ``reference``, paired over the seeds, with its t-interval and p-value against no difference."""
        return stats.paired_difference(self.values(device, number, model), self.values(reference, number, model))

    def estimates(self, models, numbers=("accuracy", "mia_success", "control", "auc")) -> dict[tuple[str, str], dict[str, stats.Estimate]]:
        """``{(device, model): {number: mean over seeds}}`` for every device and the given models."""
        return {(device, model): {number: self.mean(device, number, model) for number in numbers}
                for device in self.audits for model in models}

    def table(self, models, numbers=("accuracy", "mia_success", "control", "auc")):
        """One row per (device, model), one column per number, each cell ``mean [low, high] (n=seeds)`` (a DataFrame)."""
        import pandas as pd

        rows = {key: {SEED_NUMBERS[number]: estimate.format() for number, estimate in row.items()}
                for key, row in self.estimates(models, numbers).items()}
        return pd.DataFrame(rows).T

    def plot(self, models, numbers=("mia_success", "control", "auc"), title: str = ""):
        """The means over seeds with their intervals as grouped bars, one group per (device, model)."""
        groups = {f"{device.split(':')[-1]}\n{model}": row for (device, model), row in self.estimates(models, numbers).items()}
        return estimate_bars_figure(groups, title=title)


# --- The audit ----------------------------------------------------------------------------------


def _subset(forget_mask: np.ndarray, size: int, n_forget: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` indices: ``n_forget`` from the forget part, the rest from the retained part."""
    forget, retain = np.flatnonzero(forget_mask), np.flatnonzero(~forget_mask)
    take_retain = min(len(retain), size - n_forget)
    return np.sort(np.r_[rng.choice(forget, n_forget, replace=False), rng.choice(retain, take_retain, replace=False)])


def _model_numbers(audited: AuditedModels, name: str) -> ModelOnDevice:
    members, nonmembers = audited.observed[name]
    return ModelOnDevice(
        stats.rate(members.probs.argmax(1) == members.labels),
        stats.rate(nonmembers.probs.argmax(1) == nonmembers.labels),
        audited.outcomes(name),
    )


#: A device audit's settings: each rule, help text, flag and default in one place, for
#: :func:`run_device_audit` and ``qmu-kit device``.
DEVICE_FIELDS: dict[str, FieldSpec] = {
    "device": FieldSpec(parse_device, f"{DEVICE_HELP} (default {DEFAULT_DEVICE})", "--device", "SPEC", text=True,
                        default=DEFAULT_DEVICE),
    "n_queries": FieldSpec(lambda value: check_int("n_queries", value, MIN_QUERIES, MAX_QUERIES),
                           f"members and non-members queried ({MIN_QUERIES}..{MAX_QUERIES}, default {DEFAULT_QUERIES})",
                           "--queries", "N", default=DEFAULT_QUERIES),
    "shots": FieldSpec(check_device_shots, f"shots per query (1..{MAX_SHOTS}, default {DEFAULT_DEVICE_SHOTS}; never exact)",
                       "--shots", "S", text=True, default=DEFAULT_DEVICE_SHOTS),
    "engine": FieldSpec(lambda value: check_choice("engine", value, ENGINES),
                        "aer: and fake: devices: fast (input state set exactly, exact noisy distribution, batched; default) "
                        "or aer (state preparation compiled to noisy gates, one circuit per query)", "--engine",
                        choices=lambda: ENGINES, default="fast"),
    "batch_size": FieldSpec(lambda value: check_int("batch_size", value, 1, MAX_BATCH),
                            f"circuits per cloud job (1..{MAX_BATCH}; default the provider's: 100 on IBM, 50 on Tianyan)",
                            "--batch", "N", nullable=True),
}


def run_device_audit(
    config: ExperimentConfig,
    device: "str | Device | NoiseSpec" = DEFAULT_DEVICE,
    *,
    shots: int = DEFAULT_DEVICE_SHOTS,
    n_queries: int = DEFAULT_QUERIES,
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
        device: a spec string (:func:`parse_device`), a :class:`Device`, or a
            :class:`~qmu_kit.qnn.readout.NoiseSpec` (custom error rates).
        shots: measurement shots per query, 1..1000000 (never exact on a device).
        n_queries: members and non-members queried (each), 20..2000.
        engine: for ``aer:`` and ``fake:`` devices, ``"fast"`` (the input state set exactly, the exact
            noisy distribution + seeded multinomial, many queries at once) or ``"aer"`` (qiskit-aer, one
            compiled circuit per query, the state preparation compiled to noisy gates).
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
    shots = DEVICE_FIELDS["shots"].validate(shots)
    DEVICE_FIELDS["n_queries"].validate(n_queries)
    DEVICE_FIELDS["engine"].validate(engine)
    dev = DEVICE_FIELDS["device"].validate(device)
    if dev.remote:
        engine = "remote"
    DEVICE_FIELDS["batch_size"].validate(batch_size)
    if timeout is not None:
        timeout = check_float("timeout", timeout, 0.0, low_inclusive=False)
    config = config.resolved().replace(methods=tuple(methods), retrain=True)  # validates the method names
    if dev.kind == "fake":
        check_fake_backend_size(dev.name, config.n_qubits)
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
    if cacheable and (cached := store.load_json(key)) is not None:
        try:
            return DeviceAudit.from_dict(cached)
        except (KeyError, TypeError, ValueError):
            pass  # an entry of another schema: recompute

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
    queries = AuditQueries(data.x_train[members], data.y_train[members], data.x_test[nonmembers], data.y_test[nonmembers],
                           AuditSplit.from_masks(data.forget_train[members], data.forget_test[nonmembers], config.seed))
    start = time.perf_counter()
    models = {"original": original}
    if config.methods:  # unlearned in simulation; only their audit runs on the device
        task = UnlearningTask.from_data(data, original)
        for name in config.methods:
            method = make_method(name, **config.method_options.get(name, {}))
            models[name], _ = method.unlearn(original, task, params=config.unlearn_params, seed=config.seed)

    def readout(name: str, part: str):
        # One random stream (or cloud job journal entry) per model and query set.
        part = {"train": "members", "test": "nonmembers"}[part]
        if session is not None:
            return session.readout(f"{name}-{part}")
        seed = stream_seed(config.seed, f"device-{name}-{part}")
        if engine == "aer":
            return AerReadout(shots, seed, noise)
        if dev.kind == "fake":
            return CalibratedReadout(shots, seed, dev.name)
        return ShotReadout(shots, seed) if noise is None else NoisyReadout(shots, seed, noise)

    # The query sets are already drawn with equal forget parts: every queried sample counts.
    audited = audit_models(models, queries, DEVICE_ATTACKS, config.seed, readout=readout, balanced=False)
    unlearned = {name: _model_numbers(audited, name) for name in models}
    original_numbers = unlearned.pop("original")
    result = DeviceAudit(dev.spec, dev.label(), engine, shots, n_queries, original_numbers, unlearned,
                         tuple(session.jobs) if session else (), time.perf_counter() - start, config.to_dict())
    if cacheable:
        store.store_json(key, result.to_dict())
    return result
