"""Figures (qmu_kit.plots.figures): what the loss histogram shows of each sample."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qmu_kit.plots.figures import draw_loss_histograms  # noqa: E402


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
