"""Bring your own QNN (qmu_kit.studies.byo): a PennyLane model and a plain torch model audited and unlearned
with the kit's attacks and methods, finite shots through PennyLane and through the kit's sampler, and
bad input answered clearly."""

from __future__ import annotations

import json

import numpy as np
import pennylane as qml
import pytest
import torch
from torch import nn

from qmu_kit.studies.byo import LogitsModule, TorchClassifier, audit_model
from qmu_kit.qnn.models import QuantumLayer
from qmu_kit.qnn.readout import ShotReadout
from qmu_kit.experiment.results import AuditResult
from qmu_kit.core.stats import Estimate
from qmu_kit.leakage.signals import loss as loss_signal
from qmu_kit.qnn.training import TrainingConfig
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, UnlearningMethod, UnlearningTask, make_method

N_QUBITS = 3


def pennylane_model(seed: int = 0) -> nn.Module:
    """A small PennyLane QNode classifier: Linear -> 3-qubit TorchLayer (RY embedding, RY + CNOT
    ring) -> Linear to 3 logits."""
    device = qml.device("default.qubit", wires=N_QUBITS)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(inputs, weights):
        for wire in range(N_QUBITS):
            qml.RY(inputs[..., wire], wires=wire)
        for layer in weights:
            for wire in range(N_QUBITS):
                qml.RY(layer[wire], wires=wire)
            for wire in range(N_QUBITS):
                qml.CNOT(wires=[wire, (wire + 1) % N_QUBITS])
        return [qml.expval(qml.Z(wire)) for wire in range(N_QUBITS)]

    return nn.Sequential(nn.Linear(4, N_QUBITS), qml.qnn.TorchLayer(circuit, {"weights": (2, N_QUBITS)}), nn.Linear(N_QUBITS, 3))


def blobs(n: int, seed: int, classes: int = 3, features: int = 4):
    """Separable Gaussian blobs: class k centred at 2 e_k."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(0, 0.6, (n, features)) + 2.0 * np.eye(features)[y]
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def pennylane_classifier():
    x, y = blobs(48, 0)
    training = TrainingConfig(lr=0.1, batch_size=24, epochs=12, optimizer="adam")
    return TorchClassifier(pennylane_model, n_classes=3, training=training).fit(x, y)


def test_pennylane_model_is_trained_through_the_kit_loop_and_counts_circuits(pennylane_classifier):
    x, y = blobs(48, 0)
    assert pennylane_classifier.score(x, y) > 0.8  # separable blobs: the model learned
    accuracy = pennylane_classifier.accuracy(x, y)  # the same number with its sample count and interval
    assert accuracy.n == 48 and accuracy.value == pennylane_classifier.score(x, y) and accuracy.ci95[0] < accuracy.value
    assert pennylane_classifier.n_params_ == {"quantum": 2 * N_QUBITS, "classical": 4 * 3 + 3 + 3 * 3 + 3}
    # 12 epochs x 48 samples, each forward pass with gradients: 1 + 2 * 6 executions per input
    assert pennylane_classifier.history_[-1]["circuit_evaluations"] == 12 * 48 * (1 + 2 * 6)


def test_pennylane_model_audited_and_unlearned(pennylane_classifier):
    x, y = blobs(48, 0)
    x_test, y_test = blobs(48, 1)
    before = [p.detach().clone() for p in pennylane_classifier.module_.parameters()]
    result = audit_model(pennylane_classifier, (x, y), (x_test, y_test), forget="class:2", attacks=("loss", "mlp"),
                   methods=("ga", "ssd", "finetune"), method_options={"ga": {"epochs": 20}}, seed=0)  # room to reach the target
    assert isinstance(result, AuditResult) and list(result.models) == ["original", "retrained", "ga", "ssd", "finetune"]
    original, retrained, ga = result.models["original"], result.models["retrained"], result.models["ga"]
    assert original.acc_train_forget.value > 0.8 and original.acc_train_forget.n == 16
    assert retrained.acc_train_forget.value == 0.0  # never saw class 2
    assert ga.acc_train_forget.value <= retrained.acc_train_forget.value + 0.2  # GA stops at the retrained level
    assert ga.details["method"] == "ga" and ga.circuit_evaluations > 0
    # the unlearned copies never touch the original
    assert all(torch.equal(a, b) for a, b in zip(before, pennylane_classifier.module_.parameters()))
    # the kit's typed results: estimates with n and intervals, tables, figures
    auc = original.attacks["loss"].overall.auc
    assert isinstance(auc, Estimate) and auc.n == 64 and auc.ci95[0] <= auc.value <= auc.ci95[1]
    assert result.table(intervals=True).loc["ga", "acc_train_forget_n"] == 16
    assert list(result.attack_table().index) == ["loss", "mlp"]
    assert "original" in result.summary()
    assert result.plot(method="ga").axes and AuditResult.from_dict(result.to_dict()) == result


def test_registered_methods_apply_to_a_bring_your_own_model(pennylane_classifier):
    @UNLEARNING_METHODS.register("zero_head", label="zero head", colour="teal", replace=True)
    class ZeroHead(UnlearningMethod):
        def _update(self, model, task, readout, parameters, seed, progress):
            with torch.no_grad():
                model.module_.model[-1].weight.zero_()
            return {}

    try:
        x, y = blobs(48, 0)
        task = UnlearningTask(x[y == 2], y[y == 2], x[y != 2], y[y != 2], 0.0)
        model, report = make_method("zero_head").unlearn(pennylane_classifier, task)
        assert report.method == "zero_head" and torch.count_nonzero(model.module_.model[-1].weight) == 0
        assert torch.count_nonzero(pennylane_classifier.module_.model[-1].weight) > 0
    finally:
        UNLEARNING_METHODS.unregister("zero_head")


def test_pennylane_shots_go_through_pennylane_and_are_seeded(pennylane_classifier):
    x, _ = blobs(20, 2)
    exact = pennylane_classifier.predict_proba(x)
    first = pennylane_classifier.predict_proba(x, shots=50, seed=1)
    again = pennylane_classifier.predict_proba(x, shots=50, seed=1)
    other = pennylane_classifier.predict_proba(x, shots=50, seed=2)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert 0 < np.abs(first - exact).max() < 0.5
    # <Z> from 50 shots is a multiple of 2/50: the circuit's outputs were sampled, not computed exactly
    layer = pennylane_classifier.module_.torch_layers()[0]
    with pennylane_classifier.module_._readout(ShotReadout(50, 0)):
        z = layer(torch.as_tensor(np.tanh(x[:5]))).detach().numpy()
    assert np.allclose(np.round(z * 25), z * 25)
    # the layer's own QNode is restored afterwards (exact again)
    assert np.array_equal(pennylane_classifier.predict_proba(x), exact)


def test_pennylane_model_is_unlearned_under_shots(pennylane_classifier):
    """Gradients under shots: PennyLane's parameter-shift rule on sampled circuits, one circuit per
    input (the layer before the circuit needs the inputs' gradients too)."""
    x, y = blobs(48, 0)
    task = UnlearningTask(x[y == 2][:6], y[y == 2][:6], x[y != 2], y[y != 2], 0.0)
    method = make_method("ga", epochs=1, batch_size=6, stop_at_target=False)
    exact, _ = method.unlearn(pennylane_classifier, task)
    sampled, report = method.unlearn(pennylane_classifier, task, readout=ShotReadout(200, seed=0))
    assert report.steps == 1 and report.circuit_evaluations == 6 * (1 + 2 * 6)
    moved = [(a - b).abs().max() for a, b in zip(sampled.module_.parameters(), pennylane_classifier.module_.parameters())]
    assert all(m > 0 for m in moved)  # every layer got a gradient, the front layer's through the circuit's inputs
    differs = [(a - b).abs().max() for a, b in zip(sampled.module_.parameters(), exact.module_.parameters())]
    assert max(differs) > 0  # the sampled gradient is not the exact one


class KitCircuitModel(nn.Module):
    """A user's model around the kit's quantum layer, whose forward takes no readout."""

    def __init__(self):
        super().__init__()
        self.quantum = QuantumLayer(2, 1)
        self.head = nn.Linear(2, 3, dtype=torch.float64)

    def forward(self, x):
        return self.head(self.quantum(x))


def test_kit_circuit_models_are_sampled_by_the_kit_sampler():
    torch.manual_seed(0)
    classifier = TorchClassifier.from_module(KitCircuitModel(), 3)
    x = np.random.default_rng(0).random((10, 4))
    first, again = (classifier.predict_proba(x, shots=40, seed=5) for _ in range(2))
    assert np.array_equal(first, again) and not np.allclose(first, classifier.predict_proba(x))
    assert classifier.circuit_evaluations_ == 30  # the kit layer counts its own: 10 inputs x 3 passes
    assert classifier.module_.model.quantum.default_readout is None  # restored


def memorizing_mlp(x, y, seed):
    """A plain torch MLP trained to memorize random labels (``train_fn``: your own loop)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(x.shape[1], 64), nn.ReLU(), nn.Linear(64, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.03)
    inputs, labels = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(120):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(inputs), labels).backward()
        optimizer.step()
    return net


def test_plain_torch_model_that_memorizes_leaks(rng):
    x = rng.normal(size=(240, 10)).astype(np.float32)
    y = rng.integers(0, 3, 240)  # random labels: only memorization fits them
    members, non_members, population = (x[:80], y[:80]), (x[80:160], y[80:160]), (x[160:], y[160:])
    net = memorizing_mlp(*members, seed=0)
    result = audit_model(net, members, non_members, forget="class:1", attacks=("loss", "lira"), train_fn=memorizing_mlp,
                   population=population, methods=("rga",), seed=0)
    original = result.models["original"]
    assert original.acc_train_retain.value > 0.95  # memorized
    for attack in ("loss", "lira"):
        auc = original.attacks[attack].overall.auc
        assert auc.ci95[0] > 0.5, f"{attack}: a memorizing model must leak, got {auc}"
    assert result.models["retrained"].details["steps"] == 0  # train_fn's steps are not known to the kit
    assert result.models["rga"].speedup_vs_retrain is not None


def test_a_model_without_a_recipe_is_audited_without_retraining(rng):
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.arange(60) % 3
    net = nn.Sequential(nn.Linear(4, 3))
    result = audit_model(net, (x[:30], y[:30]), (x[30:], y[30:]), forget="class:0", attacks=("loss",), methods=("ga",))
    assert list(result.models) == ["original", "ga"] and result.models["ga"].distance_to_retrained is None
    assert result.models["ga"].speedup_vs_retrain is None
    bars = result.plot().axes[0]  # original and GA side by side (no retrained model to draw)
    assert "target = the retrained model" in bars.get_title() and len(bars.get_legend().get_texts()) == 2
    alone = audit_model(net, (x[:30], y[:30]), (x[30:], y[30:]), forget="class:0", attacks=("loss", "entropy"))
    assert list(alone.models) == ["original"]
    assert alone.plot().axes[1].get_title() == "loss of members vs non-members"  # nothing unlearned: the leakage figure


def test_names_as_text_and_the_fitted_models_come_back(rng):
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.arange(60) % 3
    net = nn.Sequential(nn.Linear(4, 3))
    result = audit_model(net, (x[:30], y[:30]), (x[30:], y[30:]), forget="class:0", attacks="loss, entropy", methods="ga")
    assert list(result.attack_table().index) == ["loss", "entropy"] and list(result.models) == ["original", "ga"]
    # the models the numbers were measured on, by the same names; JSON keeps the numbers only
    assert list(result.classifiers) == ["original", "ga"] and result.classifiers["original"].module_.model is net
    forget = y[:30] == 0
    recomputed = result.classifiers["ga"].accuracy(x[:30][forget], y[:30][forget])
    assert (recomputed.value, recomputed.n) == (result.models["ga"].acc_train_forget.value, result.models["ga"].acc_train_forget.n)
    assert AuditResult.from_dict(result.to_dict()).classifiers == {}


def test_stored_losses_keep_every_positive_loss():
    """The most confident members leak most: their tiny losses must survive storage (4 significant
    digits, not 4 decimals, which made them 0) and be drawn on the loss histogram's log axis."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 10)).astype(np.float32)
    y = rng.integers(0, 3, 160)
    members, non_members = (x[:80], y[:80]), (x[80:], y[80:])
    result = audit_model(memorizing_mlp(*members, seed=0), members, non_members, forget="class:1", attacks="loss")
    retain = members[1] != 1
    exact = loss_signal(result.classifiers["original"].predict_proba(members[0]), members[1])[retain]
    stored = np.asarray(result.models["original"].losses["train_retain"])
    assert (exact < 5e-5).sum() >= 3 and (exact > 0).all()  # members that rounding to 4 decimals stored as 0
    np.testing.assert_allclose(stored, exact, rtol=5e-4)  # 4 significant digits
    assert (stored > 0).all() and len(json.dumps(list(stored))) < 12 * len(stored)  # compact JSON
    histogram = result.models["original"].plot().axes[1]
    assert histogram.get_xscale() == "log" and histogram.get_xlim()[0] <= stored.min()


def data(n=20, features=4, classes=3, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, features)).astype(np.float32)
    return x, np.arange(n) % classes


def other(n=20):
    """Non-members: inputs disjoint from :func:`data`'s."""
    return data(n, seed=1)


def halves():
    """Non-members half of which are members passed again."""
    (x, y), (x_other, y_other) = data(), other()
    return np.r_[x[:10], x_other[:10]], np.r_[y[:10], y_other[:10]]


def without_class(pair, label):
    x, y = pair
    return x[y != label], y[y != label]


def with_nan(pair):
    x = pair[0].copy()
    x[7, 2] = np.nan
    return x, pair[1]


BAD = [
    ("one-output", lambda: audit_model(nn.Linear(4, 1), data(), other()),
     "the model must map 2 inputs to logits of shape (2, C), one score per class (C >= 2), got a tensor of shape (2, 1)"),
    ("wrong-width", lambda: audit_model(nn.Linear(4, 5), data(), other(), n_classes=3),
     "the model must map 20 inputs to logits of shape (20, 3) (one score per class), got a tensor of shape (20, 5)"),
    ("flat-output", lambda: audit_model(nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)), data(), other()),
     "got a tensor of shape (2,)"),
    ("probabilities", lambda: audit_model(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)), data(), other()),
     "the model's outputs are probabilities (every row lies in [0, 1] and sums to 1), not logits"),
    ("length-mismatch", lambda: audit_model(nn.Linear(4, 3), (data()[0], data()[1][:15]), data()),
     "members: 20 inputs but 15 labels: give exactly one label per input"),
    ("label-outside", lambda: audit_model(nn.Linear(4, 3), data(), (other()[0], other()[1] + 1)),
     "non_members: label 3 is outside the classes: labels must be integers from 0 to 2 (the model has 3 outputs)"),
    ("negative-label", lambda: audit_model(nn.Linear(4, 3), (data()[0], data()[1] - 1), other()),
     "members: label -1 is outside the classes: labels must be integers from 0 to 2"),
    ("lira-without-recipe", lambda: audit_model(nn.Linear(4, 3), data(), other(), attacks=("lira",)),
     "the 'lira' attack needs shadow models: pass a training recipe"),
    ("not-a-module", lambda: audit_model(lambda x: x, data(), other()),
     "model must be a torch.nn.Module or a TorchClassifier, got a function"),
    ("shots-without-quantum", lambda: TorchClassifier.from_module(nn.Linear(4, 3), 3).predict_proba(data()[0], shots=10),
     "shots=10 applies to quantum layers, and this model has none"),
    ("recipe-beside-classifier", lambda: audit_model(TorchClassifier.from_module(nn.Linear(4, 3), 3), data(), other(), train_fn=memorizing_mlp),
     "train_fn belong(s) to the TorchClassifier itself"),
    ("unknown-method", lambda: audit_model(nn.Linear(4, 3), data(), other(), methods=("erase",)),
     "unknown method 'erase': choose one of 'ga', 'ssd', 'rga', 'finetune'"),
    ("unknown-attack-in-text", lambda: audit_model(nn.Linear(4, 3), data(), other(), attacks="loss,lo"),
     "unknown attack 'lo': choose one of"),
    ("no-attack", lambda: audit_model(nn.Linear(4, 3), data(), other(), attacks=""),
     "attacks='' names no attack: give at least one of mlp, loss"),
    ("members-as-non-members", lambda: audit_model(nn.Linear(4, 3), data(), data()),
     "members and non_members share 20 inputs (20 of the 20 non_members rows equal a members row): the sets must be disjoint"),
    ("half-members-as-non-members", lambda: audit_model(nn.Linear(4, 3), data(), halves()),
     "members and non_members share 10 inputs (10 of the 20 non_members rows equal a members row)"),
    ("population-overlapping-non-members", lambda: audit_model(nn.Linear(4, 3), data(), other(), population=other(8)),
     "non_members and population share 8 inputs (8 of the 8 population rows equal a non_members row)"),
    ("empty-members-before-the-model-runs", lambda: audit_model(pennylane_model(), (data()[0][:0], data()[1][:0]), other()),
     "members is empty: give at least one labelled input"),
    ("forget-class-without-non-members", lambda: audit_model(nn.Linear(4, 3), data(), without_class(other(), 2), forget="class:2"),
     "forget='class:2' leaves no non-members of class 2 (the non-members' classes: 0, 1)"),
    ("forget-class-is-every-member", lambda: audit_model(nn.Linear(4, 3), without_class(without_class(data(), 0), 1), other(), forget="class:2", n_classes=3),
     "forget='class:2' leaves no retained members"),
    ("nan-non-members", lambda: audit_model(nn.Linear(4, 3), data(), with_nan(other())),
     "non_members: 1 of 20 inputs contain NaN or infinity (the first: row 7): give finite inputs"),
    ("random-unlearning-without-population", lambda: audit_model(nn.Linear(4, 3), data(), other(), methods=("ga",)),
     "forget='random:0.1' with methods=['ga'] needs population=(x, y)"),
    ("softmax-over-the-batch", lambda: audit_model(nn.Sequential(nn.Linear(4, 3), nn.Softmax(0)), data(), other()),
     "the model's outputs are probabilities, not logits: every column sums to 1 over the batch, a softmax over the batch axis (dim=0)"),
    ("sigmoid", lambda: audit_model(nn.Sequential(nn.Linear(4, 3), nn.Sigmoid()), data(), other()),
     "the model's outputs are probabilities, not logits: every output lies in [0, 1] (e.g. a final sigmoid)"),
]


@pytest.mark.parametrize("case, action, message", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_named(case, action, message):
    with pytest.raises((ValueError, TypeError)) as info:
        action()
    assert message in str(info.value)


def test_the_wrapper_checks_every_forward_pass():
    wrapped = LogitsModule(nn.Linear(4, 2), n_classes=3)
    with pytest.raises(ValueError, match=r"logits of shape \(5, 3\).*got a tensor of shape \(5, 2\)"):
        wrapped(torch.zeros(5, 4))
