"""The loss and the confidence attacks draw one ROC curve (notebook 02 says so under its figure)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from qmu_kit.leakage.attacks import Observations, ThresholdAttack
from qmu_kit.leakage.signals import EPS


def test_loss_and_confidence_order_samples_identically(rng):
    """``-log p_y`` is a decreasing function of ``p_y``: wherever ``p_y`` is at least the clip EPS the two
    scores rank every sample the same way, so the ROC points and the AUC agree exactly; the entropy
    attack, which ignores the label, draws another curve."""
    logits = rng.normal(scale=4.0, size=(400, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = np.maximum(probs, 10 * EPS)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 10, size=400)
    member = rng.random(400) < 0.5
    observations = Observations(probs=probs, labels=labels)
    scores = {name: ThresholdAttack(name).score(observations) for name in ("loss", "confidence", "entropy")}
    loss_curve, confidence_curve = roc_curve(member, scores["loss"]), roc_curve(member, scores["confidence"])
    np.testing.assert_array_equal(loss_curve[0], confidence_curve[0])
    np.testing.assert_array_equal(loss_curve[1], confidence_curve[1])
    assert roc_auc_score(member, scores["loss"]) == roc_auc_score(member, scores["confidence"])
    assert roc_auc_score(member, scores["entropy"]) != roc_auc_score(member, scores["loss"])
