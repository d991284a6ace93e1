"""Membership-inference metrics on a balanced member / non-member split (scikit-learn's functions).

Reported (Carlini et al. 2022, "Membership Inference Attacks From First Principles"): attack accuracy,
ROC AUC, the true-positive rate at 1 % and 0.1 % false-positive rate, and the ROC curve itself for a
log-log plot. With ``n`` non-members the smallest non-zero FPR is ``1/n``; a TPR "at 0.1 % FPR" on
fewer than 1000 non-members is the TPR at zero false positives.

Example:
    >>> import numpy as np
    >>> m = membership_metrics(np.array([0.9, 0.8, 0.4]), np.array([0.1, 0.5, 0.3]))
    >>> round(m.auc, 3), m.n_members
    (0.889, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Largest TPR reached without exceeding ``target`` FPR on the ROC curve."""
    allowed = fpr <= target + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


@dataclass(frozen=True)
class MembershipMetrics:
    """Attack quality on one member / non-member evaluation set.

    Attributes:
        auc: ROC AUC of the scores (0.5 = guessing).
        accuracy: accuracy of the attack's member/non-member flags on the balanced set (``nan``
            when no flags were given).
        tpr_at_1pct_fpr, tpr_at_0_1pct_fpr: TPR at the given FPR.
        fpr, tpr: the ROC curve.
        n_members, n_nonmembers: evaluation set sizes (equal after balancing).
    """

    auc: float
    accuracy: float
    tpr_at_1pct_fpr: float
    tpr_at_0_1pct_fpr: float
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    n_members: int
    n_nonmembers: int

    def to_dict(self, curve: bool = True) -> dict:
        out = asdict(self)
        if curve:
            out["fpr"], out["tpr"] = list(self.fpr), list(self.tpr)
        else:
            del out["fpr"], out["tpr"]
        return out


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
    scores = np.r_[member_scores, nonmember_scores]
    fpr, tpr, _ = roc_curve(truth, scores)
    accuracy = float("nan")
    if member_flags is not None and nonmember_flags is not None:
        flags = np.r_[np.asarray(member_flags, bool), np.asarray(nonmember_flags, bool)]
        accuracy = float((flags == truth.astype(bool)).mean())
    return MembershipMetrics(
        auc=float(roc_auc_score(truth, scores)),
        accuracy=accuracy,
        tpr_at_1pct_fpr=tpr_at_fpr(fpr, tpr, 0.01),
        tpr_at_0_1pct_fpr=tpr_at_fpr(fpr, tpr, 0.001),
        fpr=tuple(float(v) for v in fpr),
        tpr=tuple(float(v) for v in tpr),
        n_members=len(member_scores),
        n_nonmembers=len(nonmember_scores),
    )


def balanced_indices(n_members: int, n_nonmembers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index subsets of equal size (the smaller group's), drawn with ``seed``."""
    size = min(n_members, n_nonmembers)
    rng = np.random.default_rng(seed)
    pick = lambda n: np.sort(rng.choice(n, size, replace=False))  # noqa: E731
    return pick(n_members), pick(n_nonmembers)
