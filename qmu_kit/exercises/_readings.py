"""Readings several lessons' checks share: how a t-interval narrows with the seeds, where an estimate lies
against a value (another estimate: :func:`~qmu_kit.exercises._checks.compared`)."""

from __future__ import annotations

import math

from scipy import stats as scipy_stats

from qmu_kit.core.stats import Estimate


def half_width_factor(n_from: int, n_to: int) -> float:
    """How many times wider a 95 % t-interval over ``n_from`` seeds is than one over ``n_to`` seeds with
    the same spread between seeds: ``(t_{n_from-1} / sqrt(n_from)) / (t_{n_to-1} / sqrt(n_to))``.

    Example:
        >>> round(half_width_factor(5, 8), 2)
        1.49
    """
    width = lambda n: scipy_stats.t.ppf(0.975, n - 1) / math.sqrt(n)  # noqa: E731
    return float(width(n_from) / width(n_to))


def t_factor_ratio(n_from: int, n_to: int) -> float:
    """The ratio of the t factors alone, ``t_{n_from-1} / t_{n_to-1}`` (the square-root part left out)."""
    return float(scipy_stats.t.ppf(0.975, n_from - 1) / scipy_stats.t.ppf(0.975, n_to - 1))


def side_of(estimate: Estimate, value: float) -> str:
    """``"above"``, ``"below"`` or ``"includes"``: where ``estimate``'s 95 % interval lies against ``value``."""
    low, high = estimate.ci95
    return "above" if low > value else "below" if high < value else "includes"



def close(answer: float, value: float, relative: float = 0.05) -> bool:
    """``answer`` within ``relative`` of ``value`` (an answer read off a table or worked by hand)."""
    return abs(answer - value) <= relative * abs(value)
