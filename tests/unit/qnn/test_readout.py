import numpy as np
import pytest
import torch
from scipy import stats

from qmu_kit.qnn.circuit import CircuitSpec, expvals, normalize_states, simulate_probs
from qmu_kit.qnn.readout import (
    AerReadout,
    CalibratedReadout,
    ExactReadout,
    NoiseSpec,
    ShotReadout,
    calibrated_region,
    fake_backend,
    make_readout,
    sample_counts,
)


def setup(n_qubits=3, depth=2, batch=4, seed=0):
    spec = CircuitSpec(n_qubits, depth)
    generator = torch.Generator().manual_seed(seed)
    states = normalize_states(torch.randn(batch, spec.dim, dtype=torch.float64, generator=generator))
    weights = torch.rand(spec.weight_shape, dtype=torch.float64, generator=generator) * 2 * np.pi
    return spec, states, weights


def test_make_readout_dispatch_and_errors():
    assert isinstance(make_readout(None), ExactReadout)
    assert isinstance(make_readout("exact"), ExactReadout)
    assert make_readout(50, seed=3).shots == 50
    assert isinstance(make_readout(100, noise=NoiseSpec()), AerReadout)
    with pytest.raises(ValueError, match=r"shots=0 is out of range"):
        make_readout(0)
    with pytest.raises(ValueError, match=r"shots=2.5 is not valid"):
        ShotReadout(2.5)
    with pytest.raises(ValueError, match="needs a finite number of shots"):
        ShotReadout(None)


def test_shot_estimates_are_unbiased_with_the_right_spread():
    spec, states, weights = setup(batch=1)
    exact = ExactReadout().expvals(spec, states, weights)[0]
    shots = 200
    readout = ShotReadout(shots, seed=11)
    draws = torch.stack([readout.expvals(spec, states, weights)[0] for _ in range(2000)])
    sd = torch.sqrt((1 - exact**2) / shots)
    assert torch.all((draws.mean(0) - exact).abs() < 5 * sd / np.sqrt(2000))
    assert torch.allclose(draws.std(0), sd, rtol=0.1)
    assert torch.all(sd <= 1 / np.sqrt(shots))


def test_shot_readout_is_reproducible_from_its_seed():
    spec, states, weights = setup()
    first = [ShotReadout(100, seed=5).expvals(spec, states, weights) for _ in range(2)]
    assert torch.equal(first[0], first[1])
    assert not torch.equal(first[0], ShotReadout(100, seed=6).expvals(spec, states, weights))


def test_parameter_shift_rule_is_exact_on_exact_expectations(monkeypatch):
    spec, states, weights = setup(n_qubits=3, depth=2)
    weights.requires_grad_(True)
    upstream = torch.randn(len(states), spec.n_qubits, dtype=torch.float64)
    exact_grad = torch.autograd.grad(ExactReadout().expvals(spec, states, weights), weights, upstream)[0]
    readout = ShotReadout(10, seed=0)
    # Replace sampling by the exact distribution: the shift rule itself must then be exact.
    monkeypatch.setattr(readout, "_estimate", lambda probs, n: expvals(probs, n))
    shift_grad = torch.autograd.grad(readout.expvals(spec, states, weights), weights, upstream)[0]
    assert torch.allclose(shift_grad, exact_grad, atol=1e-10)


def test_sharing_the_unshifted_layers_keeps_the_shot_gradients_and_their_random_stream():
    """The parameter shift computes the layers before each shifted one once (circuit.shifted_probs);
    the estimates must be those of the plain simulation, draw for draw (the same seeded stream)."""
    spec, states, weights = setup(n_qubits=4, depth=5)
    upstream = torch.randn(len(states), spec.n_qubits, dtype=torch.float64)
    plain = ShotReadout(50, seed=4)._parameter_shift(spec, states, weights, upstream, lambda *a: simulate_probs(*a), chunk=16)
    shared = ShotReadout(50, seed=4)._parameter_shift(spec, states, weights, upstream, simulate_probs, chunk=16)
    assert torch.allclose(shared, plain, atol=1e-12)


def test_shot_gradients_are_noisy_estimates_of_the_exact_gradient():
    spec, states, weights = setup(n_qubits=3, depth=1, batch=2)
    weights.requires_grad_(True)
    states.requires_grad_(True)
    upstream = torch.ones(2, 3, dtype=torch.float64)
    exact = torch.autograd.grad(ExactReadout().expvals(spec, states, weights), (weights, states), upstream)
    readout = ShotReadout(20_000, seed=1)
    noisy = torch.autograd.grad(readout.expvals(spec, states, weights), (weights, states), upstream)
    # each shifted estimate has sd <= 1/sqrt(S); the gradient sums 2 samples x 3 wires of them
    assert torch.allclose(noisy[0], exact[0], atol=6 * np.sqrt(2 * 3) / np.sqrt(20_000))
    # input-state gradient: the exact vector-Jacobian product (this kit's definition)
    assert torch.allclose(noisy[1], exact[1], atol=1e-12)


def test_sample_counts_sums_to_shots(rng):
    probs = rng.dirichlet(np.ones(8), size=(3, 5))
    counts = sample_counts(probs, 77, rng)
    assert counts.shape == (3, 5, 8) and (counts.sum(-1) == 77).all()


def test_qiskit_aer_agrees_with_the_sampler_in_distribution():
    spec, states, weights = setup(n_qubits=3, depth=2, batch=3, seed=4)
    shots = 4000
    exact = simulate_probs(spec, states, weights).numpy()
    aer = AerReadout(shots, seed=1).counts(spec, states, weights)
    ours = sample_counts(exact, shots, np.random.default_rng(2))
    for row in range(len(exact)):
        keep = exact[row] > 1e-9
        expected = exact[row][keep] * shots
        assert stats.chisquare(aer[row][keep], expected * aer[row][keep].sum() / expected.sum()).pvalue > 1e-3
        table = np.stack([aer[row][keep], ours[row][keep]])
        assert stats.chi2_contingency(table[:, table.sum(0) > 0]).pvalue > 1e-3


def test_noise_flattens_the_outputs():
    spec, states, weights = setup(n_qubits=3, depth=3, batch=3, seed=5)
    clean = AerReadout(20_000, seed=0).expvals(spec, states, weights)
    strong = NoiseSpec(p1=0.01, p2=0.05, readout=0.05)
    noisy = AerReadout(20_000, seed=0, noise=strong).expvals(spec, states, weights)
    assert noisy.abs().mean() < 0.8 * clean.abs().mean()
    default = AerReadout(20_000, seed=0, noise=NoiseSpec()).expvals(spec, states, weights)
    assert default.abs().mean() < clean.abs().mean()


def test_fake_backend_runs_offline_and_checks_its_size():
    spec, states, weights = setup(n_qubits=3, depth=1, batch=2)
    out = AerReadout(500, seed=0, noise=NoiseSpec(backend="FakeManilaV2")).expvals(spec, states, weights)
    assert out.shape == (2, 3) and out.abs().max() <= 1
    big = CircuitSpec(6, 1)
    with pytest.raises(ValueError, match="FakeManilaV2 has 5 qubits, the circuit needs 6: choose one of FakeGuadalupeV2"):
        AerReadout(10, noise=NoiseSpec(backend="FakeManilaV2")).counts(
            big, torch.ones(1, 64, dtype=torch.float64) / 8, torch.zeros(big.weight_shape)
        )


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"p1": -0.1}, r"p1=-0.1 is out of range"),
        ({"p2": 1.0}, r"p2=1.0 is out of range"),
        ({"readout": 0.7}, r"readout=0.7 is out of range: readout must be a number in \[0.0, 0.5\)"),
        ({"backend": "FakeNowhere"}, r"unknown fake backend 'FakeNowhere'"),
    ],
)
def test_bad_noise_specs(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        NoiseSpec(**kwargs)


def test_sampling_a_row_without_probability_mass_names_it():
    """An all-zero (or NaN) row has no distribution to sample: the error names the row, not numpy's "pvals"."""
    rng = np.random.default_rng(0)
    counts = sample_counts(np.array([[0.5, 0.5, -1e-17, 0.0], [0.25] * 4]), 100, rng)  # rounding's -1e-17 is cut to 0
    assert counts.sum(1).tolist() == [100, 100] and counts[0, 2] == 0
    with pytest.raises(ValueError, match=r"row 1 of the output probabilities sums to 0\.0"):
        sample_counts(np.array([[0.5, 0.5, 0.0, 0.0], [0.0] * 4]), 10, rng)
    with pytest.raises(ValueError, match=r"row \(1, 0\) of the output probabilities sums to nan"):
        sample_counts(np.array([[[1.0, 0.0]], [[np.nan, 1.0]]]), 10, rng)


# --- The calibrated device model (a fake backend's noise, many queries per aer job) ---------------


def test_calibrated_model_is_exact_without_its_errors():
    """Noiseless, the compiled and routed circuit (on Guadalupe's qubits 4, 6, 7, 10: not 0..n-1, with
    SWAPs) gives the exact distribution; its shots agree with exact expectations within shot noise."""
    spec, states, weights = setup(n_qubits=4, depth=2, batch=6, seed=7)
    readout = CalibratedReadout(4000, seed=3, backend="FakeGuadalupeV2", noise=False, batch_size=4)
    assert np.allclose(readout.probs(spec, states, weights), simulate_probs(spec, states, weights).numpy(), atol=1e-9)
    exact = ExactReadout().expvals(spec, states, weights)
    sampled = readout.expvals(spec, states, weights)
    sd = torch.sqrt((1 - exact**2) / 4000).clamp_min(1e-3)
    assert ((sampled - exact).abs() / sd).max() < 5  # 24 estimates, each within 5 standard deviations


def test_calibrated_model_matches_aer_with_the_backends_full_noise_model():
    """The readout errors applied to the density-matrix probabilities equal aer's own sampling with
    ``AerSimulator.from_backend`` (gate errors, thermal relaxation and readout errors) on the same
    compiled circuit: a chi-square test on 20,000 shots."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from qiskit_aer.library import SetStatevector

    spec, states, weights = setup(n_qubits=3, depth=2, batch=1, seed=2)
    readout = CalibratedReadout(100, seed=0, backend="FakeManilaV2")
    ours = readout.probs(spec, states, weights)[0]
    wide, region, initial, final = readout._compile(spec, weights.numpy())
    backend = fake_backend("FakeManilaV2")
    psi = states[0].numpy().reshape(2, 2, 2)
    psi = np.moveaxis(psi, [2 - k for k in range(3)], [2 - initial[k] for k in range(3)]).reshape(-1)
    circuit = QuantumCircuit(backend.num_qubits, 3)
    circuit.append(SetStatevector(psi.astype(complex)), region)
    circuit.compose(wide, inplace=True)
    circuit.measure([region[final[k]] for k in range(3)], range(3))
    counts = AerSimulator.from_backend(backend, method="density_matrix", seed_simulator=5).run(circuit, shots=20_000).result().get_counts()
    observed = np.zeros(8)
    for bits, count in counts.items():
        observed[int(bits, 2)] += count
    assert stats.chisquare(observed, ours * observed.sum()).pvalue > 1e-3
    noiseless = CalibratedReadout(100, seed=0, backend="FakeManilaV2", noise=False).probs(spec, states, weights)[0]
    assert stats.chisquare(observed, noiseless * observed.sum()).pvalue < 1e-6  # and the errors are really there


def test_calibrated_noise_lowers_the_contrast():
    spec, states, weights = setup(n_qubits=4, depth=3, batch=16, seed=5)
    exact = ExactReadout().expvals(spec, states, weights).abs().mean()
    noisy = CalibratedReadout(20_000, seed=0, backend="FakeGuadalupeV2").expvals(spec, states, weights).abs().mean()
    # the mean |<Z>| of 64 estimates, each with sd <= 1/sqrt(20000) = 0.007: a drop of 0.02 is far beyond shot noise
    assert noisy < exact - 0.02


def test_a_batch_gives_the_numbers_of_one_circuit_per_query():
    spec, states, weights = setup(n_qubits=3, depth=1, batch=5, seed=1)
    batched = CalibratedReadout(300, seed=9, backend="FakeManilaV2", batch_size=5).expvals(spec, states, weights)
    one_by_one = CalibratedReadout(300, seed=9, backend="FakeManilaV2", batch_size=1).expvals(spec, states, weights)
    assert torch.equal(batched, one_by_one)
    assert not torch.equal(batched, CalibratedReadout(300, seed=10, backend="FakeManilaV2").expvals(spec, states, weights))


def test_calibrated_model_refuses_bad_backends_and_sizes():
    with pytest.raises(ValueError, match=r"unknown fake backend 'FakeNowhere': choose one of 'FakeManilaV2'"):
        CalibratedReadout(100, backend="FakeNowhere")
    with pytest.raises(ValueError, match=r"batch_size=0 is out of range"):
        CalibratedReadout(100, backend="FakeManilaV2", batch_size=0)
    big = CircuitSpec(6, 1)
    with pytest.raises(ValueError, match="FakeManilaV2 has 5 qubits, the circuit needs 6: choose one of FakeGuadalupeV2"):
        CalibratedReadout(10, backend="FakeManilaV2").probs(big, torch.ones(1, 64, dtype=torch.float64) / 8,
                                                            torch.zeros(big.weight_shape, dtype=torch.float64))


def test_calibrated_region_is_connected_and_well_calibrated():
    backend = fake_backend("FakeGuadalupeV2")
    region = calibrated_region(backend, 5)
    assert len(region) == 5 == len(set(region)) and region == sorted(region)
    edges = {frozenset(e) for e in backend.coupling_map.get_edges()}
    reached, frontier = {region[0]}, [region[0]]
    while frontier:  # connected through couplings inside the region
        q = frontier.pop()
        for r in region:
            if r not in reached and frozenset((q, r)) in edges:
                reached.add(r)
                frontier.append(r)
    assert reached == set(region)
    readout = lambda qubits: np.mean([backend.target["measure"][(q,)].error for q in qubits])  # noqa: E731
    assert readout(region) <= readout(range(backend.num_qubits))  # no worse than the device's average
