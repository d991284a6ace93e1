"""The QNN circuit, defined once as a gate list, and three ways to run it.

The circuit (as Su et al., arXiv 2509.06086, define it): amplitude-encode a normalized feature vector on ``n`` qubits, then ``depth``
layers of U3(theta, phi, lambda) on every qubit followed by a CNOT ring (0->1, ..., n-2->n-1, n-1->0),
then measure Z on every wire. :meth:`CircuitSpec.gates` is the single definition; every backend reads it:

* :func:`simulate_probs` - a batched torch statevector simulator (the fast, differentiable training
  path; tests pin it to PennyLane to 1e-6),
* :func:`make_qnode` - a PennyLane ``default.qubit`` QNode (torch interface, backprop), for
  cross-checks and for drawing,
* :func:`to_qiskit` - a qiskit ``QuantumCircuit``, for sampling and noise with qiskit-aer.

Wire convention: wire 0 is the most significant bit of a basis-state index (PennyLane's convention).

Example:
    >>> import torch
    >>> spec = CircuitSpec(n_qubits=3, depth=2)
    >>> states = torch.rand(4, 8, dtype=torch.float64)
    >>> weights = torch.zeros(spec.weight_shape, dtype=torch.float64)
    >>> expvals(simulate_probs(spec, states, weights), spec.n_qubits).shape
    torch.Size([4, 3])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import torch

from qmu_kit.core.validation import check_depth, check_qubits


class Gate(NamedTuple):
    """One gate: ``name`` is ``"U3"`` or ``"CNOT"``; ``wires`` the wires it acts on; ``param`` the
    ``(layer, qubit)`` index of its three angles in the weight tensor (``None`` for CNOT)."""

    name: str
    wires: tuple[int, ...]
    param: tuple[int, int] | None = None


@dataclass(frozen=True)
class CircuitSpec:
    """Shape of the QNN circuit: ``n_qubits`` wires and ``depth`` layers.

    Example:
        >>> spec = CircuitSpec(4, 2)
        >>> spec.n_params, spec.gates()[4]
        (24, Gate(name='CNOT', wires=(0, 1), param=None))
    """

    n_qubits: int
    depth: int

    def __post_init__(self):
        check_qubits(self.n_qubits)
        check_depth(self.depth)

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        return (self.depth, self.n_qubits, 3)

    @property
    def n_params(self) -> int:
        return 3 * self.depth * self.n_qubits

    @property
    def dim(self) -> int:
        return 2**self.n_qubits

    def gates(self) -> tuple[Gate, ...]:
        """The circuit after the amplitude embedding, in application order."""
        n = self.n_qubits
        gates: list[Gate] = []
        for layer in range(self.depth):
            gates += [Gate("U3", (q,), (layer, q)) for q in range(n)]
            gates += [Gate("CNOT", (q, (q + 1) % n)) for q in range(n)]
        return tuple(gates)


def u3_matrix(angles: torch.Tensor) -> torch.Tensor:
    """U3(theta, phi, lambda) matrices, PennyLane's and qiskit's convention, for ``angles[..., 3]``.

    ``[[cos(t/2), -e^{i l} sin(t/2)], [e^{i p} sin(t/2), e^{i(p+l)} cos(t/2)]]``
    """
    theta, phi, lam = angles.unbind(-1)
    cos, sin = torch.cos(theta / 2), torch.sin(theta / 2)
    e_phi, e_lam = torch.exp(1j * phi), torch.exp(1j * lam)
    top = torch.stack([cos.to(e_phi.dtype), -e_lam * sin], -1)
    bottom = torch.stack([e_phi * sin, e_phi * e_lam * cos], -1)
    return torch.stack([top, bottom], -2)


def _batched_kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    *batch, m, n = a.shape
    p, q = b.shape[-2:]
    product = a.reshape(*batch, m, 1, n, 1) * b.reshape(*b.shape[:-2], 1, p, 1, q)
    return product.reshape(*product.shape[:-4], m * p, n * q)


def _basis_permutation(n_qubits: int, cnots: list[tuple[int, int]]) -> torch.Tensor:
    """Index ``perm`` with ``new_state = state[..., perm]`` for a sequence of CNOTs."""
    index = torch.arange(2**n_qubits)
    bits = [(index >> (n_qubits - 1 - q)) & 1 for q in range(n_qubits)]
    for control, target in cnots:
        bits[target] = bits[target] ^ bits[control]
    image = sum(bit << (n_qubits - 1 - q) for q, bit in enumerate(bits))
    perm = torch.empty_like(index)
    perm[image] = index
    return perm


@functools.lru_cache(maxsize=64)
def _program(spec: CircuitSpec) -> tuple[tuple[str, object], ...]:
    """Compile the gate list into alternating moments: ``("layer", l)`` applies layer ``l``'s U3 gates (one on
    every wire) and ``("perm", p)`` a run of CNOTs as one basis permutation."""
    program: list[tuple[str, object]] = []
    local: dict[int, tuple[int, int]] = {}
    cnots: list[tuple[int, int]] = []

    def close_layer():
        layers = {layer for layer, _qubit in local.values()}
        if len(layers) != 1 or local != {q: (*layers, q) for q in range(spec.n_qubits)}:  # pragma: no cover - the gate list is ours
            raise ValueError(f"the U3 gates {local} do not form one whole layer")
        program.append(("layer", *layers))
        local.clear()

    for gate in spec.gates():
        if gate.name == "U3":
            if cnots:
                program.append(("perm", _basis_permutation(spec.n_qubits, cnots)))
                cnots = []
            local[gate.wires[0]] = gate.param
        elif gate.name == "CNOT":
            if local:
                close_layer()
            cnots.append(gate.wires)
        else:  # pragma: no cover - the gate list is ours
            raise ValueError(f"unknown gate {gate.name!r}")
    if local:
        close_layer()
    if cnots:
        program.append(("perm", _basis_permutation(spec.n_qubits, cnots)))
    return tuple(program)


def normalize_states(features: torch.Tensor) -> torch.Tensor:
    """Amplitude embedding: scale each feature vector to unit norm (PennyLane's ``normalize=True``).

    An all-zero vector (possible after the hybrid QNN's LeakyReLU) stays zero instead of becoming NaN.
    """
    return torch.nn.functional.normalize(features, dim=-1, eps=1e-12)


def simulate_probs(spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Exact output distribution over the ``2**n`` basis states, batched and differentiable.

    Args:
        spec: the circuit.
        states: normalized real input states ``(B, 2**n)``.
        weights: angles ``(*W, depth, n, 3)``; leading dims ``W`` evaluate several parameter sets at
            once (used by the parameter-shift rule).

    Returns:
        probabilities ``(*W, B, 2**n)`` in ``states``' real dtype.

    Single-qubit moments are applied as ``K_left @ psi @ K_right^T`` on the state reshaped to
    ``(2**a, 2**(n-a))``: two small Kronecker products instead of one ``2**n``-sized matrix, which
    costs ``2**(n/2)`` times fewer operations than a full layer unitary.
    """
    psi = _evolve(spec, _embed(spec, states, len(weights.shape[:-3])), weights, 0, len(_program(spec)))
    return _probabilities(psi)


def _complex_dtype(real: torch.dtype) -> torch.dtype:
    return torch.complex128 if real == torch.float64 else torch.complex64


def _embed(spec: CircuitSpec, states: torch.Tensor, n_batch_dims: int) -> torch.Tensor:
    """Input states as complex ``(*1, B, 2**a, 2**(n-a))`` (one leading 1 per weight batch dim)."""
    a = spec.n_qubits // 2
    psi = states.to(_complex_dtype(states.dtype))
    return psi.reshape(*(1,) * n_batch_dims, states.shape[0], 2**a, 2 ** (spec.n_qubits - a))


def _evolve(spec: CircuitSpec, psi: torch.Tensor, weights: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Apply the moments ``start:stop`` of :func:`_program` to ``psi`` with ``weights``.

    Every layer's two Kronecker factors are built at once, batched over the layers (a handful of tensor
    operations per circuit instead of a handful per gate). Each right factor is transposed after it is
    taken from the batch, so the weights' gradients are summed in the same order, to the last bit, as
    when each layer's factors are built alone.
    """
    a = spec.n_qubits // 2
    wires = u3_matrix(weights).to(psi.dtype).unbind(-3)  # n tensors (*W, depth, 2, 2)
    lefts = functools.reduce(_batched_kron, wires[:a]).unsqueeze(-3).unbind(-4)  # depth tensors (*W, 1, 2**a, 2**a)
    rights = functools.reduce(_batched_kron, wires[a:]).unsqueeze(-3).unbind(-4)
    for kind, op in _program(spec)[start:stop]:
        if kind == "layer":
            psi = lefts[op] @ psi @ rights[op].transpose(-1, -2)
        else:
            shape = psi.shape
            psi = psi.reshape(*shape[:-2], -1)[..., op].reshape(shape)
    return psi


def _probabilities(psi: torch.Tensor) -> torch.Tensor:
    psi = psi.reshape(*psi.shape[:-2], -1)
    return psi.real**2 + psi.imag**2


@functools.lru_cache(maxsize=64)
def _layer_starts(spec: CircuitSpec) -> tuple[int, ...]:
    """Index in :func:`_program` of each layer's moment."""
    return tuple(index for index, (kind, _op) in enumerate(_program(spec)) if kind == "layer")


def shifted_probs(spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``simulate_probs(spec, states, weights + shifts)`` for shifts that each change one layer.

    The parameter-shift rule evaluates the circuit once per shifted angle; a shift in layer ``l``
    leaves layers ``0..l-1`` as they are, so their states are computed once (not once per shift)
    and only layers ``l..`` run per shift. For the basic QNN (10 layers) this does about 55 % of the
    plain batched work. Same numbers as :func:`simulate_probs` up to float rounding.

    Args:
        spec, states: as in :func:`simulate_probs`.
        weights: one parameter set ``(depth, n, 3)``.
        shifts: ``(K, depth, n, 3)``, each nonzero in one layer only (a ``ValueError`` otherwise).

    Returns:
        ``(K, B, 2**n)``.

    Example:
        >>> spec = CircuitSpec(2, 2)
        >>> states = normalize_states(torch.rand(3, 4, dtype=torch.float64))
        >>> weights = torch.rand(spec.weight_shape, dtype=torch.float64)
        >>> shifts = torch.zeros(2, *spec.weight_shape, dtype=torch.float64)
        >>> shifts[0, 1, 0, 2] = shifts[1, 0, 1, 0] = 0.5
        >>> torch.allclose(shifted_probs(spec, states, weights, shifts), simulate_probs(spec, states, weights + shifts))
        True
    """
    touched = shifts.reshape(shifts.shape[0], spec.depth, -1).ne(0).any(-1)  # (K, depth)
    if bool((touched.sum(-1) > 1).any()):
        raise ValueError("shifted_probs needs shifts that each change a single layer")
    layers = touched.float().argmax(-1)  # a shift of all zeros counts as layer 0: the whole circuit
    starts = _layer_starts(spec) + (len(_program(spec)),)
    out = torch.empty(shifts.shape[0], states.shape[0], spec.dim, dtype=states.dtype)
    psi = _embed(spec, states, 0)
    with torch.no_grad():
        for layer in range(spec.depth):
            rows = (layers == layer).nonzero().flatten()
            if len(rows):
                shifted = weights + shifts[rows]
                out[rows] = _probabilities(_evolve(spec, psi.unsqueeze(0), shifted, starts[layer], starts[-1]))
            if layer + 1 < spec.depth:
                psi = _evolve(spec, psi, weights, starts[layer], starts[layer + 1])
    return out


@functools.lru_cache(maxsize=16)
def z_signs(n_qubits: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(2**n, n)`` matrix of Z eigenvalues (+1 for bit 0, -1 for bit 1) of each wire."""
    index = torch.arange(2**n_qubits)
    return torch.stack([1 - 2 * ((index >> (n_qubits - 1 - q)) & 1) for q in range(n_qubits)], -1).to(dtype)


def expvals(probs: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """``<Z_i>`` on every wire from basis-state probabilities (or normalized counts)."""
    return probs @ z_signs(n_qubits, probs.dtype)


@functools.lru_cache(maxsize=16)
def make_qnode(spec: CircuitSpec, returns: str = "expval"):
    """A PennyLane QNode for ``spec``: ``qnode(features, weights)``.

    Returns ``[<Z_0>, ..., <Z_{n-1}>]`` (``returns="expval"``) or the basis-state probabilities
    (``returns="probs"``). Uses ``default.qubit`` with the torch interface and backprop; ``features``
    may be batched ``(B, 2**n)`` (PennyLane broadcasting). This is the reference the fast simulator
    is tested against and the path ``backend="pennylane"`` selects.
    """
    import pennylane as qml

    device = qml.device("default.qubit", wires=spec.n_qubits)
    gates = spec.gates()

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(features, weights):
        qml.AmplitudeEmbedding(features, wires=range(spec.n_qubits), normalize=True)
        for gate in gates:
            if gate.name == "U3":
                layer, qubit = gate.param
                qml.U3(weights[layer, qubit, 0], weights[layer, qubit, 1], weights[layer, qubit, 2], wires=gate.wires)
            else:
                qml.CNOT(wires=gate.wires)
        if returns == "probs":
            return qml.probs(wires=range(spec.n_qubits))
        return [qml.expval(qml.PauliZ(q)) for q in range(spec.n_qubits)]

    return circuit


def pennylane_expvals_reference(spec: CircuitSpec, features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``<Z_i>`` ``(B, n)`` straight from PennyLane's expectation values: the reference for tests."""
    return torch.stack(list(make_qnode(spec, "expval")(features, weights)), -1)


def pennylane_probs(spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """:func:`simulate_probs` computed by the PennyLane QNode instead (same numbers, slower).

    Leading weight dimensions are evaluated one parameter set at a time.
    """
    qnode = make_qnode(spec, "probs")
    if weights.dim() == 3:
        return qnode(states, weights).reshape(states.shape[0], spec.dim)
    flat = weights.reshape(-1, *spec.weight_shape)
    out = torch.stack([qnode(states, w).reshape(states.shape[0], spec.dim) for w in flat])
    return out.reshape(*weights.shape[:-3], states.shape[0], spec.dim)


#: Simulators of the exact output distribution, by backend name; each has the signature of
#: :func:`simulate_probs`.
SIMULATORS = {"torch": simulate_probs, "pennylane": pennylane_probs}


def draw(spec: CircuitSpec, **kwargs):
    """Draw the circuit with ``qml.draw_mpl``; returns ``(figure, axes)``.

    Example:
        >>> fig, ax = draw(CircuitSpec(3, 1))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    import pennylane as qml

    features = torch.ones(spec.dim, dtype=torch.float64)
    weights = torch.zeros(spec.weight_shape, dtype=torch.float64)
    kwargs.setdefault("decimals", None)
    kwargs.setdefault("style", "pennylane")
    figure, axes = qml.draw_mpl(make_qnode(spec), **kwargs)(features, weights)
    plt.close(figure)  # detach from pyplot: shown once, when returned, not again by the inline backend
    return figure, axes


def to_qiskit(spec: CircuitSpec, state, weights, *, measure: bool = True):
    """The same circuit as a qiskit ``QuantumCircuit`` with one input state prepared.

    Qiskit orders qubits little-endian, so PennyLane wire ``q`` becomes qiskit qubit ``n-1-q``; with
    that mapping the amplitude vector and the measured bitstrings (read left to right) are the same as
    in PennyLane.
    """
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    n = spec.n_qubits
    state = np.asarray(state, dtype=float)
    weights = np.asarray(weights, dtype=float)
    circuit = QuantumCircuit(n, n if measure else 0)
    circuit.append(StatePreparation(state / np.linalg.norm(state)), list(range(n)))
    qubit = lambda wire: n - 1 - wire  # noqa: E731
    for gate in spec.gates():
        if gate.name == "U3":
            layer, q = gate.param
            circuit.u(*weights[layer, q], qubit(q))
        else:
            circuit.cx(qubit(gate.wires[0]), qubit(gate.wires[1]))
    if measure:
        circuit.measure(range(n), range(n))
    return circuit
