"""Figures: matplotlib only, one function or class per figure, each drawing onto an ``ax`` or a new
figure. Result objects draw themselves with these (``result.plot()``). Presentation: editing a
figure never invalidates a cached result.

Colours: every figure draws with the kit's one colour-blind-safe palette (Okabe-Ito,
:mod:`qmu_kit.core.palette`); where a colour carries a meaning (members and non-members, the original and
the retrained model) a line style, hatching, marker or label repeats it.

Alternative text: every public figure function and class has an ``alt`` attribute, one or two sentences
saying what the figure shows, for screen readers and the site's ``<img alt="...">``. It is set with the
:func:`alt_text` decorator; :data:`FIGURES` lists the figures, so a site builder reads
``figure_function.alt``. The figures they make carry it too: a notebook shows each with its
description in the image output's metadata (:func:`figure_alt`; :func:`describe_figures` does the same
for figures drawn with pyplot in a kernel), which the course site makes its ``<img alt>``:

    >>> from qmu_kit.plots import FIGURES, draw_loss_histograms
    >>> draw_loss_histograms.alt.startswith("Histograms of the cross-entropy loss on members")
    True
    >>> all(figure.alt for figure in FIGURES)
    True
"""

from qmu_kit.plots.figures import (
    REFERENCE_MODELS,
    model_label,
    model_colour,
    attack_colour,
    alt_text,
    ALT_METADATA,
    figure_alt,
    describe_figures,
    FIGURES,
    KitFigure,
    new_figure,
    to_png,
    threat_model_figure,
    digits_figure,
    ShotNoiseFigure,
    TrainingCurves,
    draw_roc,
    draw_attack_rocs,
    draw_loss_histograms,
    model_figure,
    LeakageFigure,
    error_bars,
    estimate_bars_figure,
    UNLEARNING_BARS,
    UnlearningFigure,
    unlearning_figure,
    draw_unlearning_bars,
    PALETTE,
    shots_axis_values,
    label_exact_tick,
    shots_band_plot,
    leakage_vs_shots_figure,
    unlearning_vs_shots_figure,
    privacy_utility_figure,
    one_panel,
    pareto_front,
    pareto_figure,
    privacy_roc_figure,
    privacy_tradeoff_figure,
    PrivacyBarsFigure,
    sweep_figure,
    shot_trend_figure,
    shot_stability_figure,
    tuning_figure,
    requery_figure,
)
__all__ = [
    "REFERENCE_MODELS",
    "model_label",
    "model_colour",
    "attack_colour",
    "alt_text",
    "ALT_METADATA",
    "figure_alt",
    "describe_figures",
    "FIGURES",
    "KitFigure",
    "new_figure",
    "to_png",
    "threat_model_figure",
    "digits_figure",
    "ShotNoiseFigure",
    "TrainingCurves",
    "draw_roc",
    "draw_attack_rocs",
    "draw_loss_histograms",
    "model_figure",
    "LeakageFigure",
    "error_bars",
    "estimate_bars_figure",
    "UNLEARNING_BARS",
    "UnlearningFigure",
    "unlearning_figure",
    "draw_unlearning_bars",
    "PALETTE",
    "shots_axis_values",
    "label_exact_tick",
    "shots_band_plot",
    "leakage_vs_shots_figure",
    "unlearning_vs_shots_figure",
    "privacy_utility_figure",
    "one_panel",
    "pareto_front",
    "pareto_figure",
    "privacy_roc_figure",
    "privacy_tradeoff_figure",
    "PrivacyBarsFigure",
    "sweep_figure",
    "shot_trend_figure",
    "shot_stability_figure",
    "tuning_figure",
    "requery_figure",
]
