"""Membership-inference metrics on a balanced member / non-member split.

Reported (Carlini et al. 2022, "Membership Inference Attacks From First Principles"): attack accuracy,
ROC AUC, the true-positive rate at 1 % and 0.1 % false-positive rate, and the ROC curve itself for a
log-log plot. Every rate and the AUC is a :class:`~qmu_kit.core.stats.Estimate` (value, sample count, 95 %
interval; the AUC also a p-value against 0.5). With ``n`` non-members the smallest non-zero FPR is
``1/n``; a TPR "at 0.1 % FPR" on fewer than 1000 non-members is the TPR at zero false positives, and
its :class:`~qmu_kit.core.stats.TprAtFpr` says so.

The TPR at a low FPR sets its threshold on the same non-members whose FPR it reports (the kit's
choice; every recorded TPR is computed this way). That in-sample threshold is optimistic: at the
``(k + 1)``-th highest of ``n`` non-member scores (``k = floor(f n)``), a fresh non-member lands above
it with probability ``(k + 1) / (n + 1)`` on average, e.g. 1.3 % rather than 1 % for ``f = 1 %`` and
``n = 300``; so the reported TPR belongs to a slightly higher true FPR than its label says.

Example:
    >>> import numpy as np
    >>> m = membership_metrics(np.array([0.9, 0.8, 0.4]), np.array([0.1, 0.5, 0.3]))
    >>> round(m.auc.value, 3), m.n_members, m.tpr_at_1pct_fpr.at_zero_false_positives
    (0.889, 3, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_curve

from qmu_kit.core import stats
from qmu_kit.core.stats import Estimate, TprAtFpr

#: Decimals the ROC curves are stored with (a curve is for plotting; k/n fractions need no more).
ROC_DECIMALS = 5


@dataclass(frozen=True)
class MembershipMetrics:
    """Attack quality on one member / non-member evaluation set.

    Attributes:
        auc: ROC AUC of the scores (0.5 = guessing), with its DeLong interval and p-value vs 0.5.
        accuracy: share of correct member/non-member flags on the balanced set (``nan`` when no
            flags were given).
        tpr_at_1pct_fpr, tpr_at_0_1pct_fpr: TPR at the given FPR, with the lowest FPR ``n`` can measure;
            the threshold is set on these same non-members (in-sample, see the module docstring).
        fpr, tpr: the ROC curve (the one place curves are stored).
        n_members, n_nonmembers: evaluation set sizes (equal after balancing).
    """

    auc: Estimate
    accuracy: Estimate
    tpr_at_1pct_fpr: TprAtFpr
    tpr_at_0_1pct_fpr: TprAtFpr
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    n_members: int
    n_nonmembers: int

    def to_dict(self, curve: bool = True) -> dict:
        """JSON-ready (the estimates as :meth:`~qmu_kit.core.stats.Estimate.to_dict`, the curve as lists;
        ``curve=False`` leaves the curve out, for records that never plot it)."""
        out = {
            "auc": self.auc.to_dict(), "accuracy": self.accuracy.to_dict(),
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr.to_dict(), "tpr_at_0_1pct_fpr": self.tpr_at_0_1pct_fpr.to_dict(),
            "n_members": self.n_members, "n_nonmembers": self.n_nonmembers,
        }
        if curve:
            out["fpr"], out["tpr"] = list(self.fpr), list(self.tpr)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "MembershipMetrics":
        """The inverse of :meth:`to_dict`."""
        return cls(
            Estimate.from_dict(data["auc"]), Estimate.from_dict(data["accuracy"]),
            TprAtFpr.from_dict(data["tpr_at_1pct_fpr"]), TprAtFpr.from_dict(data["tpr_at_0_1pct_fpr"]),
            tuple(float(v) for v in data.get("fpr", ())), tuple(float(v) for v in data.get("tpr", ())),
            int(data["n_members"]), int(data["n_nonmembers"]),
        )


def membership_metrics(
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    member_flags: np.ndarray | None = None,
    nonmember_flags: np.ndarray | None = None,
) -> MembershipMetrics:
    """Metrics for scores where higher means "member".

    Args:
        member_scores, nonmember_scores: attack scores of true members and true non-members.
        member_flags, nonmember_flags: the attack's binary decisions on the same samples, for
            accuracy.
    """
    member_scores, nonmember_scores = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError(
            f"membership metrics need members and non-members, got {len(member_scores)} and {len(nonmember_scores)}"
        )
    truth = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    fpr, tpr, _ = roc_curve(truth, np.r_[member_scores, nonmember_scores])
    accuracy = stats.proportion(0, 0)
    if member_flags is not None and nonmember_flags is not None:
        flags = np.r_[np.asarray(member_flags, bool), np.asarray(nonmember_flags, bool)]
        accuracy = stats.rate(flags == truth.astype(bool))
    return MembershipMetrics(
        auc=stats.auc(member_scores, nonmember_scores),
        accuracy=accuracy,
        tpr_at_1pct_fpr=stats.tpr_at_fpr(member_scores, nonmember_scores, 0.01),
        tpr_at_0_1pct_fpr=stats.tpr_at_fpr(member_scores, nonmember_scores, 0.001),
        fpr=tuple(round(float(v), ROC_DECIMALS) for v in fpr),
        tpr=tuple(round(float(v), ROC_DECIMALS) for v in tpr),
        n_members=len(member_scores),
        n_nonmembers=len(nonmember_scores),
    )


def balanced_indices(n_members: int, n_nonmembers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index subsets of equal size (the smaller group's), drawn with ``seed``."""
    size = min(n_members, n_nonmembers)
    rng = np.random.default_rng(seed)
    pick = lambda n: np.sort(rng.choice(n, size, replace=False))  # noqa: E731
    return pick(n_members), pick(n_nonmembers)


def prediction_distance(probs: np.ndarray, reference: np.ndarray) -> float:
    """Mean total-variation distance between two models' predicted class distributions on the same
    inputs (rows): 0 when they agree everywhere, 1 when every row puts its mass on other classes.

    Example:
        >>> prediction_distance(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, 1.0], [0.5, 0.5]]))
        0.5
    """
    return float(0.5 * np.abs(np.asarray(probs) - np.asarray(reference)).sum(1).mean())


def shot_noise_std(expval: float, shots: int | None) -> float:
    """Standard deviation of a ``shots``-shot estimate of an expectation value ``<Z>``.

    Each shot reads +1 or -1, so the average of ``S`` shots spreads by ``sqrt((1 - <Z>^2) / S)``
    around the exact value; exact readout (``shots=None``) does not spread at all.

    Args:
        expval: the exact expectation value, in [-1, 1].
        shots: the number of shots ``S``, or ``None`` for exact expectations.

    Returns:
        The standard deviation of the estimate (``0.0`` for exact readout).

    Example:
        >>> round(shot_noise_std(0.4, 100), 4)
        0.0917
        >>> shot_noise_std(0.4, None)
        0.0
    """
    return 0.0 if shots is None else float(np.sqrt((1 - expval**2) / shots))


def seed_summary(table, x: str, ys, by: str | None = None, bounds: tuple[float, float] | None = None):
    """Mean over seeds and its 95 % t-interval (:func:`qmu_kit.core.stats.mean`) of the columns ``ys``, per value of ``x``.

    Args:
        table: a pandas DataFrame with one row per run (such as a sweep's table).
        x: the column whose values are the points, e.g. ``"shots"``.
        ys: the columns to summarize.
        by: an optional column whose values are summarized separately, e.g. ``"model_name"``.
        bounds: the range the interval is cut to (``(0, 1)`` for fractions); ``None`` keeps it whole.

    Returns:
        A DataFrame indexed by ``x`` (or by ``(by, x)``), sorted, with two column levels: the
        statistic (``mean``, ``low``, ``high``, ``std`` over seeds, ``n`` values) and the column of
        ``ys``: ``summary["mean"]["auc"]`` is the mean AUC at every point.

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"shots": [10, 10, 100, 100], "seed": [0, 1, 0, 1], "auc": [0.5, 0.7, 0.6, 0.6]})
        >>> summary = seed_summary(runs, "shots", ["auc"], bounds=(0, 1))
        >>> summary["mean"]["auc"].tolist(), summary["low"]["auc"].tolist(), summary["n"]["auc"].tolist()
        ([0.6, 0.6], [0.0, 0.6], [2, 2])
    """
    import pandas as pd

    keys = [by, x] if by else [x]
    rows = {}
    for key, part in table.groupby(keys):
        row = {}
        for y in ys:
            values = pd.to_numeric(part[y]).dropna().to_numpy(dtype=float)
            mean = stats.mean(values, bounds=bounds)
            std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row.update({("mean", y): mean.value, ("low", y): mean.ci95[0], ("high", y): mean.ci95[1], ("std", y): std,
                        ("n", y): mean.n})
        rows[key if by else key[0]] = row
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.names = keys
    return summary


def format_seed_summary(summary, ys, digits: int = 2):
    """A :func:`seed_summary` as text for a printed table: each cell ``mean [low, high] (n=N)``, the
    mean over seeds with its 95 % interval and the number of seeds (a DataFrame of strings, same index).

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"shots": [10, 10, 100, 100], "seed": [0, 1, 0, 1], "auc": [0.5, 0.7, 0.6, 0.6]})
        >>> format_seed_summary(seed_summary(runs, "shots", ["auc"], bounds=(0, 1)), ["auc"])["auc"].tolist()
        ['0.60 [0.00, 1.00] (n=2)', '0.60 [0.60, 0.60] (n=2)']
    """
    import pandas as pd

    cells = {y: [stats.Estimate(mean, int(n), (low, high), "mean").format(digits)
                 for mean, low, high, n in zip(summary["mean"][y], summary["low"][y], summary["high"][y], summary["n"][y])]
             for y in ys}
    return pd.DataFrame(cells, index=summary.index)

