"""Plots, widgets and notebook helpers: figures draw, panels update, errors stay readable."""

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import qmu_kit.plots.figures as plots  # noqa: E402
from qmu_kit.core.cache import ResultCache  # noqa: E402
from qmu_kit.experiment.config import ExperimentConfig  # noqa: E402
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.report.notebook import check_parameters, experiment_config, injected_parameters, read_metrics  # noqa: E402
from qmu_kit.ui.widgets import ClassifierPanel, LeakagePanel, ShotNoisePanel, UnlearningPanel  # noqa: E402

QUICK = ExperimentConfig(model="basic", n_qubits=4, depth=1, n_train=100, n_test=100, epochs=2,
                         attacks=("mlp", "loss"), methods=("ga",))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return ResultCache(tmp_path_factory.mktemp("panels"))


@pytest.fixture(scope="module")
def result(cache):
    return run_experiment(QUICK.replace(methods=("ga", "ssd")), cache=cache)


def test_static_figures(result):
    assert len(plots.threat_model_figure().axes) == 1
    images = np.random.default_rng(0).random((12, 8, 8))
    assert len(plots.digits_figure(images, np.arange(12) % 10, n=12).axes) == 20
    history = result.models["original"].details["history"]
    figure = plots.TrainingCurves().draw({"basic": history})
    assert figure.axes[0].get_lines() and figure.axes[1].get_legend() is not None
    # the PNG is the figure: its size at the requested dpi, and not blank
    import io

    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(plots.to_png(figure, dpi=50))).convert("L"), dtype=float)
    assert image.shape == (round(3.4 * 50), round(10 * 50))
    assert image.std() > 10 and (image < 100).mean() > 0.001  # curves and text drawn on white
    # figures show themselves in notebooks (no IPython formatter registered on import), with their description
    png, metadata = figure._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and metadata == {"alt": plots.TrainingCurves.alt}


def test_result_figures(result):
    leak = plots.LeakageFigure().draw(result, "loss")
    assert leak.axes[0].get_xscale() == "log" and leak.axes[0].get_yscale() == "log"
    unlearn = plots.UnlearningFigure().draw(result, "ssd", "mlp")
    assert [t.get_text() for t in unlearn.axes[0].get_legend().get_texts()] == ["original", "SSD", "retrained (gold standard)"]
    # every bar carries its 95 % interval: the error bar's ends are the estimate's bounds
    from matplotlib.container import BarContainer

    bars = next(c for c in unlearn.axes[0].containers if isinstance(c, BarContainer))  # the original's bars
    ends = bars.errorbar.lines[2][0].get_segments()[0][:, 1]
    estimate = result.models["original"].acc_train_forget
    assert bars.errorbar is not None and ends == pytest.approx(estimate.ci95)
    figure, (ax,) = plots.new_figure()
    plots.draw_attack_rocs(ax, result.models["original"])
    assert len(ax.get_lines()) == 3  # two attacks and the diagonal
    assert [line.get_color() for line in ax.get_lines()[:2]] == [plots.attack_colour(a) for a in result.config.attacks]
    assert len(result.models["original"].plot().axes) == 2 and len(result.plot(method="ssd").axes) == 2


def test_band_plot_and_exact_tick():
    from qmu_kit.leakage.metrics import seed_summary

    table = pd.DataFrame({"shots": [10, 10, 100, 100], "auc": [0.5, 0.6, 0.6, 0.7], "seed": [0, 1, 0, 1]})
    figure, (ax,) = plots.new_figure()
    plots.shots_band_plot(ax, seed_summary(table, "shots", ["auc"]), "auc", label="auc")
    assert ax.get_xscale() == "log" and len(ax.collections) == 1
    assert ax.get_lines()[0].get_ydata().tolist() == pytest.approx([0.55, 0.65])
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
    # every rate and AUC the panel shows carries its 95 % interval and sample count
    row = panel.numbers.value.split('class="qmu-model-rga"')[1].split("</tr>")[0]
    assert len(re.findall(r"\d\.\d\d \[\d\.\d\d, \d\.\d\d\] \(n=\d+\)", row)) == 4
    assert panel.image.value != first_image and panel.numbers.value != first_numbers
    panel.controls["shots"].value = "100"
    assert "ready" in panel.status.value and panel.result.config.shots == 100
    assert panel.controls["shots"].continuous_update is False


def test_leakage_and_classifier_panels(cache):
    leak = LeakagePanel(base=QUICK, cache=cache, model="basic")
    assert "qmu-auc-overall" in leak.numbers.value and leak.result.config.retrain is False
    assert len(re.findall(r"\[\d\.\d\d, \d\.\d\d\] \(n=\d+\)", leak.numbers.value)) == 6
    leak.controls["depth"].value = 2
    assert "ready" in leak.status.value and leak.result.config.depth == 2
    classifier = ClassifierPanel(base=QUICK, cache=cache, model="basic", depth=1)
    model, train_accuracy, test_accuracy = classifier.result  # the final model's accuracies, with n and intervals
    assert "qmu-accuracy" in classifier.numbers.value and test_accuracy.n == QUICK.n_test
    assert train_accuracy.format() in classifier.numbers.value and test_accuracy.format() in classifier.numbers.value


# Bad widget input (slider values that are no stop, an out-of-range expval, a panel whose data cannot be
# read) is in the bad-input matrix: tests/unit/cli/test_bad_input_matrix.py, WIDGET_CASES.
def test_shot_noise_panel_and_slider_values():
    panel = ShotNoisePanel(expval=0.0, shots="100")
    spread = float(panel.numbers.value.split("<td>")[2].split("<")[0])
    assert abs(spread - 0.1) < 0.01
    estimates, measured, theory = panel.result  # the panel computes; its figure only writes the numbers
    assert measured == pytest.approx(estimates.std()) and abs(measured - spread) <= 0.0005 and theory == pytest.approx(0.1)
    assert float(panel.figure.ax.get_title().rsplit("spread ", 1)[1]) == pytest.approx(measured, abs=0.0005)
    panel.controls["shots"].value = "exact"
    assert "<td>0.000</td>" in panel.numbers.value


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


def test_seed_summary_and_the_shots_figures():
    from qmu_kit.core import stats
    from qmu_kit.leakage.metrics import format_seed_summary, seed_summary

    runs = pd.DataFrame({
        "shots": [10, 10, "exact", "exact"] * 2, "seed": [0, 1] * 4, "model_name": ["ga"] * 4 + ["ssd"] * 4,
        "acc_train_forget": [0.1, 0.3, 0.0, 0.0, 0.6, 0.8, 0.1, 0.1], "acc_test_retain": [0.8, 0.9, 0.9, 0.9, 0.5, 0.7, 0.9, 0.95],
    })
    summary = seed_summary(runs, "shots", ["acc_train_forget", "acc_test_retain"], by="model_name", bounds=(0, 1))
    mean = stats.mean([0.1, 0.3])
    assert summary["mean"].loc[("ga", 10), "acc_train_forget"] == pytest.approx(mean.value)
    assert summary["low"].loc[("ga", 10), "acc_train_forget"] == 0.0  # cut to the bounds
    assert summary["high"].loc[("ga", 10), "acc_train_forget"] == pytest.approx(min(mean.ci95[1], 1.0))
    assert summary["n"].loc[("ssd", "exact"), "acc_test_retain"] == 2
    shown = format_seed_summary(summary, ["acc_train_forget"])  # what notebook 04 prints: every mean with its interval and n
    assert shown.loc[("ga", 10), "acc_train_forget"] == stats.mean([0.1, 0.3], bounds=(0, 1)).format()
    assert list(shown.index) == list(summary.index)
    figure = plots.unlearning_vs_shots_figure(summary)
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["GA", "SSD"]
    assert [t.get_text() for t in figure.axes[2].get_xticklabels()] == ["10", "exact"]
    assert figure.axes[0].get_xscale() == "log" and len(figure.axes[0].collections) == 2  # one band per method

    leak = runs[runs.model_name == "ga"].assign(loss_auc=0.6, mia_auc_overall=0.55, mia_success_forget=0.9,
                                                mia_flag_rate_forget_nonmembers=0.6)
    leak_summary = seed_summary(leak, "shots", ["loss_auc", "mia_auc_overall", "mia_success_forget",
                                                "mia_flag_rate_forget_nonmembers", "acc_test_retain"])
    assert len(plots.leakage_vs_shots_figure(leak_summary).axes[0].get_lines()) == 2
    dial = plots.privacy_utility_figure(leak_summary).axes[0]
    assert len(dial.texts) == 2 and len(dial.containers) == 1  # 10 shots and exact labelled; one series with error bars
    assert plots.shots_axis_values([10, "exact", 100, None]).tolist() == [10, 1000, 100, 1000]


def test_shot_noise_std_is_the_panel_theory():
    from qmu_kit.leakage.metrics import shot_noise_std

    assert shot_noise_std(0.0, 100) == pytest.approx(0.1) and shot_noise_std(0.4, None) == 0.0
    panel = ShotNoisePanel(expval=0.0, shots="100")
    assert f"<td>{shot_noise_std(0.0, 100):.3f}</td>" in panel.numbers.value


def test_panels_config_for_their_defaults():
    config = LeakagePanel.config_for(LeakagePanel.default_values())
    assert (config.shots, config.depth, config.model, config.methods, config.retrain) == (None, 1, "hybrid", (), False)
    config = UnlearningPanel.config_for({**UnlearningPanel.default_values(), "shots": "100"}, QUICK)
    assert (config.methods, config.shots, config.unlearn_params, config.model) == (("ga",), 100, "all", "basic")
    assert ShotNoisePanel.default_values() == {"expval": 0.4, "shots": "100", "seed": 0}


def test_notebook_formatting_tables_and_device_shots(result):
    from qmu_kit.studies.devices import DeviceAudit, ModelOnDevice
    from qmu_kit.core import check_device_shots
    from qmu_kit.report.notebook import (
        device_audit_table,
        format_metrics,
        format_number,
        format_speedup,
    )

    assert (format_number(0.456), format_number(None), format_number(float("nan")), format_number(1.0, 1)) == ("0.46", "-", "-", "1.0")
    assert (format_speedup(3.04), format_speedup(None)) == ("3.0x", "-")
    assert format_metrics({"auc": 0.61234, "seeds": 3}) == "auc = 0.612, seeds = 3"
    assert check_device_shots("300") == 300
    with pytest.raises(ValueError, match="shots='exact' is not possible on a device"):
        check_device_shots("exact")
    original = result.models["original"]
    on_device = ModelOnDevice(original.acc_train_retain, original.acc_test_retain, original.attacks)
    audit = DeviceAudit("aer:noiseless", "noiseless", "fast", 100, 100, on_device, {})
    table = device_audit_table({"noiseless": audit})
    assert table.loc["noiseless", "AUC (loss attack)"] == original.attacks["loss"].overall.auc.value
    assert list(table.columns)[0] == "accuracy (members)"
    assert table.loc["noiseless", "MIA success"] == original.attacks["mlp"].mia_success_forget.value


def test_estimate_bars_draw_every_estimate_with_its_interval():
    from qmu_kit.core.stats import Estimate, mean, proportion

    one_seed = mean([0.7])  # no interval: drawn as a bar without an error bar
    groups = {"noiseless\noriginal": {"MIA": proportion(8, 10), "AUC": Estimate(0.6, 20, (0.4, 0.8), "auc")},
              "5x\noriginal": {"MIA": one_seed, "AUC": Estimate(0.5, 20, (0.3, 0.7), "auc")}}
    fig = plots.estimate_bars_figure(groups, title="devices")
    ax = fig.axes[0]
    heights = [round(bar.get_height(), 2) for bar in ax.patches]
    assert heights == [0.8, 0.7, 0.6, 0.5] and ax.get_title() == "devices" and ax.get_ylim() == (0, 1.05)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(groups)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MIA", "AUC"]
    assert np.allclose(plots.error_bars([g["MIA"] for g in groups.values()])[:, 1], 0.0)
