"""Numbers with their uncertainty: every rate and AUC the kit reports travels as an :class:`Estimate`.

This module is the kit's one place for its statistical rules (the statistics guide, `docs/guides/statistics.md`,
describes them for readers):

- a **proportion** ``k / n`` (accuracy, MIA success, a flag rate, a TPR) gets a Wilson 95 % interval;
- an **AUC** gets a DeLong 95 % interval and a two-sided p-value against 0.5 (Mann-Whitney U: exact
  for small, tie-free samples);
- a **TPR at a target FPR** says the lowest FPR its non-members can measure (``1 / n_nonmembers``);
  below that it is "the TPR at zero false positives" (:class:`TprAtFpr`);
- a **mean over seeds** gets a Student-t 95 % interval, and a **paired difference** (the same models
  measured two ways, e.g. at two shot counts) a paired t-interval and p-value.

Over seeds there is one function per statistic, and every layer calls these:

- :func:`mean`: the mean of per-seed numbers with its t-interval (any number: an AUC, a distance, a step count);
- :func:`rate_over_seeds`: a rate's mean whose interval also covers the Wilson interval of the counts
  pooled over seeds (a proportion of a counted set: accuracies, flag rates, TPRs);
- :func:`mean_of_estimates`: the mean of per-seed :class:`Estimate` s, where a single seed keeps its own
  interval (its DeLong or Wilson interval) instead of having none;
- :func:`mean_auc_vs_chance`: the mean of per-seed AUCs with its t-interval and the one-sample t-test's
  p-value against 0.5, what :func:`qmu_kit.report.claims.auc_claim` needs to call an AUC over seeds;
- :func:`paired_difference`: the same seeds measured two ways.

A statistic without a closed form gets a percentile bootstrap (:func:`bootstrap`); one computed on
samples that share their items (``K`` models, each measured on the same ``n`` examples) gets a
bootstrap that resamples the models and the examples together (:func:`crossed_bootstrap`).

It depends on numpy and scipy only, so every layer of the kit may use it.

Example:
    >>> rate = proportion(27, 30)
    >>> print(rate)
    0.90 [0.74, 0.97] (n=30)
    >>> [round(x, 3) for x in rate.to_dict()["ci95"]]
    [0.744, 0.965]
    >>> Estimate.from_dict(rate.to_dict()) == rate
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The confidence level of every interval the kit reports.
CONFIDENCE = 0.95
_Z = 1.959963984540054  # the standard normal's 97.5 % quantile


@dataclass(frozen=True)
class Estimate:
    """A measured number, the number of samples behind it and its 95 % interval.

    Attributes:
        value: the point estimate (``nan`` when nothing could be measured, e.g. ``n = 0``).
        n: how many samples (or seeds, for a mean over seeds) it rests on.
        ci95: the 95 % interval ``(low, high)``.
        kind: how the interval was made: ``"proportion"`` (Wilson), ``"auc"`` (DeLong),
            ``"mean"`` (Student t over ``n`` values), ``"difference"`` (paired t), ``"bootstrap"``.
        p_value: where a chance baseline exists (AUC 0.5, a difference of 0), the two-sided p-value
            against it; otherwise ``None``.
    """

    value: float
    n: int
    ci95: tuple[float, float]
    kind: str = "proportion"
    p_value: float | None = None

    @property
    def half_width(self) -> float:
        """Half the interval's width (the "±" of a symmetric interval)."""
        return (self.ci95[1] - self.ci95[0]) / 2

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the 95 % interval."""
        return self.ci95[0] <= x <= self.ci95[1]

    def to_dict(self) -> dict:
        """JSON-ready: ``{"value", "n", "ci95": [low, high], "kind"}`` plus ``"p_value"`` when there is one."""
        out = {"value": _plain(self.value), "n": int(self.n), "ci95": [_plain(self.ci95[0]), _plain(self.ci95[1])], "kind": self.kind}
        if self.p_value is not None:
            out["p_value"] = _plain(self.p_value)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Estimate":
        """The inverse of :meth:`to_dict`."""
        low, high = data["ci95"]
        return cls(_number(data["value"]), int(data["n"]), (_number(low), _number(high)), data.get("kind", "proportion"),
                   None if data.get("p_value") is None else _number(data["p_value"]))

    def format(self, digits: int = 2, percent: bool = False) -> str:
        """``value [low, high] (n=N)``; ``percent=True`` writes the numbers as percentages."""
        scale, unit = (100, " %") if percent else (1, "")
        if math.isnan(self.value):
            return f"n/a (n={self.n})"
        v, lo, hi = (x * scale for x in (self.value, *self.ci95))
        if math.isnan(lo) or math.isnan(hi):
            return f"{v:.{digits}f}{unit} (n={self.n}, no interval)"
        return f"{v:.{digits}f}{unit} [{lo:.{digits}f}, {hi:.{digits}f}] (n={self.n})"

    def __str__(self) -> str:
        return self.format()


def _plain(x: float) -> float | None:
    """JSON has no NaN: ``None`` stands for it."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _number(x) -> float:
    return float("nan") if x is None else float(x)


NAN_INTERVAL = (float("nan"), float("nan"))


def proportion(successes: int, n: int) -> Estimate:
    """``successes / n`` with its Wilson 95 % interval (``nan`` for ``n = 0``).

    Wilson's interval stays inside [0, 1] and keeps its coverage near 0 and 1, where the usual
    ``p ± 1.96 sqrt(p(1-p)/n)`` collapses to a point (0 of 30 is not "exactly 0").

    Example:
        >>> print(proportion(0, 30))
        0.00 [0.00, 0.11] (n=30)
    """
    successes, n = int(successes), int(n)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"successes={successes} of n={n} is not a proportion: need 0 <= successes <= n")
    if n == 0:
        return Estimate(float("nan"), 0, NAN_INTERVAL)
    p = successes / n
    denominator = 1 + _Z**2 / n
    centre = (p + _Z**2 / (2 * n)) / denominator
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / denominator
    # At 0 (or n) successes Wilson's bound is exactly 0 (or 1); floating point leaves ~1e-17 of dust.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Estimate(p, n, (low, high))


def rate(flags) -> Estimate:
    """The fraction of true values in a boolean array, as a :func:`proportion`.

    Example:
        >>> rate([True, False, True, True]).value
        0.75
    """
    flags = np.asarray(flags, dtype=bool)
    return proportion(int(flags.sum()), flags.size)


def auc(member_scores, nonmember_scores) -> Estimate:
    """ROC AUC (higher score = member) with DeLong's 95 % interval and a p-value against 0.5.

    ``n`` is the number of members plus non-members. The p-value is the two-sided Mann-Whitney U
    test's (the AUC is U divided by ``n_members * n_nonmembers``).

    Example:
        >>> estimate = auc([0.9, 0.8, 0.7, 0.4], [0.1, 0.5, 0.3, 0.2])
        >>> round(estimate.value, 3), estimate.n, estimate.p_value < 0.05  # 4 vs 4 samples: not enough to rule out chance
        (0.938, 8, False)
    """
    from scipy.stats import mannwhitneyu, rankdata

    x = np.asarray(member_scores, dtype=float).ravel()
    y = np.asarray(nonmember_scores, dtype=float).ravel()
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        return Estimate(float("nan"), m + n, NAN_INTERVAL, "auc")
    # DeLong et al. (1988) via midranks (Sun & Xu 2014): structural components of each sample.
    ranks_all = rankdata(np.r_[x, y])
    value = (ranks_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (ranks_all[:m] - rankdata(x)) / n  # for each member: fraction of non-members below it
    v01 = 1 - (ranks_all[m:] - rankdata(y)) / m  # for each non-member: fraction of members above it
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    half = _Z * math.sqrt(max(var, 0.0))
    p_value = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return Estimate(float(value), m + n, (max(0.0, value - half), min(1.0, value + half)), "auc", p_value)


@dataclass(frozen=True)
class TprAtFpr:
    """The true-positive rate at a target false-positive rate, honest about what ``n`` can measure.

    With ``n`` non-members the smallest non-zero FPR is ``1/n``: a TPR "at 0.1 % FPR" on 300
    non-members is really the TPR at zero false positives, and says so (:attr:`at_zero_false_positives`).

    Attributes:
        target_fpr: the FPR asked for.
        tpr: the TPR over the members (a :func:`proportion`), at the largest threshold whose FPR does
            not exceed the target on the given non-members: the threshold is chosen on the same
            non-members it reports the FPR of, so a fresh non-member's expected FPR is
            ``(floor(target n) + 1) / (n + 1)``, above the target (1.3 % for 1 % and n = 300).
        lowest_measurable_fpr: ``1 / n_nonmembers``.
        at_zero_false_positives: the target is below ``lowest_measurable_fpr``.
    """

    target_fpr: float
    tpr: Estimate
    lowest_measurable_fpr: float
    at_zero_false_positives: bool

    def label(self) -> str:
        """E.g. ``TPR at 1 % FPR`` or ``TPR at zero false positives (target 0.1 % FPR, lowest measurable 3.3 %)``."""
        target = f"{self.target_fpr * 100:g} % FPR"
        if self.at_zero_false_positives:
            return f"TPR at zero false positives (target {target}, lowest measurable {self.lowest_measurable_fpr * 100:.2g} %)"
        return f"TPR at {target}"

    def to_dict(self) -> dict:
        return {"target_fpr": self.target_fpr, "tpr": self.tpr.to_dict(), "lowest_measurable_fpr": self.lowest_measurable_fpr,
                "at_zero_false_positives": self.at_zero_false_positives}

    @classmethod
    def from_dict(cls, data: dict) -> "TprAtFpr":
        return cls(float(data["target_fpr"]), Estimate.from_dict(data["tpr"]), float(data["lowest_measurable_fpr"]),
                   bool(data["at_zero_false_positives"]))


def tpr_at_fpr(member_scores, nonmember_scores, target_fpr: float) -> TprAtFpr:
    """The TPR at ``target_fpr`` (higher score = member), as :class:`TprAtFpr`.

    Example:
        >>> result = tpr_at_fpr([0.9, 0.8, 0.3], [0.1, 0.2, 0.85, 0.4], 0.01)
        >>> result.tpr.value, result.at_zero_false_positives, result.lowest_measurable_fpr
        (0.333..., True, 0.25)
    """
    x = np.asarray(member_scores, dtype=float).ravel()
    y = np.sort(np.asarray(nonmember_scores, dtype=float).ravel())
    if len(x) == 0 or len(y) == 0:
        return TprAtFpr(target_fpr, Estimate(float("nan"), len(x), NAN_INTERVAL), float("nan"), True)
    allowed_false = math.floor(target_fpr * len(y) + 1e-9)  # non-members allowed above the threshold
    # Flag "member" when score > threshold; the threshold sits at the (allowed_false+1)-th highest non-member.
    threshold = y[len(y) - 1 - allowed_false] if allowed_false < len(y) else -np.inf
    lowest = 1 / len(y)
    return TprAtFpr(target_fpr, rate(x > threshold), lowest, target_fpr < lowest)


def mean(values, bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean of ``values`` (NaN and ``None`` dropped) with its Student-t 95 % interval (``kind="mean"``).

    One value has no interval (``nan`` bounds: a single seed says nothing about the spread between
    seeds); none gives a ``nan`` value too. ``bounds`` cuts the interval to the range
    the quantity can take (``(0, 1)`` for a mean of rates: five seeds at 0.97-1.00 give an interval
    that would otherwise reach past 1).

    Example:
        >>> print(mean([0.4, 0.6]))
        0.50 [-0.77, 1.77] (n=2)
        >>> print(mean([0.4, 0.6], bounds=(0, 1)))
        0.50 [0.00, 1.00] (n=2)
        >>> print(mean([0.7]))
        0.70 (n=1, no interval)
    """
    from scipy import stats

    values = np.asarray([v for v in values if v is not None and v == v], dtype=float)
    if len(values) == 0:
        return Estimate(float("nan"), 0, NAN_INTERVAL, "mean")
    centre = float(values.mean())
    if len(values) == 1:
        return Estimate(centre, 1, NAN_INTERVAL, "mean")
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    low, high = centre - half, centre + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(centre, len(values), (low, high), "mean")


def rate_over_seeds(values: Sequence[float], counts: Sequence[int | None] = ()) -> Estimate:
    """A rate's mean over seeds, its interval covering both the seed-to-seed t-interval (:func:`mean`)
    and the Wilson interval of the counts pooled over seeds (:func:`proportion`), clipped to [0, 1].

    Seeds that happen to agree (five forget-set accuracies of 0.00) have no spread, but each rests on a
    finite sample: the pooled interval keeps the estimate from claiming a zero-width certainty.
    ``counts`` are the samples each seed's rate rests on (``None`` or 0 where unknown).

    Example:
        >>> print(rate_over_seeds([0.5, 0.5], [4, 4]))   # two agreeing seeds, 4 samples each
        0.50 [0.22, 0.78] (n=2)
        >>> print(rate_over_seeds([0.5], [8]))           # one seed: its Wilson interval
        0.50 [0.22, 0.78] (n=1)
        >>> print(rate_over_seeds([0.0, 0.0, 0.0], [30, 30, 30]))
        0.00 [0.00, 0.04] (n=3)
    """
    spread = mean(values)
    if spread.n == 0:
        return spread
    low, high = spread.ci95
    if math.isnan(low):  # one seed has no seed-to-seed interval: the pooled Wilson interval alone speaks
        low, high = math.inf, -math.inf
    pairs = [(v, n) for v, n in zip(values, counts) if n and not math.isnan(v)]
    if not pairs and spread.n == 1:
        return spread
    if pairs:
        pooled = proportion(int(round(sum(v * n for v, n in pairs))), int(sum(n for _, n in pairs)))
        low, high = min(low, pooled.ci95[0]), max(high, pooled.ci95[1])
    return Estimate(spread.value, spread.n, (max(0.0, low), min(1.0, high)), "mean")


def mean_of_estimates(estimates: Sequence[Estimate], bounds: tuple[float, float] | None = None) -> Estimate:
    """The mean over seeds of per-seed estimates: :func:`mean` of their values, except that a single
    estimate is returned as it is, keeping its own interval (one seed's DeLong or Wilson interval says
    more than the ``nan`` interval of a mean over one value).

    Example:
        >>> one = auc([0.9, 0.8, 0.7, 0.4], [0.1, 0.5, 0.3, 0.2])
        >>> mean_of_estimates([one]) == one
        True
        >>> print(mean_of_estimates([proportion(6, 10), proportion(8, 10)], bounds=(0, 1)))
        0.70 [0.00, 1.00] (n=2)
    """
    if len(estimates) == 1:
        return estimates[0]
    return mean([e.value for e in estimates], bounds=bounds)


def mean_auc_vs_chance(values) -> Estimate:
    """The mean of per-seed AUCs with its t-interval (cut to [0, 1]) and the one-sample t-test's
    two-sided p-value against 0.5 (:func:`paired_difference` against a constant 0.5), so that
    :func:`qmu_kit.report.claims.auc_claim` can call it better than, worse than or like a coin flip.
    NaN and ``None`` are dropped.

    Example:
        >>> estimate = mean_auc_vs_chance([0.61, 0.58, 0.63, 0.60, 0.59])
        >>> round(estimate.value, 3), estimate.n, estimate.kind, estimate.p_value < 0.001
        (0.602, 5, 'mean', True)
    """
    values = np.asarray([v for v in values if v is not None and v == v], dtype=float)
    difference = paired_difference(values, np.full(len(values), 0.5), bounds=(-0.5, 0.5))  # an AUC lies in [0, 1]
    low, high = difference.ci95
    return Estimate(difference.value + 0.5, difference.n, (low + 0.5, high + 0.5), "mean", difference.p_value)


def paired_difference(a, b, bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean of ``a - b`` over pairs (the same seeds or models measured two ways), with a paired
    t-interval and the paired t-test's two-sided p-value against no difference.

    ``bounds`` cuts the interval as in :func:`mean`: ``(-1, 1)`` for a difference of two rates (SSD's
    forget accuracy at 0 or 1 over five seeds gives a t-interval reaching past 1 otherwise).

    Example:
        >>> d = paired_difference([0.60, 0.62, 0.58, 0.61, 0.63], [0.55, 0.56, 0.55, 0.57, 0.58])
        >>> round(d.value, 3), d.p_value < 0.01
        (0.046, True)
        >>> print(paired_difference([1, 1, 1, 1, 0], [0, 0, 0, 0, 0], bounds=(-1, 1)))
        0.80 [0.24, 1.00] (n=5)
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same shape, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = a[keep] - b[keep]
    centre = mean(diff, bounds)
    p_value = None
    if len(diff) > 1:
        p_value = 1.0 if np.all(diff == diff[0]) and diff[0] == 0 else float(stats.ttest_1samp(diff, 0.0).pvalue)
    return Estimate(centre.value, centre.n, centre.ci95, "difference", p_value)


def bootstrap(statistic, *samples, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """``statistic(*samples)`` with a percentile-bootstrap 95 % interval (each sample resampled
    independently, i.e. stratified by sample), for statistics without a closed-form interval.

    Example:
        >>> est = bootstrap(np.median, np.arange(101.0), n_resamples=200)
        >>> est.value, est.kind, est.ci95[0] < 50 < est.ci95[1]
        (50.0, 'bootstrap', True)
    """
    arrays = [np.asarray(s) for s in samples]
    value = float(statistic(*arrays))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        draws.append(statistic(*[a[rng.integers(0, len(a), len(a))] for a in arrays]))
    return _bootstrap_estimate(value, draws, sum(len(a) for a in arrays), centred=False)


def crossed_bootstrap(statistic, *samples, n_resamples: int = 1000, seed: int = 0, chunk: int = 100,
                      bounds: tuple[float, float] | None = None) -> Estimate:
    """``statistic(*samples)`` for samples that share their columns (rows: units such as trained
    models, one set per sample; columns: the same items, such as examples, in every sample), with a
    95 % interval from resampling both the rows and the columns.

    When every item is measured on the same units, a unit that runs high shifts every item at once,
    and an interval that resamples the items alone misses that variation (it undercovers as soon as
    the units differ). Each resample here draws every sample's rows independently and one set of
    columns for all samples (a crossed, "pigeonhole" bootstrap). Drawing rows with replacement
    duplicates units, which moves statistics that compare samples (duplicated outputs are easier to
    tell apart), so the resampled values are used for their spread only: the interval is
    ``value + (q_2.5, q_97.5)`` of the resampled values minus their mean. Resampling both factors
    adds their interaction twice, so the interval errs on the wide side.

    Args:
        statistic: vectorized over resamples: takes arrays ``(B, rows_i, columns)``, one per sample,
            and returns ``B`` values (the estimate itself is its value on ``B = 1``).
        samples: 2-D arrays ``(rows_i, columns)`` with the same number of columns.
        n_resamples: resamples drawn.
        seed: the resampling seed.
        chunk: resamples passed to ``statistic`` at once (bounds the memory it needs; the
            numbers do not depend on it).
        bounds: the range the statistic can take: the interval is cut to it (the spread placed at
            an estimate near a bound can otherwise reach past it), as :func:`mean` does.

    Returns:
        An :class:`Estimate` whose ``n`` is the number of columns.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(8, 1)) + rng.normal(size=(8, 50))   # 8 units, 50 items, a unit effect
        >>> crossed = crossed_bootstrap(lambda a: a.mean(axis=(1, 2)), x, n_resamples=300)
        >>> items_only = bootstrap(np.mean, x.mean(axis=0), n_resamples=300)
        >>> crossed.n, crossed.half_width > 2 * items_only.half_width
        (50, True)
    """
    arrays = [np.asarray(s, dtype=float) for s in samples]
    if not arrays or any(a.ndim != 2 or len(a) == 0 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
        raise ValueError(f"expected 2-D samples (rows, columns) with at least one row and the same columns, "
                         f"got shapes {[a.shape for a in arrays]}")
    for name, count in (("n_resamples", n_resamples), ("chunk", chunk)):
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"{name}={count!r} is out of range: {name} must be an integer >= 1")
    columns = arrays[0].shape[1]
    value = float(np.asarray(statistic(*[a[None] for a in arrays]), dtype=float).reshape(-1)[0])
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, columns, (n_resamples, 1, columns))  # drawn up front: chunk changes no number
    rows = [rng.integers(0, len(a), (n_resamples, len(a), 1)) for a in arrays]
    draws = []
    for start in range(0, n_resamples, chunk):
        part = slice(start, min(start + chunk, n_resamples))
        resampled = [a[r[part], picked[part]] for a, r in zip(arrays, rows)]
        draws.append(np.asarray(statistic(*resampled), dtype=float).reshape(-1))
    return _bootstrap_estimate(value, np.concatenate(draws), columns, centred=True, bounds=bounds)


def _bootstrap_estimate(value: float, draws, n: int, centred: bool, bounds: tuple[float, float] | None = None) -> Estimate:
    """The bootstrap :class:`Estimate` from the resampled values (``nan`` ones dropped): their
    percentile interval, or with ``centred`` their spread around their mean placed at ``value``;
    cut to ``bounds`` when given."""
    draws = np.asarray(draws, dtype=float)
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return Estimate(value, n, NAN_INTERVAL, "bootstrap")
    if centred:
        draws = value + (draws - draws.mean())
    low, high = (float(q) for q in np.quantile(draws, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]))
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(value, n, (low, high), "bootstrap")


__all__ = ["CONFIDENCE", "Estimate", "TprAtFpr", "auc", "bootstrap", "crossed_bootstrap", "mean", "mean_auc_vs_chance", "mean_of_estimates", "paired_difference", "proportion", "rate", "rate_over_seeds", "tpr_at_fpr"]
