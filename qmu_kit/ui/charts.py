"""The panels' figures as chart data: what each figure shows, as numbers a page draws itself.

The live panels draw matplotlib figures (:mod:`qmu_kit.plots.figures`); the classroom pages
(:mod:`qmu_kit.apps.static`) draw the same content in the browser from these JSON-ready dicts, one
small file per slider stop instead of a PNG. A chart is ``{"kind": "xy" | "bars", "title", "alt",
"x", "y", ...}``: ``xy`` charts hold ``marks`` (lines, steps, shaded bands, histograms, reference
lines), ``bars`` charts ``groups`` and ``series`` of estimates with their 95 % intervals. Every chart
carries ``alt``, a description generated from its numbers (every rate and AUC with its interval and
sample count), which the page gives the drawing as its accessible name.

Colours come from the registries (:func:`~qmu_kit.plots.figures.model_colour`,
:func:`~qmu_kit.plots.figures.attack_colour`) as hex; series that have no registry entry (members and
non-members, accuracies, the shot-noise histogram) take :data:`SERIES_COLOURS`, a colour-blind-safe
palette (Okabe and Ito). Series also differ by dash pattern, and bars by the hatching of their
matplotlib twins (``hatch``, drawn from the chart's ``patterns``), so no colour alone carries meaning.

Example:
    >>> from qmu_kit.core.stats import proportion
    >>> chart = estimate_bars("accuracy", ["train", "test"], [("model", "#0072b2", [proportion(9, 10), proportion(7, 10)])])
    >>> chart["kind"], chart["series"][0]["values"], chart["series"][0]["text"][1]
    ('bars', [0.9, 0.7], '0.70 [0.40, 0.89] (n=10)')
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import to_hex

from qmu_kit.core.palette import CYCLE, ROLES, series_hatch
from qmu_kit.core.stats import Estimate, proportion
from qmu_kit.plots.figures import UNLEARNING_BARS, attack_colour, model_colour, model_label, roc_floor, roc_points, shot_value_bins

#: Colours of series without a registry entry: the kit's colour-blind-safe cycle (:mod:`qmu_kit.core.palette`).
SERIES_COLOURS = tuple(to_hex(colour) for colour in CYCLE)
#: Dash patterns (SVG ``stroke-dasharray``) given to the series of one chart in turn.
DASHES = ("", "6 3", "2 2", "8 3 2 3")
GUESSING = to_hex(ROLES["reference"])
#: Each matplotlib hatching of :data:`~qmu_kit.core.palette.HATCHES` as the strokes of one square SVG
#: pattern tile (path data, :data:`HATCH_TILE` units a side; a dot is a round-capped stroke of length 0),
#: drawn over the bar's colour in :data:`HATCH_COLOUR` as matplotlib draws hatches in the bars' edge colour.
SVG_HATCHES = {
    "": "",
    "//": "M0 6L6 0M-1.5 1.5L1.5 -1.5M4.5 7.5L7.5 4.5",
    "..": "M1.5 1.5h0M4.5 4.5h0",
    "xx": "M0 6L6 0M-1.5 1.5L1.5 -1.5M4.5 7.5L7.5 4.5M0 0L6 6M4.5 -1.5L7.5 1.5M-1.5 4.5L1.5 7.5",
    "\\\\": "M0 0L6 6M4.5 -1.5L7.5 1.5M-1.5 4.5L1.5 7.5",
    "++": "M3 0V6M0 3H6",
}
HATCH_TILE = 6
HATCH_COLOUR = to_hex(ROLES["outline"])


def hex_colour(colour: str) -> str:
    """A matplotlib colour (a registry's ``"#d62728"``, ``"teal"``, ``"0.3"``) as ``#rrggbb``.

    Example:
        >>> hex_colour("0.3"), hex_colour("teal")
        ('#4c4c4c', '#008080')
    """
    return to_hex(colour)


def compact(values, digits: int = 4) -> list[float]:
    """``values`` to ``digits`` significant digits (plain floats): what a chart needs, in few bytes.

    Example:
        >>> compact([0.123456, 12345.6, 0.0])
        [0.1235, 12350.0, 0.0]
    """
    return [float(f"{float(v):.{digits}g}") + 0.0 for v in values]


def _interval(estimate: Estimate) -> tuple[float | None, float | None]:
    low, high = estimate.ci95
    return (None, None) if not (math.isfinite(low) and math.isfinite(high)) else (round(low, 4), round(high, 4))


def hatch_patterns(hatches) -> dict:
    """The SVG patterns a chart draws its hatched bars with: one per hatching used (none for the plain
    one), each its tile's strokes, size and colour.

    Example:
        >>> hatch_patterns(["", "//", "//"])
        {'//': {'path': 'M0 6L6 0M-1.5 1.5L1.5 -1.5M4.5 7.5L7.5 4.5', 'size': 6, 'colour': '#404040'}}
    """
    patterns = {}
    for hatch in hatches:
        if hatch not in SVG_HATCHES:
            raise ValueError(f"hatch={hatch!r} has no SVG pattern: choose from {', '.join(map(repr, SVG_HATCHES))}")
        if hatch:
            patterns[hatch] = {"path": SVG_HATCHES[hatch], "size": HATCH_TILE, "colour": HATCH_COLOUR}
    return patterns


def estimate_bars(title: str, groups: list[str], series: list[tuple[str, str, list[Estimate]]], *, ylabel: str = "fraction",
                  ylim: tuple[float, float] = (0.0, 1.05), reference: float | None = None, legend: bool = True) -> dict:
    """Grouped bars of estimates with their 95 % intervals: ``series`` is ``(label, colour, estimates)``
    with one estimate per group, each series hatched as matplotlib hatches it
    (:func:`~qmu_kit.core.palette.series_hatch`, drawn with :func:`hatch_patterns`). Each bar's text is the estimate with its interval and n; a group
    whose estimates share one n says so in its label."""
    rendered = []
    for i, (label, colour, estimates) in enumerate(series):
        intervals = [_interval(e) for e in estimates]
        rendered.append({"label": label, "colour": hex_colour(colour), "hatch": series_hatch(i),
                         "values": compact(e.value for e in estimates),
                         "low": [low for low, _ in intervals], "high": [high for _, high in intervals],
                         "text": [e.format() for e in estimates]})
    labels = []
    for i, group in enumerate(groups):
        counts = {estimates[i].n for _, _, estimates in series}
        labels.append(f"{group}\n(n={counts.pop()})" if len(counts) == 1 else group)
    alt = f"Bar chart, {title}, bars with 95 % intervals. " + " ".join(
        f"{label}: " + "; ".join(f"{group.replace(chr(10), ' ')} {estimates[i].format()}" for i, group in enumerate(groups)) + "."
        for label, _, estimates in series)
    chart = {"kind": "bars", "title": title, "alt": alt, "groups": labels, "series": rendered, "legend": legend,
             "patterns": hatch_patterns(entry["hatch"] for entry in rendered),
             "y": {"label": ylabel, "scale": "linear", "min": ylim[0], "max": ylim[1]}}
    if reference is not None:
        chart["reference"] = reference
    return chart


def roc_chart(title: str, curves: list[tuple[str, str, object]]) -> dict:
    """ROC curves on log-log axes from :func:`~qmu_kit.plots.figures.roc_floor` (``1/n``) to 1, as the
    figures draw them, with the guessing diagonal; ``curves`` is ``(label, colour, MembershipMetrics)``,
    each labelled with its AUC, interval and n."""
    floor = roc_floor([metrics for _, _, metrics in curves])
    marks = []
    for i, (label, colour, metrics) in enumerate(curves):
        fpr, tpr = roc_points(metrics, floor)
        marks.append({"type": "step", "label": f"{label}: AUC {metrics.auc.format()}", "colour": hex_colour(colour),
                      "dash": DASHES[i % len(DASHES)], "x": compact(fpr), "y": compact(tpr)})
    marks.append({"type": "line", "label": "guessing", "colour": GUESSING, "dash": "1 3", "x": [floor, 1], "y": [floor, 1]})
    alt = (f"ROC curves, {title}, true-positive against false-positive rate on log-log axes from 1/{round(1 / floor)}, "
           "the lowest rate these samples can measure. "
           + " ".join(f"{label}: AUC {metrics.auc.format()} ({metrics.n_members} members, {metrics.n_nonmembers} non-members)."
                      for label, _, metrics in curves) + " An AUC of 0.5 is guessing.")
    return {"kind": "xy", "title": title, "alt": alt, "marks": marks,
            "x": {"label": "false-positive rate", "scale": "log", "min": floor, "max": 1},
            "y": {"label": "true-positive rate", "scale": "log", "min": floor, "max": 1.05}}


def loss_histograms(model, which: str = "retain", title: str | None = None) -> dict:
    """Members' and non-members' losses (a :class:`~qmu_kit.experiment.results.ModelResult`'s), as
    :func:`qmu_kit.plots.figures.draw_loss_histograms` draws them: 30 bins from the smallest positive to
    the largest loss on log axes, the fraction of each group per bin, a loss of 0 counted in the first bin."""
    members, nonmembers = np.asarray(model.losses[f"train_{which}"]), np.asarray(model.losses[f"test_{which}"])
    values = np.r_[members, nonmembers]
    title = title or f"loss on {which} samples"
    chart = {"kind": "xy", "title": title, "marks": [],
             "x": {"label": "cross-entropy loss", "scale": "log"}, "y": {"label": "fraction of samples", "scale": "log"}}
    if len(values) == 0:
        chart["alt"] = f"Histogram, {title}: no samples."
        return chart
    positive = values[values > 0]
    low = positive.min() if len(positive) else 1e-16
    edges = np.logspace(np.log10(low), np.log10(max(values.max(), 10 * low)), 30)
    described, smallest = [], 1.0
    for i, (losses, label, role) in enumerate(((members, "members", "members"), (nonmembers, "non-members", "nonmembers"))):
        fractions = np.histogram(np.maximum(losses, low), bins=edges)[0] / max(len(losses), 1)
        zeros = int((losses <= 0).sum())
        count = f"{len(losses)}, {zeros} at loss 0 in the first bin" if zeros else f"{len(losses)}"
        chart["marks"].append({"type": "hist", "label": f"{label} ({count})", "colour": to_hex(ROLES[role]), "dash": DASHES[i],
                               "edges": compact(edges), "counts": compact(fractions)})
        if (fractions > 0).any():
            smallest = min(smallest, fractions[fractions > 0].min())
        median = float(np.median(losses)) if len(losses) else float("nan")
        described.append(f"{label} ({len(losses)} samples): median loss {median:.3g}")
    chart["x"].update(min=float(compact([edges[0]])[0]), max=float(compact([edges[-1]])[0]))
    chart["y"].update(min=float(compact([smallest / 2])[0]), max=1.0)
    chart["alt"] = f"Histograms on log axes, {title}: " + "; ".join(described) + ". Non-members' higher losses are what leaks membership."
    return chart


def leakage_charts(result, attack: str) -> list[dict]:
    """The leakage panel's figure (:class:`qmu_kit.plots.figures.LeakageFigure`): the attack's ROC
    against the original model and its members' and non-members' losses."""
    original = result.models["original"]
    return [roc_chart(f"ROC, {attack} attack: retain members vs non-members",
                      [(model_label("original"), model_colour("original", "0.3"), original.attacks[attack].overall)]),
            loss_histograms(original, "retain")]


def unlearning_charts(result, method: str, attack: str) -> list[dict]:
    """The unlearning panel's figure (:class:`qmu_kit.plots.figures.UnlearningFigure`): the before/after
    bars of the original, unlearned and retrained models and each one's forget-set ROC."""
    names = [name for name in ("original", method, "retrained") if name in result.models]
    models = {name: result.models[name] for name in names}
    bars = estimate_bars(
        f"{model_label(method)}: target = the retrained model, not 0 (bars: 95 % intervals)",
        [label for _, label in UNLEARNING_BARS],
        [(model_label(name), model_colour(name, "0.3"), [getattr(models[name], field) for field, _ in UNLEARNING_BARS]) for name in names],
        ylim=(0.0, 1.3))
    roc = roc_chart(f"ROC, {attack} attack: forget set vs its non-members",
                    [(model_label(name), model_colour(name, "0.3"), models[name].attacks[attack].forget) for name in names])
    return [bars, roc]


def privacy_charts(result, attack: str) -> list[dict]:
    """The privacy panel's figure (:class:`qmu_kit.plots.figures.PrivacyBarsFigure`): accuracies, the
    attack's AUC and TPR at 1 % FPR, each with its interval and n, against the 0.5 line."""
    metrics = result.attacks[attack]
    shots = "exact" if result.shots is None else f"{result.shots} shots"
    bars = [("test accuracy", result.test_accuracy, SERIES_COLOURS[0]), ("train accuracy", result.train_accuracy, SERIES_COLOURS[5]),
            (f"AUC ({attack})", metrics.auc, attack_colour(attack)), ("TPR@1%FPR", metrics.tpr_at_1pct_fpr.tpr, attack_colour(attack))]
    chart = estimate_bars(f"{result.spec.label()} (accountant eps {result.epsilon_spent:.3g}), {shots}", [b[0] for b in bars],
                          [("value", SERIES_COLOURS[0], [b[1] for b in bars])], ylabel="", reference=0.5, legend=False)
    chart["series"][0]["colours"] = [hex_colour(b[2]) for b in bars]
    return [chart]


def training_charts(history: list[dict], label: str, n_train: int, n_test: int) -> list[dict]:
    """The classifier panel's figure (:class:`qmu_kit.plots.figures.TrainingCurves`): the training loss
    per epoch (log axis) and the train and test accuracy per epoch, shaded with their 95 % (Wilson)
    intervals over the ``n_train`` members and ``n_test`` test samples."""
    epochs = [row["epoch"] for row in history]
    loss = {"kind": "xy", "title": "loss", "marks": [{"type": "line", "label": label, "colour": SERIES_COLOURS[0], "dash": "",
                                                      "x": epochs, "y": compact(row["loss"] for row in history)}],
            "x": {"label": "epoch", "scale": "linear", "min": min(epochs), "max": max(epochs)},
            "y": {"label": "training loss", "scale": "log", "min": float(compact([min(r["loss"] for r in history) / 1.5])[0]),
                  "max": float(compact([max(r["loss"] for r in history) * 1.5])[0])}}
    loss["alt"] = (f"Line chart, training loss of the {label} per epoch on a log axis: {history[0]['loss']:.3g} after epoch "
                   f"{epochs[0]}, {history[-1]['loss']:.3g} after epoch {epochs[-1]}.")
    accuracy = {"kind": "xy", "title": "accuracy (dashed: test)", "marks": [],
                "x": dict(loss["x"]), "y": {"label": "accuracy", "scale": "linear", "min": 0, "max": 1.02}}
    described = []
    for key, part, n, dash in (("train_accuracy", "train", n_train, ""), ("test_accuracy", "test", n_test, "6 3")):
        if history[0].get(key) is None:
            continue
        estimates = [proportion(round(row[key] * n), n) for row in history]
        accuracy["marks"] += [
            {"type": "band", "colour": SERIES_COLOURS[0 if part == "train" else 1], "x": epochs,
             "low": compact(e.ci95[0] for e in estimates), "high": compact(e.ci95[1] for e in estimates)},
            {"type": "line", "label": f"{label}: {part} (n={n}, shaded: 95 % interval)", "colour": SERIES_COLOURS[0 if part == "train" else 1],
             "dash": dash, "x": epochs, "y": compact(e.value for e in estimates)}]
        described.append(f"{part} accuracy after epoch {epochs[-1]}: {estimates[-1].format()}")
    accuracy["alt"] = f"Line chart, accuracy of the {label} per epoch with 95 % intervals: " + "; ".join(described) + "."
    return [loss, accuracy]


def shot_noise_chart(estimates: np.ndarray, exact: float, shots, sd: float, spread: float) -> dict:
    """The shot-noise panel's figure (:class:`qmu_kit.plots.figures.ShotNoiseFigure`): how often each
    estimate occurred (the bins of :func:`~qmu_kit.plots.figures.shot_value_bins`), the exact value and,
    with shots, the theoretical spread at +-1 sd."""
    edges = shot_value_bins(shots)
    counts = np.histogram(estimates, bins=edges)[0]
    label = "exact" if shots is None else f"{shots} shots"
    title = f"{len(estimates)} repeated measurements, {label}: spread {spread:.3f}"
    marks = [{"type": "hist", "label": f"estimates ({len(estimates)})", "colour": to_hex(ROLES["estimate"]), "fill": True,
              "edges": compact(edges), "counts": [int(c) for c in counts]},
             {"type": "vline", "label": f"exact <Z> = {exact:.2f}", "colour": to_hex(ROLES["exact"]), "dash": "", "x": exact}]
    if shots is not None:
        marks += [{"type": "vline", "label": f"exact <Z> +- 1 sd (theory, {sd:.3f})" if sign > 0 else "", "colour": to_hex(ROLES["exact"]),
                   "dash": "6 3", "x": round(exact + sign * sd, 6)} for sign in (-1, 1)]
    peak = edges[int(np.argmax(counts))], edges[int(np.argmax(counts)) + 1]
    alt = (f"Histogram, {title}. Exact <Z> {exact:.2f}; the most frequent estimates lie between {peak[0]:.3f} and {peak[1]:.3f} "
           f"({int(counts.max())} of {len(estimates)}); measured spread {spread:.3f}"
           + (f", theory {sd:.3f}." if shots is not None else " (exact expectations do not scatter)."))
    return {"kind": "xy", "title": title, "alt": alt, "marks": marks,
            "x": {"label": "estimated <Z>", "scale": "linear", "min": -1.05, "max": 1.05},
            "y": {"label": "how often", "scale": "linear", "min": 0, "max": int(math.ceil(counts.max() * 1.05)) or 1}}


__all__ = ["DASHES", "HATCH_COLOUR", "HATCH_TILE", "SERIES_COLOURS", "SVG_HATCHES", "compact", "estimate_bars", "hatch_patterns", "hex_colour", "leakage_charts", "loss_histograms",
           "privacy_charts", "roc_chart", "shot_noise_chart", "training_charts", "unlearning_charts"]
