import numpy as np
import pytest
import torch

from qmu_kit.qnn.data import prepare_data
from qmu_kit.qnn.models import build_model
from qmu_kit.qnn.training import PAPER_TRAINING, QNNClassifier, TrainingConfig, train


@pytest.fixture(scope="module")
def small():
    return prepare_data("digits", model="basic", n_qubits=4, n_train=120, n_test=60, seed=0)


def test_fit_returns_self_with_learned_state(small):
    clf = QNNClassifier("basic", n_qubits=4, depth=1, epochs=2, seed=0)
    assert not hasattr(clf, "module_")
    assert clf.fit(small.x_train, small.y_train, (small.x_test, small.y_test)) is clf
    assert [r["epoch"] for r in clf.history_] == [1, 2]
    assert set(clf.history_[0]) == {"epoch", "loss", "train_accuracy", "test_accuracy", "seconds", "circuit_evaluations"}
    proba = clf.predict_proba(small.x_test)
    assert proba.shape == (60, 10) and np.allclose(proba.sum(1), 1)
    assert clf.n_params_ == {"quantum": 12, "classical": 50}
    assert clf.training_config_ == TrainingConfig(lr=0.05, batch_size=32, epochs=2, momentum=0.9, nesterov=True)



def test_train_test_accuracy_is_the_accuracy_on_each_set(small):
    clf = QNNClassifier("basic", 4, 1, epochs=1).fit(small.x_train, small.y_train)
    both = clf.train_test_accuracy(small)
    assert both == {"train": clf.accuracy(small.x_train, small.y_train), "test": clf.accuracy(small.x_test, small.y_test)}
    assert both["test"].n == len(small.y_test)
    assert clf.train_test_accuracy(small, shots=50, seed=0)["train"] == clf.accuracy(small.x_train, small.y_train, shots=50, seed=0)


def test_history_counts_the_cost_of_training_not_of_validation(small):
    watched = QNNClassifier("basic", 4, 1, epochs=2, seed=0).fit(small.x_train, small.y_train, (small.x_test, small.y_test))
    unwatched = QNNClassifier("basic", 4, 1, epochs=2, seed=0).fit(small.x_train, small.y_train)
    per_epoch = 120 * (1 + 2 * 12)  # forward + parameter-shift pairs for 12 quantum parameters
    assert [r["circuit_evaluations"] for r in unwatched.history_] == [per_epoch, 2 * per_epoch]
    assert [r["circuit_evaluations"] for r in watched.history_] == [per_epoch, 2 * per_epoch]
    assert watched.circuit_evaluations_ == 2 * per_epoch + 2 * 60  # the validation passes, counted apart
    watched.predict_proba(small.x_test)
    assert watched.history_[-1]["circuit_evaluations"] == 2 * per_epoch  # later queries are not training


def test_same_seed_same_model_and_global_rng_untouched(small):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = QNNClassifier("basic", 4, 1, epochs=2, seed=7).fit(small.x_train, small.y_train)
    assert torch.equal(torch.rand(1), before)
    second = QNNClassifier("basic", 4, 1, epochs=2, seed=7).fit(small.x_train, small.y_train)
    third = QNNClassifier("basic", 4, 1, epochs=2, seed=8).fit(small.x_train, small.y_train)
    for a, b in zip(first.module_.parameters(), second.module_.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(first.module_.quantum.weights, third.module_.quantum.weights)


def test_pennylane_backend_trains_to_the_same_model(small):
    kwargs = dict(epochs=1, batch_size=20, seed=3)
    fast = QNNClassifier("basic", 4, 1, **kwargs).fit(small.x_train[:40], small.y_train[:40])
    slow = QNNClassifier("basic", 4, 1, backend="pennylane", **kwargs).fit(small.x_train[:40], small.y_train[:40])
    for a, b in zip(fast.module_.parameters(), slow.module_.parameters()):
        assert torch.allclose(a, b, atol=1e-8)


def test_shots_change_predictions_but_are_seeded(small):
    clf = QNNClassifier("basic", 4, 1, epochs=1, seed=0).fit(small.x_train, small.y_train)
    exact = clf.predict_proba(small.x_test)
    noisy = clf.predict_proba(small.x_test, shots=10, seed=1)
    assert not np.allclose(exact, noisy)
    assert np.array_equal(noisy, clf.predict_proba(small.x_test, shots=10, seed=1))
    assert np.abs(clf.predict_proba(small.x_test, shots=100_000, seed=1) - exact).max() < 0.05


def test_interrupted_fit_keeps_the_previous_model(small, monkeypatch):
    clf = QNNClassifier("basic", 4, 1, epochs=1, seed=0).fit(small.x_train, small.y_train)
    weights = clf.module_.quantum.weights.detach().clone()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qmu_kit.qnn.training.train", interrupt)
    clf.epochs = 5
    with pytest.raises(KeyboardInterrupt):
        clf.fit(small.x_train, small.y_train)
    assert torch.equal(clf.module_.quantum.weights, weights) and len(clf.history_) == 1
    monkeypatch.undo()
    assert len(clf.fit(small.x_train, small.y_train).history_) == 5  # and the next run works


def test_unfitted_and_bad_settings(small):
    with pytest.raises(RuntimeError, match="not fitted yet"):
        QNNClassifier().predict(small.x_test)
    with pytest.raises(ValueError, match=r"lr=-0.1 is out of range"):
        QNNClassifier("basic", 4, 1, lr=-0.1).fit(small.x_train, small.y_train)
    with pytest.raises(ValueError, match=r"epochs=0 is out of range"):
        QNNClassifier("basic", 4, 1, epochs=0).fit(small.x_train, small.y_train)
    with pytest.raises(ValueError, match="unknown model 'big'"):
        QNNClassifier("big").fit(small.x_train, small.y_train)
    with pytest.raises(ValueError, match=r"depth=0 is out of range"):
        QNNClassifier("basic", 4, 0).fit(small.x_train, small.y_train)
    with pytest.raises(ValueError, match=r"shots=-3 is out of range"):
        QNNClassifier("basic", 4, 1, epochs=1).fit(small.x_train, small.y_train).predict(small.x_test, shots=-3)


def test_paper_defaults():
    assert PAPER_TRAINING["hybrid"] == TrainingConfig(lr=0.1, batch_size=8, epochs=25, momentum=0.9)
    assert PAPER_TRAINING["basic"].nesterov and PAPER_TRAINING["basic"].lr == 0.05


def test_train_hooks_add_a_penalty_and_change_gradients_before_each_step(small):
    """``penalty`` adds to the loss the gradients follow (the history keeps the cross-entropy);
    ``before_step`` sees the gradients before the step: zeroing them leaves the model unchanged."""
    x, y = small.x_train[:40], small.y_train[:40]
    config = TrainingConfig(lr=0.1, batch_size=8, epochs=2, momentum=0.0)

    def fresh():
        torch.manual_seed(0)
        return build_model("basic", 4, 1, 10, (16,))

    plain, frozen, penalized = fresh(), fresh(), fresh()
    start = [p.detach().clone() for p in frozen.parameters()]
    history = train(plain, x, y, config, seed=0)
    zeroed = train(frozen, x, y, config, seed=0, before_step=lambda params: [p.grad.zero_() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(start, frozen.parameters()))
    # the same parameters in both epochs: the epoch losses differ only by the order the shuffled batches are summed in
    assert zeroed[0]["loss"] == pytest.approx(zeroed[1]["loss"], rel=1e-12)
    assert abs(history[1]["loss"] - zeroed[1]["loss"]) > 1e-3
    epochs_seen = []

    def penalty(epoch):
        epochs_seen.append(epoch)
        return sum(p.abs().sum() for p in penalized.head.parameters())

    initial_penalty = float(penalty(0).detach())
    epochs_seen.clear()
    penalized_history = train(penalized, x, y, config, seed=0, penalty=penalty)
    assert epochs_seen == [0] * 5 + [1] * 5  # once per step, with the epoch
    shrunk = float(sum(p.abs().sum() for p in penalized.head.parameters()).detach())
    assert shrunk < float(sum(p.abs().sum() for p in plain.head.parameters()).detach()) / 2
    # the history reports the cross-entropy alone (about ln 10 here), not cross-entropy plus penalty
    assert initial_penalty > 5 and penalized_history[0]["loss"] < 3
