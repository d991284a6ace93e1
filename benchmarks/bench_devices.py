"""Queries per second of the device emulations, against today's one-aer-circuit-per-query path.

Prints, from one run on this machine (the machine may be shared: read the ratios, not the seconds),
for the paper preset's circuit (8 qubits, depth 1, amplitude embedding of 256 amplitudes), 1000 shots:

  aer, one circuit per query (the old path; noisy state preparation compiled to u/cx gates)
  aer density matrix, exact state prep, many circuits per job + save_probabilities (a candidate)
  fast noiseless sampler (exact distribution + multinomial)
  fast noisy emulation (NoisyReadout: exact noisy distribution + multinomial; the default)
  fast noisy, general density-matrix POVM path (what depth > 1 uses)
  fake backend, gate-level state preparation (aer with FakeGuadalupeV2's calibration, one circuit per
  query; ``engine="aer"``: the gate-level path)
  calibrated model (CalibratedReadout: the state set exactly, FakeGuadalupeV2's and FakeTorino's
  calibration), one aer job per query and many queries per job (the ``fake:`` default), with the
  ratio of batched to one per query and to the gate-level path

and then the whole paper-preset audit (500 members + 500 non-members, 1000 shots, original + RGA) on
``aer:default``, against the 60 s target.

Run: ``python benchmarks/bench_devices.py`` (``--quick`` skips the full audit).
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import torch

from qmu_kit.qnn import CircuitSpec, to_qiskit
from qmu_kit.qnn.readout import (
    AerReadout,
    CalibratedReadout,
    NoiseSpec,
    NoisyReadout,
    ShotReadout,
    noise_model,
    noisy_povm,
    noisy_probs,
    sample_counts,
)


def rate(label, count, run, reference=None):
    start = time.perf_counter()
    run()
    per_second = count / (time.perf_counter() - start)
    ratio = f"   {per_second / reference:8.0f}x the old path" if reference else ""
    print(f"{label:62s} {per_second:10.1f} queries/s{ratio}")
    return per_second


def aer_density_matrix_batched(spec, states, weights, noise, shots):
    from qiskit import QuantumCircuit, transpile
    from qiskit_aer import AerSimulator
    from qiskit_aer.library import SetStatevector

    body = to_qiskit(spec, states[0], weights, measure=False)
    body.data = body.data[1:]
    body = transpile(body, basis_gates=["u", "cx"], optimization_level=0)  # the variational part, once
    circuits = []
    for state in states:
        qc = QuantumCircuit(spec.n_qubits)
        qc.append(SetStatevector(state.astype(complex)), range(spec.n_qubits))
        qc.compose(body, inplace=True)
        qc.save_probabilities()
        circuits.append(qc)
    result = AerSimulator(method="density_matrix", noise_model=noise_model(noise)).run(circuits).result()
    probs = np.array([result.data(i)["probabilities"] for i in range(len(circuits))])
    return sample_counts(probs, shots, np.random.default_rng(0))


def main() -> None:
    torch.set_num_threads(1)
    spec, shots, noise = CircuitSpec(8, 1), 1000, NoiseSpec()
    rng = np.random.default_rng(0)
    states = torch.tensor(rng.normal(size=(1000, spec.dim)))
    states = states / states.norm(dim=1, keepdim=True)
    weights = torch.tensor(rng.uniform(0, 2 * np.pi, spec.weight_shape))
    print(f"paper-preset circuit: {spec.n_qubits} qubits, depth {spec.depth}, {shots} shots, noise {noise}")
    old = rate("aer, one circuit per query (old path), 8 queries", 8,
               lambda: AerReadout(shots, 0, noise).expvals(spec, states[:8], weights))
    rate("aer density matrix, exact prep, one job, 64 queries", 64,
         lambda: aer_density_matrix_batched(spec, states[:64].numpy(), weights.numpy(), noise, shots), old)
    rate("fast noiseless sampler, 1000 queries", 1000, lambda: ShotReadout(shots, 0).expvals(spec, states, weights), old)
    rate("fast noisy emulation (default), 1000 queries", 1000,
         lambda: NoisyReadout(shots, 0, noise).expvals(spec, states, weights), old)
    rate("fast noisy, density-matrix POVM path, 1000 queries (incl. POVM)", 1000,
         lambda: noisy_probs(spec, states, weights, noise, povm=noisy_povm(spec, weights, noise)), old)
    gate_level = rate("fake backend FakeGuadalupeV2, gate-level state prep (aer), 4 queries", 4,
                      lambda: AerReadout(shots, 0, NoiseSpec(backend="FakeGuadalupeV2")).expvals(spec, states[:4], weights), old)
    for backend in ("FakeGuadalupeV2", "FakeTorino"):
        readout = CalibratedReadout(shots, 0, backend, batch_size=1)
        readout.expvals(spec, states[:1], weights)  # the calibration and the compiled model, once (cached)
        single = rate(f"calibrated {backend}, one aer job per query, 16 queries", 16,
                      lambda: readout.expvals(spec, states[:16], weights), old)
        readout.batch_size = 64
        batched = rate(f"calibrated {backend}, 64 queries per aer job, 128 queries", 128,
                       lambda: readout.expvals(spec, states[:128], weights), old)
        print(f"{'':62s} batched / one per query {batched / single:.1f}x; batched / gate-level path {batched / gate_level:.0f}x")
    if "--quick" in sys.argv:
        return
    from qmu_kit.core import ResultCache
    from qmu_kit.studies import run_device_audit
    from qmu_kit.experiment import ExperimentConfig

    cache = ResultCache(tempfile.mkdtemp(prefix="qmu-bench-"))
    config = ExperimentConfig.from_preset("paper")
    start = time.perf_counter()
    audit = run_device_audit(config, "aer:default", n_queries=500, shots=1000, methods=("rga",), cache=cache)
    total = time.perf_counter() - start
    print(f"paper-preset audit on aer:default, 500 + 500 queries, original + RGA: {audit.seconds:.1f} s of queries, "
          f"attacks and unlearning ({audit.seconds / 60:.2f}x of the 60 s target); {total:.1f} s with training")
    print(audit.summary())
    queries = 2 * 2 * 500
    print(f"old path for the same {queries} queries: about {queries / old:.0f} s")


if __name__ == "__main__":
    main()
