"""Figures (qmu_kit.plots.figures): what the loss histogram shows of each sample."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qmu_kit.plots.figures import draw_loss_histograms, shot_value_bins  # noqa: E402


def test_loss_histogram_draws_every_sample_on_its_log_axis():
    """Losses far below 1e-6 (confident members) and losses of exactly 0 are drawn, not cut off:
    the bins start at the smallest positive loss and a zero is drawn in the first bin, counted in the legend."""
    losses = {"train_retain": (0.0, 3.7e-14, 1.2e-9, 0.02), "test_retain": (0.01, 0.5, 2.3)}
    fig, ax = plt.subplots()
    draw_loss_histograms(ax, SimpleNamespace(losses=losses))
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] <= 3.7e-14
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["members (4, 1 at loss 0 in the first bin)", "non-members (3)"]
    plt.close(fig)


@pytest.mark.parametrize("shots", [1, 4, 10, 79, 80, 100, 300, 1000, 10000])
def test_shot_value_bins_hold_equal_numbers_of_attainable_values(shots):
    """Every value an S-shot estimate can take lies strictly inside a bin, and every bin but the last
    holds the same number of them, so a bar's height is not an artefact of how many values it catches."""
    values = -1 + 2 * np.arange(shots + 1) / shots
    edges = shot_value_bins(shots)
    assert len(edges) - 1 <= 80
    assert np.all(np.abs(values[:, None] - edges[None, :]) > 1e-9), "a value sits on a bin edge"
    counts, _ = np.histogram(values, bins=edges)
    assert counts.sum() == shots + 1
    assert len(set(counts[:-1])) <= 1 and 1 <= counts[-1] <= counts[0]


def test_shot_value_bins_for_exact_outputs_and_bad_input():
    assert np.allclose(shot_value_bins(None), np.linspace(-1, 1, 81))
    with pytest.raises(ValueError, match="positive"):
        shot_value_bins(0)


def test_kit_figures_carry_their_alt_text_where_they_are_shown():
    """The display path: a figure function's figure, a class's figure and a panel drawn on a given Axes
    carry the sentence of the function or class that drew them; the outermost figure's wins."""
    from IPython.core.formatters import DisplayFormatter

    from qmu_kit.plots import ALT_METADATA, LeakageFigure, draw_roc, figure_alt, model_figure, new_figure, threat_model_figure

    figure = threat_model_figure()
    png, metadata = figure._repr_png_()
    assert png.startswith(b"\x89PNG") and metadata == {ALT_METADATA: threat_model_figure.alt}
    # IPython's own display machinery puts it under the image's mime type (what a notebook stores)
    data, shown = DisplayFormatter().format(figure)
    assert "image/png" in data and shown == {"image/png": {ALT_METADATA: threat_model_figure.alt}}
    assert figure_alt(LeakageFigure().fig) == LeakageFigure.alt
    model = SimpleNamespace(attacks={}, losses={"train_retain": [0.1, 0.2], "test_retain": [0.3, 0.9]})
    assert figure_alt(model_figure(model)) == model_figure.alt  # not its inner panels' (draw_attack_rocs', ...)
    fig, (left, right) = new_figure(ncols=2)
    draw_loss_histograms(right, model)  # a panel of someone's figure: that panel is described
    assert figure_alt(fig) == draw_loss_histograms.alt
    assert draw_roc.alt != draw_loss_histograms.alt


def test_a_figure_drawn_without_the_kit_is_described_by_its_titles_never_a_path():
    from types import SimpleNamespace as Shell

    from IPython.core.formatters import DisplayFormatter

    from qmu_kit.plots import describe_figures, figure_alt

    fig, (ax1, ax2) = plt.subplots(1, 2)
    fig.suptitle("Two views")
    ax1.set(title="loss", xlabel="epoch", ylabel="training loss")
    ax2.set_xlabel("shots")
    assert figure_alt(fig) == ("A figure drawn without the kit's figures, titled 'Two views', 2 panels: "
                               "'loss' (training loss against epoch); shots.")
    shell = Shell(display_formatter=DisplayFormatter())
    describe_figures(shell)
    describe_figures(shell)  # once is enough: a second call wraps nothing again
    formatter = shell.display_formatter.formatters["image/png"]
    assert type(formatter).__mro__[1].__name__ == "PNGFormatter"
    # pyplot's inline backend registers its printer for every Figure: it keeps the description
    from matplotlib.figure import Figure

    from qmu_kit.plots import to_png

    formatter.for_type(Figure, lambda figure: to_png(figure))
    data, metadata = shell.display_formatter.format(fig)
    assert data["image/png"][:4] == b"\x89PNG" and metadata["image/png"]["alt"] == figure_alt(fig)
    assert "/" not in figure_alt(plt.figure()) and ".png" not in figure_alt(plt.figure())
    plt.close("all")
    with pytest.raises(RuntimeError, match="needs an IPython shell"):
        describe_figures()
