"""Interactive controls and panels for the notebooks and the Voila apps.

A panel is a few controls, one figure and a table of numbers. The figure is built once; a callback
reads the controls, asks :mod:`qmu_kit.experiment.config` for the result (replayed instantly from the cache
when these settings ran before, computed with a progress bar otherwise), redraws the figure's data and
updates the numbers. Errors are shown in the panel as a readable message, never as a traceback.

Example (in a notebook)::

    from qmu_kit.ui.widgets import UnlearningPanel
    UnlearningPanel()          # displays itself
"""

from __future__ import annotations

import html
import inspect

import ipywidgets as widgets
import numpy as np
from IPython.display import display

from qmu_kit.core.cache import ResultCache, resolve_cache
from qmu_kit.core.validation import check_float, check_shots
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment, train_original
from qmu_kit.leakage.attacks import attack_names
from qmu_kit.leakage.metrics import shot_noise_std
from qmu_kit.plots.figures import (
    LeakageFigure,
    PrivacyBarsFigure,
    ShotNoiseFigure,
    TrainingCurves,
    UnlearningFigure,
    model_label,
    to_png,
)
from qmu_kit.qnn.models import MODELS
from qmu_kit.qnn.readout import repeated_estimates
from qmu_kit.report.notebook import format_speedup
from qmu_kit.studies.privacy import DEFAULT_ATTACKS, PrivacySpec, privacy_config, run_private
from qmu_kit.ui import charts
from qmu_kit.unlearning.methods import PARAMETER_GROUPS, UNLEARNING_METHODS, method_names

#: The shots slider's stops: a log scale from 10 to 10000, then exact expectations. The slider's
#: value is the label; :func:`qmu_kit.core.validation.check_shots` turns it into ``int`` or ``None``.
SHOT_OPTIONS = ("10", "30", "100", "300", "1000", "3000", "10000", "exact")


def shots_slider(value: int | str | None = None, description: str = "shots") -> widgets.SelectionSlider:
    """Shots on a log scale, with "exact" (``None``) as the last stop."""
    label = "exact" if check_shots(value) is None else str(check_shots(value))
    if label not in SHOT_OPTIONS:
        raise ValueError(f"shots={value!r} is not a slider stop: choose one of {', '.join(SHOT_OPTIONS)}")
    return widgets.SelectionSlider(options=SHOT_OPTIONS, value=label, description=description, continuous_update=False)


def depth_slider(value: int = 1, maximum: int = 10) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=1, max=maximum, description="depth", continuous_update=False)


def method_selector(value: str = "ga") -> widgets.Dropdown:
    """Every registered unlearning method (read when the dropdown is built), by its description."""
    return widgets.Dropdown(options=[(UNLEARNING_METHODS.description(m), m) for m in method_names(lessons=True)], value=value,
                            description="method")


def model_selector(value: str = "hybrid") -> widgets.ToggleButtons:
    return widgets.ToggleButtons(options=[(f"{m} QNN", m) for m in MODELS], value=value, description="model")


def attack_selector(value: str = "mlp") -> widgets.Dropdown:
    """Every registered attack (read when the dropdown is built)."""
    return widgets.Dropdown(options=[(name, name) for name in attack_names()], value=value, description="attack")


def params_selector(value: str = "all") -> widgets.ToggleButtons:
    return widgets.ToggleButtons(options=list(PARAMETER_GROUPS), value=value, description="unlearn")


TABLE_STYLE = (
    "<style>.qmu-numbers{border-collapse:collapse;font-size:13px;margin:6px 0}"
    ".qmu-numbers td,.qmu-numbers th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
    ".qmu-numbers td:first-child{text-align:left}</style>"
)


def numbers_table(rows: list[tuple[str, str, str]], columns: list[str]) -> str:
    """An HTML table; each row is ``(css_class, label, *cells)`` so tests and styles can find cells."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f'<tr class="{css}"><td>{html.escape(label)}</td>' + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        for css, label, *cells in rows
    )
    return f'{TABLE_STYLE}<table class="qmu-numbers"><tr><th></th>{head}</tr>{body}</table>'


class Panel:
    """Base of every panel: controls, a figure rendered to an image, numbers, status and progress.

    A subclass builds its controls from its keyword arguments, hands them to this ``__init__`` and
    defines ``_compute(values)`` (the result), ``_numbers(result, values)`` (the numbers table's HTML),
    ``_figure(result, values)`` (the matplotlib figure the panel shows) and ``_charts(result, values)``
    (the same figure's content as chart data, :mod:`qmu_kit.ui.charts`, which the classroom pages draw
    in the browser); ``values`` maps each control's name to its value.
    """

    title = ""
    #: Controls that change only what is drawn from the computed result (which attack's numbers), not
    #: the computation: moving one re-renders the last result (and the classroom pages compute once for them).
    display_only: tuple[str, ...] = ()
    #: Controls whose values alone pick a costly piece that several settings reuse from the cache (a
    #: trained model, the attacks fitted against it): the classroom build computes one setting of each
    #: first, then the settings that reuse it, so no two processes compute the same piece at once.
    shared_by: tuple[str, ...] = ()

    def __init__(self, controls: dict[str, widgets.ValueWidget], base: ExperimentConfig | None = None,
                 cache: ResultCache | bool = True):
        self.base = base if base is not None else ExperimentConfig()
        self.cache = cache
        self.controls = controls
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1100px"))
        self.numbers = widgets.HTML()
        self.status = widgets.HTML()
        self.progress = widgets.Output()
        self.result = None
        for control in self.controls.values():
            control.observe(self.refresh, names="value")
        if getattr(self, "_compute_on_init", True):
            self.refresh()

    @classmethod
    def laid_out(cls, **kwargs) -> "Panel":
        """The panel with its controls at these settings and nothing computed yet: what a page needs
        to lay out its controls (the classroom build computes every stop in its worker processes).

        Example:
            >>> panel = ShotNoisePanel.laid_out(shots="10")
            >>> panel.result is None, panel.values()["shots"]
            (True, 10)
        """
        panel = cls.__new__(cls)
        panel._compute_on_init = False
        panel.__init__(**kwargs)
        return panel

    @classmethod
    def default_values(cls) -> dict:
        """The settings a panel starts with when given none: its ``__init__``'s keyword defaults
        other than ``base`` and ``cache`` (what the apps show first)."""
        parameters = inspect.signature(cls.__init__).parameters
        return {name: p.default for name, p in parameters.items() if name not in ("self", "base", "cache")}

    def values(self) -> dict:
        return self.values_at({name: control.value for name, control in self.controls.items()})

    @staticmethod
    def values_at(controls: dict) -> dict:
        """What ``_compute`` and the drawing methods read for these control values (the shots label as ``int`` or ``None``)."""
        values = dict(controls)
        if "shots" in values:
            values["shots"] = check_shots(values["shots"])
        return values

    def refresh(self, change=None) -> None:
        """Recompute (or replay) for the current control values and redraw."""
        values = self.values()
        moved = next((name for name, control in self.controls.items() if change is not None and control is change.owner), None)
        # A display-only control (which attack to show) draws the last result again: nothing to compute.
        recompute = moved not in self.display_only or self.result is None
        if recompute:
            self.status.value = '<span class="qmu-busy">computing... (new settings take a few seconds; seen settings replay instantly)</span>'
        try:
            if recompute:
                with self.progress:
                    result = self._compute(values)
                self.progress.clear_output()
                self.result = result
            self.numbers.value = self._numbers(self.result, values)
            self.image.value = to_png(self._figure(self.result, values))
            self.status.value = '<span class="qmu-ready">ready</span>'
        except Exception as error:  # shown to the learner, not raised into the widget machinery
            self.progress.clear_output()
            self.result = None  # belongs to other settings: a display-only move must not show it
            self.status.value = f'<span class="qmu-error" style="color:#b00">Could not compute these settings: {html.escape(str(error))}</span>'

    def widget(self) -> widgets.Widget:
        header = widgets.HTML(f"<h3>{html.escape(self.title)}</h3>") if self.title else widgets.HTML()
        controls = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([header, controls, self.status, self.progress, self.image, self.numbers])

    def _ipython_display_(self):
        display(self.widget())


class ShotNoisePanel(Panel):
    """How many shots does an expectation value need? One qubit, measured again and again."""

    title = "Shot noise: estimating <Z> from a finite number of measurements"

    def __init__(self, expval: float = 0.4, shots="100", seed: int = 0):
        self.seed = seed
        self.figure = ShotNoiseFigure()
        super().__init__({
            "shots": shots_slider(shots),
            # The slider would clamp an out-of-range value silently; refuse it instead.
            "expval": widgets.FloatSlider(value=check_float("expval", expval, -1.0, 1.0), min=-1, max=1, step=0.05,
                                          description="exact <Z>", continuous_update=False),
        }, None, False)

    def _compute(self, values):
        estimates = repeated_estimates(values["expval"], values["shots"], 2000, np.random.default_rng(self.seed))
        return estimates, float(estimates.std()), shot_noise_std(values["expval"], values["shots"])

    def _numbers(self, computed, values):
        _, spread, sd = computed
        return numbers_table(
            [("qmu-shot-spread", "spread of the estimates", f"{spread:.3f}", f"{sd:.3f}")],
            ["measured", "theory sqrt((1-<Z>^2)/S)"],
        )

    def _figure(self, computed, values):
        estimates, spread, sd = computed
        return self.figure.draw(estimates, values["expval"], values["shots"], sd, spread)

    def _charts(self, computed, values):
        estimates, spread, sd = computed
        return [charts.shot_noise_chart(estimates, values["expval"], values["shots"], sd, spread)]


class ClassifierPanel(Panel):
    """Train a QNN at a chosen depth; show its training curves and accuracies."""

    title = "QNN classifiers: how depth changes learning"

    def __init__(self, base=None, cache=True, model: str = "hybrid", depth: int = 1):
        self.figure = TrainingCurves()
        super().__init__({"model": model_selector(model), "depth": depth_slider(depth)}, base, cache)

    @classmethod
    def config_for(cls, values: dict, base: ExperimentConfig | None = None) -> ExperimentConfig:
        """The experiment whose original model the panel shows at these control values."""
        return (base or ExperimentConfig()).replace(model=values["model"], depth=values["depth"])

    def _compute(self, values):
        """The trained model and its final accuracies on the training and test sets (with n and intervals;
        the history's training accuracy is a running average over the last epoch's updates)."""
        config = self.config_for(values, self.base)
        data = config.load_data()
        classifier = train_original(config, data, resolve_cache(self.cache), progress=True)
        return classifier, classifier.accuracy(data.x_train, data.y_train), classifier.accuracy(data.x_test, data.y_test)

    @staticmethod
    def _label(values) -> str:
        return f"{values['model']} QNN, depth {values['depth']}"

    def _numbers(self, result, values):
        classifier, train_accuracy, test_accuracy = result
        history = classifier.history_
        label = self._label(values)
        return numbers_table(
            [("qmu-accuracy", label, train_accuracy.format(), test_accuracy.format(),
              str(classifier.n_params_["quantum"]), str(classifier.n_params_["classical"]), f"{history[-1]['seconds']:.1f}")],
            ["train accuracy", "test accuracy", "quantum params", "classical params", "training seconds"],
        )

    def _figure(self, result, values):
        return self.figure.draw({self._label(values): result[0].history_})

    def _charts(self, result, values):
        classifier, train_accuracy, test_accuracy = result
        return charts.training_charts(classifier.history_, self._label(values), train_accuracy.n, test_accuracy.n)


class LeakagePanel(Panel):
    """How much does the trained QNN leak? Shots, depth, model and attack as controls."""

    title = "Membership leakage of a trained QNN"
    display_only = ("attack",)
    shared_by = ("depth", "model")  # the trained model and LiRA's shadows

    def __init__(self, base=None, cache=True, shots=None, depth: int = 1, model: str = "hybrid", attack: str = "mlp"):
        self.figure = LeakageFigure()
        super().__init__({"shots": shots_slider(shots), "depth": depth_slider(depth), "model": model_selector(model),
                          "attack": attack_selector(attack)}, base, cache)

    @classmethod
    def config_for(cls, values: dict, base: ExperimentConfig | None = None) -> ExperimentConfig:
        """The experiment the panel shows at these control values: the original model only, attacked."""
        return (base or ExperimentConfig()).replace(shots=values["shots"], depth=values["depth"], model=values["model"],
                                                    methods=(), retrain=False)

    def _compute(self, values):
        return run_experiment(self.config_for(values, self.base), cache=self.cache, progress=True)

    def _numbers(self, result, values):
        original = result.models["original"]
        outcome = original.attacks[values["attack"]]
        tpr = outcome.overall.tpr_at_1pct_fpr
        return numbers_table(
            [
                ("qmu-mia-success", "MIA success on the forget set (paper's metric)",
                 str(outcome.mia_success_forget)),
                ("qmu-mia-control", "same flag rate on non-members of that class (control)",
                 str(outcome.flag_rate_forget_nonmembers)),
                ("qmu-auc-overall", "AUC, held-out members vs non-members", str(outcome.overall.auc)),
                ("qmu-tpr", "TPR at zero false positives" if tpr.at_zero_false_positives else "TPR at 1% FPR",
                 str(tpr.tpr)),
                ("qmu-accuracy", "train / test accuracy",
                 f"{original.acc_train_retain} / {original.acc_test_retain}"),
            ],
            [f"{values['attack']} attack, shots {values['shots'] or 'exact'}: value [95 % interval] (n samples)"],
        )

    def _figure(self, result, values):
        return self.figure.draw(result, values["attack"])

    def _charts(self, result, values):
        return charts.leakage_charts(result, values["attack"])


class UnlearningPanel(Panel):
    """Unlearn the forget set with a chosen method; compare with the original and retrained models."""

    title = "Quantum machine unlearning"
    display_only = ("attack",)
    shared_by = ("shots",)  # the attacks fitted against the original model, for every method

    def __init__(self, base=None, cache=True, method: str = "ga", shots=None, params: str = "all", attack: str = "mlp"):
        self.figure = UnlearningFigure()
        super().__init__({"method": method_selector(method), "shots": shots_slider(shots),
                          "params": params_selector(params), "attack": attack_selector(attack)}, base, cache)

    @classmethod
    def config_for(cls, values: dict, base: ExperimentConfig | None = None) -> ExperimentConfig:
        """The experiment the panel shows at these control values: one method, with the retrained model."""
        return (base or ExperimentConfig()).replace(methods=(values["method"],), shots=values["shots"],
                                                    unlearn_params=values["params"])

    def _compute(self, values):
        return run_experiment(self.config_for(values, self.base), cache=self.cache, progress=True)

    def _numbers(self, result, values):
        names = ["original", values["method"], "retrained"]
        attack = values["attack"]
        rows = []
        for name in names:
            model = result.models[name]
            outcome = model.attacks[attack]
            rows.append((
                f"qmu-model-{name}", model_label(name), str(model.acc_train_forget), str(model.acc_test_retain),
                str(outcome.mia_success_forget), str(outcome.forget.auc), f"{model.seconds:.2f}",
                format_speedup(model.speedup_vs_retrain),
            ))
        return numbers_table(
            rows, ["forget acc.", "test acc. (retained)", f"MIA success ({attack})", "AUC forget", "seconds", "speed-up"]
        )

    def _figure(self, result, values):
        return self.figure.draw(result, values["method"], values["attack"])

    def _charts(self, result, values):
        return charts.unlearning_charts(result, values["method"], values["attack"])


__all__ = [
    "EPSILON_OPTIONS", "SHOT_OPTIONS", "ClassifierPanel", "LeakagePanel", "Panel", "PrivacyPanel", "ShotNoisePanel", "UnlearningPanel", "attack_selector", "depth_slider",
    "method_selector", "model_selector", "params_selector", "shots_slider",
]


#: The privacy panel's epsilon stops ("inf": trained without privacy), as in notebook 07.
EPSILON_OPTIONS = ("1", "4", "16", "inf")


class PrivacyPanel(Panel):
    """Privacy by design: a DP-SGD budget and the attacker's shots as controls; accuracy and leakage bars.

    Each setting is one :func:`qmu_kit.studies.privacy.run_private` call (DP-SGD at the chosen epsilon, delta
    1e-5, the notebook's recipe), replayed from the cache when notebook 07 or an earlier visit ran it.
    """

    title = "Privacy by design: DP-SGD budget vs accuracy and leakage"
    display_only = ("attack",)
    shared_by = ("epsilon",)  # the model DP-SGD trains at that budget

    def __init__(self, base=None, cache=True, epsilon: str = "4", shots=None, attack: str = "loss"):

        if str(epsilon) not in EPSILON_OPTIONS:
            raise ValueError(f"epsilon={epsilon!r} is not a slider stop: choose one of {', '.join(EPSILON_OPTIONS)}")
        self.figure = PrivacyBarsFigure()
        controls = {
            "epsilon": widgets.SelectionSlider(options=EPSILON_OPTIONS, value=str(epsilon), description="epsilon",
                                               continuous_update=False),
            "shots": shots_slider(shots),
            "attack": widgets.Dropdown(options=list(DEFAULT_ATTACKS), value=attack, description="attack"),
        }
        super().__init__(controls, base if base is not None else privacy_config(), cache)

    @classmethod
    def config_for(cls, values: dict, base: ExperimentConfig | None = None):
        """The ``(config, PrivacySpec)`` the panel runs at these control values (``base`` default:
        :func:`~qmu_kit.studies.privacy.privacy_config`)."""

        return (base or privacy_config()).replace(shots=values["shots"]), PrivacySpec(epsilon=float(values["epsilon"]))

    def _compute(self, values):

        return run_private(*self.config_for(values, self.base), cache=self.cache)

    def _numbers(self, result, values):
        metrics = result.attacks[values["attack"]]
        tpr = metrics.tpr_at_1pct_fpr
        audit = result.audits[values["attack"]]
        return numbers_table(
            [
                ("qmu-epsilon", "epsilon spent (accountant, delta 1e-5)", f"{result.epsilon_spent:.3g}"),
                ("qmu-sigma", "noise multiplier", f"{result.noise_multiplier:.3g}"),
                ("qmu-accuracy", "train / test accuracy", f"{result.train_accuracy} / {result.test_accuracy}"),
                ("qmu-auc", f"AUC ({values['attack']} attack), members vs non-members", str(metrics.auc)),
                ("qmu-tpr", tpr.label(), str(tpr.tpr)),
                ("qmu-audit", "empirical epsilon lower bound (95 %)", f"{audit.epsilon_lower:.3f}"),
                ("qmu-ceiling", f"largest epsilon this audit can certify ({audit.n_members} + {audit.n_nonmembers} samples)",
                 f"{audit.ceiling:.3f}"),
            ],
            [f"{result.spec.label()}, shots {values['shots'] or 'exact'}: value [95 % interval] (n samples)"],
        )

    def _figure(self, result, values):
        return self.figure.draw(result, values["attack"])

    def _charts(self, result, values):
        return charts.privacy_charts(result, values["attack"])
