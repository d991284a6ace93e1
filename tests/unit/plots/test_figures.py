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
