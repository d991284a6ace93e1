"""The two QNN models of the paper as torch modules, sharing one quantum layer.

* :class:`BasicQNN` - amplitude features -> quantum layer -> ``<Z>`` on every wire -> linear head.
* :class:`HybridQNN` - Conv2d(1->5, k5, pad 2) -> ReLU -> MaxPool 2 -> Linear(->2**n) -> LeakyReLU
  -> L2 normalize -> the same quantum layer -> linear head. On a table's feature rows (iris, wine),
  which no convolution fits, a small MLP front end replaces the CNN: Linear(F->16) -> ReLU ->
  Linear(->2**n) -> LeakyReLU.

Both return logits; softmax gives the class probabilities an attacker sees. Every forward pass takes a
``readout`` (exact, shots, or qiskit-aer; see :mod:`qmu_kit.qnn.readout`).

Example:
    >>> import torch
    >>> model = BasicQNN(n_qubits=3, depth=2, n_classes=4)
    >>> model(torch.rand(5, 8, dtype=torch.float64)).shape, parameter_counts(model)
    (torch.Size([5, 4]), {'quantum': 18, 'classical': 16})
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qmu_kit.core.validation import check_choice, check_int
from qmu_kit.qnn.circuit import SIMULATORS, CircuitSpec, normalize_states
from qmu_kit.qnn.readout import ExactReadout

BACKENDS = tuple(SIMULATORS)
DTYPE = torch.float64


class QuantumLayer(nn.Module):
    """Amplitude embedding, ``depth`` layers of U3 + CNOT ring, ``<Z_i>`` on every wire.

    Args:
        n_qubits: wires; the input has ``2**n_qubits`` features (normalized here).
        depth: number of U3 + CNOT-ring layers.
        backend: ``"torch"`` (fast batched statevector) or ``"pennylane"`` (``default.qubit``);
            both give the same numbers.

    Attributes:
        weights: the ``(depth, n_qubits, 3)`` U3 angles, initialized uniformly in [0, 2 pi) like
            PennyLane's ``TorchLayer``.
        circuit_evaluations: device-equivalent circuit executions so far (this kit's definition):
            one per input per forward pass, plus ``2 * n_params`` per input when the forward pass
            tracks gradients of the weights (what the parameter-shift rule costs on a device). The
            gradient with respect to the input states (the hybrid QNN's CNN weights flow through it)
            is the simulator's exact one and is not among them: amplitude encoding has no
            parameter-shift rule, and a device would need another estimator for it.
        simulator_gradient_evaluations: inputs whose gradient with respect to the encoded state the
            simulator computed exactly (one vector-Jacobian product of the circuit per input per
            forward pass that tracks gradients of the input states): the part of training or
            unlearning a device could not compute this way, counted beside ``circuit_evaluations``.
            Zero for the basic QNN, whose inputs are data.
    """

    def __init__(self, n_qubits: int, depth: int, backend: str = "torch"):
        super().__init__()
        self.spec = CircuitSpec(n_qubits, depth)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.weights = nn.Parameter(torch.empty(self.spec.weight_shape, dtype=DTYPE))
        self.circuit_evaluations = 0
        self.simulator_gradient_evaluations = 0
        #: The readout used when ``forward`` is called without one: a model built around this layer
        #: whose ``forward`` takes no readout is read out through it (see :mod:`qmu_kit.studies.byo`).
        self.default_readout = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weights, 0.0, 2 * math.pi)

    def forward(self, features: torch.Tensor, readout=None) -> torch.Tensor:
        states = normalize_states(features.to(DTYPE))
        readout = readout if readout is not None else self.default_readout or ExactReadout()
        out = readout.expvals(self.spec, states, self.weights, SIMULATORS[self.backend])
        gradient = torch.is_grad_enabled() and self.weights.requires_grad
        self.circuit_evaluations += len(states) * (1 + (2 * self.spec.n_params if gradient else 0))
        if torch.is_grad_enabled() and states.requires_grad:
            self.simulator_gradient_evaluations += len(states)
        return out

    def extra_repr(self) -> str:
        return f"n_qubits={self.spec.n_qubits}, depth={self.spec.depth}, backend={self.backend!r}"


class BasicQNN(nn.Module):
    """The basic QNN: amplitude features ``(B, 2**n)`` -> logits ``(B, n_classes)``."""

    #: Circuit layers in the paper.
    paper_depth = 10

    def __init__(self, n_qubits: int, depth: int, n_classes: int = 10, backend: str = "torch"):
        super().__init__()
        self.quantum = QuantumLayer(n_qubits, depth, backend)
        self.head = nn.Linear(n_qubits, check_int("n_classes", n_classes, 2), dtype=DTYPE)

    def forward(self, x: torch.Tensor, readout=None) -> torch.Tensor:
        return self.head(self.quantum(x, readout=readout))


class HybridQNN(nn.Module):
    """The hybrid QNN: images ``(B, 1, H, W)`` -> small CNN -> quantum layer -> logits.

    ``image_shape`` is ``(H, W)`` for images (the paper's CNN front end), or ``(F,)`` for rows of ``F``
    tabular features, which take an MLP front end instead (Linear ``F ->`` :attr:`tabular_hidden` ->
    ReLU -> Linear ``-> 2**n`` -> LeakyReLU): not the paper's model, the same quantum layer and head.

    Example:
        >>> import torch
        >>> HybridQNN(n_qubits=2, depth=1, n_classes=3, image_shape=(4,))(torch.rand(5, 4)).shape
        torch.Size([5, 3])
    """

    #: Circuit layers in the paper.
    paper_depth = 1
    #: Hidden units of the MLP front end for tabular rows.
    tabular_hidden = 16

    def __init__(
        self,
        n_qubits: int,
        depth: int,
        n_classes: int = 10,
        image_shape: tuple[int, int] = (8, 8),
        backend: str = "torch",
    ):
        super().__init__()
        if len(image_shape) == 1:
            self.front = nn.Sequential(
                nn.Linear(check_int("tabular features", image_shape[0], 1), self.tabular_hidden, dtype=DTYPE),
                nn.ReLU(),
                nn.Linear(self.tabular_hidden, 2**n_qubits, dtype=DTYPE),
                nn.LeakyReLU(),
            )
        elif len(image_shape) == 2:
            height, width = image_shape
            self.front = nn.Sequential(
                nn.Conv2d(1, 5, kernel_size=5, padding=2, dtype=DTYPE),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(5 * (height // 2) * (width // 2), 2**n_qubits, dtype=DTYPE),
                nn.LeakyReLU(),
            )
        else:
            raise ValueError(f"image_shape={tuple(image_shape)} is not valid: give (H, W) for images or (F,) for feature rows")
        self.quantum = QuantumLayer(n_qubits, depth, backend)
        self.head = nn.Linear(n_qubits, check_int("n_classes", n_classes, 2), dtype=DTYPE)

    def forward(self, x: torch.Tensor, readout=None) -> torch.Tensor:
        return self.head(self.quantum(self.front(x.to(DTYPE)), readout=readout))


#: The models by name: the one source of the model names. Every other per-model table (the data's
#: checks, the paper's training settings and depths, the command line's choices) follows :data:`MODELS`.
MODEL_CLASSES = {"basic": BasicQNN, "hybrid": HybridQNN}
MODELS = tuple(MODEL_CLASSES)


def build_model(
    model: str, n_qubits: int, depth: int, n_classes: int, input_shape: tuple[int, ...], backend: str = "torch"
) -> nn.Module:
    """Construct a model by name; ``input_shape`` is one sample's shape: ``(2**n,)`` for the basic QNN;
    ``(1, H, W)`` (an image: CNN front end) or ``(F,)`` (a row of tabular features: MLP front end) for
    the hybrid QNN."""
    check_choice("model", model, MODEL_CLASSES)
    if model == "basic":
        if tuple(input_shape) != (2**n_qubits,):
            raise ValueError(
                f"the basic QNN with {n_qubits} qubits takes {2**n_qubits} features, got inputs of shape "
                f"{tuple(input_shape)}"
            )
        return BasicQNN(n_qubits, depth, n_classes, backend)
    if len(input_shape) == 1:
        return HybridQNN(n_qubits, depth, n_classes, tuple(input_shape), backend)
    if len(input_shape) != 3 or input_shape[0] != 1:
        raise ValueError(f"the hybrid QNN takes images of shape (1, H, W) or feature rows of shape (F,), got {tuple(input_shape)}")
    return HybridQNN(n_qubits, depth, n_classes, tuple(input_shape[1:]), backend)


def quantum_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The circuit angles (the quantum layer's weights; a module that defines ``quantum_parameters()``,
    such as :class:`qmu_kit.studies.byo.LogitsModule`, names its own)."""
    if callable(getattr(model, "quantum_parameters", None)):
        return list(model.quantum_parameters())
    return [model.quantum.weights]


def circuit_counter(model: nn.Module):
    """The object whose ``circuit_evaluations`` counts the model's device-equivalent circuit executions
    (and ``simulator_gradient_evaluations`` the gradients only the simulator computed): the kit models'
    quantum layer, or a module that counts its own (:class:`qmu_kit.studies.byo.LogitsModule`)."""
    return model if hasattr(model, "circuit_evaluations") else model.quantum


def classical_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter that is not a circuit angle (CNN front end, linear head)."""
    quantum = {id(p) for p in quantum_parameters(model)}
    return [p for p in model.parameters() if id(p) not in quantum]


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Number of quantum and classical parameters, e.g. ``{'quantum': 36, 'classical': 70}``."""
    return {
        "quantum": sum(p.numel() for p in quantum_parameters(model)),
        "classical": sum(p.numel() for p in classical_parameters(model)),
    }
