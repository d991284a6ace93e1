"""Notebook 06's panel over verifications already computed: it looks results up and draws, never trains."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from qmu_kit.core.cache import ResultCache
from qmu_kit.studies.verification import (
    CONTROLS,
    DEFAULT_MODELS,
    VerifyConfig,
    VerifyResult,
    available_methods,
    cached_verification,
    check_models,
    parse_methods,
)


class VerifyPanel:
    """Method, shots and K selectors over verifications already in the cache (notebook 06).

    It never trains anything: a combination that was not computed says so, with the command that
    computes it. Computing stays in :func:`verify`; the panel only looks results up and draws.

    Args:
        base: the verification whose experiment (data, model, seed) the panel shows.
        methods: method names offered (default: every registered method).
        shots: shot counts offered (``None`` = exact).
        models: the ``K`` values offered.
        cache: where to look up results.

    Example:
        >>> panel = VerifyPanel(VerifyConfig(models=8), shots=[None], models=[8], cache=False)
        >>> panel.lookup("ga", None, 8) is None
        True
    """

    def __init__(self, base: VerifyConfig | None = None, methods: Sequence[str] | None = None,
                 shots: Sequence[int | None] = (None,), models: Sequence[int] = (DEFAULT_MODELS,), cache: ResultCache | bool = True):
        self.base = base if base is not None else VerifyConfig()
        self.methods = tuple(methods) if methods is not None else available_methods()
        self.shots = tuple(shots)
        self.models = tuple(check_models(k) for k in models)
        self.cache = cache
        for name in self.methods:
            parse_methods([name])

    def lookup(self, method: str, shots: int | None, models: int) -> VerifyResult | None:
        """The cached verification holding ``method`` at ``shots`` and ``K = models``, or ``None``.
        A run of all methods or of the method alone both count."""
        config = self.base.replace(models=models, experiment=self.base.experiment.replace(shots=shots))
        for methods in ("all", [method]):
            result = cached_verification(config, methods, self.cache)
            if result is not None and method in result.methods:
                return result
        return None

    def describe(self, method: str, shots: int | None, models: int) -> str:
        """The text the panel shows for one choice: the method's numbers and the two controls', each
        score beside the retrain control's at the same ``K`` (the only value it compares with)."""
        result = self.lookup(method, shots, models)
        if result is None:
            return (f"not computed yet: qmu-kit verify --method {method} --shots {shots or 'exact'} --models {models} "
                    "(with this notebook's preset and seed)")
        rows = {name: result.methods[name] for name in (method, *CONTROLS)}
        control = result.methods["retrain"].forgetting_quality.format()
        lines = [f"K={models}, shots={shots or 'exact'}: {result.verdict}"]
        for name, m in rows.items():
            beside = "" if name == "retrain" else f" (retrain control at K={models}: {control})"
            lines.append(f"  {name:<9} forgetting quality {m.forgetting_quality.format()}{beside}, Streisand AUC "
                         f"{m.streisand_auc.format()}, relearn steps {m.relearn_steps.format(1)}")
        return "\n".join(lines)

    def _ipython_display_(self):  # pragma: no cover - needs a notebook front end
        display(self.widget())

    def widget(self):
        """The ipywidgets panel (dropdowns, the figure and the numbers)."""
        method = widgets.Dropdown(options=self.methods, description="method")
        shots = widgets.Dropdown(options=[("exact" if s is None else str(s), s) for s in self.shots], description="shots")
        models = widgets.Dropdown(options=self.models, description="K")
        output = widgets.Output()

        def redraw(_=None):
            output.clear_output(wait=True)
            with output:
                print(self.describe(method.value, shots.value, models.value))
                result = self.lookup(method.value, shots.value, models.value)
                if result is not None:
                    result.plot(methods=[method.value])
                    plt.show()

        for control in (method, shots, models):
            control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox([method, shots, models]), output])
