"""One colour-blind-safe palette: every registered and drawn colour comes from it, the colours that carry a
meaning stay apart under simulated deuteranopia and protanopia, and every figure has its alternative text."""

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.markers import MarkerStyle

import qmu_kit
import qmu_kit.plots as plots
from qmu_kit.core.palette import COLOURS, CYCLE, MEANING_PAIRS, ROLES
from qmu_kit.core.registry import FALLBACK_COLOURS
from qmu_kit.core.stats import Estimate
from qmu_kit.leakage.attacks import ATTACKS
from qmu_kit.unlearning.methods import UNLEARNING_METHODS

matplotlib.use("Agg")

#: Machado, Oliveira and Fernandes (2009), "A physiologically-based model for simulation of color vision
#: deficiency", severity 1.0: linear-RGB matrices.
MACHADO = {
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]),
}
#: The smallest CIE76 colour difference we accept between two colours that carry a meaning (about the
#: difference of two neighbouring named colours; red and green of the old default differ by 7 under deuteranopia).
MIN_DELTA_E = 20.0
PALETTE_RGB = {tuple(np.round(to_rgb(c), 4)) for c in COLOURS.values()}
KIT = Path(qmu_kit.__file__).parent


def linear_rgb(colour) -> np.ndarray:
    c = np.array(to_rgb(colour))
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(linear) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(linear, 0, 1)
    n = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(n > (6 / 29) ** 3, np.cbrt(n), n / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b, vision: str | None = None) -> float:
    la, lb = linear_rgb(a), linear_rgb(b)
    if vision is not None:
        la, lb = MACHADO[vision] @ la, MACHADO[vision] @ lb
    return float(np.linalg.norm(lab(la) - lab(lb)))


def in_palette(colour) -> bool:
    return tuple(np.round(to_rgb(colour), 4)) in PALETTE_RGB


def test_the_simulation_tells_the_old_red_green_pair_apart_from_the_new_one():
    assert delta_e("#d62728", "#2ca02c") > 40  # far apart with typical vision...
    assert delta_e("#d62728", "#2ca02c", "deuteranopia") < 10  # ...but not with deuteranopia
    assert delta_e(ROLES["original"], ROLES["retrained"], "deuteranopia") > MIN_DELTA_E
    # an achromatic colour is unchanged by either simulation
    for vision in MACHADO:
        assert np.allclose(MACHADO[vision] @ linear_rgb("#808080"), linear_rgb("#808080"), atol=2e-3)


@pytest.mark.parametrize("pair", MEANING_PAIRS, ids="-".join)
@pytest.mark.parametrize("vision", [None, "deuteranopia", "protanopia"])
def test_colours_that_carry_a_meaning_stay_apart(pair, vision):
    first, second = (ROLES[role] for role in pair)
    assert delta_e(first, second, vision) >= MIN_DELTA_E, (pair, vision)


def test_every_registered_and_named_colour_is_the_palettes():
    kit_entries = [(registry.kind, name, registry.colour(name)) for registry in (UNLEARNING_METHODS, ATTACKS)
                   for name in registry if registry.entry(name).factory.__module__.startswith("qmu_kit")]
    assert len(kit_entries) >= 10
    outside = [entry for entry in kit_entries if not in_palette(entry[2])]
    assert not outside, f"registered colours outside the palette: {outside}"
    for colour in (*FALLBACK_COLOURS, *CYCLE, *ROLES.values(), *(c for _, c in plots.REFERENCE_MODELS.values())):
        assert in_palette(colour), colour
    lessons = [UNLEARNING_METHODS.colour(name) for name in UNLEARNING_METHODS.names(lessons=True)]
    assert len(set(lessons)) == len(lessons), "the lessons' methods each need their own colour"


COLOUR_ARGUMENTS = {"color", "colour", "facecolor", "edgecolor", "ecolor", "c", "markerfacecolor", "markeredgecolor"}


def _literal_colours(tree):
    """Every string literal given as a colour: a colour keyword's value, a colour key of a dict literal, or
    a string that is a hex colour anywhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in COLOUR_ARGUMENTS:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                yield node.value.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in COLOUR_ARGUMENTS and isinstance(value, ast.Constant):
                    yield value.value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", node.value):
            yield node.value


def test_no_colour_in_the_kits_code_comes_from_outside_the_palette():
    found = {}
    for path in KIT.rglob("*.py"):
        if path.name == "palette.py":
            continue
        bad = [c for c in _literal_colours(ast.parse(path.read_text())) if c != "none" and not in_palette(c)]
        if bad:
            found[str(path.relative_to(KIT))] = bad
    assert not found, f"colours outside qmu_kit.core.palette: {found}"


def _drawn_colours(fig):
    """The colours of every data artist (lines, patches, collections, texts) of a figure, legends aside."""
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_linestyle() not in ("None", "", " "):
                yield line.get_color()
            if line.get_marker() not in (None, "None", ""):  # a marker's face shows only where it is filled
                yield line.get_markeredgecolor()
                if MarkerStyle(line.get_marker()).is_filled():
                    yield line.get_markerfacecolor()
        for patch in ax.patches:
            for rgba in (patch.get_facecolor(), patch.get_edgecolor()):
                if to_rgba(rgba)[3] > 0 and patch.get_fill() or rgba is patch.get_edgecolor() and patch.get_linewidth() > 0:
                    yield rgba
        for collection in ax.collections:
            for rgba in (*collection.get_facecolor(), *collection.get_edgecolor()):
                if rgba[3] > 0:
                    yield rgba
        for text in ax.texts:
            yield text.get_color()


def _estimate(value, n=50):
    return Estimate(value, n, (max(0.0, value - 0.1), min(1.0, value + 0.1)))


def _model(rng):
    fields = {field: _estimate(v) for (field, _), v in zip(plots.UNLEARNING_BARS, (0.1, 0.2, 0.8, 0.6, 0.4))}
    curve = SimpleNamespace(fpr=[0, 0.1, 1], tpr=[0, 0.4, 1], auc=_estimate(0.7), n_members=50, n_nonmembers=50)
    attacks = {name: SimpleNamespace(overall=curve, forget=curve) for name in ("mlp", "loss")}
    losses = {part: rng.exponential(size=40) for part in ("train_retain", "test_retain")}
    return SimpleNamespace(**fields, attacks=attacks, losses=losses)


def _figures(rng):
    model = _model(rng)
    result = SimpleNamespace(models={"original": model, "ga": model, "retrained": model})
    history = [{"epoch": e, "loss": 1 / e, "train_accuracy": 0.5, "test_accuracy": 0.4} for e in (1, 2, 3)]
    yield "threat model", plots.threat_model_figure()
    yield "shot noise", plots.ShotNoiseFigure().draw(rng.normal(size=50).clip(-1, 1), 0.2, 100, 0.1, 0.1)
    yield "training curves", plots.TrainingCurves().draw({"a": history, "b": history})
    yield "model figure", plots.model_figure(model)
    yield "unlearning", plots.UnlearningFigure().draw(result, "ga")
    yield "estimate bars", plots.estimate_bars_figure({"x": {"MIA": _estimate(0.6), "control": _estimate(0.5)}})
    yield "requery", plots.requery_figure(SimpleNamespace(queries=[1, 4, 16], distance=np.array([0.1, 0.05, 0.025]),
                                                          shots=100, n_samples=10))


def test_every_colour_a_figure_draws_is_the_palettes(rng):
    for name, fig in _figures(rng):
        outside = {tuple(np.round(to_rgb(c), 3)) for c in _drawn_colours(fig) if not in_palette(c)}
        assert not outside, f"{name} draws colours outside the palette: {outside}"


def test_meaning_has_a_second_cue_besides_colour(rng):
    model = _model(rng)
    fig = plots.model_figure(model)
    members, nonmembers = [p for p in fig.axes[1].patches if p.get_label() and not p.get_label().startswith("_")]
    assert members.get_linestyle() != nonmembers.get_linestyle()
    fig = plots.UnlearningFigure().draw(SimpleNamespace(models={"original": model, "ga": model, "retrained": model}), "ga")
    hatches = {bar.get_hatch() for bar in fig.axes[0].patches}
    assert len(hatches) == 3  # original, the method and the retrained model each hatched their own way
    styles = {line.get_linestyle() for line in fig.axes[1].lines if not line.get_label().startswith("guessing")}
    assert len(styles) == 3


HELPERS = {"model_label", "model_colour", "attack_colour", "alt_text", "figure_alt", "describe_figures", "KitFigure", "new_figure", "to_png", "error_bars",
           "shots_axis_values", "label_exact_tick", "one_panel", "pareto_front"}


def test_every_public_figure_has_its_alt_text():
    public = {name: getattr(plots, name) for name in plots.__all__ if callable(getattr(plots, name))}
    figures = {name for name, value in public.items() if value in plots.FIGURES}
    assert set(public) - figures == HELPERS, "a new public figure must join plots.FIGURES (and have its alt text)"
    for figure in plots.FIGURES:
        alt = getattr(figure, "alt", "")
        assert isinstance(alt, str) and 20 <= len(alt) <= 400 and alt.endswith("."), (figure.__name__, alt)
    with pytest.raises(ValueError, match="alt text must be a non-empty sentence"):
        plots.alt_text(" ")
