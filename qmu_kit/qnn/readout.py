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
* :class:`CalibratedReadout` - a calibrated device model: the circuit's own gates compiled and routed
  on a fake backend's qubits, run on qiskit-aer's density-matrix method with that backend's gate
  errors, thermal relaxation and readout errors, the input state set exactly; many queries per aer
  job, shots drawn by a seeded multinomial. Inference only.

Example:
    >>> import torch
    >>> from qmu_kit.qnn import CircuitSpec, normalize_states
    >>> spec = CircuitSpec(3, 1)
    >>> states = normalize_states(torch.rand(5, 8, dtype=torch.float64))
    >>> weights = torch.zeros(spec.weight_shape, dtype=torch.float64)
    >>> ShotReadout(shots=100, seed=0).expvals(spec, states, weights).shape
    torch.Size([5, 3])
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from qmu_kit.core.validation import check_choice, check_float, check_int, check_shots
from qmu_kit.qnn.circuit import (
    CircuitSpec,
    _basis_permutation,
    expvals,
    shifted_probs,
    simulate_probs,
    to_qiskit,
    u3_matrix,
)

#: Fake backends from ``qiskit_ibm_runtime.fake_provider`` (offline calibration snapshots) the kit
#: offers, with their qubit counts: three Falcon processors, an Eagle (``FakeSherbrooke``, ECR gates)
#: and a Heron (``FakeTorino``, CZ gates).
FAKE_BACKENDS = {"FakeManilaV2": 5, "FakeGuadalupeV2": 16, "FakeTorontoV2": 27, "FakeSherbrooke": 127, "FakeTorino": 133}


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``shots`` samples from each row of ``probs`` (``(..., 2**n)``); returns integer counts.

    Rows are renormalised after cutting float rounding's tiny negative entries (``-1e-17``) to 0. A row
    with no probability mass or a NaN (an all-zero input state, a diverged model) has no distribution
    to sample: that raises a ``ValueError`` naming the row, instead of numpy's bare "pvals" error.
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    totals = probs.sum(axis=-1, keepdims=True)
    bad = ~(np.isfinite(totals) & (totals > 0))
    if bad.any():
        row = tuple(int(i) for i in np.argwhere(bad[..., 0])[0])
        raise ValueError(f"cannot sample shots: row {row[0] if len(row) == 1 else row} of the output probabilities sums to "
                         f"{float(totals[row][0])!r} (a distribution must sum to 1; is an input all zeros, or did training diverge?)")
    return rng.multinomial(shots, probs / totals)


def repeated_estimates(expval: float, shots: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
    """``repeats`` independent ``shots``-shot estimates of one qubit's ``<Z>`` (a teaching aid).

    Example:
        >>> est = repeated_estimates(0.4, 100, 2000, np.random.default_rng(0))
        >>> bool(abs(est.std() - np.sqrt((1 - 0.4**2) / 100)) < 0.005)
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
                block = torch.cat([shifts[start : start + chunk], -shifts[start : start + chunk]])
                if simulate is simulate_probs:  # layers before each shifted one computed once
                    probs = shifted_probs(spec, states, weights, block)
                else:
                    probs = simulate(spec, states, weights + block)
                # chunks of 64 angles, plus then minus, in one draw each: the random stream of every
                # earlier release (the simulator above only changes how the probabilities are computed)
                estimates = self._estimate(probs, spec.n_qubits)  # (2c, B, n)
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
            check_fake_backend_size(self.noise.backend, spec.n_qubits)
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


def check_fake_backend_size(name: str, n_qubits: int) -> None:
    """Refuse a fake backend with fewer qubits than the circuit, naming those that fit."""
    check_choice("fake backend", name, FAKE_BACKENDS)
    if FAKE_BACKENDS[name] < n_qubits:
        raise ValueError(f"fake backend {name} has {FAKE_BACKENDS[name]} qubits, the circuit needs {n_qubits}: "
                         f"choose one of {', '.join(k for k, v in FAKE_BACKENDS.items() if v >= n_qubits)}")


def calibrated_region(backend, n_qubits: int) -> list[int]:
    """The connected ``n_qubits`` physical qubits of ``backend`` with the best calibration, ascending.

    Grown greedily from every qubit (each step adds the neighbour with the smallest readout error plus
    two-qubit gate error towards the region); the region with the smallest mean readout error plus
    mean two-qubit gate error over its couplings wins (ties: the lowest qubits). Deterministic.

    Example:
        >>> calibrated_region(fake_backend("FakeManilaV2"), 3)  # Manila is a line 0-1-2-3-4
        [2, 3, 4]
    """
    target = backend.target
    two_qubit = next(name for name in ("cz", "ecr", "cx") if name in target.operation_names)

    def error(name, qubits):
        prop = target[name].get(qubits)
        return 1.0 if prop is None or prop.error is None else float(prop.error)

    readout = [error("measure", (q,)) for q in range(backend.num_qubits)]
    pair = {}
    for qubits in target[two_qubit]:
        key = frozenset(qubits)
        pair[key] = min(pair.get(key, 1.0), error(two_qubit, qubits))
    neighbours = {q: set() for q in range(backend.num_qubits)}
    for a, b in (tuple(key) for key in pair):
        neighbours[a].add(b)
        neighbours[b].add(a)
    best = None
    for start in range(backend.num_qubits):
        region = [start]
        while len(region) < n_qubits:
            frontier = sorted({q for r in region for q in neighbours[r]} - set(region))
            if not frontier:
                break
            region.append(min(frontier, key=lambda q: readout[q] + min(pair.get(frozenset((q, r)), 1.0) for r in region)))
        if len(region) < n_qubits:
            continue
        couplings = [pair[key] for key in {frozenset((a, b)) for a in region for b in region} if key in pair]
        score = sum(readout[q] for q in region) / n_qubits + (sum(couplings) / len(couplings) if couplings else 0.0)
        if best is None or score < best[0]:
            best = (score, sorted(region))
    if best is None:
        raise ValueError(f"{backend.name} has no {n_qubits} connected qubits")
    return best[1]


@functools.lru_cache(maxsize=4)
def _calibration(name: str):
    """A fake backend, its gate errors ``[(gate, qubits, QuantumError)]`` (gate errors and thermal
    relaxation, as ``NoiseModel.from_backend`` reads them from the target) and each qubit's readout
    assignment matrix ``A[prepared, measured]`` (likewise)."""
    import warnings

    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors

    backend = fake_backend(name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="qiskit_aer.noise")
        gate_errors = list(basic_device_gate_errors(target=backend.target))
    readout = {qubits[0]: np.asarray(error.probabilities, dtype=np.float64)
               for qubits, error in basic_device_readout_errors(target=backend.target)}
    return backend, gate_errors, readout


@functools.lru_cache(maxsize=8)
def _region_noise(name: str, region: tuple[int, ...]):
    """``NoiseModel.from_backend(backend, readout_error=False)`` restricted to the gates on ``region``
    (the only qubits the compiled circuits touch): the same errors there, and an aer job need not load
    those of a hundred other qubits."""
    from qiskit_aer.noise import NoiseModel

    backend, gate_errors, _ = _calibration(name)
    model = NoiseModel(basis_gates=backend.operation_names)
    inside = set(region)
    for gate, qubits, error in gate_errors:
        if set(qubits) <= inside:
            model.add_quantum_error(error, gate, qubits)
    return model


def apply_readout_errors(probs: np.ndarray, matrices: list[np.ndarray]) -> np.ndarray:
    """Outcome probabilities ``(B, 2**n)`` after each measured bit ``k`` (place value ``2**k``) goes
    through its assignment matrix ``matrices[k][prepared, measured]``.

    Example:
        >>> flip = np.array([[0.9, 0.1], [0.2, 0.8]])  # bit 0 misread 10 % of the time as 1, 20 % as 0
        >>> apply_readout_errors(np.array([[1.0, 0.0, 0.0, 0.0]]), [flip, np.eye(2)]).round(3).tolist()
        [[0.9, 0.1, 0.0, 0.0]]
    """
    n = len(matrices)
    p = np.asarray(probs, dtype=np.float64).reshape(-1, *(2,) * n)
    for k, matrix in enumerate(matrices):
        axis = n - k  # bit k of the index is axis n - 1 - k of the (2,) * n view, after the batch axis
        p = np.moveaxis(np.tensordot(p, matrix, axes=([axis], [0])), -1, axis)
    return p.reshape(len(p), 2**n)


class CalibratedReadout(ShotReadout):
    """``<Z_i>`` from ``shots`` samples of a calibrated device model's output distribution.

    The circuit's own gates (U3s and CNOTs) are compiled to the native gates of one of
    :data:`FAKE_BACKENDS` (``rz``, ``sx``, ``x`` and its ``cx``, ``ecr`` or ``cz``) and routed on its
    best-calibrated connected qubits (:func:`calibrated_region`), once per model. Each query then sets
    its amplitude-encoded input state exactly on those qubits (aer's ``SetStatevector``, as the
    ``aer:`` devices prepare it exactly), runs on qiskit-aer's density-matrix method with the
    backend's gate errors and thermal relaxation (``NoiseModel.from_backend``), and each measured bit
    goes through its qubit's calibrated (asymmetric) readout error; a seeded multinomial draws the
    shots from that exact distribution. ``batch_size`` queries go in one aer job; the distribution
    does not depend on the batching, so the draws do not either.

    Args:
        shots: samples per input.
        seed: seeds the sampler.
        backend: one of :data:`FAKE_BACKENDS`.
        noise: ``False`` runs the same compiled, routed circuit without any error: the exact output
            distribution (how the tests check the compilation).
        batch_size: queries per aer job.

    Example:
        >>> spec = CircuitSpec(3, 1)
        >>> states = torch.eye(8, dtype=torch.float64)[:2]
        >>> readout = CalibratedReadout(200, seed=0, backend="FakeManilaV2")
        >>> readout.expvals(spec, states, torch.zeros(spec.weight_shape, dtype=torch.float64)).shape
        torch.Size([2, 3])
    """

    def __init__(self, shots: int, seed: int | None = 0, backend: str = "FakeTorino", noise: bool = True,
                 batch_size: int = 256):
        super().__init__(shots, seed)
        self.backend = check_choice("fake backend", backend, FAKE_BACKENDS)
        self.noise = bool(noise)
        self.batch_size = check_int("batch_size", batch_size, 1, 100_000)
        self._compiled_key = None

    def _compile(self, spec: CircuitSpec, weights: np.ndarray):
        """The model's gates on the backend's region, once per weight set: ``(body on the full
        backend width, region, initial and final position of each circuit qubit in the region)``."""
        key = (spec, weights.tobytes())
        if self._compiled_key != key:
            from qiskit import QuantumCircuit, transpile
            from qiskit.transpiler import CouplingMap

            backend = _calibration(self.backend)[0]
            region = calibrated_region(backend, spec.n_qubits)
            index = {q: i for i, q in enumerate(region)}
            couplings = [(index[a], index[b]) for a, b in backend.coupling_map.get_edges() if a in index and b in index]
            basis = [g for g in ("rz", "sx", "x", "cx", "ecr", "cz") if g in backend.target.operation_names]
            body = to_qiskit(spec, np.eye(spec.dim)[0], weights, measure=False)
            body.data = body.data[1:]  # the state is set, not prepared by gates
            compiled = transpile(body, basis_gates=basis, coupling_map=CouplingMap(couplings), optimization_level=1,
                                 seed_transpiler=0)
            wide = QuantumCircuit(backend.num_qubits)
            wide.compose(compiled, qubits=region, inplace=True)
            layout = compiled.layout
            self._compiled = (wide, region, layout.initial_index_layout(filter_ancillas=True)[: spec.n_qubits],
                              layout.final_index_layout(filter_ancillas=True)[: spec.n_qubits])
            self._compiled_key = key
        return self._compiled

    def probs(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
        """The exact output distribution ``(B, 2**n)`` of each query, indexed like the statevector."""
        from qiskit import QuantumCircuit
        from qiskit_aer import AerSimulator
        from qiskit_aer.library import SetStatevector

        check_fake_backend_size(self.backend, spec.n_qubits)
        n = spec.n_qubits
        wide, region, initial, final = self._compile(spec, weights.detach().cpu().numpy().astype(np.float64))
        backend, _, readout = _calibration(self.backend)
        # Circuit qubit k (place value 2**k in the kit's index) starts on region[initial[k]]; aer's
        # SetStatevector reads its vector over the region's qubits in ascending order, so move each
        # bit k of the index to place initial[k] (axis n-1-... of the (2,) * n view, after the batch axis).
        psi = states.detach().cpu().numpy().astype(np.float64).reshape(-1, *(2,) * n)
        psi = np.moveaxis(psi, [n - k for k in range(n)], [n - initial[k] for k in range(n)]).reshape(-1, 2**n)
        measured = [region[final[k]] for k in range(n)]
        simulator = AerSimulator(method="density_matrix", **({"noise_model": _region_noise(self.backend, tuple(region))}
                                                              if self.noise else {}))
        probs = np.empty((len(psi), 2**n))
        for start in range(0, len(psi), self.batch_size):
            circuits = []
            for state in psi[start : start + self.batch_size]:
                circuit = QuantumCircuit(backend.num_qubits)
                circuit.append(SetStatevector(state.astype(np.complex128)), region)
                circuit.compose(wide, inplace=True)
                circuit.save_probabilities(measured)
                circuits.append(circuit)
            result = simulator.run(circuits).result()
            probs[start : start + len(circuits)] = [result.data(i)["probabilities"] for i in range(len(circuits))]
        if self.noise:
            probs = apply_readout_errors(probs, [readout.get(q, np.eye(2)) for q in measured])
        return probs

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=None):
        """``simulate`` is ignored: qiskit-aer with the backend's calibration is the simulator here."""
        return self._estimate(torch.from_numpy(self.probs(spec, states, weights)).to(states.dtype), spec.n_qubits)

    def __repr__(self) -> str:
        return (f"CalibratedReadout(shots={self.shots}, seed={self.seed}, backend={self.backend!r}, noise={self.noise}, "
                f"batch_size={self.batch_size})")


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


# --- Noisy emulation: a batched torch density-matrix simulator of the same gate list ---------------


def _apply_one_qubit(rho: torch.Tensor, n: int, q: int, u: torch.Tensor) -> torch.Tensor:
    """``U rho U^dagger`` for a one-qubit ``u`` on wire ``q`` of a batch ``rho`` ``(B, 2**n, 2**n)``.

    Written as sums of slices (four scalar multiplies per side) rather than an ``einsum``: on a 2x2
    contraction that is several times faster on CPU.
    """
    b, dim = rho.shape[0], 2**n
    high, low = 2**q, 2 ** (n - q - 1)
    rows = rho.reshape(b, high, 2, low * dim)
    r0, r1 = rows[:, :, 0], rows[:, :, 1]
    rho = torch.stack([u[0, 0] * r0 + u[0, 1] * r1, u[1, 0] * r0 + u[1, 1] * r1], 2).reshape(b, dim, high, 2, low)
    c0, c1 = rho[:, :, :, 0], rho[:, :, :, 1]
    v = u.conj()
    return torch.stack([v[0, 0] * c0 + v[0, 1] * c1, v[1, 0] * c0 + v[1, 1] * c1], 3).reshape(b, dim, dim)


def _depolarize(rho: torch.Tensor, n: int, wires: tuple[int, ...], lam: float) -> torch.Tensor:
    """qiskit's ``depolarizing_error(lam, k)`` on ``wires``: ``(1 - lam) rho + lam Tr_wires(rho) (x) I / 2**k``.

    In place, on a view of ``rho`` with one row axis and one column axis per noisy wire: blocks off
    the wires' diagonal shrink by ``1 - lam``; each diagonal block becomes ``(1 - lam)`` itself plus
    ``lam`` times the mean of the diagonal blocks (the partial trace, spread evenly).
    """
    if lam == 0:
        return rho
    b = rho.shape[0]
    sizes, cuts = [], 0
    for q in sorted(wires):  # split the index into [rest, wire, rest, wire, rest]
        sizes += [2 ** (q - cuts), 2]
        cuts = q + 1
    sizes.append(2 ** (n - cuts))
    view = rho.view(b, *sizes, *sizes)
    k = len(wires)
    row = [slice(None)] * len(sizes)
    diagonal = []
    for bits in range(2**k):
        index = list(row)
        for j in range(k):
            index[2 * j + 1] = (bits >> (k - 1 - j)) & 1
        diagonal.append((slice(None), *index, *index))
    mean = sum(view[d] for d in diagonal) * (lam / 2**k)
    rho.mul_(1 - lam)
    for d in diagonal:
        view[d] += mean
    return rho


def readout_flip(probs: torch.Tensor, n: int, flip: float) -> torch.Tensor:
    """Each measured bit flips independently with probability ``flip`` (a symmetric readout error)."""
    if flip == 0:
        return probs
    shape = probs.shape
    p = probs.reshape(-1, *(2,) * n)
    for axis in range(1, n + 1):
        p = (1 - flip) * p + flip * p.flip(axis)
    return p.reshape(shape)


def noisy_povm(spec: CircuitSpec, weights: torch.Tensor, noise: "NoiseSpec", chunk: int = 16) -> torch.Tensor:
    """The noisy circuit as a measurement: ``M[x]`` with ``p(x | psi) = <psi| M[x] |psi>``, ``(2**n, 2**n, 2**n)``.

    Every U3 of the gate list is followed by qiskit's ``depolarizing_error(p1, 1)``, every CNOT by
    ``depolarizing_error(p2, 2)``. ``M[x]`` is the adjoint channel applied to the projector on basis
    state ``x`` (gates in reverse order, each daggered; depolarizing channels are self-adjoint). It
    depends on the weights only, so one computation serves every query of a model. Only the real
    part is returned: amplitude-embedded states are real, and ``<psi|M|psi> = psi^T Re(M) psi`` then.
    """

    if noise.backend is not None:
        raise ValueError("noisy_povm takes explicit error rates; a fake backend's calibration runs on qiskit-aer")
    n, dim = spec.n_qubits, spec.dim
    with torch.no_grad():
        daggers = u3_matrix(weights.detach().to(torch.float64)).to(torch.complex128).conj().transpose(-1, -2)
        inverse = {g.wires: torch.argsort(_basis_permutation(n, [g.wires])) for g in spec.gates() if g.name == "CNOT"}
        povm = torch.empty(dim, dim, dim, dtype=torch.float64)
        for start in range(0, dim, chunk):
            index = torch.arange(start, min(start + chunk, dim))
            m = torch.zeros(len(index), dim, dim, dtype=torch.complex128)
            m[torch.arange(len(index)), index, index] = 1
            for gate in reversed(spec.gates()):
                if gate.name == "U3":
                    m = _apply_one_qubit(_depolarize(m, n, gate.wires, noise.p1), n, gate.wires[0], daggers[gate.param])
                else:
                    inv = inverse[gate.wires]
                    m = _depolarize(m, n, gate.wires, noise.p2)[:, inv][:, :, inv]
            povm[index] = m.real
    return povm


def _walsh_hadamard(values: torch.Tensor, n: int) -> torch.Tensor:
    """``out[..., s] = sum_x (-1)**popcount(s & x) values[..., x]`` (unnormalized), in ``n log`` steps."""
    shape = values.shape
    v = values.reshape(-1, *(2,) * n)
    for axis in range(1, n + 1):
        a, b = v.narrow(axis, 0, 1), v.narrow(axis, 1, 1)
        v = torch.cat([a + b, a - b], axis)
    return v.reshape(shape)


def _one_layer_plan(spec: CircuitSpec) -> bool:
    """Whether the circuit is one moment of U3s followed only by CNOTs (depth 1), so that the fast
    Heisenberg-picture path of :func:`noisy_probs` is exact."""
    gates = spec.gates()
    first_cnot = next((i for i, g in enumerate(gates) if g.name == "CNOT"), len(gates))
    u3_wires = [g.wires[0] for g in gates[:first_cnot]]
    return len(set(u3_wires)) == len(u3_wires) and all(g.name == "CNOT" for g in gates[first_cnot:])


@functools.lru_cache(maxsize=32)
def _z_string_damping(spec: CircuitSpec, p1: float, p2: float, readout: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For each Z string ``s`` measured at the end: the Z string ``s'`` it is before the CNOTs
    (Heisenberg picture; CNOTs map Z strings to Z strings) and the factor by which the depolarizing
    and readout errors shrink it."""
    n = spec.n_qubits
    bit = lambda wire: 1 << (n - 1 - wire)  # noqa: E731 - wire 0 is the most significant bit
    strings = torch.arange(2**n)
    factor = torch.ones(2**n, dtype=torch.float64)
    weight = lambda s: sum(((s & bit(q)) > 0).to(torch.float64) for q in range(n))  # noqa: E731
    factor *= (1 - 2 * readout) ** weight(strings)  # a flipped bit negates its Z
    current = strings.clone()
    for gate in reversed([g for g in spec.gates() if g.name == "CNOT"]):
        control, target = gate.wires
        touched = ((current & (bit(control) | bit(target))) > 0).to(torch.float64)
        factor *= 1 - p2 * touched  # depolarizing_error(p2, 2) (adjoint) shrinks strings that touch its wires
        current = torch.where((current & bit(target)) > 0, current ^ bit(control), current)  # Z_t -> Z_c Z_t
    factor *= (1 - p1) ** weight(current)  # depolarizing_error(p1, 1) after each U3
    return current, factor


def _noisy_probs_one_layer(spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, noise: "NoiseSpec") -> torch.Tensor:
    """:func:`noisy_probs` for a depth-1 circuit in ``O(B n 2**n)``: each measured Z string is, in the
    Heisenberg picture, a damped Z string right after the U3 moment, whose expectation is the
    Walsh-Hadamard transform of the noiseless probabilities after that moment."""

    n = spec.n_qubits
    u = u3_matrix(weights.detach().to(torch.float64)).to(torch.complex128)[0]  # (n, 2, 2)
    psi = states.detach().to(torch.complex128).reshape(-1, *(2,) * n)
    for q in range(n):
        psi = torch.movedim(torch.tensordot(psi, u[q], dims=([q + 1], [1])), -1, q + 1)
    after_u3 = (psi.real**2 + psi.imag**2).reshape(-1, 2**n)
    before_cnots, factor = _z_string_damping(spec, noise.p1, noise.p2, noise.readout)
    z_expectations = _walsh_hadamard(after_u3, n)[:, before_cnots] * factor
    return (_walsh_hadamard(z_expectations, n) / 2**n).clamp_min(0.0)


def noisy_probs(spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, noise: "NoiseSpec",
                povm: torch.Tensor | None = None) -> torch.Tensor:
    """Exact output distribution ``(B, 2**n)`` of the circuit under a depolarizing + readout noise model.

    The input state is prepared exactly (this kit's definition, as PennyLane's mixed-state simulator
    does for ``AmplitudeEmbedding``; notebook 05 says why); the gates are noisy as in
    :func:`noisy_povm` and every measured bit flips with probability ``readout``. Tests pin it to
    qiskit-aer's density-matrix method on the same circuit and noise model.

    Args:
        spec, states, weights: as in :func:`~qmu_kit.qnn.circuit.simulate_probs` (real states, one weight set).
        noise: a :class:`NoiseSpec` with explicit error rates.
        povm: :func:`noisy_povm` of these weights, if already computed.

    Example:
        >>> spec = CircuitSpec(3, 1)
        >>> states = torch.eye(8, dtype=torch.float64)[:2]
        >>> p = noisy_probs(spec, states, torch.zeros(spec.weight_shape, dtype=torch.float64), NoiseSpec())
        >>> p.shape, bool(torch.allclose(p.sum(1), torch.ones(2, dtype=torch.float64)))
        (torch.Size([2, 8]), True)
    """
    if states.is_complex():
        raise ValueError("noisy_probs takes real (amplitude-embedded) states")
    if povm is None and _one_layer_plan(spec):
        with torch.no_grad():
            return _noisy_probs_one_layer(spec, states, weights, noise).to(states.dtype)
    povm = noisy_povm(spec, weights, noise) if povm is None else povm
    dim = spec.dim
    with torch.no_grad():
        psi = states.detach().to(torch.float64)
        # p[b, x] = sum_ij psi[b, i] M[x, i, j] psi[b, j], as one matrix product per block of outcomes.
        probs = torch.empty(len(psi), dim, dtype=torch.float64)
        for start in range(0, dim, 32):
            block = povm[start : start + 32]  # (c, i, j)
            left = psi @ block.permute(1, 0, 2).reshape(dim, -1)  # (B, c * j)
            probs[:, start : start + 32] = (left.reshape(len(psi), -1, dim) * psi[:, None, :]).sum(-1)
        probs = probs.clamp_min(0.0)
    return readout_flip(probs, spec.n_qubits, noise.readout).to(states.dtype)


class NoisyReadout(ShotReadout):
    """``<Z_i>`` from ``shots`` samples of the circuit's exact *noisy* output distribution.

    The fast emulation of a noisy device: :func:`noisy_probs` computes the distribution, a seeded
    multinomial draws the shots (statistically what qiskit-aer's density-matrix method returns on
    the same circuit and noise model, hundreds of times faster). Inference only.

    Args:
        shots: samples per input.
        seed: seeds the sampler.
        noise: a :class:`NoiseSpec` with explicit error rates.
    """

    def __init__(self, shots: int, seed: int | None = 0, noise: "NoiseSpec | None" = None):
        super().__init__(shots, seed)
        self.noise = noise if noise is not None else NoiseSpec()
        if self.noise.backend is not None:
            raise ValueError("NoisyReadout takes explicit error rates; use AerReadout for a fake backend")

    def expvals(self, spec: CircuitSpec, states: torch.Tensor, weights: torch.Tensor, simulate=None):
        """``simulate`` is ignored: the noisy simulator is this readout's own."""
        povm = None
        if not _one_layer_plan(spec):
            # The POVM depends on the weights only: computed once per model, reused for every query.
            key = weights.detach().cpu().numpy().tobytes()
            if getattr(self, "_povm_key", None) != key:
                self._povm, self._povm_key = noisy_povm(spec, weights, self.noise), key
            povm = self._povm
        probs = noisy_probs(spec, states, weights, self.noise, povm=povm)
        return self._estimate(probs, spec.n_qubits)

    def __repr__(self) -> str:
        return f"NoisyReadout(shots={self.shots}, seed={self.seed}, noise={self.noise})"
