import copy

import pytest
import torch

from qmu_kit.qnn.models import (
    BasicQNN,
    HybridQNN,
    build_model,
    classical_parameters,
    parameter_counts,
    quantum_parameters,
)
from qmu_kit.qnn.readout import ShotReadout


def test_parameter_counts():
    assert parameter_counts(BasicQNN(6, 2)) == {"quantum": 36, "classical": 6 * 10 + 10}
    hybrid = HybridQNN(6, 1, image_shape=(8, 8))
    conv = 5 * 25 + 5
    dense = 5 * 4 * 4 * 64 + 64
    assert parameter_counts(hybrid) == {"quantum": 18, "classical": conv + dense + 6 * 10 + 10}
    assert len(quantum_parameters(hybrid)) == 1 and len(classical_parameters(hybrid)) == 6


def test_backends_give_the_same_logits_and_gradients():
    torch.manual_seed(0)
    fast = BasicQNN(4, 2, n_classes=3)
    slow = copy.deepcopy(fast)
    slow.quantum.backend = "pennylane"
    x = torch.rand(5, 16, dtype=torch.float64)
    out_fast, out_slow = fast(x), slow(x)
    assert torch.allclose(out_fast, out_slow, atol=1e-10)
    out_fast.sum().backward()
    out_slow.sum().backward()
    assert torch.allclose(fast.quantum.weights.grad, slow.quantum.weights.grad, atol=1e-10)


def test_circuit_evaluations_count_device_executions():
    model = BasicQNN(3, 1, n_classes=2)
    x = torch.rand(4, 8, dtype=torch.float64)
    with torch.no_grad():
        model(x)
    assert model.quantum.circuit_evaluations == 4
    model(x).sum().backward()  # a gradient costs 2 shifted circuits per angle per input
    assert model.quantum.circuit_evaluations == 4 + 4 * (1 + 2 * 9)
    assert model.quantum.simulator_gradient_evaluations == 0  # the basic QNN's inputs are data


def test_the_hybrid_counts_the_input_gradients_only_the_simulator_computes():
    model = HybridQNN(3, 1, n_classes=2, image_shape=(8, 8))
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        model(x)
    assert model.quantum.simulator_gradient_evaluations == 0
    model(x).sum().backward()  # the CNN weights' gradient: one exact vector-Jacobian product per input
    assert model.quantum.simulator_gradient_evaluations == 4
    assert model.quantum.circuit_evaluations == 4 + 4 * (1 + 2 * 9)  # not among the device's circuits
    model.quantum.weights.requires_grad_(False)
    model(x).sum().backward()
    assert model.quantum.simulator_gradient_evaluations == 8 and model.quantum.circuit_evaluations == 4 + 4 * (1 + 2 * 9) + 4


def test_hybrid_gradients_reach_the_cnn_under_shots():
    model = HybridQNN(4, 1, n_classes=3, image_shape=(8, 8))
    images = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    model(images, ShotReadout(100, seed=0)).sum().backward()
    assert model.front[0].weight.grad.abs().sum() > 0
    assert model.quantum.weights.grad.abs().sum() > 0


def test_build_model_checks_input_shapes():
    assert isinstance(build_model("basic", 3, 1, 10, (8,)), BasicQNN)
    assert isinstance(build_model("hybrid", 3, 1, 10, (1, 28, 28)), HybridQNN)
    with pytest.raises(ValueError, match=r"basic QNN with 3 qubits takes 8 features, got inputs of shape \(64,\)"):
        build_model("basic", 3, 1, 10, (64,))
    with pytest.raises(ValueError, match=r"hybrid QNN takes images of shape \(1, H, W\) or feature rows of shape \(F,\), got \(2, 8\)"):
        build_model("hybrid", 3, 1, 10, (2, 8))
    tabular = build_model("hybrid", 3, 1, 3, (4,))
    assert isinstance(tabular, HybridQNN) and isinstance(tabular.front[0], torch.nn.Linear)
    assert tabular.front[0].in_features == 4 and tabular.front[2].out_features == 8
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        build_model("cnn", 3, 1, 10, (8,))
    with pytest.raises(ValueError, match="unknown backend 'lightning'"):
        BasicQNN(3, 1, backend="lightning")


def test_the_model_names_have_one_source():
    from qmu_kit.qnn import data, models, training

    assert models.MODELS == tuple(models.MODEL_CLASSES) == ("basic", "hybrid")
    assert data.MODELS is models.MODELS
    assert tuple(training.PAPER_TRAINING) == tuple(training.PAPER_DEPTH) == models.MODELS
    assert training.PAPER_DEPTH == {"basic": 10, "hybrid": 1}
