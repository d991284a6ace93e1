"""Plots, widgets and notebook helpers: figures draw, panels update, errors stay readable."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qmu_kit import plots  # noqa: E402
from qmu_kit.cache import ResultCache  # noqa: E402
from qmu_kit.experiment import ExperimentConfig, run_experiment  # noqa: E402
from qmu_kit.notebook import check_parameters, experiment_config, injected_parameters, read_metrics  # noqa: E402
from qmu_kit.widgets import (  # noqa: E402
    ClassifierPanel,
    LeakagePanel,
    ShotNoisePanel,
    UnlearningPanel,
    shots_slider,
)

QUICK = ExperimentConfig(model="basic", n_qubits=4, depth=1, n_train=100, n_test=100, epochs=2,
                         attacks=("mlp", "loss"), methods=("ga",))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return ResultCache(tmp_path_factory.mktemp("panels"))


@pytest.fixture(scope="module")
def result(cache):
    return run_experiment(QUICK.replace(methods=("ga", "ssd")), cache=cache).to_dict()


def test_static_figures(result):
    assert len(plots.threat_model_figure().axes) == 1
    images = np.random.default_rng(0).random((12, 8, 8))
    assert len(plots.digits_figure(images, np.arange(12) % 10, n=12).axes) == 20
    history = result["models"]["original"]["details"]["history"]
    figure = plots.TrainingCurves().draw({"basic": history})
    assert figure.axes[0].get_lines() and figure.axes[1].get_legend() is not None
    assert len(plots.to_png(figure)) > 1000


def test_result_figures(result):
    leak = plots.LeakageFigure().draw(result, "loss")
    assert leak.axes[0].get_xscale() == "log" and leak.axes[0].get_yscale() == "log"
    unlearn = plots.UnlearningFigure().draw(result, "ssd", "mlp")
    assert [t.get_text() for t in unlearn.axes[0].get_legend().get_texts()] == ["original", "SSD", "retrained (gold standard)"]
    figure, (ax,) = plots.new_figure()
    plots.draw_attack_rocs(ax, result["models"]["original"])
    assert len(ax.get_lines()) == 3  # two attacks and the diagonal


def test_band_plot_and_exact_tick():
    table = pd.DataFrame({"S": [10, 10, 100, 100], "auc": [0.5, 0.6, 0.6, 0.7], "seed": [0, 1, 0, 1]})
    figure, (ax,) = plots.new_figure()
    plots.band_plot(ax, table, "S", "auc", label="auc")
    assert ax.get_xscale() == "log" and len(ax.collections) == 1
    values = plots.shots_axis_values([10, None, 100])
    assert values.tolist() == [10, 1000, 100]
    plots.label_exact_tick(ax, [10, 100, None])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "100", "exact"]


def test_unlearning_panel_updates_numbers_and_figure(cache):
    panel = UnlearningPanel(base=QUICK, cache=cache)
    assert "ready" in panel.status.value and panel.image.value
    first_image, first_numbers = panel.image.value, panel.numbers.value
    panel.controls["method"].value = "rga"
    assert "ready" in panel.status.value and "qmu-model-rga" in panel.numbers.value
    assert panel.image.value != first_image and panel.numbers.value != first_numbers
    panel.controls["shots"].value = "100"
    assert "ready" in panel.status.value and panel.result["config"]["shots"] == 100
    assert panel.controls["shots"].continuous_update is False


def test_leakage_and_classifier_panels(cache):
    leak = LeakagePanel(base=QUICK, cache=cache, model="basic")
    assert "qmu-auc-overall" in leak.numbers.value and leak.result["config"]["retrain"] is False
    leak.controls["depth"].value = 2
    assert "ready" in leak.status.value and leak.result["config"]["depth"] == 2
    classifier = ClassifierPanel(base=QUICK, cache=cache, model="basic", depth=1)
    assert "qmu-accuracy" in classifier.numbers.value


def test_panel_shows_errors_as_text_not_tracebacks(cache):
    missing = QUICK.replace(dataset="mnist", data_path="/nonexistent/mnist")  # fails when the data is read
    panel = UnlearningPanel(base=missing, cache=cache)
    assert "qmu-error" in panel.status.value
    assert "MNIST path not found: /nonexistent/mnist" in panel.status.value
    assert "Traceback" not in panel.status.value and panel.result is None


def test_shot_noise_panel_and_slider_values():
    panel = ShotNoisePanel(expval=0.0, shots="100")
    spread = float(panel.numbers.value.split("<td>")[2].split("<")[0])
    assert abs(spread - 0.1) < 0.01
    panel.controls["shots"].value = "exact"
    assert "<td>0.000</td>" in panel.numbers.value
    with pytest.raises(ValueError, match="shots=50 is not a slider stop: choose one of 10, 30, 100"):
        shots_slider(50)
    with pytest.raises(ValueError, match="shots=0 is out of range"):
        shots_slider(0)


def test_notebook_parameter_helpers():
    namespace = {"In": ["", "shots = None\nseed = 0", "# Parameters\nseed = 2\nshotz = 10\n"], "shots": None, "seed": 2}
    assert injected_parameters(namespace) == ["seed", "shotz"]
    with pytest.raises(ValueError, match="unknown notebook parameter\\(s\\) shotz: this notebook takes shots, seed"):
        check_parameters(namespace, ["shots", "seed"])
    with pytest.raises(ValueError, match="the parameters cell must define depth"):
        check_parameters({"shots": 1}, ["shots", "depth"])
    assert check_parameters({"shots": "exact", "depth": 3}, ["shots", "depth"]) == {"shots": None, "depth": 3}
    config = experiment_config({"preset": "classroom", "model": "basic", "depth": 2, "shots": 100, "seed": 1})
    assert (config.model, config.depth, config.shots, config.seed) == ("basic", 2, 100, 1)


def test_read_metrics_from_an_executed_notebook():
    notebook = {"cells": [
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"application/vnd.qmu-kit.metrics+json": {"a": 1}}}]},
        {"cell_type": "markdown"},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"application/vnd.qmu-kit.metrics+json": {"a": 2, "b": 3}}}]},
    ]}
    assert read_metrics(notebook) == {"a": 2, "b": 3}
