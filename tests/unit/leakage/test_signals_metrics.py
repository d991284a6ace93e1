import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from qmu_kit.leakage.metrics import MembershipMetrics, balanced_indices, membership_metrics
from qmu_kit.leakage.signals import confidence, entropy, loss, paper_features, scaled_logit


def test_signals_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 0])
    assert np.allclose(loss(probs, labels), [-np.log(0.7), -np.log(0.1)])
    assert np.allclose(confidence(probs, labels), [0.7, 0.1])
    assert np.allclose(entropy(probs), [-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)),
                                        -(2 * 0.1 * np.log(0.1) + 0.8 * np.log(0.8))])
    assert np.allclose(scaled_logit(probs, labels), [np.log(0.7 / 0.3), np.log(0.1 / 0.9)])
    features = paper_features(probs, labels)
    assert features.shape == (2, 6)
    assert np.allclose(features[:, 3], [0.7, 0.8]) and np.array_equal(features[:, 4], [1.0, 0.0])
    assert np.allclose(features[:, 5], loss(probs, labels))


def test_paper_features_have_13_columns_for_ten_classes(rng):
    probs = rng.dirichlet(np.ones(10), 5)
    assert paper_features(probs, rng.integers(0, 10, 5)).shape == (5, 13)


def test_signals_survive_saturated_probabilities():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 0])
    assert np.isfinite(loss(probs, labels)).all() and np.isfinite(scaled_logit(probs, labels)).all()
    with pytest.raises(ValueError, match=r"expected probs \(N, C\) and labels \(N,\)"):
        loss(probs, np.array([0]))


def test_metrics_match_scikit_learn(rng):
    members, nonmembers = rng.normal(1, 1, 200), rng.normal(0, 1, 200)
    metrics = membership_metrics(members, nonmembers, members > 0.5, nonmembers > 0.5)
    truth = np.r_[np.ones(200), np.zeros(200)]
    assert metrics.auc.value == pytest.approx(roc_auc_score(truth, np.r_[members, nonmembers]))
    assert metrics.auc.n == 400 and metrics.auc.ci95[0] < metrics.auc.value < metrics.auc.ci95[1]
    assert metrics.auc.p_value < 1e-6  # separated by one standard deviation on 200 vs 200 samples
    assert metrics.accuracy.value == pytest.approx(((members > 0.5).sum() + (nonmembers <= 0.5).sum()) / 400)
    assert metrics.accuracy.n == 400
    assert 0 <= metrics.tpr_at_0_1pct_fpr.tpr.value <= metrics.tpr_at_1pct_fpr.tpr.value <= 1
    # 200 non-members measure 1 % FPR (lowest 0.5 %) but not 0.1 %
    assert not metrics.tpr_at_1pct_fpr.at_zero_false_positives and metrics.tpr_at_0_1pct_fpr.at_zero_false_positives
    assert len(metrics.fpr) == len(metrics.tpr) and metrics.fpr[0] == 0 and metrics.fpr[-1] == 1
    assert set(metrics.to_dict(curve=False)) == {
        "auc", "accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr", "n_members", "n_nonmembers"
    }
    assert MembershipMetrics.from_dict(metrics.to_dict()).to_dict() == metrics.to_dict()


def test_perfect_and_useless_attacks():
    perfect = membership_metrics(np.array([2.0, 3.0]), np.array([0.0, 1.0]))
    assert perfect.auc.value == 1 and perfect.tpr_at_1pct_fpr.tpr.value == 1
    useless = membership_metrics(np.ones(50), np.ones(50))
    assert useless.auc.value == 0.5 and useless.tpr_at_1pct_fpr.tpr.value == 0
    assert useless.auc.p_value == pytest.approx(1.0)


def test_tpr_at_fpr_agrees_with_the_roc_curve(rng):
    """The TPR at a target FPR is the ROC curve's largest TPR without exceeding that FPR."""
    members, nonmembers = rng.normal(1, 1, 300), rng.normal(0, 1, 500)
    metrics = membership_metrics(members, nonmembers)
    fpr, tpr = np.asarray(metrics.fpr), np.asarray(metrics.tpr)
    for target, result in ((0.01, metrics.tpr_at_1pct_fpr), (0.001, metrics.tpr_at_0_1pct_fpr)):
        assert result.tpr.value == pytest.approx(tpr[fpr <= target + 1e-12].max(), abs=1e-5)


def test_balanced_indices_and_empty_sets():
    members, nonmembers = balanced_indices(10, 4, seed=0)
    assert len(members) == len(nonmembers) == 4 and len(set(members)) == 4
    assert np.array_equal(members, balanced_indices(10, 4, seed=0)[0])
    with pytest.raises(ValueError, match="need members and non-members, got 0 and 3"):
        membership_metrics(np.array([]), np.ones(3))
