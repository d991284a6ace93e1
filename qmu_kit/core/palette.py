"""The kit's one colour palette: Okabe and Ito's eight colours, told apart with the common colour-vision
deficiencies, and three greys for references (chance lines, outlines).

Every colour a figure draws and every colour the kit registers for a method or an attack comes from
:data:`COLOURS` (a test checks it). Where colour carries a meaning (members against non-members, the
original model against the retrained one, failing against passing) the figure also gives a second cue
(a line style, a hatching, a marker or a label), and the pairs in :data:`MEANING_PAIRS` stay far apart
under simulated deuteranopia and protanopia (tested).

The palette lives in ``core`` because the registries, which live here, hand every method and attack a
colour; figures (:mod:`qmu_kit.plots`) read the same table.

Example:
    >>> COLOURS["vermillion"], ROLES["members"] == COLOURS["vermillion"]
    ('#D55E00', True)
    >>> len(CYCLE), CYCLE[0] == COLOURS["blue"]
    (7, True)
"""

from __future__ import annotations

#: Okabe & Ito (2008), "Color Universal Design": eight colours distinguishable with every common
#: colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Neutral greys for references (chance lines, outlines, error bars) and white for text on bars.
GREYS = {"dark_grey": "#404040", "grey": "#999999", "light_grey": "#E0E0E0", "white": "#FFFFFF"}
#: Every colour the kit draws with, by name.
COLOURS = {**OKABE_ITO, **GREYS}
#: Colours in the order series take them when nothing else names one (yellow, weak on white, last;
#: black is kept for text).
CYCLE = tuple(COLOURS[name] for name in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "yellow"))
#: Colours with a meaning, the same in every figure.
ROLES = {
    "members": COLOURS["vermillion"],
    "nonmembers": COLOURS["blue"],
    "original": COLOURS["vermillion"],
    "retrained": COLOURS["bluish_green"],
    "forgotten": COLOURS["vermillion"],
    "retained": COLOURS["blue"],
    "pass": COLOURS["bluish_green"],
    "fail": COLOURS["vermillion"],
    "estimate": COLOURS["blue"],
    "exact": COLOURS["vermillion"],
    "accuracy": COLOURS["blue"],
    "leakage": COLOURS["vermillion"],
    "allowed": COLOURS["bluish_green"],
    "reference": COLOURS["grey"],
    "outline": COLOURS["dark_grey"],
}
#: Role pairs whose colours carry a meaning one must tell apart (also drawn with a second cue).
MEANING_PAIRS = (("members", "nonmembers"), ("original", "retrained"), ("forgotten", "retained"), ("pass", "fail"),
                 ("estimate", "exact"), ("accuracy", "leakage"))
#: Hatchings and line styles that repeat a colour's meaning without colour (second cues), in series order.
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
LINE_STYLES = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")


def series_hatch(index: int) -> str:
    """The hatching of a bar chart's ``index``-th series (0 first): :data:`HATCHES` in turn. The one
    rule for matplotlib's bars and the classroom pages' SVG bars, so a series is hatched alike in both.

    Example:
        >>> [series_hatch(i) for i in range(3)], series_hatch(len(HATCHES))
        (['', '//', '..'], '')
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"index={index!r} is not a series index: give an integer from 0")
    return HATCHES[index % len(HATCHES)]
