"""What an experiment returns: typed results, JSON only at the boundary.

An :class:`ExperimentResult` holds the config that ran, the package versions, and one
:class:`ModelResult` per model (``"original"``, ``"retrained"``, then each unlearning method). A
:class:`ModelResult` holds

* four accuracies (train/test x retain/forget), each a :class:`~qmu_kit.core.stats.Estimate`: value, number
  of samples, Wilson 95 % interval;
* ``attacks``: one :class:`~qmu_kit.leakage.audit.AttackOutcome` per attack (MIA success and its control as
  estimates; AUC with DeLong interval and p-value; TPR at 1 % / 0.1 % FPR with the lowest FPR the
  sample can measure; the ROC curves), and the headline ``mia_*`` numbers as properties that read the
  primary attack's outcome;
* cost (``seconds``, ``circuit_evaluations``, ``speedup_vs_retrain``), ``distance_to_retrained``,
  per-sample ``losses`` and ``details`` (training history or unlearning report).

Both result types follow the kit's result protocol (:class:`~qmu_kit.core.results.Result`).
``to_dict``/``from_dict`` write and read the JSON schema (kind ``"experiment"``, version :data:`SCHEMA_VERSION`)::

    {
      "schema":   {"kind": "experiment", "version": 3},
      "config":   {...every ExperimentConfig field, defaults resolved...},
      "versions": {"qmu_kit": ..., "python": ..., "torch": ..., ...},
      "models": {
        NAME: {
          "acc_train_retain", "acc_train_forget", "acc_test_retain", "acc_test_forget":  ESTIMATE,
          "primary_attack": ATTACK,
          "attacks": {ATTACK: {"attack", "mia_success_forget": ESTIMATE, "flag_rate_forget_nonmembers": ESTIMATE,
                               "forget": METRICS, "overall": METRICS}},
          "seconds", "circuit_evaluations", "speedup_vs_retrain" (null for the original),
          "distance_to_retrained" (null without retraining),
          "losses": {"train_retain", "train_forget", "test_retain", "test_forget": [...]},
          "details": {...},
          "headline": {"mia_success_forget", ...: ESTIMATE}   # written for readers of the JSON, not read back
        }
      }
    }

with ``ESTIMATE = {"value", "n", "ci95": [low, high], "kind", "p_value"?}`` (``null`` for NaN) and
``METRICS = {"auc": ESTIMATE, "accuracy": ESTIMATE, "tpr_at_1pct_fpr": TPR, "tpr_at_0_1pct_fpr": TPR,
"fpr": [...], "tpr": [...], "n_members", "n_nonmembers"}`` (``TPR`` = :class:`~qmu_kit.core.stats.TprAtFpr`).
A result of another schema is not read: a cached one is recomputed.

Example:
    >>> from qmu_kit.experiment import ExperimentConfig, run_experiment
    >>> result = run_experiment(ExperimentConfig(methods=("ssd",), attacks=("loss",), epochs=2))  # doctest: +SKIP
    >>> print(result.models["ssd"].acc_train_forget)                                                # doctest: +SKIP
    0.27 [0.14, 0.45] (n=30)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from qmu_kit.core.results import Result, interval_cells
from qmu_kit.core.stats import Estimate
from qmu_kit.experiment.config import SCHEMA_VERSION, ExperimentConfig
from qmu_kit.leakage.audit import AttackOutcome
from qmu_kit.plots.figures import model_figure, unlearning_figure

ACCURACIES = ("acc_train_retain", "acc_train_forget", "acc_test_retain", "acc_test_forget")

#: The numbers that are proportions of a counted set (accuracies, flag rates, TPRs), as opposed to AUCs
#: and distances: their mean over seeds also carries the pooled counts' interval (stats.rate_over_seeds).
RATES = frozenset((*ACCURACIES, "mia_success_forget", "mia_flag_rate_forget_nonmembers", "mia_accuracy",
                   "mia_tpr_at_1pct_fpr", "mia_tpr_at_0_1pct_fpr"))

#: Columns of :meth:`ExperimentResult.table` and :meth:`ExperimentResult.summary`, with short labels and widths.
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

#: Columns of :meth:`ExperimentResult.attack_table`: a headline property of :class:`ModelResult` -> its label.
ATTACK_TABLE_COLUMNS = {
    "mia_success_forget": "MIA success (forget)",
    "mia_flag_rate_forget_nonmembers": "control (forget non-members)",
    "mia_auc": "AUC forget",
    "mia_auc_overall": "AUC overall",
    "mia_tpr_at_1pct_fpr": "TPR@1%FPR overall",
    "mia_tpr_at_0_1pct_fpr": "TPR@0.1%FPR overall",
}


@dataclass(frozen=True)
class ModelResult:
    """One model of an experiment: accuracies, every attack's outcome, cost, losses and details.

    Attributes:
        acc_train_retain, acc_train_forget, acc_test_retain, acc_test_forget: accuracy on the
            retained / forgotten part of the training (member) and test (non-member) sets.
        attacks: attack name -> :class:`~qmu_kit.leakage.audit.AttackOutcome`.
        primary_attack: the attack behind the headline ``mia_*`` properties.
        seconds, circuit_evaluations: cost of producing the model (training or unlearning).
        speedup_vs_retrain: retrained seconds / seconds (``None`` for the original model).
        distance_to_retrained: mean total-variation distance of exact outputs on the forget set
            (:func:`~qmu_kit.leakage.metrics.prediction_distance`; ``None`` when the experiment ran without retraining).
        losses: per-sample cross-entropy on the four parts (``train_retain``, ...), to 4 significant
            digits (a positive loss never becomes 0).
        details: the training history (original) or the unlearning report.
    """

    acc_train_retain: Estimate
    acc_train_forget: Estimate
    acc_test_retain: Estimate
    acc_test_forget: Estimate
    attacks: dict[str, AttackOutcome]
    primary_attack: str
    seconds: float
    circuit_evaluations: int
    speedup_vs_retrain: float | None = None
    distance_to_retrained: float | None = None
    losses: dict[str, tuple[float, ...]] = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    # The headline numbers: the primary attack's, read from its outcome (one place, no copies).
    @property
    def primary(self) -> AttackOutcome:
        return self.attacks[self.primary_attack]

    @property
    def mia_success_forget(self) -> Estimate:
        """The paper's metric: share of forget-set members the primary attack flags."""
        return self.primary.mia_success_forget

    @property
    def mia_flag_rate_forget_nonmembers(self) -> Estimate:
        """Its control: the same share on the forget set's non-member counterparts."""
        return self.primary.flag_rate_forget_nonmembers

    @property
    def mia_auc(self) -> Estimate:
        """AUC of the primary attack, forget-set members vs their non-member counterparts."""
        return self.primary.forget.auc

    @property
    def mia_accuracy(self) -> Estimate:
        return self.primary.forget.accuracy

    @property
    def mia_auc_overall(self) -> Estimate:
        """AUC of the primary attack, retain members vs retain non-members."""
        return self.primary.overall.auc

    @property
    def mia_tpr_at_1pct_fpr(self) -> Estimate:
        """TPR at 1 % FPR of the primary attack on the larger retain comparison (see :attr:`tpr_label`)."""
        return self.primary.overall.tpr_at_1pct_fpr.tpr

    @property
    def mia_tpr_at_0_1pct_fpr(self) -> Estimate:
        return self.primary.overall.tpr_at_0_1pct_fpr.tpr

    @property
    def tpr_label(self) -> str:
        """What :attr:`mia_tpr_at_1pct_fpr` is, honestly (e.g. "TPR at zero false positives ...")."""
        return self.primary.overall.tpr_at_1pct_fpr.label()

    HEADLINE = ("mia_success_forget", "mia_flag_rate_forget_nonmembers", "mia_auc", "mia_accuracy",
                "mia_auc_overall", "mia_tpr_at_1pct_fpr", "mia_tpr_at_0_1pct_fpr")

    def value(self, column: str) -> float | None:
        """A column of :data:`TABLE_COLUMNS` (or any number) as a plain float: an estimate's value."""
        value = getattr(self, column)
        if isinstance(value, Estimate):
            return value.value
        return None if value is None else float(value)

    def estimates(self) -> dict[str, Estimate]:
        """Every accuracy and headline rate by name (what tables with intervals show)."""
        return {name: getattr(self, name) for name in (*ACCURACIES, *self.HEADLINE)}

    def plot(self, ax=None, *, attack: str | None = None):
        """Every attack's ROC curve and the member vs non-member losses of this model (a figure; on a
        given ``ax`` the ROC curves only)."""

        return model_figure(self, attack, ax=ax)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name).to_dict() for name in ACCURACIES}
        out.update(
            primary_attack=self.primary_attack,
            attacks={name: outcome.to_dict() for name, outcome in self.attacks.items()},
            seconds=float(self.seconds), circuit_evaluations=int(self.circuit_evaluations),
            speedup_vs_retrain=self.speedup_vs_retrain, distance_to_retrained=self.distance_to_retrained,
            losses={k: list(v) for k, v in self.losses.items()}, details=self.details,
            headline={name: getattr(self, name).to_dict() for name in self.HEADLINE},
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ModelResult":
        return cls(
            *(Estimate.from_dict(data[name]) for name in ACCURACIES),
            attacks={name: AttackOutcome.from_dict(outcome) for name, outcome in data["attacks"].items()},
            primary_attack=data["primary_attack"],
            seconds=float(data["seconds"]), circuit_evaluations=int(data["circuit_evaluations"]),
            speedup_vs_retrain=data.get("speedup_vs_retrain"), distance_to_retrained=data.get("distance_to_retrained"),
            losses={k: tuple(v) for k, v in data.get("losses", {}).items()}, details=dict(data.get("details", {})),
        )


def numbers_frame(rows: dict[str, dict]) -> pd.DataFrame:
    """The DataFrame of a result's :meth:`~qmu_kit.core.results.Result.table`: one row per key of ``rows``
    (cells from :func:`~qmu_kit.core.results.interval_cells`), numbers as floats, sample counts as integers.

    Example:
        >>> numbers_frame({"original": {"auc": 0.6, "auc_n": 50, "seconds": None}}).dtypes.tolist()
        [dtype('float64'), Int64Dtype(), dtype('float64')]
    """
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame.astype({c: ("Int64" if c.endswith("_n") else float) for c in frame.columns})


class ModelTables(Result):
    """Tables shared by every result holding ``models`` (name -> :class:`ModelResult`): an experiment's
    (:class:`ExperimentResult`) and a bring-your-own model's audit (:class:`AuditResult`)."""

    models: dict[str, ModelResult]

    def table(self, intervals: bool = True, *, columns: list[str] | None = None) -> pd.DataFrame:
        """Numbers per model as a pandas DataFrame (default: the columns of :data:`TABLE_COLUMNS`).

        Args:
            intervals: each estimated column is followed by its sample count and 95 % interval
                (``<column>_n``, ``<column>_low``, ``<column>_high``; the kit's table convention,
                :class:`~qmu_kit.core.results.Result`).
            columns: which numbers.
        """

        rows = {}
        for name, model in self.models.items():
            rows[name] = {}
            for column in columns or TABLE_COLUMNS:
                value = getattr(model, column)
                rows[name].update(interval_cells(column, value if isinstance(value, Estimate) else model.value(column), intervals))
        return numbers_frame(rows)

    def attack_table(self, model: str = "original", intervals: bool = True) -> pd.DataFrame:
        """Every attack against one model: MIA success, its control, AUC and TPR (a DataFrame).

        Each row reads the model's headline properties with that attack as the primary one (see
        :data:`ATTACK_TABLE_COLUMNS`). The TPR columns are on the retain comparison; where its
        non-members cannot measure the target FPR, the value is the TPR at zero false positives (see
        :meth:`ModelResult.tpr_label`).

        Args:
            intervals: as in :meth:`table`.
        """

        result = self.models[model]
        rows = {}
        for attack in result.attacks:
            view = replace(result, primary_attack=attack)
            rows[attack] = {}
            for column, label in ATTACK_TABLE_COLUMNS.items():
                rows[attack].update(interval_cells(label, getattr(view, column), intervals))
        return numbers_frame(rows)

    def summary(self) -> str:
        """A readable fixed-width table (what ``qmu-kit run`` prints)."""
        header = f"{'model':<10}" + "".join(f"{label:>{width}}" for label, width in TABLE_COLUMNS.values())
        lines = [header, "-" * len(header)]
        for name, model in self.models.items():
            cells = []
            for column, (_, width) in TABLE_COLUMNS.items():
                value = model.value(column)
                if value is None or math.isnan(value):
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
        first = next(iter(self.models.values()))
        lines.append(self._interval_note())
        if first.tpr_label != "TPR at 1 % FPR":  # too few non-members to measure 1 % FPR: say what the column is
            lines.append(f"(TPR@1%: {first.tpr_label})")
        return "\n".join(lines)

    def _interval_note(self) -> str:
        """One line for the fixed-width table: what the rates and AUCs rest on and how wide their 95 %
        intervals get (the widest half-width over the table), so no number stands without its uncertainty."""
        parts = []
        for kind, columns in (("rates", [c for c in TABLE_COLUMNS if c in RATES]),
                              ("AUCs", [c for c in TABLE_COLUMNS if "auc" in c])):
            estimates = [e for m in self.models.values() for c in columns
                         if isinstance(e := getattr(m, c), Estimate) and not math.isnan(e.value) and not math.isnan(e.ci95[0])]
            if not estimates:
                continue
            counts = sorted({e.n for e in estimates})
            n = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}..{counts[-1]}"
            half = max(max(e.value - e.ci95[0], e.ci95[1] - e.value) for e in estimates)
            parts.append(f"{kind} rest on n = {n} samples, 95 % intervals at most +/-{half:.2f}")
        return f"({'; '.join(parts)}; each interval: result.table(intervals=True) or --json)"


@dataclass(frozen=True)
class ExperimentResult(ModelTables):
    """An experiment's numbers: its config, the versions that produced them and one :class:`ModelResult`
    per model (``original``, ``retrained`` unless ``retrain=False``, then each method in config order)."""

    config: "ExperimentConfig"  # noqa: F821 - qmu_kit.experiment.config imports this module
    versions: dict
    models: dict[str, ModelResult]
    from_cache: bool = field(default=False, compare=False)

    KIND = "experiment"
    VERSION = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "config": self.config.to_dict(), "versions": dict(self.versions),
                "models": {name: model.to_dict() for name, model in self.models.items()}}

    @classmethod
    def from_dict(cls, data: Mapping, from_cache: bool = False) -> "ExperimentResult":
        """Read the JSON of :meth:`to_dict`.

        Raises:
            ValueError: not an experiment result, or one of another schema version (the cache
                recomputes those instead of misreading them).
        """

        cls.check_schema(data)
        for key in ("config", "versions", "models"):
            if key not in data:
                raise ValueError(f"not an experiment result: the key {key!r} is missing")
        if "original" not in data["models"] or ("retrained" not in data["models"] and data["config"].get("retrain", True)):
            raise ValueError("not an experiment result: models 'original' and 'retrained' are missing")
        config = ExperimentConfig.from_dict(data["config"])
        # Canonical order (original, retrained, methods; attacks as configured) whatever the JSON's.
        order = ["original", "retrained", *config.methods]
        rank = lambda names: (lambda name: names.index(name) if name in names else len(names))  # noqa: E731
        models = {}
        for name in sorted(data["models"], key=rank(order)):
            model = dict(data["models"][name])
            model["attacks"] = {a: model["attacks"][a] for a in sorted(model["attacks"], key=rank(config.attacks))}
            models[name] = ModelResult.from_dict(model)
        return cls(config, dict(data["versions"]), models, from_cache)

    def plot(self, ax=None, *, method: str | None = None, attack: str | None = None):
        """Original, one unlearned and the retrained model side by side (bars and forget-set ROC; on a
        given ``ax`` the bars only); without unlearning methods, the original model's leakage.

        Args:
            ax: a matplotlib Axes to draw on (default: a new figure).
            method: the unlearned model (default: the first method run).
            attack: the attack whose ROC is drawn (default: the primary attack).
        """

        if method is None and not self.config.methods:
            return model_figure(self.models["original"], attack, ax=ax)
        return unlearning_figure(self, method or self.config.methods[0], attack or self.config.primary_attack, ax=ax)


@dataclass(frozen=True)
class AuditResult(ModelTables):
    """The audit of a bring-your-own model (:func:`qmu_kit.studies.byo.audit_model`): the same per-model results,
    tables and figures as an experiment, without an :class:`~qmu_kit.experiment.config.ExperimentConfig`.

    Attributes:
        models: ``"original"``, ``"retrained"`` when a training function was given, then each
            unlearning method, each a :class:`ModelResult`.
        primary_attack: the attack behind the headline ``mia_*`` numbers.
        setup: what ran, JSON-ready: attacks, forget set, shots, seed, sample counts.
        versions: package versions (:func:`qmu_kit.experiment.config.versions`).
        classifiers: the fitted models the audit measured, by the names of ``models`` (the original,
            the retrained reference, each unlearned copy: ``result.classifiers["ga"].predict_proba(x)``);
            numbers only are stored, so a result read back from JSON has none (``{}``).
    """

    models: dict[str, ModelResult]
    primary_attack: str
    setup: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    classifiers: dict = field(default_factory=dict, compare=False, repr=False)

    KIND = "audit"
    VERSION = 1

    def plot(self, ax=None, *, method: str | None = None, attack: str | None = None):
        """The original model's leakage (every attack's ROC and its losses) when nothing was unlearned;
        else the original, ``method`` (default: the first one run) and the retrained model side by side
        (on a given ``ax``: the ROC curves, or the bars)."""

        methods = [name for name in self.models if name not in ("original", "retrained")]
        if method is None and not methods:
            return model_figure(self.models["original"], attack, ax=ax)
        return unlearning_figure(self, method or methods[0], attack or self.primary_attack, ax=ax)

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "primary_attack": self.primary_attack, "setup": dict(self.setup),
                "versions": dict(self.versions), "models": {name: model.to_dict() for name, model in self.models.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "AuditResult":
        """Read the JSON of :meth:`to_dict`."""
        cls.check_schema(data)
        models = {name: ModelResult.from_dict(model) for name, model in data["models"].items()}
        return cls(models, data["primary_attack"], dict(data.get("setup", {})), dict(data.get("versions", {})))


__all__ = ["ACCURACIES", "ATTACK_TABLE_COLUMNS", "RATES", "SCHEMA_VERSION", "TABLE_COLUMNS", "AuditResult", "ExperimentResult",
           "ModelResult", "ModelTables", "numbers_frame"]
