"""Attack signals: per-sample numbers computed from what a gray-box attacker sees.

The attacker sees, for each queried sample, the deployed model's class-probability vector (estimated
from a finite number of shots, or exact) and knows the true label. Every function here takes
``probs`` ``(N, C)`` and ``labels`` ``(N,)`` and returns one value (or one feature row) per sample.
Nothing here knows about models, attacks or plots.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    >>> labels = np.array([0, 0])
    >>> np.round(loss(probs, labels), 3), paper_features(probs, labels).shape
    (array([0.105, 1.204]), (2, 5))
"""

from __future__ import annotations

import numpy as np

#: Probabilities are clipped here before taking logarithms: a shot-estimated softmax is never exactly
#: 0 or 1, but an exact one can underflow.
EPS = 1e-12


def _true_class(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if probs.ndim != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"expected probs (N, C) and labels (N,), got {probs.shape} and {labels.shape}")
    return probs[np.arange(len(labels)), labels]


def loss(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy loss ``-log p_y`` (members tend to have lower loss; Yeom et al. 2018)."""
    return -np.log(np.clip(_true_class(probs, labels), EPS, 1.0))


def confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Probability of the true label ``p_y``."""
    return _true_class(probs, labels)


def entropy(probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Shannon entropy of the prediction (``labels`` unused; accepted for a uniform signature)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0)
    return -(probs * np.log(probs)).sum(axis=1)


def scaled_logit(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``log p_y - log(1 - p_y)``: LiRA's statistic, close to Gaussian across models (Carlini et al. 2022)."""
    p = np.clip(_true_class(probs, labels), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def paper_features(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The paper attack's per-sample features: the C probabilities, the maximum probability, a
    correct-prediction bit and the cross-entropy loss (13 features for 10 classes)."""
    probs = np.asarray(probs, dtype=np.float64)
    correct = (probs.argmax(1) == np.asarray(labels)).astype(np.float64)
    return np.column_stack([probs, probs.max(1), correct, loss(probs, labels)])


#: Signals with the direction that makes "higher = more likely a member".
MEMBERSHIP_SCORES = {
    "loss": lambda probs, labels: -loss(probs, labels),
    "confidence": confidence,
    "entropy": lambda probs, labels: -entropy(probs),
}
