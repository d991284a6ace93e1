"""Training-path speed: forward + backward time per sample of the basic QNN (8 qubits, depth 10).

Compares, in one run on this machine:
  kit        - the kit's training path (BasicQNN, batched torch statevector), batch 256;
  (a) loop   - PennyLane default.qubit called once per sample, as the published code runs;
  (b) fused  - a hand-fused batched statevector written here: one 2**n x 2**n Kronecker product per
               layer applied to the whole batch;
  (c) PennyLane broadcast - default.qubit with the whole batch at once (for context only: it is the
               kit's selectable ``backend="pennylane"`` path).
It also times the classroom preset's basic and hybrid QNN training (target for the basic QNN:
<= 10 s) and reports their test accuracy. The last line reads
``vs-per-sample: <kit speed-up over (a)>x  vs-fused: <kit time / (b) time>x``.
Targets: >= 50x and <= 1.5x.

Run: ``make bench`` or ``python benchmarks/bench_training.py [--quick]``.
"""

from __future__ import annotations

import argparse
import functools
import math
import time

import torch

from qmu_kit.qnn import CircuitSpec, make_qnode
from qmu_kit.qnn import BasicQNN

N_QUBITS, DEPTH, BATCH = 8, 10, 256


def per_sample_seconds(step, samples: int, repeats: int) -> float:
    step()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best / samples


def fused_reference(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Independent hand-fused statevector: per layer, the full Kronecker product of the U3s."""
    n = N_QUBITS
    theta, phi, lam = weights[..., 0], weights[..., 1], weights[..., 2]
    c, s = torch.cos(theta / 2).to(torch.complex128), torch.sin(theta / 2).to(torch.complex128)
    u = torch.stack(
        [torch.stack([c, -torch.exp(1j * lam) * s], -1), torch.stack([torch.exp(1j * phi) * s, torch.exp(1j * (phi + lam)) * c], -1)],
        -2,
    )
    index = torch.arange(2**n)
    bits = [(index >> (n - 1 - q)) & 1 for q in range(n)]
    for q in range(n):
        bits[(q + 1) % n] = bits[(q + 1) % n] ^ bits[q]
    perm = torch.empty_like(index)
    perm[sum(b << (n - 1 - q) for q, b in enumerate(bits))] = index
    psi = (features / features.norm(dim=1, keepdim=True)).to(torch.complex128)
    for layer in range(DEPTH):
        psi = (psi @ functools.reduce(torch.kron, u[layer]).T)[:, perm]
    probs = psi.real**2 + psi.imag**2
    signs = torch.stack([1 - 2 * ((index >> (n - 1 - q)) & 1) for q in range(n)], -1).to(probs.dtype)
    return probs @ signs


def classroom_training() -> None:
    from qmu_kit.qnn import prepare_data
    from qmu_kit.experiment import ExperimentConfig
    from qmu_kit.qnn import QNNClassifier

    config = ExperimentConfig()
    for model in ("basic", "hybrid"):
        training = config.replace(model=model).training()
        data = prepare_data("digits", model=model, n_qubits=config.n_qubits, n_train=config.n_train, n_test=config.n_test)
        start = time.perf_counter()
        clf = QNNClassifier(model, config.n_qubits, training["depth"], epochs=training["epochs"], seed=0)
        clf.fit(data.x_train, data.y_train)
        seconds = time.perf_counter() - start
        print(
            f"classroom {model} QNN: depth {training['depth']}, {training['epochs']} epochs on {config.n_train} digits: "
            f"{seconds:.1f} s, test accuracy {clf.score(data.x_test, data.y_test):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and per-sample calls")
    args = parser.parse_args()
    repeats, loop_samples = (2, 4) if args.quick else (5, 16)

    torch.manual_seed(0)
    features = torch.rand(BATCH, 2**N_QUBITS, dtype=torch.float64)
    labels = torch.randint(0, 10, (BATCH,))
    model = BasicQNN(N_QUBITS, DEPTH)
    loss_fn = torch.nn.CrossEntropyLoss()

    def kit_step():
        model.zero_grad()
        loss_fn(model(features), labels).backward()

    weights = model.quantum.weights.detach().clone().requires_grad_(True)
    head = torch.nn.Linear(N_QUBITS, 10, dtype=torch.float64)

    def fused_step():
        weights.grad = None
        loss_fn(head(fused_reference(features, weights)), labels).backward()

    qnode = make_qnode(CircuitSpec(N_QUBITS, DEPTH), "expval")

    def loop_step():
        weights.grad = None
        for i in range(loop_samples):
            out = torch.stack(list(qnode(features[i], weights)))
            loss_fn(head(out)[None], labels[i : i + 1]).backward()

    broadcast_model = BasicQNN(N_QUBITS, DEPTH, backend="pennylane")

    def broadcast_step():
        broadcast_model.zero_grad()
        loss_fn(broadcast_model(features), labels).backward()

    classroom_training()
    kit = per_sample_seconds(kit_step, BATCH, repeats)
    broadcast = per_sample_seconds(broadcast_step, BATCH, max(1, repeats // 2))
    fused = per_sample_seconds(fused_step, BATCH, repeats)
    loop = per_sample_seconds(loop_step, loop_samples, max(1, repeats // 2))
    print(f"basic QNN, {N_QUBITS} qubits, depth {DEPTH}, batch {BATCH}, {torch.get_num_threads()} torch threads")
    print(f"kit training path          {kit * 1e6:10.1f} us/sample (forward + backward)")
    print(f"(a) PennyLane per sample   {loop * 1e6:10.1f} us/sample")
    print(f"(b) hand-fused reference   {fused * 1e6:10.1f} us/sample")
    print(f"(c) PennyLane broadcast    {broadcast * 1e6:10.1f} us/sample")
    print(f"vs-per-sample: {loop / kit:.1f}x  vs-fused: {kit / fused:.2f}x")


if __name__ == "__main__":
    main()
