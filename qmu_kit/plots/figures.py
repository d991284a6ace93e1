"""Figures for the notebooks and apps. Computing lives elsewhere: every function here draws numbers
it is given (an experiment's result dict, a summary of a sweep from :func:`qmu_kit.leakage.metrics.seed_summary`)
and returns matplotlib objects.

Figures that a widget updates are classes with a ``draw(...)`` method: the figure and its axes are
built once and each update only replaces the data, then re-renders (see :mod:`qmu_kit.ui.widgets`).

Every colour comes from the kit's one colour-blind-safe palette (:mod:`qmu_kit.core.palette`), and where
a colour carries a meaning a second cue repeats it (a line style, a hatching, a marker or a label).
Every figure function and class carries a short alternative text in its ``alt`` attribute
(:func:`alt_text`; :data:`FIGURES` lists them).

Example:
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = threat_model_figure()
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

import functools
import io

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from qmu_kit.core.palette import COLOURS, CYCLE, LINE_STYLES, MARKERS, ROLES, series_hatch
from qmu_kit.core.validation import check_shots
from qmu_kit.leakage.attacks import ATTACKS
from qmu_kit.unlearning.methods import UNLEARNING_METHODS

#: The two reference models every experiment has; unlearning methods take their label and colour
#: from their registry entry (:data:`qmu_kit.unlearning.methods.UNLEARNING_METHODS`).
REFERENCE_MODELS = {"original": ("original", ROLES["original"]), "retrained": ("retrained (gold standard)", ROLES["retrained"])}


#: The key of an image output's metadata holding its alternative text (``{"image/png": {"alt": ...}}``).
ALT_METADATA = "alt"


def alt_text(text: str):
    """Decorator giving a figure function or class its alternative text (``figure.alt``): what the
    figure shows, in a sentence a screen reader or the site's ``<img alt>`` can use.

    The figures it makes carry the sentence too, so that a notebook shows each with its description
    (:func:`figure_alt`, :meth:`KitFigure._repr_png_`): a function's returned figure, or the Axes it
    was given to draw on; a class's ``fig``.

    Example:
        >>> @alt_text("A line of the loss per epoch.")
        ... def loss_figure(history):
        ...     return new_figure()[0]
        >>> loss_figure.alt
        'A line of the loss per epoch.'
        >>> figure_alt(loss_figure([]))
        'A line of the loss per epoch.'
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"alt text must be a non-empty sentence, got {text!r}")
    sentence = text.strip()

    def decorate(figure):
        if isinstance(figure, type):
            built = figure.__init__

            @functools.wraps(built)
            def __init__(self, *args, **kwargs):
                built(self, *args, **kwargs)
                if isinstance(getattr(self, "fig", None), Figure):
                    self.fig.alt = sentence

            figure.__init__ = __init__
            figure.alt = sentence
            return figure

        @functools.wraps(figure)
        def described(*args, **kwargs):
            drawn = figure(*args, **kwargs)
            given = [value for value in (*args, *kwargs.values()) if isinstance(value, Axes)]
            for ax in given:  # drawn on someone's Axes: describe that panel, not their whole figure
                ax.alt = sentence
            if not given and isinstance(drawn, Figure):
                drawn.alt = sentence
            return drawn

        described.alt = sentence
        return described

    return decorate


def _quoted(text: str) -> str:
    return "'" + " ".join(text.split()) + "'"


def figure_alt(fig: Figure) -> str:
    """The sentence that describes ``fig`` where it is shown (a notebook's image output, the site's
    ``<img alt>``): the alt text of the kit figure that made it; else those of the kit functions that
    drew its panels; else, for a figure drawn without the kit, what its titles and axis labels say.
    Never empty, never a file name.

    Example:
        >>> from matplotlib.figure import Figure
        >>> plain = Figure()
        >>> ax = plain.subplots()
        >>> _ = ax.set(title="loss", xlabel="epoch", ylabel="training loss")
        >>> figure_alt(plain)
        "A figure drawn without the kit's figures, one panel: 'loss' (training loss against epoch)."
        >>> figure_alt(Figure())
        "A figure drawn without the kit's figures, with no title or axis labels to describe it."
    """
    own = getattr(fig, "alt", None)
    if isinstance(own, str) and own.strip():
        return own.strip()
    panels = list(dict.fromkeys(ax.alt for ax in fig.axes if isinstance(getattr(ax, "alt", None), str)))
    if panels:
        return " ".join(panels)
    described = []
    for ax in fig.axes:
        title = " ".join(part for part in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if part.strip())
        x, y = ax.get_xlabel().strip(), ax.get_ylabel().strip()
        axes = f"{' '.join(y.split())} against {' '.join(x.split())}" if x and y else " ".join((x or y).split())
        if title and axes:
            described.append(f"{_quoted(title)} ({axes})")
        elif title or axes:
            described.append(_quoted(title) if title else axes)
    suptitle = fig.get_suptitle().strip()
    if not described and not suptitle:
        return "A figure drawn without the kit's figures, with no title or axis labels to describe it."
    sentence = "A figure drawn without the kit's figures"
    if suptitle:
        sentence += f", titled {_quoted(suptitle)}"
    if described:
        count = "one panel" if len(fig.axes) == 1 else f"{len(fig.axes)} panels"
        sentence += f", {count}: " + "; ".join(described)
    return sentence + "."


def model_label(name: str) -> str:
    """How a model of an experiment is named in legends and tables (read live from the registry)."""

    return REFERENCE_MODELS[name][0] if name in REFERENCE_MODELS else UNLEARNING_METHODS.label(name)


def model_colour(name: str, default: str | None = None) -> str | None:
    """A model's colour in every figure: the reference models' own, else its method's registry colour."""

    if name in REFERENCE_MODELS:
        return REFERENCE_MODELS[name][1]
    return UNLEARNING_METHODS.colour(name, default)


def attack_colour(name: str) -> str:
    """An attack's colour in every figure (its registry entry's)."""

    return ATTACKS.colour(name)


class KitFigure(Figure):
    """A matplotlib figure that shows itself as a PNG in notebooks and Voila, with its description.

    The kit builds figures without pyplot (no global state in widget callbacks and servers), so IPython
    has no display rule for a plain :class:`~matplotlib.figure.Figure`; this one brings its own
    (``_repr_png_``) instead of registering a formatter as a side effect of importing the module. The
    PNG travels with its alternative text (:func:`figure_alt`) in the output's metadata (``{"image/png":
    {"alt": ...}}`` in the notebook), where the course site finds it for its ``<img alt>``.
    """

    def _repr_png_(self) -> tuple[bytes, dict]:
        return to_png(self, dpi=100), {ALT_METADATA: figure_alt(self)}


def describe_figures(shell=None) -> None:
    """Make an IPython kernel show every matplotlib figure with its description: each PNG it displays
    gets :func:`figure_alt` in its output's metadata, as :class:`KitFigure` s do themselves, also for
    figures drawn with pyplot (whose inline backend displays every figure, a kit one too, its own way).

    The course site's executor runs this in each lesson's kernel (an explicit call, never a side effect
    of importing the kit); calling it twice changes nothing.

    Args:
        shell: the IPython shell (default: the running one).

    Raises:
        RuntimeError: outside IPython.

    Example:
        >>> from types import SimpleNamespace
        >>> from IPython.core.formatters import DisplayFormatter
        >>> shell = SimpleNamespace(display_formatter=DisplayFormatter())
        >>> describe_figures(shell)
        >>> fig, (ax,) = new_figure()
        >>> _ = ax.set_title("loss")
        >>> data, metadata = shell.display_formatter.format(fig)
        >>> metadata["image/png"]["alt"]
        "A figure drawn without the kit's figures, one panel: 'loss'."
    """
    from IPython.core.formatters import PNGFormatter

    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError("describe_figures() needs an IPython shell: call it in a notebook's kernel")
    formatters = shell.display_formatter.formatters
    current = formatters["image/png"]
    if getattr(current, "describes_figures", False):
        return

    class DescribedPNGFormatter(PNGFormatter):
        """The PNG formatter, adding each figure's description to its output's metadata."""

        describes_figures = True

        def __call__(self, obj):
            data = super().__call__(obj)
            if isinstance(obj, Figure) and isinstance(data, (bytes, str)):
                return data, {ALT_METADATA: figure_alt(obj)}
            return data

    described = DescribedPNGFormatter(parent=current.parent, enabled=current.enabled)
    described.type_printers.update(current.type_printers)
    described.deferred_printers.update(current.deferred_printers)
    described.singleton_printers.update(current.singleton_printers)
    formatters["image/png"] = described


def new_figure(width: float = 10, height: float = 4, ncols: int = 1, nrows: int = 1):
    """A figure independent of pyplot's global state (safe in widget callbacks and servers)."""
    fig = KitFigure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_prop_cycle(color=list(CYCLE))  # series without a colour of their own take the palette's
    return fig, axes.ravel()


def to_png(fig: Figure, dpi: int = 90) -> bytes:
    """Render a figure to PNG bytes (what an ``ipywidgets.Image`` shows)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@alt_text("The gray-box threat model: training data (members) and other data (non-members) flow into a QNN; "
          "an attacker sees its output probabilities and the true labels and asks whether a sample was a member.")
def threat_model_figure() -> Figure:
    """The gray-box threat model in one picture: data, the QNN, the attacker's view."""
    fig, (ax,) = new_figure(10, 3.6)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.6)
    ax.axis("off")
    boxes = [
        (0.2, 1.9, 2.2, 1.3, "training data\n(members)\none of them is yours", ROLES["members"]),
        (0.2, 0.2, 2.2, 1.3, "other data\n(non-members)", ROLES["nonmembers"]),
        (3.6, 1.0, 2.4, 1.6, "QNN\ncircuit + readout\n(S shots)", COLOURS["sky_blue"]),
        (7.3, 1.0, 2.5, 1.6, "attacker\nsees probabilities\nand true labels", COLOURS["light_grey"]),
    ]
    for x, y, w, h, text, color in boxes:  # light tints of the palette's colours; the text names each box
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=(color, 0.2), edgecolor=ROLES["outline"]))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=10)
    arrows = [((2.45, 2.55), (3.55, 2.1), "trained on"), ((6.05, 1.8), (7.25, 1.8), "p(y | x)"), ((2.45, 0.85), (3.55, 1.4), "queried")]
    for start, end, label in arrows:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color=ROLES["outline"]))
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, label, ha="center", fontsize=9, color=ROLES["outline"])
    ax.text(8.55, 0.55, '"was this sample\nin the training set?"', ha="center", va="center", fontsize=10, style="italic")
    return fig


@alt_text("A grid of example images, each titled with its label.")
def digits_figure(images: np.ndarray, labels: np.ndarray, n: int = 20) -> Figure:
    """A grid of example images with their labels."""
    n = min(n, len(images))
    cols = min(10, n)
    rows = int(np.ceil(n / cols))
    fig, axes = new_figure(cols * 0.9, rows * 1.0, ncols=cols, nrows=rows)
    for ax in axes:
        ax.axis("off")
    for ax, image, label in zip(axes, images[:n], labels[:n]):
        ax.imshow(np.squeeze(image), cmap="gray_r")
        ax.set_title(str(label), fontsize=9)
    return fig


def shot_value_bins(shots, max_bins: int = 80) -> np.ndarray:
    """Histogram edges for ``S``-shot estimates of ``<Z>``, which take only the values ``-1 + 2k/S``.

    Every bin holds the same number of those values (the last may hold fewer), each value strictly
    inside a bin, so the bars show how often each value occurs. Bins of a fixed width (say 0.025) would
    catch one value in some bins and two in others: spikes that look like physics but come from the
    binning. ``shots=None`` (exact outputs) gives ``max_bins`` equal bins over [-1, 1].

    Example:
        >>> shot_value_bins(4)
        array([-1.25, -0.75, -0.25,  0.25,  0.75,  1.25])
    """
    if shots is None:
        return np.linspace(-1, 1, max_bins + 1)
    shots = int(shots)
    if shots < 1 or max_bins < 1:
        raise ValueError(f"shots and max_bins must be positive, got {shots} and {max_bins}")
    step = 2 / shots
    per_bin = -(-(shots + 1) // max_bins)  # ceil: attainable values per bin
    edges = np.arange(0, shots + 1 + per_bin, per_bin)
    return -1 - step / 2 + edges * step


@alt_text("A histogram of repeated shot estimates of one expectation value <Z>, with the exact value as a solid "
          "vertical line and one theoretical standard deviation either side as dashed lines.")
class ShotNoiseFigure:
    """Histogram of repeated shot estimates of one ``<Z>``, with the exact value and +-1 sd."""

    def __init__(self, width: float = 7, height: float = 3):
        self.fig, (self.ax,) = new_figure(width, height)

    def draw(self, estimates: np.ndarray, exact: float, shots, sd: float, spread: float) -> Figure:
        """``sd``: the theoretical spread (:func:`qmu_kit.leakage.metrics.shot_noise_std`), drawn at +-1 sd;
        ``spread``: the estimates' measured standard deviation, written in the title."""
        ax = self.ax
        ax.clear()
        ax.hist(estimates, bins=shot_value_bins(shots), color=ROLES["estimate"], alpha=0.8)
        ax.axvline(exact, color=ROLES["exact"], lw=2, label=f"exact <Z> = {exact:.2f}")
        if shots is not None:
            for sign in (-1, 1):
                ax.axvline(exact + sign * sd, color=ROLES["exact"], ls="--", lw=1)
        label = "exact" if shots is None else f"{shots} shots"
        ax.set(xlim=(-1.05, 1.05), xlabel="estimated <Z>", ylabel="how often",
               title=f"{len(estimates)} repeated measurements, {label}: spread {spread:.3f}")
        ax.legend(fontsize=8)
        return self.fig


@alt_text("Two panels against the epoch: the training loss (log scale), and the training (solid) and test "
          "(dashed) accuracy, one colour per training run.")
class TrainingCurves:
    """Loss and train/test accuracy per epoch for one or more training histories."""

    def __init__(self, width: float = 10, height: float = 3.4):
        self.fig, (self.ax_loss, self.ax_acc) = new_figure(width, height, ncols=2)

    def draw(self, histories: dict[str, list[dict]]) -> Figure:
        for ax in (self.ax_loss, self.ax_acc):
            ax.clear()
        for (label, history), color in zip(histories.items(), CYCLE):
            epochs = [r["epoch"] for r in history]
            self.ax_loss.plot(epochs, [r["loss"] for r in history], color=color, label=label)
            self.ax_acc.plot(epochs, [r["train_accuracy"] for r in history], color=color, label=f"{label}: train")
            if history and history[0].get("test_accuracy") is not None:
                self.ax_acc.plot(epochs, [r["test_accuracy"] for r in history], color=color, ls="--", label=f"{label}: test")
        self.ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss", yscale="log")
        self.ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy (dashed: test)", ylim=(0, 1.02))
        self.ax_acc.legend(fontsize=8, loc="lower right")
        return self.fig


def roc_floor(curves) -> float:
    """Where the ROC plots' log axes start for these curves (``MembershipMetrics``): ``1/n`` of the largest
    evaluation set, the smallest nonzero rate any of them can measure. An axis further down would suggest
    a resolution the data do not have. A panel with no curves starts at 1/100.

    Example:
        >>> from types import SimpleNamespace
        >>> roc_floor([SimpleNamespace(n_members=60, n_nonmembers=60), SimpleNamespace(n_members=250, n_nonmembers=200)])
        0.004
    """
    return 1 / max((max(metrics.n_members, metrics.n_nonmembers) for metrics in curves), default=100)


def roc_points(metrics, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """A ROC curve's ``(fpr, tpr)`` for a log-log plot starting at ``floor``: a rate of 0 drawn at the floor."""
    fpr, tpr = np.asarray(metrics.fpr, float), np.asarray(metrics.tpr, float)
    return np.clip(fpr, floor, 1), np.clip(tpr, floor, 1)


@alt_text("ROC curves of one attack against several models on log-log axes, one colour and line style per model, "
          "with the dotted diagonal of guessing; the legend gives each AUC.")
def draw_roc(ax, models: dict, attack: str, which: str = "overall") -> None:
    """ROC curves of ``attack`` against several models (``{name: ModelResult}``) on log-log axes
    (``which``: ``overall`` or ``forget``)."""
    ax.clear()
    floor = roc_floor([getattr(model.attacks[attack], which) for model in models.values()])
    for i, (name, model) in enumerate(models.items()):
        metrics = getattr(model.attacks[attack], which)
        fpr, tpr = roc_points(metrics, floor)
        ax.step(fpr, tpr, where="post", color=model_colour(name, CYCLE[i % len(CYCLE)]), ls=LINE_STYLES[i % len(LINE_STYLES)],
                label=f"{model_label(name)} (AUC {metrics.auc.value:.2f})")
    ax.plot([floor, 1], [floor, 1], color=ROLES["reference"], ls=":", label="guessing")
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1.05), xlabel="false-positive rate", ylabel="true-positive rate")
    what = "retain members vs non-members" if which == "overall" else "forget set vs its non-members"
    ax.set_title(f"ROC, {attack} attack: {what}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")


@alt_text("ROC curves of every attack against one model on log-log axes, one colour and line style per attack, "
          "with the dotted diagonal of guessing; the legend gives each AUC.")
def draw_attack_rocs(ax, model) -> None:
    """ROC curves of every attack against one model (a ``ModelResult``; retain members vs non-members), on log-log axes."""
    ax.clear()
    floor = roc_floor([outcome.overall for outcome in model.attacks.values()])
    for i, (attack, outcome) in enumerate(model.attacks.items()):
        fpr, tpr = roc_points(outcome.overall, floor)
        ax.step(fpr, tpr, where="post", color=attack_colour(attack), ls=LINE_STYLES[i % len(LINE_STYLES)],
                label=f"{attack} (AUC {outcome.overall.auc.value:.2f})")
    ax.plot([floor, 1], [floor, 1], color=ROLES["reference"], ls=":", label="guessing")
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1.05), xlabel="false-positive rate", ylabel="true-positive rate")
    ax.set_title("every attack, retain members vs non-members", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")


@alt_text("Histograms of the cross-entropy loss on members (solid line) and non-members (dashed line) on log-log "
          "axes; the legend gives each side's sample count.")
def draw_loss_histograms(ax, model: dict, which: str = "retain", title: str | None = None) -> None:
    """Distribution of the loss on members vs non-members (the signal most attacks build on).

    The bins span the smallest to the largest positive loss on a log axis, so every sample is drawn:
    a loss of exactly 0 (a probability of 1 to float64 precision) is drawn in the first bin and
    counted in the legend.
    """
    ax.clear()
    members, nonmembers = np.asarray(model.losses[f"train_{which}"]), np.asarray(model.losses[f"test_{which}"])
    values = np.r_[members, nonmembers]
    if len(values) == 0:
        return
    positive = values[values > 0]
    low = positive.min() if len(positive) else 1e-16
    bins = np.logspace(np.log10(low), np.log10(max(values.max(), 10 * low)), 30)
    # Fractions per bin on a log axis: the non-members' long tail of high losses is what leaks.
    for losses, color, style, label in ((members, ROLES["members"], "-", "members"), (nonmembers, ROLES["nonmembers"], "--", "non-members")):
        weights = np.full(len(losses), 1 / max(len(losses), 1))
        zeros = int((losses <= 0).sum())
        count = f"{len(losses)}, {zeros} at loss 0 in the first bin" if zeros else f"{len(losses)}"
        ax.hist(np.maximum(losses, low), bins=bins, weights=weights, histtype="step", linewidth=2, color=color, ls=style,
                label=f"{label} ({count})")
    ax.set(xscale="log", yscale="log", xlabel="cross-entropy loss", ylabel="fraction of samples")
    ax.set_title(title or f"loss on {which} samples", fontsize=10)
    ax.legend(fontsize=8)


@alt_text("One model's leakage: ROC curves of the attacks on log-log axes, and histograms of the loss on members "
          "(solid) and non-members (dashed).")
def model_figure(model, attack: str | None = None, title: str | None = None, ax=None) -> Figure:
    """One model's leakage: every attack's ROC (or one attack's) and its member vs non-member losses.

    Args:
        model: a :class:`~qmu_kit.experiment.results.ModelResult`.
        attack: draw only this attack's ROC (default: every attack).
        title: the loss panel's title.
        ax: draw the ROC panel only, on this Axes (default: both panels on a new figure).
    """
    if ax is None:
        fig, (ax_roc, ax_hist) = new_figure(11, 4, ncols=2)
    else:
        fig, ax_roc, ax_hist = ax.figure, ax, None
    if attack is None:
        draw_attack_rocs(ax_roc, model)
    else:
        draw_roc(ax_roc, {"original": model}, attack)
    if ax_hist is not None:
        draw_loss_histograms(ax_hist, model, "retain", title or "loss of members vs non-members")
    return fig


@alt_text("Left, one attack's ROC curve against the original model on log-log axes; right, histograms of the loss "
          "on members (solid) and non-members (dashed).")
class LeakageFigure:
    """Left: ROC of one attack on the original model (log-log). Right: member vs non-member losses."""

    def __init__(self, width: float = 11, height: float = 4):
        self.fig, (self.ax_roc, self.ax_hist) = new_figure(width, height, ncols=2)

    def draw(self, result, attack: str = "mlp") -> Figure:
        """``result``: an :class:`~qmu_kit.experiment.results.ExperimentResult`."""
        original = result.models["original"]
        draw_roc(self.ax_roc, {"original": original}, attack)
        draw_loss_histograms(self.ax_hist, original, "retain")
        return self.fig


def error_bars(estimates) -> np.ndarray:
    """Matplotlib's ``yerr`` (2 x n: below, above) for :class:`~qmu_kit.core.stats.Estimate` s; 0 where an
    estimate has no interval (one seed), so the bar is drawn without one rather than not at all.

    Example:
        >>> from qmu_kit.core import Estimate
        >>> error_bars([Estimate(0.5, 10, (0.2, 0.8)), Estimate(0.7, 1, (float("nan"), float("nan")))]).round(2).tolist()
        [[0.3, 0.0], [0.3, 0.0]]
    """
    spans = [(e.value - e.ci95[0], e.ci95[1] - e.value) for e in estimates]
    return np.nan_to_num(np.array(spans, dtype=float).T.reshape(2, len(spans)), nan=0.0)


@alt_text("Grouped bars with 95 % error bars: one group per setting, one bar per quantity, each quantity in its own "
          "colour and hatching, named in the legend.")
def estimate_bars_figure(groups, title: str = "", ylabel: str = "mean over seeds", ylim=(0, 1.05),
                         width: float = 10, height: float = 3.6) -> Figure:
    """Grouped bars with 95 % error bars (:func:`error_bars`): one group per key of ``groups``, one bar
    per estimate in it, each estimate name in its own colour across the groups.

    Args:
        groups: ``{group label: {estimate name: Estimate}}``, every group with the same names in the same order.
        title, ylabel, ylim: the axes' title, y label and y range.
        width, height: the figure's size in inches.

    Example:
        >>> from qmu_kit.core import proportion
        >>> fig = estimate_bars_figure({"noiseless": {"MIA": proportion(8, 10), "control": proportion(5, 10)},
        ...                             "noisy": {"MIA": proportion(6, 10), "control": proportion(5, 10)}})
        >>> len(fig.axes[0].patches), [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        (4, ['MIA', 'control'])
    """
    names = list(next(iter(groups.values()), {}))
    fig, (ax,) = new_figure(width, height)
    bar = 0.8 / max(len(names), 1)
    x = np.arange(len(groups))
    for i, name in enumerate(names):
        estimates = [group[name] for group in groups.values()]
        ax.bar(x + bar * (i - (len(names) - 1) / 2), [e.value for e in estimates], bar, yerr=error_bars(estimates),
               capsize=2, color=CYCLE[i % len(CYCLE)], hatch=series_hatch(i), edgecolor=ROLES["outline"], label=name)
    ax.set(xticks=x, xticklabels=list(groups), ylim=ylim, ylabel=ylabel, title=title)
    ax.legend(fontsize=8, loc="upper right")
    return fig


#: Bars of the unlearning figure: (field, label).
UNLEARNING_BARS = (
    ("acc_train_forget", "forget-set\naccuracy"),
    ("acc_test_forget", "test accuracy,\nforgotten class"),
    ("acc_test_retain", "test accuracy,\nretained classes"),
    ("mia_success_forget", "MIA success\n(forget set)"),
    ("mia_flag_rate_forget_nonmembers", "MIA control\n(non-members)"),
)


@alt_text("Left, bars with 95 % error bars of the forget-set accuracy, the test accuracies and the MIA success and "
          "its control for the original, the unlearned and the retrained model (each with its own hatching); right, "
          "the forget-set ROC curve of each model on log-log axes.")
class UnlearningFigure:
    """Before/after bars (original, unlearned, retrained) and the forget-set ROC of each."""

    def __init__(self, width: float = 12, height: float = 4.2):
        self.fig, (self.ax_bars, self.ax_roc) = new_figure(width, height, ncols=2)

    def draw(self, result, method: str, attack: str = "mlp") -> Figure:
        """``result``: an :class:`~qmu_kit.experiment.results.ExperimentResult` (or a :class:`~qmu_kit.experiment.results.AuditResult`)
        that ran ``method``; without a retrained model, only the original and ``method`` are drawn."""
        models = draw_unlearning_bars(self.ax_bars, result, method)
        draw_roc(self.ax_roc, models, attack, "forget")
        return self.fig


@alt_text(UnlearningFigure.alt)
def unlearning_figure(result, method: str, attack: str = "mlp", ax=None) -> Figure:
    """:class:`UnlearningFigure` on a new figure, or only its bars on ``ax`` (returns the figure drawn on)."""
    if ax is None:
        return UnlearningFigure().draw(result, method, attack)
    draw_unlearning_bars(ax, result, method)
    return ax.figure


@alt_text("Bars with 95 % error bars of the forget-set accuracy, the test accuracies and the MIA success and its "
          "control for the original, the unlearned and the retrained model, each model with its own colour and hatching.")
def draw_unlearning_bars(ax, result, method: str) -> dict:
    """The before/after bars of :class:`UnlearningFigure` on ``ax``; returns the models drawn, by name."""
    names = [name for name in ("original", method, "retrained") if name in result.models]
    models = {name: result.models[name] for name in names}
    ax.clear()
    width = 0.26
    x = np.arange(len(UNLEARNING_BARS))
    for i, name in enumerate(names):
        estimates = [getattr(models[name], field) for field, _ in UNLEARNING_BARS]
        bars = ax.bar(x + (i - 1) * width, [e.value for e in estimates], width, yerr=error_bars(estimates),
                      capsize=2, error_kw={"elinewidth": 0.8, "ecolor": ROLES["outline"]},
                      color=model_colour(name, CYCLE[i % len(CYCLE)]), hatch=series_hatch(i),
                      edgecolor=ROLES["outline"], label=model_label(name))
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_xticks(x, [label for _, label in UNLEARNING_BARS], fontsize=8)
    ax.set(ylim=(0, 1.3), ylabel="fraction")
    ax.set_title(f"{model_label(method)}: target = the retrained model, not 0 (bars: 95 % intervals)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=3, frameon=False)
    return models


#: Line colours for :func:`shots_band_plot` when several series share one axes (the palette's cycle).
PALETTE = CYCLE


def shots_axis_values(shots) -> np.ndarray:
    """Shot counts for a log axis, with exact (``None`` or ``"exact"``) placed one decade past the largest."""
    shots = [check_shots(s) for s in shots]
    finite = [s for s in shots if s is not None]
    top = max(finite) * 10 if finite else 1
    return np.array([top if s is None else s for s in shots], dtype=float)


def label_exact_tick(ax, shots) -> None:
    """Label the ticks where :func:`shots_axis_values` put the shot counts, ``exact`` included."""
    shots = [check_shots(s) for s in shots]
    finite = sorted(s for s in set(shots) if s is not None)
    ticks = list(finite) + ([finite[-1] * 10] if None in shots and finite else [])
    ax.set_xticks(ticks, [str(s) for s in finite] + (["exact"] if None in shots and finite else []), fontsize=8)
    ax.minorticks_off()


def _series(summary):
    """``(name, rows)`` per line of a :func:`~qmu_kit.leakage.metrics.seed_summary`: one per ``by`` value, or one."""
    if summary.index.nlevels == 1:
        return [(None, summary)]
    return [(name, part.droplevel(0)) for name, part in summary.groupby(level=0)]


@alt_text("The mean over seeds of one number against the shots per query (log axis, exact last), with its 95 % "
          "band; several lines differ in colour and marker.")
def shots_band_plot(ax, summary, y: str, label: str | None = None) -> None:
    """Mean of ``y`` over seeds and its 95 % band against the number of shots (log axis, exact last).

    Args:
        summary: :func:`qmu_kit.leakage.metrics.seed_summary` over ``"shots"``; summarized ``by`` a column
            (such as ``model_name``), it gives one line per value (model names get their usual colours).
        label: the line's label when there is one line (default ``y``).
    """
    for name, rows in _series(summary):
        xs = shots_axis_values(rows.index)
        name = (label or y) if name is None else str(name)
        index = len(ax.get_lines())
        color = model_colour(name) or PALETTE[index % len(PALETTE)]
        ax.plot(xs, rows["mean"][y], marker=MARKERS[index % len(MARKERS)], color=color, label=model_label(name))
        ax.fill_between(xs, rows["low"][y], rows["high"][y], color=color, alpha=0.15)
    ax.set_xscale("log")
    label_exact_tick(ax, summary.index.get_level_values(-1))
    ax.set(xlabel="shots", ylabel=y)
    ax.legend(fontsize=8)


@alt_text("Three panels against the shots per query (log axis, exact last), means over seeds with 95 % bands: the "
          "loss and paper attacks' AUC; the MIA success on the forgotten class and its control; the test accuracy.")
def leakage_vs_shots_figure(summary) -> Figure:
    """Leakage, the paper's metric and utility against shots (notebook 04).

    Args:
        summary: :func:`qmu_kit.leakage.metrics.seed_summary` over ``"shots"`` of ``loss_auc``,
            ``mia_auc_overall``, ``mia_success_forget``, ``mia_flag_rate_forget_nonmembers`` and
            ``acc_test_retain``.
    """
    fig, axes = new_figure(12, 3.6, ncols=3)
    panels = (
        ({"loss_auc": "loss attack", "mia_auc_overall": "paper's attack"}, "AUC, members vs non-members", "leakage"),
        ({"mia_success_forget": "MIA success", "mia_flag_rate_forget_nonmembers": "control"}, "flag rate, forgotten class",
         "the paper's metric and its control"),
        ({"acc_test_retain": "test accuracy"}, "accuracy", "utility"),
    )
    for ax, (lines, ylabel, title) in zip(axes, panels):
        for y, label in lines.items():
            shots_band_plot(ax, summary, y, label)
        ax.set(xlabel="shots per query", ylabel=ylabel, title=title)
    return fig


@alt_text("Three panels against the shots per circuit (log axis, exact last), one line per unlearning method with "
          "its own colour and marker: the forget-set accuracy, the retained test accuracy, and its standard deviation "
          "over seeds.")
def unlearning_vs_shots_figure(summary) -> Figure:
    """Forgetting, utility and its spread over seeds against shots, one line per method (notebook 04).

    Args:
        summary: :func:`qmu_kit.leakage.metrics.seed_summary` over ``"shots"`` by ``"model_name"`` of
            ``acc_train_forget`` and ``acc_test_retain``.
    """
    fig, axes = new_figure(12, 3.6, ncols=3)
    shots_band_plot(axes[0], summary, "acc_train_forget")
    axes[0].set(ylabel="forget-set accuracy (target 0)", title="did it forget?")
    shots_band_plot(axes[1], summary, "acc_test_retain")
    axes[1].set(ylabel="test accuracy, retained classes", title="what did it keep?")
    for i, (name, rows) in enumerate(_series(summary)):
        axes[2].plot(shots_axis_values(rows.index), rows["std"]["acc_test_retain"], marker=MARKERS[i % len(MARKERS)],
                     color=model_colour(name, CYCLE[i % len(CYCLE)]), label=model_label(name))
    axes[2].set(xscale="log", ylabel="std over seeds", title="instability of the retained accuracy")
    label_exact_tick(axes[2], summary.index.get_level_values(-1))
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("shots per circuit")
    return fig


@alt_text("The privacy-utility dial: one point per number of shots, the loss attack's AUC against the test "
          "accuracy (means over seeds with 95 % error bars), with the dotted line of guessing at AUC 0.5.")
def privacy_utility_figure(summary, labelled=(10, 30, 100, "exact")) -> Figure:
    """The privacy-utility dial: mean loss-attack AUC against mean test accuracy, one point per shot count.

    Args:
        summary: :func:`qmu_kit.leakage.metrics.seed_summary` over ``"shots"`` of ``loss_auc`` and ``acc_test_retain``.
        labelled: the shot counts whose points get a label (the others crowd near exact).
    """
    means, low, high = summary["mean"], summary["low"], summary["high"]
    fig, (ax,) = new_figure(5.5, 4)
    x, y = means["acc_test_retain"], means["loss_auc"]
    ax.errorbar(x, y, xerr=np.nan_to_num([x - low["acc_test_retain"], high["acc_test_retain"] - x]),
                yerr=np.nan_to_num([y - low["loss_auc"], high["loss_auc"] - y]), marker="o", capsize=2, elinewidth=0.8,
                color=ROLES["estimate"])
    for shots, row in means.iterrows():
        if shots in labelled:
            ax.annotate("exact" if shots == "exact" else f"{shots} shots", (row["acc_test_retain"], row["loss_auc"]),
                        fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.axhline(0.5, color=ROLES["reference"], ls=":")
    ax.set(xlabel="test accuracy (utility)", ylabel="loss-attack AUC (leakage)", title="shots as a dial (95 % intervals over seeds)")
    return fig



def one_panel(ax=None, width: float = 6.5, height: float = 3.6):
    """``(figure, ax)``: the given Axes and its figure, or a new one-panel figure (the ``ax=None``
    convention of every result's ``plot``)."""
    if ax is not None:
        return ax.figure, ax
    fig, (ax,) = new_figure(width, height)
    return fig, ax


def pareto_front(costs, gaps) -> list[int]:
    """The indices of the points no other point beats on both axes (lower cost and lower gap), by cost.

    Example:
        >>> pareto_front([1, 2, 3, 4], [0.5, 0.2, 0.3, 0.1])
        [0, 1, 3]
    """
    order = sorted(range(len(costs)), key=lambda i: (costs[i], gaps[i]))
    front, best = [], float("inf")
    for i in order:
        if gaps[i] < best:
            front.append(i)
            best = gaps[i]
    return front


@alt_text("A Pareto plot of unlearning methods: each method's average gap to retraining against its circuit "
          "evaluations on a log axis, with 95 % intervals on both, one marker per scenario and model, and a dashed "
          "line through the methods no other method beats on both.")
def pareto_figure(points, ax=None, *, xlabel: str = "circuit evaluations (mean over seeds)",
                  ylabel: str = "average gap to retraining", title: str = "") -> Figure:
    """A benchmark's Pareto plot: each method's gap to retraining against its quantum cost (log scale),
    with 95 % intervals on both, and per group (a scenario and model) the front of the methods no other
    method beats on both.

    Args:
        points: dicts with ``method`` (its label and colour come from the registry), ``group``,
            ``cost`` and ``gap`` (:class:`~qmu_kit.core.stats.Estimate` s).
        ax: draw here (else a new figure).
    """
    fig, ax = one_panel(ax, 7.5, 4.2)
    markers = "osD^v<>"
    groups = list(dict.fromkeys(p["group"] for p in points))
    seen = set()
    for g, group in enumerate(groups):
        members = [p for p in points if p["group"] == group and p["cost"].value > 0 and p["gap"].value == p["gap"].value]
        for p in members:
            label = model_label(p["method"]) if p["method"] not in seen else None
            seen.add(p["method"])
            ax.errorbar(p["cost"].value, p["gap"].value, xerr=error_bars([p["cost"]]), yerr=error_bars([p["gap"]]),
                        marker=markers[g % len(markers)], color=model_colour(p["method"], ROLES["outline"]), capsize=2, ls="none", label=label)
        front = pareto_front([p["cost"].value for p in members], [p["gap"].value for p in members])
        if front:
            ax.plot([members[i]["cost"].value for i in front], [members[i]["gap"].value for i in front], ls="--",
                    color=ROLES["reference"], lw=1, marker=markers[g % len(markers)], mfc="none", label=f"front: {group}")
    ax.set(xscale="log", xlabel=xlabel, ylabel=ylabel, title=title or "lower left is better (mean, 95 % interval)")
    if points:
        ax.legend(fontsize=7, ncol=2, loc="best")
    return fig


@alt_text("ROC curves of every attack against a privately trained model on log-log axes, one colour and line style "
          "per attack, with the region the accountant's epsilon allows shaded and the dotted diagonal of guessing.")
def privacy_roc_figure(result, ax=None) -> Figure:
    """Every attack's ROC against a privately trained model (a ``PrivacyResult``), log-log, with the
    region ``TPR <= e^eps FPR + delta`` the accountant's epsilon allows shaded."""
    fig, ax = one_panel(ax, 5.5, 4.5)
    floor = roc_floor(result.attacks.values())
    for i, (attack, metrics) in enumerate(result.attacks.items()):
        fpr, tpr = roc_points(metrics, floor)
        ax.step(fpr, tpr, where="post", color=attack_colour(attack), ls=LINE_STYLES[i % len(LINE_STYLES)],
                label=f"{attack} (AUC {metrics.auc.value:.2f}, n={metrics.auc.n})")
    grid = np.logspace(np.log10(floor), 0, 200)
    if np.isfinite(result.epsilon_spent):
        bound = np.minimum(1.0, np.exp(result.epsilon_spent) * grid + result.spec.delta)
        ax.fill_between(grid, floor, bound, color=ROLES["allowed"], alpha=0.12, label=f"allowed by eps = {result.epsilon_spent:.2f}")
    ax.plot([floor, 1], [floor, 1], color=ROLES["reference"], ls=":", label="guessing")
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1.05), xlabel="false-positive rate", ylabel="true-positive rate")
    ax.set_title(f"{result.spec.label()}: members vs non-members", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _epsilon_positions(epsilons) -> tuple[np.ndarray, list[str]]:
    """x positions (log2 of epsilon, the non-private run one step right of the largest) and tick labels."""
    finite = [e for e in epsilons if np.isfinite(e)]
    top = max(np.log2(finite)) + 2 if finite else 0.0
    return np.array([np.log2(e) if np.isfinite(e) else top for e in epsilons]), [f"{e:g}" if np.isfinite(e) else "inf\n(non-private)" for e in epsilons]


def _errorbar(ax, x, estimates, **style) -> None:
    style.setdefault("marker", "o")
    ax.errorbar(x, np.array([e.value for e in estimates]), yerr=error_bars(estimates), capsize=3, **style)


@alt_text("Against the target epsilon (log scale, the non-private run last), means over seeds with 95 % error "
          "bars: the test accuracy (circles) in one panel, the attack's AUC (squares) with the dotted line of "
          "guessing in the other.")
def privacy_tradeoff_figure(sweep, ax=None) -> Figure:
    """Test accuracy and attack AUC against epsilon (means over seeds, 95 % intervals) for a ``PrivacySweep``
    (on a given ``ax``: the AUC panel only)."""
    summary = sweep.by_epsilon()
    epsilons = list(summary)
    x, labels = _epsilon_positions(epsilons)
    if ax is None:
        fig, (left, right) = new_figure(10, 3.8, ncols=2)
        _errorbar(left, x, [summary[e]["test_accuracy"] for e in epsilons], color=ROLES["accuracy"], label="test accuracy")
        left.set(ylabel="test accuracy", ylim=(0, 1), title="utility: test accuracy")
        panels = (left, fig.axes[1])
    else:
        fig, panels = ax.figure, (ax,)
    right = panels[-1]
    _errorbar(right, x, [summary[e]["auc"] for e in epsilons], color=ROLES["leakage"], marker="s", label=f"AUC ({sweep.attack})")
    right.axhline(0.5, color=ROLES["reference"], ls=":", label="guessing")
    right.set(ylabel="attack AUC", title=f"leakage: {sweep.attack} attack AUC")
    seeds = summary[epsilons[0]]["n_seeds"]
    for ax in panels:
        ax.set_xticks(x, labels)
        ax.set_xlabel(f"target epsilon (delta {sweep.results[0].spec.delta:g}; mean of {seeds} seed(s), 95 % interval)")
        ax.legend(fontsize=8)
    return fig


@alt_text("Four labelled bars with 95 % error bars for one privacy run: test accuracy, train accuracy, the attack's "
          "AUC and its TPR at 1 % FPR, each bar's sample count written at its foot, with the dotted line at 0.5.")
class PrivacyBarsFigure:
    """Accuracy and leakage bars for one privacy run (the privacy panel's figure; built once, redrawn)."""

    def __init__(self):
        self.fig, (self.ax,) = new_figure(7, 3.4)

    def draw(self, result, attack: str) -> Figure:
        ax = self.ax
        ax.clear()
        metrics = result.attacks[attack]
        bars = [("test accuracy", result.test_accuracy, ROLES["accuracy"]), ("train accuracy", result.train_accuracy, COLOURS["sky_blue"]),
                (f"AUC ({attack})", metrics.auc, ROLES["leakage"]), ("TPR@1%FPR", metrics.tpr_at_1pct_fpr.tpr, COLOURS["orange"])]
        for i, (label, estimate, colour) in enumerate(bars):
            low, high = estimate.ci95
            err = [[estimate.value - low], [high - estimate.value]] if np.isfinite(low) else None
            ax.bar(i, estimate.value, color=colour, yerr=err, capsize=4)
            ax.text(i, 0.02, f"n={estimate.n}", ha="center", fontsize=8, color=COLOURS["white"])
        ax.axhline(0.5, color=ROLES["reference"], ls=":", lw=1)
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=9)
        shots = "exact" if result.shots is None else f"{result.shots} shots"
        ax.set(ylim=(0, 1.05), title=f"{result.spec.label()} (accountant eps {result.epsilon_spent:.3g}), {shots}")
        return self.fig


@alt_text("The MIA success on the forget set of every model in every run of a sweep, points with 95 % error bars, "
          "one colour and marker per model, the runs labelled by their settings.")
def sweep_figure(sweep, ax=None) -> Figure:
    """MIA success on the forget set of every model in every run of a ``SweepResult`` (95 % intervals),
    the runs labelled by their grid values."""
    fig, ax = one_panel(ax, max(6.5, 0.6 * len(sweep.results) + 3), 3.6)
    names = list(dict.fromkeys(name for result in sweep.results for name in result.models))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        runs = [k for k, result in enumerate(sweep.results) if name in result.models]
        _errorbar(ax, np.array(runs) + (i - (len(names) - 1) / 2) * width,
                  [sweep.results[k].models[name].mia_success_forget for k in runs], ls="none",
                  color=model_colour(name, CYCLE[i % len(CYCLE)]), marker=MARKERS[i % len(MARKERS)], label=model_label(name))
    labels = ["\n".join(f"{field}={getattr(result.config, field)}" for field in sweep.grid) for result in sweep.results]
    ax.set_xticks(range(len(sweep.results)), labels, fontsize=7)
    ax.set(ylim=(-0.05, 1.05), ylabel="MIA success (forget set)", title="every run of the sweep (95 % intervals)")
    ax.legend(fontsize=8)
    return fig


@alt_text("The mean over seeds of one number against the shots per query (log axis, exact last), points with 95 % "
          "error bars.")
def shot_trend_figure(trend, ax=None) -> Figure:
    """A ``ShotTrend``: the mean over seeds of its number against the shots (exact last), 95 % intervals."""
    fig, ax = one_panel(ax)
    shots = list(trend.means)
    _errorbar(ax, shots_axis_values(shots), list(trend.means.values()), color=PALETTE[0], label=trend.metric)
    ax.set(xscale="log", xlabel="shots per query", ylabel=trend.metric,
           title=f"{trend.metric}{f' ({trend.group})' if trend.group else ''}: mean over seeds, 95 % intervals")
    label_exact_tick(ax, shots)
    return fig


@alt_text("Against the shots per query (log axis), two spreads with 95 % error bars: within a model from the shots "
          "alone (circles) and between models from the seeds (squares).")
def shot_stability_figure(stability, ax=None) -> Figure:
    """A ``ShotStability``: the spread due to shots alone beside the spread between seeds, against the shots."""
    fig, ax = one_panel(ax)
    shots = list(stability.within)
    x = shots_axis_values(shots)
    _errorbar(ax, x, list(stability.within.values()), color=PALETTE[0], label="shots (sd within a model)")
    _errorbar(ax, x, [stability.between[s] for s in shots], color=PALETTE[1], marker="s", label="seeds (sd between models)")
    ax.set(xscale="log", xlabel="shots per query", ylabel=f"standard deviation of {stability.metric}",
           title=f"{stability.metric}{f' ({stability.group})' if stability.group else ''}: spread, 95 % intervals")
    label_exact_tick(ax, shots)
    ax.legend(fontsize=8)
    return fig


@alt_text("One row per method and settings: the distance to the retrained model on the evaluation seeds, a point "
          "with its 95 % interval; circles for tuned settings, squares for the published ones.")
def tuning_figure(result, ax=None) -> Figure:
    """A ``TuningResult``: each method's distance to the retrained model on the evaluation seeds, tuned
    and published settings side by side (mean over seeds, 95 % intervals)."""
    fig, ax = one_panel(ax)
    rows = result.by_settings()
    for y, ((method, settings), numbers) in enumerate(rows.items()):
        distance = numbers["distance"]
        spans = error_bars([distance])
        ax.errorbar(distance.value, y, xerr=spans, marker="o" if settings == "tuned" else "s", capsize=3,
                    color=model_colour(method, PALETTE[y % len(PALETTE)]))
    ax.set_yticks(range(len(rows)), [f"{model_label(method)} ({settings})" for method, settings in rows], fontsize=8)
    ax.set(xlabel="|d forget accuracy| + |d MIA success| to the retrained model",
           title=f"evaluation seeds {list(result.evaluation_seeds)} (mean, 95 % interval)")
    return fig


@alt_text("On log-log axes, the distance of averaged shot estimates from the exact outputs against the number of "
          "queries averaged (solid, circles), with the 1/sqrt(queries) law as a dotted grey line.")
def requery_figure(averaging, ax=None) -> Figure:
    """A ``RequeryAveraging``: distance of averaged shot-estimated outputs from the exact ones against
    the queries averaged (log-log), with the ``1 / sqrt(k)`` law for reference."""
    fig, ax = one_panel(ax, 5.5, 3.6)
    k = np.asarray(averaging.queries, float)
    ax.plot(k, averaging.distance, marker="o", color=PALETTE[0], label=f"{averaging.shots} shots per query")
    ax.plot(k, averaging.distance[0] * np.sqrt(k[0] / k), ls=":", color=ROLES["reference"], label="1 / sqrt(queries)")
    ax.set(xscale="log", yscale="log", xlabel="queries averaged", ylabel="mean |p - p_exact|",
           title=f"averaging re-queries removes shot noise ({averaging.n_samples} inputs)")
    ax.legend(fontsize=8)
    return fig


#: Every public figure function and class (each has its ``alt`` text; a test checks both lists stay complete).
FIGURES = (threat_model_figure, digits_figure, ShotNoiseFigure, TrainingCurves, draw_roc, draw_attack_rocs,
           draw_loss_histograms, model_figure, LeakageFigure, estimate_bars_figure, UnlearningFigure, unlearning_figure,
           draw_unlearning_bars, shots_band_plot, leakage_vs_shots_figure, unlearning_vs_shots_figure,
           privacy_utility_figure, privacy_roc_figure, privacy_tradeoff_figure, PrivacyBarsFigure, sweep_figure,
           shot_trend_figure, shot_stability_figure, tuning_figure, requery_figure, pareto_figure)
