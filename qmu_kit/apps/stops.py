"""Every setting the apps can ask for (their slider stops) and computing them ahead of class.

The live apps warm their default settings (:func:`warm_cache`); ``qmu-kit app --warm`` and the
classroom pages compute every stop (:func:`warm_every_stop`) through the sweep's parallel runner.
"""

from __future__ import annotations

import sys

from qmu_kit.core.parallel import parallel_map
from qmu_kit.core.validation import check_shots
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.experiment.sweep import run_sweep
from qmu_kit.qnn.models import MODELS
from qmu_kit.studies.privacy import run_private
from qmu_kit.ui.widgets import EPSILON_OPTIONS, SHOT_OPTIONS, LeakagePanel, PrivacyPanel, UnlearningPanel, depth_slider
from qmu_kit.unlearning.methods import PARAMETER_GROUPS, method_names


def warm_cache(progress: bool = True) -> None:
    """Compute (or replay) what the apps show at their default settings (the classifier app's model is
    the leakage app's original model; the shot-noise app needs nothing; the privacy app's is one DP-SGD run)."""

    for panel in (UnlearningPanel, LeakagePanel):
        run_experiment(panel.config_for(panel.default_values()), progress=progress)
    run_private(*PrivacyPanel.config_for(PrivacyPanel.default_values()))


def slider_stop_grids() -> list[tuple[ExperimentConfig, dict]]:
    """Every setting the apps can ask for, as ``(base, grid)`` sweeps at the classroom preset.

    The unlearning app: method x shots x parameters; the leakage app: shots x depth x model (its
    original models are also what the classifier app shows); the shot-noise app computes nothing.
    The attack selector changes no computation (every attack runs in each experiment).
    """

    shots = [check_shots(stop) for stop in SHOT_OPTIONS]
    slider = depth_slider()
    depths = list(range(slider.min, slider.max + 1))
    return [
        (LeakagePanel.config_for(LeakagePanel.default_values()), {"model": list(MODELS), "depth": depths, "shots": shots}),
        (UnlearningPanel.config_for(UnlearningPanel.default_values()),
         {"methods": [(method,) for method in method_names(lessons=True)], "unlearn_params": list(PARAMETER_GROUPS), "shots": shots}),
    ]


def privacy_stops() -> list[tuple[ExperimentConfig, object]]:
    """Every setting the privacy app can ask for, as the ``(config, PrivacySpec)`` of
    :meth:`PrivacyPanel.config_for <qmu_kit.ui.widgets.PrivacyPanel.config_for>`: epsilon x shots, exact
    shots first for each budget (the model each budget trains is then cached for its shots stops)."""

    shots = sorted((check_shots(stop) for stop in SHOT_OPTIONS), key=lambda s: s is not None)  # exact first
    defaults = PrivacyPanel.default_values()
    return [PrivacyPanel.config_for({**defaults, "epsilon": epsilon, "shots": s}) for epsilon in EPSILON_OPTIONS for s in shots]


def warm_every_stop(n_jobs: int = 1, progress: bool = True) -> int:
    """Compute every slider stop of every app ahead of class (the unlearning and leakage apps' sweeps,
    whose original models the classifier app shows, and the privacy app's budgets x shots); returns how
    many settings are cached.

    Resumable (finished settings are cached as they complete; an interrupted warm-up continues
    where it stopped) and parallel (``n_jobs`` worker processes). Exact expectations come first,
    so the trained models every shots stop reuses exist before the stops fan out.

    Example:
        >>> warm_every_stop(n_jobs=2)  # doctest: +SKIP
    """

    def sweep(base, grid):
        return run_sweep(base, grid, n_jobs=n_jobs, progress=progress, max_hours=float("inf")).results

    grids = slider_stop_grids()
    for base, grid in grids:
        sweep(base, {**grid, "shots": [None]})
    warmed = sum(len(sweep(base, grid)) for base, grid in grids)
    # The privacy app: one DP-SGD model per budget (exact stops first, in parallel over budgets), then
    # its shots stops, which reuse it.
    stops = privacy_stops()
    exact = [stop for stop in stops if stop[0].shots is None]
    for group in (exact, [stop for stop in stops if stop[0].shots is not None]):
        parallel_map(run_private, group, n_jobs=n_jobs)
        if progress:
            print(f"qmu-kit app --warm: {len(group)} privacy-app settings ready", file=sys.stderr)
    return warmed + len(stops)
