import numpy as np
import pytest
import torch
from torch import nn

from qmu_kit.leakage.attacks import (
    ATTACKS,
    Dropout,
    LiRAOfflineAttack,
    Observations,
    PaperMLPAttack,
    ShadowModels,
    ThresholdAttack,
    best_threshold,
    make_attack,
)
from qmu_kit.leakage.audit import AuditSplit, MembershipAudit
from qmu_kit.qnn.data import prepare_data
from qmu_kit.qnn.training import QNNClassifier


def synthetic(rng, n, confident, classes=10):
    """Members get sharper predictions of their label than non-members."""
    labels = rng.integers(0, classes, n)
    logits = rng.normal(0, 1, (n, classes))
    logits[np.arange(n), labels] += 4.0 if confident else 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Observations(probs, labels)


@pytest.mark.parametrize("name", ["mlp", "loss", "confidence", "entropy"])
def test_every_attack_separates_confident_members(name, rng):
    members, nonmembers = synthetic(rng, 300, True), synthetic(rng, 300, False)
    attack = make_attack(name, seed=0).fit(members, nonmembers)
    fresh_m, fresh_n = synthetic(rng, 200, True), synthetic(rng, 200, False)
    assert attack.score(fresh_m).mean() > attack.score(fresh_n).mean()
    accuracy = (attack.predict(fresh_m).sum() + (~attack.predict(fresh_n)).sum()) / 400
    assert accuracy > 0.75


def test_mlp_attack_is_the_papers_shape_and_seeded(rng):
    members, nonmembers = synthetic(rng, 100, True), synthetic(rng, 100, False)
    first = PaperMLPAttack(seed=3).fit(members, nonmembers)
    layers = [m for m in first.network_ if hasattr(m, "weight")]
    assert [tuple(m.weight.shape) for m in layers] == [(64, 13), (64, 64), (1, 64)]
    second = PaperMLPAttack(seed=3).fit(members, nonmembers)
    assert np.array_equal(first.score(members), second.score(members))


def test_lira_compares_with_shadow_models(rng):
    n = 200
    labels = rng.integers(0, 10, n)
    shadow = np.full((3, n, 10), 0.05)
    shadow[:, np.arange(n), labels] = 0.55
    target = shadow[0].copy()
    target[: n // 2] = 0.01
    target[np.arange(n // 2), labels[: n // 2]] = 0.91  # the first half: more confident than the shadows
    observed = Observations(target, labels, shadow)
    members, nonmembers = np.arange(n // 2), np.arange(n // 2, n)
    attack = LiRAOfflineAttack().fit(observed.take(members), observed.take(nonmembers))
    scores = attack.score(observed)
    assert scores[: n // 2].min() > scores[n // 2 :].max()
    assert attack.predict(observed.take(members)).all() and not attack.predict(observed.take(nonmembers)).any()
    with pytest.raises(ValueError, match="needs shadow-model outputs"):
        attack.score(Observations(target, labels))


def test_lira_scores_every_sample_on_one_scale(rng):
    """A sample's score must not depend on which other samples are scored with it (members and
    non-members are scored in separate calls)."""
    n = 120
    labels = rng.integers(0, 10, n)
    shadow = rng.dirichlet(np.ones(10), (2, n))
    target = rng.dirichlet(np.ones(10), n)
    observed = Observations(target, labels, shadow)
    attack = LiRAOfflineAttack().fit(observed.take(np.arange(60)), observed.take(np.arange(60, n)))
    part = np.arange(10, 50)
    np.testing.assert_allclose(attack.score(observed.take(part)), attack.score(observed)[part])
    # scored alone, or next to samples with far more spread-out shadows: the same score
    alone = np.concatenate([attack.score(observed.take(np.array([i]))) for i in part])
    np.testing.assert_allclose(alone, attack.score(observed)[part])
    wild = Observations(target, labels, np.stack([shadow[0], np.roll(shadow[1], 3, axis=1) ** 4]))
    mixed = Observations(np.r_[target[part], wild.probs], np.r_[labels[part], labels],
                         np.concatenate([shadow[:, part], wild.reference], axis=1))
    np.testing.assert_allclose(attack.score(mixed)[: len(part)], attack.score(observed)[part])


def test_lira_variance_is_pooled_over_shadows_or_per_example():
    """Few shadows: one pooled within-sample sd fitted once; many: each sample's own sd."""
    rng = np.random.default_rng(5)
    n, labels = 200, np.zeros(200, dtype=int)

    def probs_for(logit):  # two classes with scaled logit `logit` on class 0
        p = 1 / (1 + np.exp(-logit))
        return np.stack([p, 1 - p], axis=-1)

    spread = np.where(np.arange(n) < n // 2, 0.5, 2.0)  # two groups with different shadow spreads
    shadow_logits = rng.normal(0.0, spread, (32, n))
    target = probs_for(np.ones(n))
    observed = Observations(target, labels, probs_for(shadow_logits))
    half = np.arange(n // 2)

    few = Observations(target, labels, observed.reference[:2])
    attack = LiRAOfflineAttack().fit(few.take(half), few.take(half + n // 2))
    deviations = shadow_logits[:2] - shadow_logits[:2].mean(0)
    assert not attack.per_example_
    assert attack.sd_ == pytest.approx(np.sqrt((deviations**2).sum() / n), rel=1e-6)

    many = LiRAOfflineAttack(per_example_shadows=16).fit(observed.take(half), observed.take(half + n // 2))
    assert many.per_example_
    scores = many.score(observed)
    expected = (1.0 - shadow_logits.mean(0)) / shadow_logits.std(0, ddof=1)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="fitted with 32 shadow models, got outputs of 2"):
        many.score(few)
    with pytest.raises(ValueError, match="per_example_shadows=1 is out of range"):
        LiRAOfflineAttack(per_example_shadows=1)


def test_threshold_choice_and_registry():
    assert best_threshold(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 3.0
    assert set(ATTACKS) == {"mlp", "loss", "confidence", "entropy", "lira"}
    with pytest.raises(ValueError, match="unknown attack 'gradient': choose one of 'mlp', 'loss'"):
        make_attack("gradient")
    with pytest.raises(ValueError, match="unknown threshold signal 'margin'"):
        ThresholdAttack("margin")


def test_shadow_models_train_on_attacker_data_only():
    data = prepare_data("digits", model="basic", n_qubits=4, n_train=300, n_test=300, seed=0)
    shadows = ShadowModels(lambda s: QNNClassifier("basic", 4, 1, epochs=1, seed=s), n_shadows=2, seed=0)
    shadows.fit(data.x_population, data.y_population)
    assert len(shadows.models_) == 2
    assert shadows.predict_proba(data.x_test[:5], shots=50, seed=1).shape == (2, 5, 10)
    with pytest.raises(ValueError, match="12 samples are left, 6 per shadow is not enough"):
        ShadowModels(lambda s: None, 1).fit(data.x_population[:12], data.y_population[:12])


class MemorizingAttack:
    """Flags exactly the samples it was fitted on: exposes any leak of fitting data into scoring."""

    def fit(self, members, nonmembers):
        self.seen_ = {tuple(np.round(p, 12)) for p in np.r_[members.probs, nonmembers.probs]}
        return self

    def score(self, observations):
        return np.array([float(tuple(np.round(p, 12)) in self.seen_) for p in observations.probs])

    def predict(self, observations):
        return self.score(observations) > 0.5


def test_audit_scores_every_sample_out_of_fold(monkeypatch, rng):
    data = prepare_data("digits", model="basic", n_qubits=4, n_train=200, n_test=200, seed=0)
    members = Observations(rng.dirichlet(np.ones(10), 200), data.y_train)
    nonmembers = Observations(rng.dirichlet(np.ones(10), 200), data.y_test)
    monkeypatch.setitem(ATTACKS, "memorize", lambda seed: MemorizingAttack())
    split = AuditSplit.draw(data, seed=0)
    audit = MembershipAudit(["memorize"], seed=0).fit(members, nonmembers, split)
    outcome = audit.evaluate(members, nonmembers)["memorize"]
    # had any attack scored a sample it was fitted on, some flags would be set
    assert outcome.mia_success_forget.value == 0 and outcome.flag_rate_forget_nonmembers.value == 0
    assert outcome.mia_success_forget.n == split.forget_members.sum()
    assert outcome.overall.accuracy.value == 0.5


def test_audit_split_folds_hold_forget_and_retain_samples():
    data = prepare_data("digits", model="basic", n_qubits=4, n_train=300, n_test=300, seed=1)
    split = AuditSplit.draw(data, seed=5)
    for fold in (0, 1):
        assert (split.forget_members & (split.member_fold == fold)).sum() >= 10
        assert (~split.forget_nonmembers & (split.nonmember_fold == fold)).sum() >= 100
    assert np.array_equal(split.member_fold, AuditSplit.draw(data, seed=5).member_fold)


def serial_bernoulli(shape, keep):
    """torch's Bernoulli kernel drawing from a tensor of probabilities: one double per element, in order."""
    return torch.bernoulli(torch.full(shape, keep, dtype=torch.float64))


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_the_attack_dropout_draws_torchs_bernoulli_masks_and_gradients(p):
    x = torch.randn(37, 64, requires_grad=True)
    torch.manual_seed(4)
    out = Dropout(p)(x)
    after = torch.get_rng_state()
    torch.manual_seed(4)
    noise = serial_bernoulli(x.shape, 1 - p).float().div_(1 - p) if 0 < p < 1 else torch.full(x.shape, float(p == 0))
    assert torch.equal(out, x * noise) and torch.equal(torch.get_rng_state(), after)  # same draws, no more, no fewer
    out.sum().backward()
    assert torch.equal(x.grad, noise)
    assert torch.equal(Dropout(p).eval()(x), x)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        Dropout(1.5)


def test_the_mlp_attack_trains_as_with_torchs_dropout_to_the_last_bit(rng, monkeypatch):
    members, nonmembers = synthetic(rng, 150, True), synthetic(rng, 120, False)
    fast = PaperMLPAttack(seed=5).fit(members, nonmembers)
    monkeypatch.setattr("qmu_kit.leakage.attacks.Dropout", nn.Dropout)
    reference = PaperMLPAttack(seed=5).fit(members, nonmembers)
    assert [type(layer) for layer in reference.network_] != [type(layer) for layer in fast.network_]  # torch's own ran
    for key, value in fast.network_.state_dict().items():
        assert torch.equal(value, reference.network_.state_dict()[key]), key
    assert np.array_equal(fast.score(nonmembers), reference.score(nonmembers))
