import numpy as np
import pytest
import torch

from qmu_kit.qnn.circuit import (
    CircuitSpec,
    Gate,
    expvals,
    normalize_states,
    pennylane_expvals_reference,
    pennylane_probs,
    shifted_probs,
    simulate_probs,
    to_qiskit,
    u3_matrix,
)


def random_inputs(spec, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, spec.dim, dtype=torch.float64, generator=generator)
    weights = torch.rand(spec.weight_shape, dtype=torch.float64, generator=generator) * 2 * np.pi
    return features, weights


def test_gate_list_is_the_papers_circuit():
    gates = CircuitSpec(3, 2).gates()
    assert len(gates) == 12
    assert gates[:3] == tuple(Gate("U3", (q,), (0, q)) for q in range(3))
    assert [g.wires for g in gates[3:6]] == [(0, 1), (1, 2), (2, 0)]  # the CNOT ring closes on wire 0
    assert gates[6] == Gate("U3", (0,), (1, 0))


def test_u3_is_unitary_and_matches_pennylane():
    import pennylane as qml

    angles = torch.tensor([0.3, -1.2, 2.5], dtype=torch.float64)
    matrix = u3_matrix(angles)
    assert torch.allclose(matrix @ matrix.conj().T, torch.eye(2, dtype=matrix.dtype))
    assert np.allclose(matrix.numpy(), qml.matrix(qml.U3(0.3, -1.2, 2.5, wires=0)))


@pytest.mark.parametrize("n_qubits, depth", [(2, 1), (3, 3), (4, 2), (5, 2), (6, 2), (7, 1)])
def test_simulator_matches_pennylane_outputs_and_gradients(n_qubits, depth):
    spec = CircuitSpec(n_qubits, depth)
    features, weights = random_inputs(spec, 6, seed=n_qubits * 10 + depth)
    features.requires_grad_(True)
    weights.requires_grad_(True)
    fast = expvals(simulate_probs(spec, normalize_states(features), weights), n_qubits)
    reference = pennylane_expvals_reference(spec, features, weights)
    assert torch.allclose(fast, reference, atol=1e-6)
    upstream = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, (features, weights), upstream)
    grads_reference = torch.autograd.grad(reference, (features, weights), upstream)
    for mine, theirs in zip(grads_fast, grads_reference):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_pennylane_probs_backend_agrees_including_stacked_weights():
    spec = CircuitSpec(3, 2)
    features, weights = random_inputs(spec, 4, seed=1)
    stacked = torch.stack([weights, weights * 0.5])
    states = normalize_states(features)
    assert torch.allclose(pennylane_probs(spec, states, stacked), simulate_probs(spec, states, stacked), atol=1e-10)


def test_stacked_weights_equal_separate_runs():
    spec = CircuitSpec(4, 2)
    features, weights = random_inputs(spec, 5, seed=2)
    other = torch.rand_like(weights)
    states = normalize_states(features)
    stacked = simulate_probs(spec, states, torch.stack([weights, other]))
    assert stacked.shape == (2, 5, 16)
    assert torch.allclose(stacked[0], simulate_probs(spec, states, weights))
    assert torch.allclose(stacked[1], simulate_probs(spec, states, other))
    assert torch.allclose(stacked.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_shifted_probs_share_the_unshifted_layers_and_equal_the_plain_simulation():
    spec = CircuitSpec(4, 4)
    features, weights = random_inputs(spec, 6, seed=3)
    states = normalize_states(features)
    n = spec.n_params
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *spec.weight_shape)
    shifts = torch.cat([eye * np.pi / 2, -eye * np.pi / 2, torch.zeros(1, *spec.weight_shape, dtype=torch.float64)])
    shared = shifted_probs(spec, states, weights, shifts)
    assert shared.shape == (2 * n + 1, 6, spec.dim)
    assert torch.allclose(shared, simulate_probs(spec, states, weights + shifts), atol=1e-13)
    # a shift of every angle in one layer at once is still one layer
    layer = torch.zeros(1, *spec.weight_shape, dtype=torch.float64)
    layer[0, 2] = 0.3
    assert torch.allclose(shifted_probs(spec, states, weights, layer), simulate_probs(spec, states, weights + layer), atol=1e-13)
    two_layers = layer.clone()
    two_layers[0, 0, 1, 1] = 0.2
    with pytest.raises(ValueError, match="single layer"):
        shifted_probs(spec, states, weights, two_layers)


def test_qiskit_circuit_has_the_same_output_distribution():
    from qiskit.quantum_info import Statevector

    spec = CircuitSpec(4, 2)
    features, weights = random_inputs(spec, 1, seed=3)
    circuit = to_qiskit(spec, features[0].numpy(), weights.numpy(), measure=False)
    probs = Statevector(circuit).probabilities()
    assert np.allclose(probs, simulate_probs(spec, normalize_states(features), weights)[0].numpy(), atol=1e-10)


def test_zero_input_does_not_give_nan():
    spec = CircuitSpec(2, 1)
    probs = simulate_probs(spec, normalize_states(torch.zeros(1, 4, dtype=torch.float64)), torch.zeros(spec.weight_shape))
    assert torch.isfinite(probs).all()


@pytest.mark.parametrize(
    "n_qubits, depth, pattern",
    [(1, 1, "n_qubits=1 is out of range"), (13, 1, "n_qubits=13 is out of range.*memory"), (4, 0, "depth=0 is out of range")],
)
def test_bad_circuit_shapes(n_qubits, depth, pattern):
    with pytest.raises(ValueError, match=pattern):
        CircuitSpec(n_qubits, depth)


def test_draw_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    from qmu_kit.qnn.circuit import draw

    figure, _ = draw(CircuitSpec(3, 1))
    assert figure.get_axes()
