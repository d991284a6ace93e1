"""Chart data (qmu_kit.ui.charts): each panel's charts hold the numbers its matplotlib figure draws, every
estimate with its interval and n, colours from the registries, and a description made of those numbers."""

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import qmu_kit.plots.figures as plots  # noqa: E402
from qmu_kit.experiment.config import ExperimentConfig  # noqa: E402
from qmu_kit.experiment.pipeline import run_experiment  # noqa: E402
from qmu_kit.ui import charts  # noqa: E402
from qmu_kit.ui.widgets import ClassifierPanel, LeakagePanel, ShotNoisePanel, UnlearningPanel  # noqa: E402

QUICK = ExperimentConfig(model="basic", n_qubits=4, depth=1, n_train=100, n_test=100, epochs=2, attacks=("mlp", "loss"),
                         methods=("ga",))


@pytest.fixture(scope="module")
def result():
    return run_experiment(QUICK, cache=False)


def test_unlearning_bars_and_rocs_hold_what_the_figure_draws(result):
    figure = plots.UnlearningFigure().draw(result, "ga", "loss")
    bars, roc = charts.unlearning_charts(result, "ga", "loss")
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    drawn = [value for series in bars["series"] for value in series["values"]]
    assert drawn == pytest.approx(heights, abs=1e-4)  # the same bars, in the same order
    for series, name in zip(bars["series"], ("original", "ga", "retrained")):
        model = result.models[name]
        estimates = [getattr(model, field) for field, _ in plots.UNLEARNING_BARS]
        assert series["label"] == plots.model_label(name) and series["colour"] == to_hex(plots.model_colour(name))
        assert series["text"] == [e.format() for e in estimates]  # value [interval] (n=...)
        assert series["low"] == pytest.approx([e.ci95[0] for e in estimates], abs=1e-4)
        assert series["high"] == pytest.approx([e.ci95[1] for e in estimates], abs=1e-4)
        for estimate in estimates:
            assert estimate.format() in bars["alt"]
    assert bars["title"] == figure.axes[0].get_title()
    lines = [line for line in figure.axes[1].get_lines() if line.get_label() != "guessing"]
    curves = [mark for mark in roc["marks"] if mark["type"] == "step"]
    assert len(curves) == len(lines) == 3
    for mark, line, name in zip(curves, lines, ("original", "ga", "retrained")):
        auc = result.models[name].attacks["loss"].forget.auc
        assert mark["x"] == pytest.approx(line.get_xdata(), rel=1e-3) and mark["y"] == pytest.approx(line.get_ydata(), rel=1e-3)
        assert auc.format() in mark["label"] and auc.format() in roc["alt"] and mark["colour"] == to_hex(line.get_color())
    assert roc["title"] == figure.axes[1].get_title() and (roc["x"]["scale"], roc["y"]["scale"]) == ("log", "log")
    # Both axes start at 1/n, the lowest rate the evaluation sets can measure, not at a fixed 1e-3.
    largest = max(max(m.attacks["loss"].forget.n_members, m.attacks["loss"].forget.n_nonmembers) for m in result.models.values())
    assert roc["x"]["min"] == roc["y"]["min"] == pytest.approx(1 / largest) == pytest.approx(figure.axes[1].get_xlim()[0])
    assert f"from 1/{largest}," in roc["alt"]
    assert len({mark["dash"] for mark in curves}) == 3  # told apart without colour too


def test_leakage_loss_histograms_are_the_figures_bins_and_fractions(result):
    figure = plots.LeakageFigure().draw(result, "mlp")
    roc, histograms = charts.leakage_charts(result, "mlp")
    polygons = figure.axes[1].patches  # ax.hist(histtype="step"): one outline per group
    for mark, polygon in zip(histograms["marks"], polygons):
        xy = polygon.get_xy()
        edges, heights = np.unique(xy[:, 0]), xy[1:-1:2, 1]
        assert mark["edges"] == pytest.approx(edges, rel=1e-3) and mark["counts"] == pytest.approx(heights, rel=1e-3, abs=1e-9)
    assert [mark["label"] for mark in histograms["marks"]] == [t.get_text() for t in figure.axes[1].get_legend().get_texts()]
    auc = result.models["original"].attacks["mlp"].overall.auc
    assert roc["marks"][0]["label"] == f"original: AUC {auc.format()}" and roc["title"] == figure.axes[0].get_title()


def test_shot_noise_histogram_counts_every_estimate_in_the_figures_bins():
    panel = ShotNoisePanel(expval=0.4, shots="30")
    estimates, spread, sd = panel.result
    (chart,) = panel._charts(panel.result, panel.values())
    figure = panel._figure(panel.result, panel.values())
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    hist = chart["marks"][0]
    assert hist["counts"] == heights and sum(hist["counts"]) == len(estimates) == 2000
    assert hist["edges"] == pytest.approx(plots.shot_value_bins(30), rel=1e-3)
    assert [m["x"] for m in chart["marks"][1:]] == pytest.approx([0.4, 0.4 - sd, 0.4 + sd])
    assert chart["title"] == figure.axes[0].get_title() and f"{spread:.3f}" in chart["alt"] and f"{sd:.3f}" in chart["alt"]


def test_training_curves_carry_each_accuracys_interval_and_n():
    panel = ClassifierPanel(base=QUICK, cache=False, model="basic", depth=1)
    classifier, train_accuracy, test_accuracy = panel.result
    loss, accuracy = panel._charts(panel.result, panel.values())
    history = classifier.history_
    assert loss["marks"][0]["y"] == pytest.approx([row["loss"] for row in history], rel=1e-3)
    bands = [mark for mark in accuracy["marks"] if mark["type"] == "band"]
    lines = [mark for mark in accuracy["marks"] if mark["type"] == "line"]
    assert len(bands) == len(lines) == 2 and "(n=100" in lines[0]["label"]
    assert lines[1]["y"][-1] == pytest.approx(test_accuracy.value, abs=1e-3)
    assert all(low <= value <= high for low, value, high in zip(bands[1]["low"], lines[1]["y"], bands[1]["high"]))
    assert test_accuracy.format() in accuracy["alt"]


def test_every_panels_numbers_are_unchanged_and_its_charts_are_compact_json(result):
    """The numbers table the panel shows is what the classroom page shows; the charts are plain JSON."""
    panel = LeakagePanel(base=QUICK.replace(methods=(), retrain=False), cache=False, attack="loss")
    assert panel.numbers.value == panel._numbers(panel.result, panel.values())
    text = json.dumps(panel._charts(panel.result, panel.values()), allow_nan=False)
    assert len(text) < 20_000
    unlearning = UnlearningPanel(base=QUICK, cache=False, attack="loss")
    for chart in unlearning._charts(unlearning.result, unlearning.values()):
        assert chart["alt"] and chart["title"] and chart["kind"] in ("xy", "bars")


def test_colours_come_from_the_registries_and_other_series_from_a_colour_blind_safe_palette(result, monkeypatch):
    import dataclasses

    from qmu_kit.unlearning.methods import UNLEARNING_METHODS

    monkeypatch.setitem(UNLEARNING_METHODS._entries, "ga", dataclasses.replace(UNLEARNING_METHODS._entries["ga"], colour="teal"))
    bars, roc = charts.unlearning_charts(result, "ga", "loss")
    assert bars["series"][1]["colour"] == "#008080" and roc["marks"][1]["colour"] == "#008080"
    from matplotlib.colors import to_hex

    from qmu_kit.core.palette import CYCLE, ROLES

    assert charts.SERIES_COLOURS == tuple(to_hex(c) for c in CYCLE)  # the kit's one colour-blind-safe cycle
    members, nonmembers = charts.loss_histograms(result.models["ga"])["marks"][:2]
    assert (members["colour"], nonmembers["colour"]) == (to_hex(ROLES["members"]), to_hex(ROLES["nonmembers"]))


def test_each_bar_series_is_hatched_as_its_matplotlib_twin(result):
    """Colour is not the only cue in the page's bars either: each series carries the hatching its
    matplotlib twin draws (original, the method, retrained), and the chart the pattern of each one used."""
    from qmu_kit.core.palette import HATCHES, series_hatch

    figure = plots.UnlearningFigure().draw(result, "ga", "loss")
    bars, _ = charts.unlearning_charts(result, "ga", "loss")
    drawn = {container.get_label(): {patch.get_hatch() or "" for patch in container.patches}
             for container in figure.axes[0].containers if hasattr(container, "patches")}
    assert list(drawn) == [series["label"] for series in bars["series"]] == ["original", "GA", "retrained (gold standard)"]
    for series in bars["series"]:
        assert drawn[series["label"]] == {series["hatch"]}, series["label"]
    assert [series["hatch"] for series in bars["series"]] == [series_hatch(i) for i in range(3)] == ["", "//", ".."]
    assert bars["patterns"] == {hatch: {"path": charts.SVG_HATCHES[hatch], "size": charts.HATCH_TILE, "colour": charts.HATCH_COLOUR}
                                for hatch in ("//", "..")}  # the plain series needs no pattern
    # the figures' generic bars and the chart's agree too, for as many series as there are hatchings
    from qmu_kit.core.stats import proportion

    names = [f"series {i}" for i in range(len(HATCHES) + 1)]
    groups = {"a": {name: proportion(i + 1, 10) for i, name in enumerate(names)}}
    generic = plots.estimate_bars_figure(groups)
    chart = charts.estimate_bars("t", ["a"], [(name, "#0072b2", [groups["a"][name]]) for name in names])
    assert [patch.get_hatch() or "" for patch in generic.axes[0].patches] == [s["hatch"] for s in chart["series"]]
    assert set(charts.SVG_HATCHES) == set(HATCHES)  # every hatching of the palette has its pattern
    with pytest.raises(ValueError, match=r"hatch='\|\|' has no SVG pattern: choose from '', '//'"):
        charts.hatch_patterns(["||"])
    with pytest.raises(ValueError, match="index=-1 is not a series index"):
        series_hatch(-1)
