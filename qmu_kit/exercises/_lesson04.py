"""Lesson 04 (shots, privacy and stability): the exercises' checks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from qmu_kit.core.stats import Estimate
from qmu_kit.exercises._checks import Feedback, answer_in, as_number, exercise, hint
from qmu_kit.exercises._readings import close, half_width_factor, t_factor_ratio


def narrowing(id: str, answer, n_top: int, n_bottom: int) -> Feedback | str:
    """The shared check of "how many times wider is a 95 % t-interval over ``n_top`` seeds than over
    ``n_bottom`` seeds" (lessons 04, 05 and 07): the ``1/sqrt(n)`` part and the t factor both count."""
    if min(n_top, n_bottom) < 2:
        raise hint("one seed gives no t-interval at all: rerun with n_seeds of 2 or more, then compare")
    value = as_number(answer, "the ratio of the two half-widths", low=0)
    target = half_width_factor(n_top, n_bottom)
    if close(value, target):
        return Feedback(id, True, f"a t-interval's half-width is t(0.975, n-1) s / sqrt(n): from {n_top} to {n_bottom} seeds "
                                  "the square root and the t factor both change.")
    if not close(target, 1.0) and close(value, 1 / target):
        return f"that is the ratio the other way round: divide the half-width at {n_top} seeds by the one at {n_bottom}."
    if close(value, math.sqrt(n_bottom / n_top)):
        return "that is the 1/sqrt(n) part alone: the t factor t(0.975, n-1) depends on the number of seeds too."
    if close(value, t_factor_ratio(n_top, n_bottom)):
        return "that is the t factor alone: the 1/sqrt(n) part changes with the number of seeds too."
    if close(value, n_bottom / n_top):
        return "an interval narrows like the square root of the number of seeds, not like the number itself."
    return ("work out t(0.975, n-1) / sqrt(n) at both seed counts (scipy.stats.t.ppf(0.975, n - 1)) and divide; "
            "the spread s between seeds cancels.")


@exercise("04.1", "How many times wider is a paired 95 % interval over this run's n_seeds than over 8 seeds, "
                  "if the seeds spread as much as now (a number)?")
def _bands_at_eight_seeds(answer, *, n_seeds: int):
    return narrowing("04.1", answer, n_seeds, 8)


def _shots_text(shots) -> str:
    return "exact" if shots is None else f"{shots}"


@exercise("04.2", "The fewest swept shots whose mean test accuracy keeps its whole 95 % interval above the "
                  "required accuracy (a shot count, 'exact', or 'none')?")
def _fewest_shots(answer, *, accuracy: Mapping, required: float = 0.90):
    """``accuracy``: shots (``None`` for exact) -> the mean test accuracy over seeds (an :class:`Estimate`)."""
    swept = sorted(accuracy, key=lambda s: math.inf if s is None else s)
    allowed = ", ".join(_shots_text(s) for s in swept)
    if isinstance(answer, str) and answer.strip().lower() in ("exact", "none"):
        said = None if answer.strip().lower() == "exact" else "none"
    else:
        number = as_number(answer, "a number of shots", low=1)
        said = int(number) if number.is_integer() else number
    keeping = [s for s in swept if accuracy[s].ci95[0] > required]
    fewest = keeping[0] if keeping else "none"
    if said == fewest:
        text = (f"at {_shots_text(fewest)} shots the test accuracy's interval lies wholly above {required:g}; report the "
                "attack's AUC there with its interval: the leakage it leaves." if keeping else
                f"no swept shot count keeps the whole interval above {required:g}, not even exact outputs.")
        return Feedback("04.2", True, text)
    if said == "none":
        return f"read the lower ends of the accuracy intervals: is any of them above {required:g}?"
    if said not in accuracy:
        raise hint(f"answer with one of the swept shot counts ({allowed}) or 'none'; {answer!r} was not swept")
    chosen: Estimate = accuracy[said]
    if said in keeping:
        return (f"at {_shots_text(said)} shots the interval does stay above {required:g}, and so it does at fewer "
                "shots: a deployed model should not spend more shots than it needs.")
    if chosen.value >= required:
        return (f"at {_shots_text(said)} shots the mean is at least {required:g}, but its 95 % interval reaches below: "
                "'must keep' asks the whole interval, not only the point estimate, to stay above.")
    return f"at {_shots_text(said)} shots the mean test accuracy itself is below {required:g}."


@exercise("04.3", "Why can GA fall short of the retrained model's forget-set accuracy even with exact outputs: "
                  "'shot noise', 'epochs run out' or 'it overshoots'?")
def _why_ga_falls_short(answer, *, ga_exact: Sequence[float], target: float):
    """``ga_exact``: GA's forget-set accuracy in every exact run; ``target``: the retrained model's level."""
    said = answer_in(answer, ("shot noise", "epochs run out", "it overshoots"), "why GA falls short")
    short = sum(value > target for value in ga_exact)
    if said == "epochs run out":
        return Feedback("04.3", True, f"GA stops at the target or when its epochs run out, whichever comes first; "
                                      f"{short} of {len(ga_exact)} exact runs here ended above the target.")
    if said == "shot noise":
        if short:
            return (f"with exact outputs there is no shot noise, yet {short} of {len(ga_exact)} GA runs ended above the "
                    "target here: what else ends a GA run?")
        return "with exact outputs there is no shot noise at all: what else ends a GA run before it reaches the target?"
    return ("overshooting would leave the forget-set accuracy below the target, not short of it above; "
            "and GA stops once it reaches the target.")
