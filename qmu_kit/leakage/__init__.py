"""Membership leakage: signals computed from a model's outputs, the attacks that turn them into
membership scores, the metrics over those scores, and the audit that fits and evaluates attacks.
Imports :mod:`qmu_kit.core` and :mod:`qmu_kit.qnn`.
"""

from qmu_kit.leakage.signals import (
    EPS,
    loss,
    confidence,
    entropy,
    scaled_logit,
    paper_features,
    MEMBERSHIP_SCORES,
)
from qmu_kit.leakage.attacks import (
    Observations,
    best_threshold,
    MembershipAttack,
    ThresholdAttack,
    PaperMLPAttack,
    LiRAOfflineAttack,
    ATTACKS,
    register,
    attack_names,
    make_attack,
    needs_reference,
    ShadowModels,
)
from qmu_kit.leakage.metrics import (
    ROC_DECIMALS,
    MembershipMetrics,
    membership_metrics,
    balanced_indices,
    prediction_distance,
    shot_noise_std,
    seed_summary,
    format_seed_summary,
)
from qmu_kit.leakage.audit import (
    AttackOutcome,
    AuditSplit,
    MembershipAudit,
    headline_attack,
)
__all__ = [
    "EPS",
    "loss",
    "confidence",
    "entropy",
    "scaled_logit",
    "paper_features",
    "MEMBERSHIP_SCORES",
    "Observations",
    "best_threshold",
    "MembershipAttack",
    "ThresholdAttack",
    "PaperMLPAttack",
    "LiRAOfflineAttack",
    "ATTACKS",
    "register",
    "attack_names",
    "make_attack",
    "needs_reference",
    "ShadowModels",
    "ROC_DECIMALS",
    "MembershipMetrics",
    "membership_metrics",
    "balanced_indices",
    "prediction_distance",
    "shot_noise_std",
    "seed_summary",
    "format_seed_summary",
    "AttackOutcome",
    "AuditSplit",
    "MembershipAudit",
    "headline_attack",
]
