"""Shot-aware readout: how the expectation values ``<Z_i>`` of a circuit are obtained.

Three readouts share one interface (``readout.expvals(spec, states, weights) -> (B, n)``):

* :class:`ExactReadout` - exact expectations from the statevector (``shots=None``); differentiable.
* :class:`ShotReadout` - ``shots`` bitstrings sampled per input from the circuit's exact output
  distribution, ``<Z_i>`` computed from the counts: statistically what a noiseless device returns.
  Differentiable: gradients w.r.t. the circuit weights use the parameter-shift rule on fresh
  ``shots``-shot estimates, as a device would.
* :class:`AerReadout` - the same circuit transpiled and run on qiskit-aer, noiseless or with a noise
  model (depolarizing after 1- and 2-qubit gates plus readout error, or a fake backend's
  calibration). Inference only; slow (one circuit per input), so keep it out of training loops.

Example:
    >>> import torch
    >>> from qmu_kit.circuit import CircuitSpec, normalize_states
    >>> spec = CircuitSpec(3, 1)
    >>> states = normalize_states(torch.rand(5, 8, dtype=torch.float64))
    >>> weights = torch.zeros(spec.weight_shape, dtype=torch.float64)
    >>> ShotReadout(shots=100, seed=0).expvals(spec, states, weights).shape
    torch.Size([5, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qmu_kit._validation import check_choice, check_float, check_shots
from qmu_kit.circuit import CircuitSpec, expvals, simulate_probs, to_qiskit

#: Fake backends from ``qiskit_ibm_runtime.fake_provider`` (offline calibration snapshots) the kit
#: offers, with their qubit counts.
FAKE_BACKENDS = {"FakeManilaV2": 5, "FakeGuadalupeV2": 16, "FakeTorontoV2": 27}


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``shots`` samples from each row of ``probs`` (``(..., 2**n)``); returns integer counts."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = np.clip(probs, 0.0, None)
    probs /= probs.sum(axis=-1, keepdims=True)
    return rng.multinomial(shots, probs)


def repeated_estimates(expval: float, shots: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
    """``repeats`` independent ``shots``-shot estimates of one qubit's ``<Z>`` (a teaching aid).

    Example:
        >>> est = repeated_estimates(0.4, 100, 2000, np.random.default_rng(0))
        >>> abs(est.std() - np.sqrt((1 - 0.4**2) / 100)) < 0.005
        True
    """
    shots = check_shots(shots)
    if shots is None:
        return np.full(repeats, float(expval))
    check_float("expval", expval, -1.0, 1.0)
    zeros = rng.binomial(shots, (1 + expval) / 2, size=repeats)
    return 2 * zeros / shots - 1


class ExactReadout:
    """Exact expectation values (``shots=None``)."""

    shots = None

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=simulate_probs):
        return expvals(simulate(spec, states, weights), spec.n_qubits)

    def __repr__(self) -> str:
        return "ExactReadout()"


class _ShotExpvals(torch.autograd.Function):
    """Shot-estimated ``<Z>`` with a parameter-shift backward pass (this kit's definition).

    Weights: each U3 angle enters through a single rotation generator with eigenvalues +-1/2, so the
    two-term shift rule with shifts +-pi/2 is exact; each shifted circuit is again estimated from
    ``shots`` shots. Input states (the hybrid QNN's CNN output): their vector-Jacobian product is the
    simulator's exact one, taken at the shot-estimated upstream gradient, because amplitude encoding
    has no parameter-shift rule on a device.
    """

    @staticmethod
    def forward(ctx, states, weights, readout, spec, simulate):
        with torch.no_grad():
            probs = simulate(spec, states, weights)
        ctx.readout, ctx.spec, ctx.simulate = readout, spec, simulate
        ctx.save_for_backward(states, weights)
        return readout._estimate(probs, spec.n_qubits)

    @staticmethod
    def backward(ctx, grad_out):
        readout, spec, simulate = ctx.readout, ctx.spec, ctx.simulate
        states, weights = ctx.saved_tensors
        grad_states = grad_weights = None
        if ctx.needs_input_grad[1]:
            grad_weights = readout._parameter_shift(spec, states, weights, grad_out, simulate)
        if ctx.needs_input_grad[0]:
            with torch.enable_grad():
                leaf = states.detach().requires_grad_()
                exact = expvals(simulate(spec, leaf, weights.detach()), spec.n_qubits)
                (grad_states,) = torch.autograd.grad(exact, leaf, grad_out)
        return grad_states, grad_weights, None, None, None


class ShotReadout:
    """``<Z_i>`` estimated from ``shots`` samples of the exact output distribution.

    Args:
        shots: samples per circuit execution (a positive integer).
        seed: seeds the sampler; successive calls continue one random stream, so a run is
            reproducible as a whole.

    The standard deviation of each estimate is ``sqrt((1 - <Z>^2) / shots) <= 1/sqrt(shots)``.
    """

    def __init__(self, shots: int, seed: int | None = 0):
        shots = check_shots(shots)
        if shots is None:
            raise ValueError("ShotReadout needs a finite number of shots; use ExactReadout for exact values")
        self.shots = shots
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _estimate(self, probs: torch.Tensor, n_qubits: int) -> torch.Tensor:
        counts = sample_counts(probs.detach().cpu().numpy(), self.shots, self.rng)
        frequencies = torch.from_numpy(counts / self.shots).to(probs.dtype)
        return expvals(frequencies, n_qubits)

    def _parameter_shift(self, spec, states, weights, grad_out, simulate, chunk: int = 64) -> torch.Tensor:
        n_params = spec.n_params
        shifts = torch.eye(n_params, dtype=weights.dtype).reshape(n_params, *spec.weight_shape) * (math.pi / 2)
        grad = torch.empty(n_params, dtype=weights.dtype)
        with torch.no_grad():
            for start in range(0, n_params, chunk):
                block = shifts[start : start + chunk]
                shifted = torch.cat([weights + block, weights - block])
                estimates = self._estimate(simulate(spec, states, shifted), spec.n_qubits)  # (2c, B, n)
                plus, minus = estimates.chunk(2)
                grad[start : start + chunk] = torch.einsum("pbi,bi->p", (plus - minus) / 2, grad_out)
        return grad.reshape(spec.weight_shape)

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=simulate_probs):
        return _ShotExpvals.apply(states, weights, self, spec, simulate)

    def __repr__(self) -> str:
        return f"ShotReadout(shots={self.shots}, seed={self.seed})"


@dataclass(frozen=True)
class NoiseSpec:
    """A device noise model for qiskit-aer.

    Attributes:
        p1: depolarizing probability after every single-qubit gate, in [0, 1).
        p2: depolarizing probability after every CNOT, in [0, 1).
        readout: probability that a measured bit flips, in [0, 0.5).
        backend: instead of the three numbers, the calibration of one of :data:`FAKE_BACKENDS`
            (qubit connectivity, gate errors and readout errors of a real IBM device, stored offline).

    Defaults follow the authors' published code (Su et al., arXiv 2509.06086): 5e-4, 5e-3, 1e-2.
    """

    p1: float = 5e-4
    p2: float = 5e-3
    readout: float = 1e-2
    backend: str | None = None

    def __post_init__(self):
        check_float("p1", self.p1, 0.0, 1.0, high_inclusive=False)
        check_float("p2", self.p2, 0.0, 1.0, high_inclusive=False)
        check_float("readout", self.readout, 0.0, 0.5, high_inclusive=False)
        if self.backend is not None:
            check_choice("fake backend", self.backend, FAKE_BACKENDS)


def noise_model(noise: NoiseSpec):
    """The qiskit-aer ``NoiseModel`` for a :class:`NoiseSpec` with explicit error rates."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    model = NoiseModel(basis_gates=["u", "cx"])
    if noise.p1 > 0:
        model.add_all_qubit_quantum_error(depolarizing_error(noise.p1, 1), ["u"])
    if noise.p2 > 0:
        model.add_all_qubit_quantum_error(depolarizing_error(noise.p2, 2), ["cx"])
    if noise.readout > 0:
        flip = noise.readout
        model.add_all_qubit_readout_error(ReadoutError([[1 - flip, flip], [flip, 1 - flip]]))
    return model


def fake_backend(name: str):
    """Instantiate one of :data:`FAKE_BACKENDS` (works offline)."""
    check_choice("fake backend", name, FAKE_BACKENDS)
    from qiskit_ibm_runtime import fake_provider

    return getattr(fake_provider, name)()


class AerReadout:
    """Run the circuit on qiskit-aer and estimate ``<Z_i>`` from the measured counts.

    Args:
        shots: shots per input (a positive integer; aer always samples).
        seed: seeds the simulator and the transpiler.
        noise: ``None`` for a noiseless device, or a :class:`NoiseSpec`.

    Noisy runs use aer's density-matrix method. One circuit per input: use for evaluation only.
    """

    def __init__(self, shots: int = 1000, seed: int = 0, noise: NoiseSpec | None = None):
        shots = check_shots(shots)
        if shots is None:
            raise ValueError("AerReadout samples like a device: give a finite number of shots")
        self.shots = shots
        self.seed = seed
        self.noise = noise
        self._calls = 0

    def counts(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
        """Measured counts ``(B, 2**n)`` indexed like the statevector (wire 0 most significant)."""
        from qiskit import transpile
        from qiskit_aer import AerSimulator

        states = states.detach().cpu().numpy()
        weights = weights.detach().cpu().numpy()
        circuits = [to_qiskit(spec, state, weights) for state in states]
        seed = int(np.random.default_rng([self.seed, self._calls]).integers(2**31))
        self._calls += 1
        if self.noise is None:
            simulator = AerSimulator(method="statevector", seed_simulator=seed)
            compiled = transpile(circuits, basis_gates=["u", "cx"], optimization_level=0)
        elif self.noise.backend is None:
            simulator = AerSimulator(method="density_matrix", noise_model=noise_model(self.noise), seed_simulator=seed)
            compiled = transpile(circuits, basis_gates=["u", "cx"], optimization_level=0)
        else:
            if FAKE_BACKENDS[self.noise.backend] < spec.n_qubits:
                raise ValueError(
                    f"fake backend {self.noise.backend} has {FAKE_BACKENDS[self.noise.backend]} qubits, "
                    f"the circuit needs {spec.n_qubits}: choose one of "
                    f"{', '.join(k for k, v in FAKE_BACKENDS.items() if v >= spec.n_qubits)}"
                )
            backend = fake_backend(self.noise.backend)
            simulator = AerSimulator.from_backend(backend, method="density_matrix", seed_simulator=seed)
            compiled = transpile(circuits, backend=backend, optimization_level=1, seed_transpiler=self.seed)
        result = simulator.run(compiled, shots=self.shots).result()
        out = np.zeros((len(circuits), spec.dim), dtype=np.int64)
        for row in range(len(circuits)):
            for bits, count in result.get_counts(row).items():
                out[row, int(bits.replace(" ", ""), 2)] += count
        return out

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=None):
        """``simulate`` is ignored: qiskit-aer is the simulator here."""
        frequencies = torch.from_numpy(self.counts(spec, states, weights) / self.shots)
        return expvals(frequencies.to(states.dtype), spec.n_qubits)

    def __repr__(self) -> str:
        return f"AerReadout(shots={self.shots}, seed={self.seed}, noise={self.noise})"


def make_readout(shots: int | str | None = None, seed: int = 0, noise: NoiseSpec | None = None):
    """The readout for a shot setting: exact, sampled, or (with ``noise``) qiskit-aer.

    Example:
        >>> make_readout(None), make_readout(300, seed=1)
        (ExactReadout(), ShotReadout(shots=300, seed=1))
    """
    shots = check_shots(shots)
    if noise is not None:
        return AerReadout(shots if shots is not None else 1000, seed, noise)
    return ExactReadout() if shots is None else ShotReadout(shots, seed)
