"""Privacy by design: differentially private training (DP-SGD) of the kit's QNNs, and its audit.

DP-SGD (Abadi et al. 2016) clips every sample's gradient to norm ``max_grad_norm`` and adds Gaussian
noise of standard deviation ``noise_multiplier * max_grad_norm`` to each batch's sum; a privacy
accountant turns the noise, the sampling rate and the number of steps into an ``(epsilon, delta)``
guarantee. Training runs through Opacus (``PrivacyEngine.make_private_with_epsilon``, Poisson sampling,
the RDP accountant by default, PRV on request).

**Only the kit's torch statevector path is trained privately.** Opacus computes per-sample gradients
of the quantum layer through its ``torch.func`` fallback, and these equal a loop of single-sample
backward passes (:func:`per_sample_gradient_check`; a test keeps it so). For a PennyLane
``qml.qnn.TorchLayer`` Opacus silently returns all-zero per-sample gradients: the clipping and noise
would then protect nothing, so ``backend="pennylane"`` is refused here.

**The audit** (Jagielski et al. 2020, Nasr et al. 2021): under ``(epsilon, delta)``-DP every membership
test satisfies ``TPR <= e^epsilon * FPR + delta`` and ``1 - FPR <= e^epsilon * (1 - TPR) + delta``.
:func:`empirical_epsilon` turns a measured attack into the largest ``epsilon`` those inequalities
force, with Clopper-Pearson bounds on TPR and FPR at a threshold picked on a separate half of the
scores; it must sit under the accountant's epsilon. It is a *lower* bound: a weak attack proves
little, so a small measured value never shows that a model is private. With ``n`` members and ``m``
non-members in the counting half, even a perfect attack certifies no more than a ceiling (about
``log(m / 3.7)`` for many members: 3.7 with 150 and 150, :attr:`EpsilonAudit.ceiling`); the check
"under the accountant's epsilon" can fail only where that epsilon lies below the ceiling, so every
audit reports it, and :func:`run_private` audits all members against all non-members.

Example:
    >>> spec = PrivacySpec(epsilon=4.0, delta=1e-5)
    >>> spec.private, spec.accountant
    (True, 'rdp')
    >>> PrivacySpec(epsilon=0.0)
    Traceback (most recent call last):
    ...
    qmu_kit.core.validation.ConfigError: epsilon=0.0 is out of range: epsilon must be a number in (0, inf) (math.inf: non-private training)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from qmu_kit.core import stats
from qmu_kit.core.cache import ResultCache, resolve_cache
from qmu_kit.core.fingerprint import code_fingerprint
from qmu_kit.core.results import Result, interval_cells, interval_strings
from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.stats import Estimate
from qmu_kit.core.fields import FieldSpec, check_fields
from qmu_kit.core.validation import ConfigError, check_choice, check_delta, check_float, check_int, check_shots
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import get_or_fit
from qmu_kit.leakage.attacks import ShadowModels, needs_reference
from qmu_kit.leakage.audit import AuditQueries, AuditSplit, audit_models
from qmu_kit.leakage.metrics import MembershipMetrics, balanced_indices, membership_metrics
from qmu_kit.plots.figures import privacy_roc_figure, privacy_tradeoff_figure, requery_figure
from qmu_kit.qnn.circuit import expvals, normalize_states, simulate_probs
from qmu_kit.qnn.models import DTYPE, QuantumLayer
from qmu_kit.qnn.readout import make_readout
from qmu_kit.qnn.training import QNNClassifier, TrainingConfig, accuracy, as_tensor, prediction_accuracy, train

#: Privacy accountants Opacus offers that this kit uses: Renyi DP (Mironov 2017) and the privacy-loss
#: random variable accountant (Gopi et al. 2021, tighter).
ACCOUNTANTS = ("rdp", "prv")
#: Opacus' own ceiling on the noise multiplier its epsilon search tries (``opacus.accountants.utils.MAX_SIGMA``).
MAX_NOISE_MULTIPLIER = 1e6
#: The target epsilon of a :class:`PrivacySpec` given neither an epsilon nor a noise multiplier.
DEFAULT_EPSILON = 4.0
#: The attacks a privacy run uses by default: the cheap threshold ones (the paper's MLP and LiRA, whose shadows
#: train privately too, on request through ``attacks``).
DEFAULT_ATTACKS = ("loss", "confidence")


def check_epsilon(value, allow_infinite: bool = True) -> float:
    """``value`` as a float if it is a valid privacy budget: > 0 and finite, or ``math.inf`` for a
    non-private run where ``allow_infinite``.

    Example:
        >>> check_epsilon(4), check_epsilon(float("inf"))
        (4.0, inf)
    """
    suffix = " (math.inf: non-private training)" if allow_infinite else ""
    if allow_infinite and isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    allowed = f"epsilon must be a number in (0, inf){suffix}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or math.isnan(float(value)):
        raise ValueError(f"epsilon={value!r} is not valid: {allowed}")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"epsilon={value!r} is out of range: {allowed}")
    return float(value)


#: DP-SGD's settings (:class:`PrivacySpec`): each rule and help text in one place.
PRIVACY_FIELDS: dict[str, FieldSpec] = {
    "epsilon": FieldSpec(check_epsilon, f"target epsilon, > 0 (inf: non-private training; default {DEFAULT_EPSILON:g}, none with "
                         "a fixed noise_multiplier)", nullable=True),
    "delta": FieldSpec(check_delta, "delta, in (0, 1) and below 1/n_train"),
    "max_grad_norm": FieldSpec(lambda value: check_float("max_grad_norm", value, 0.0, 1e6, low_inclusive=False),
                               "every sample's gradient is clipped to this L2 norm"),
    "accountant": FieldSpec(lambda value: check_choice("accountant", value, ACCOUNTANTS), "privacy accountant",
                            choices=lambda: ACCOUNTANTS),
    "noise_multiplier": FieldSpec(lambda value: check_float("noise_multiplier", value, 0.0, MAX_NOISE_MULTIPLIER, low_inclusive=False),
                                  f"a fixed noise multiplier in (0, {MAX_NOISE_MULTIPLIER:g}] (default: found for epsilon)", nullable=True),
}


@dataclass(frozen=True)
class PrivacySpec:
    """What DP-SGD promises and how: the budget, the accountant, the clipping.

    Give either a target ``epsilon`` (Opacus finds the noise that spends it) or a fixed
    ``noise_multiplier`` (the accountant reports what it spends), not both: with a fixed noise there
    is no target, and ``epsilon`` is ``None``.

    Attributes:
        epsilon: the target epsilon, > 0; ``math.inf`` trains without privacy (the same recipe, no
            clipping, no noise: the baseline); ``None``: :data:`DEFAULT_EPSILON` without a
            ``noise_multiplier``, no target with one.
        delta: in (0, 1), and below ``1 / n_train`` (checked when the data is known).
        max_grad_norm: every sample's gradient is clipped to this L2 norm, > 0.
        accountant: ``"rdp"`` or ``"prv"``.
        noise_multiplier: ``None`` (found by Opacus for ``epsilon``), or a fixed value in
            (0, 1e6]; the accountant then reports the epsilon it spends.

    Example:
        >>> PrivacySpec().epsilon, PrivacySpec(noise_multiplier=1.1).epsilon
        (4.0, None)
        >>> PrivacySpec(epsilon=2.0, noise_multiplier=1.1)
        Traceback (most recent call last):
        ...
        qmu_kit.core.validation.ConfigError: epsilon=2.0 and noise_multiplier=1.1 were both given: give a target epsilon (Opacus finds the noise) or a fixed noise_multiplier (the accountant reports the epsilon it spends), not both
    """

    epsilon: float | None = None
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    accountant: str = "rdp"
    noise_multiplier: float | None = None

    def __post_init__(self):
        if self.epsilon is not None and self.noise_multiplier is not None:
            raise ConfigError(
                f"epsilon={self.epsilon!r} and noise_multiplier={self.noise_multiplier!r} were both given: give a target "
                "epsilon (Opacus finds the noise) or a fixed noise_multiplier (the accountant reports the epsilon it "
                "spends), not both", "epsilon")
        if self.epsilon is None and self.noise_multiplier is None:
            object.__setattr__(self, "epsilon", DEFAULT_EPSILON)
        check_fields(self, PRIVACY_FIELDS)

    @property
    def private(self) -> bool:
        """Whether training adds noise (a finite epsilon or a fixed noise multiplier)."""
        return self.noise_multiplier is not None or math.isfinite(self.epsilon)

    def label(self) -> str:
        """``epsilon = 4`` or ``non-private`` (for tables and plots)."""
        if self.noise_multiplier is not None:
            return f"sigma = {self.noise_multiplier:g}"
        return f"epsilon = {self.epsilon:g}" if self.private else "non-private"

    def to_dict(self) -> dict:
        """JSON-ready; ``"epsilon": null`` is ``math.inf`` without a noise multiplier, no target with one."""
        epsilon = None if self.epsilon is None or math.isinf(self.epsilon) else self.epsilon
        return {"epsilon": epsilon, "delta": self.delta, "max_grad_norm": self.max_grad_norm, "accountant": self.accountant,
                "noise_multiplier": self.noise_multiplier}

    @classmethod
    def from_dict(cls, data: Mapping) -> "PrivacySpec":
        if data.get("noise_multiplier") is not None:
            return cls(**{**data, "epsilon": None})
        return cls(**{**data, "epsilon": math.inf if data.get("epsilon") is None else data["epsilon"]})


def _check_torch_backend(module: nn.Module) -> None:
    backend = getattr(getattr(module, "quantum", None), "backend", "torch")
    if backend != "torch":
        raise ValueError(
            f"backend={backend!r} cannot be trained with DP-SGD: Opacus returns all-zero per-sample gradients for "
            "PennyLane layers, so clipping and noise would protect nothing; use backend='torch' (same numbers)"
        )


def dp_train(module: nn.Module, x, y, config: TrainingConfig, privacy: PrivacySpec, *, seed: int = 0) -> tuple[list[dict], dict]:
    """Train ``module`` in place with DP-SGD to ``privacy``'s epsilon after ``config.epochs`` epochs.

    Batches are Poisson-sampled with rate ``config.batch_size / len(x)`` (what the accountant
    assumes); the noise and the sampling draw from one generator seeded by ``seed``.

    Args:
        module: a kit model on the torch backend.
        x, y: inputs and integer labels.
        config: optimizer settings (lr, momentum, expected batch size, epochs).
        privacy: the budget (``privacy.private`` must be true).
        seed: seeds sampling and noise.

    Returns:
        ``(history, report)``: one dict per epoch as :func:`~qmu_kit.qnn.training.train` returns (plus
        ``epsilon``, the budget spent, in the last record), and ``{"noise_multiplier", "epsilon_spent",
        "sample_rate", "steps"}``.

    Raises:
        ValueError: a PennyLane backend, a delta not below ``1/len(x)``, or a budget Opacus cannot reach.
    """
    from opacus import PrivacyEngine

    _register_grad_sampler()
    if not privacy.private:
        raise ValueError("dp_train needs a finite epsilon or a noise multiplier; train non-privately with training.train")
    _check_torch_backend(module)
    check_delta(privacy.delta, len(x))
    x, y = as_tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(int(seed))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=min(config.batch_size, len(x)),
                                         generator=generator)
    optimizer = config.make_optimizer(module.parameters())
    common = dict(module=module, optimizer=optimizer, data_loader=loader, max_grad_norm=privacy.max_grad_norm,
                  noise_generator=generator)
    with warnings.catch_warnings():
        # secure_mode=False: seeded noise, for reproducible teaching runs (not for production releases)
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        engine = PrivacyEngine(accountant=privacy.accountant, secure_mode=False)
        warnings.filterwarnings("ignore", message="Optimal order is the")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        sigma = privacy.noise_multiplier
        if sigma is None:
            sigma = noise_for_budget(privacy, sample_rate=1 / len(loader), epochs=config.epochs)
        private, optimizer, loader = engine.make_private(**common, noise_multiplier=sigma)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # per-sample work is many tiny ops: extra threads only contend (5x slower on 2 cores)
        try:
            history = _dp_loop(private, module, optimizer, loader, config, engine, privacy, seed)
        finally:
            torch.set_num_threads(threads)
    private.remove_hooks()  # the module goes back to plain torch: no per-sample hooks at prediction time
    for parameter in module.parameters():
        parameter.grad_sample = None
        parameter.grad = None
    module.eval()
    report = {"noise_multiplier": float(optimizer.noise_multiplier), "epsilon_spent": history[-1]["epsilon"],
              "sample_rate": float(loader.sample_rate), "steps": int(history[-1]["steps"])}
    return history, report


#: Renyi orders the noise search tries: a subset of Opacus' default orders (fewer orders give a valid, at
#: most slightly larger epsilon, so the noise found is never too small and the epsilon reported with all
#: of Opacus' orders never exceeds the target; a test checks it).
SEARCH_ORDERS = (1.1, 1.2, 1.3, 1.5, 1.7, 2.0, 2.2, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 12, 16, 20, 24, 32, 48, 63)


def noise_for_budget(privacy: PrivacySpec, sample_rate: float, epochs: int) -> float:
    """The noise multiplier that spends ``privacy.epsilon`` at ``privacy.delta`` after ``epochs`` epochs
    of Poisson-sampled steps at ``sample_rate`` (Opacus' binary search, to 0.01 in epsilon).

    Example:
        >>> round(noise_for_budget(PrivacySpec(epsilon=4.0, delta=1e-5), sample_rate=1 / 6, epochs=10), 2)
        1.8...
    """
    from opacus.accountants.utils import get_noise_multiplier

    extra = {"alphas": list(SEARCH_ORDERS)} if privacy.accountant == "rdp" else {}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Optimal order is the")  # the search's coarse orders
            return float(get_noise_multiplier(target_epsilon=privacy.epsilon, target_delta=privacy.delta, sample_rate=sample_rate,
                                              epochs=epochs, accountant=privacy.accountant, epsilon_tolerance=0.01, **extra))
    except ValueError as error:
        if "too low" not in str(error):
            raise
        raise ValueError(
            f"epsilon={privacy.epsilon!r} is out of reach: Opacus finds no noise multiplier up to "
            f"{MAX_NOISE_MULTIPLIER:g} that spends only epsilon={privacy.epsilon} at delta={privacy.delta} over "
            f"{epochs} epochs; raise epsilon or delta, or train fewer epochs"
        ) from None


def _dp_loop(private, module, optimizer, loader, config, engine, privacy, seed) -> list[dict]:
    loss_fn = nn.CrossEntropyLoss()
    history, steps = [], 0
    counter = module.quantum
    start, start_evaluations = time.perf_counter(), counter.circuit_evaluations
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for epoch in range(config.epochs):
            private.train()
            total, correct, seen = 0.0, 0, 0
            for xb, yb in loader:
                optimizer.zero_grad()
                if len(yb) == 0:  # Poisson sampling may draw an empty batch: a noise-only step
                    _noise_only_step(optimizer)
                    steps += 1
                    continue
                logits = private(xb)
                loss = loss_fn(logits, yb)
                loss.backward()
                optimizer.step()
                steps += 1
                total += loss.item() * len(yb)
                correct += int((logits.argmax(1) == yb).sum())
                seen += len(yb)
            history.append({
                "epoch": epoch + 1, "loss": total / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                "test_accuracy": None, "seconds": time.perf_counter() - start,
                "circuit_evaluations": counter.circuit_evaluations - start_evaluations,
                "epsilon": None, "steps": steps,
            })
    history[-1]["epsilon"] = float(engine.get_epsilon(privacy.delta))  # once: the accountant is slow at fractional orders
    return history


def _noise_only_step(optimizer) -> None:
    """One DP-SGD step on an empty Poisson batch: no sample contributes, so the update is the noise alone.

    The accountant counts every step, empty or not, so the step must still happen. Opacus clips and sums
    per-sample gradients it finds on each parameter; with no forward pass there are none, so each
    parameter gets an empty stack of them (zero samples), which Opacus sums to zero before adding noise.
    """
    for parameter in optimizer.params:
        parameter.grad_sample = torch.zeros((0, *parameter.shape), dtype=parameter.dtype)
    optimizer.step()


class PrivateQNNClassifier(QNNClassifier):
    """A :class:`~qmu_kit.qnn.training.QNNClassifier` trained with DP-SGD (``epsilon=math.inf``: trained
    the ordinary way, the baseline).

    Args:
        epsilon, delta, max_grad_norm, accountant, noise_multiplier: see :class:`PrivacySpec`.
        The other arguments: as :class:`~qmu_kit.qnn.training.QNNClassifier`.

    Attributes:
        privacy_: ``{"epsilon_target", "epsilon_spent", "delta", "accountant", "noise_multiplier",
            "max_grad_norm", "sample_rate", "steps"}`` (``epsilon_spent`` is ``inf`` without privacy;
            ``epsilon_target`` is ``None`` with a fixed noise multiplier: there was no target).

    Example:
        >>> from qmu_kit.qnn import prepare_data
        >>> data = prepare_data("digits", model="basic", n_qubits=4, n_train=60, n_test=40)
        >>> clf = PrivateQNNClassifier("basic", 4, 1, epsilon=8.0, epochs=1, batch_size=16).fit(data.x_train, data.y_train)
        >>> clf.privacy_["epsilon_spent"] <= 8.0
        True
    """

    def __init__(self, model: str = "basic", n_qubits: int = 6, depth: int | None = None, *, n_classes=None, lr=None,
                 batch_size=None, epochs=None, momentum=None, nesterov=None, optimizer=None, seed: int = 0,
                 backend: str = "torch", progress: bool = False, epsilon: float | None = None, delta: float = 1e-5,
                 max_grad_norm: float = 1.0, accountant: str = "rdp", noise_multiplier: float | None = None):
        super().__init__(model, n_qubits, depth, n_classes=n_classes, lr=lr, batch_size=batch_size, epochs=epochs,
                         momentum=momentum, nesterov=nesterov, optimizer=optimizer, seed=seed, backend=backend,
                         progress=progress)
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant
        self.noise_multiplier = noise_multiplier

    def privacy_spec(self) -> PrivacySpec:
        """The validated :class:`PrivacySpec` of these settings."""
        return PrivacySpec(self.epsilon, self.delta, self.max_grad_norm, self.accountant, self.noise_multiplier)

    def fit(self, X, y, validation_data: tuple | None = None) -> "PrivateQNNClassifier":
        spec = self.privacy_spec()
        config = self.training_config()
        check_int("seed", self.seed, 0)
        y = np.asarray(y)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and the same length, got {len(X)} and {len(y)}")
        check_delta(spec.delta, len(y))
        n_classes = self.n_classes if self.n_classes is not None else int(y.max()) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            module = self._build(n_classes, tuple(np.shape(X)[1:]))
        _check_torch_backend(module)
        if spec.private:
            history, report = dp_train(module, X, y, config, spec, seed=self.seed)
        else:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # as in dp_train, so both sides of the comparison train alike
            try:
                history = train(module, X, y, config, seed=self.seed)
            finally:
                torch.set_num_threads(threads)
            steps = config.epochs * math.ceil(len(y) / config.batch_size)
            history = [{**record, "epsilon": math.inf, "steps": None} for record in history]
            history[-1]["steps"] = steps
            report = {"noise_multiplier": 0.0, "epsilon_spent": math.inf, "sample_rate": config.batch_size / len(y),
                      "steps": steps}
        if validation_data is not None:

            history[-1]["test_accuracy"] = accuracy(module, *validation_data)
        history[-1].update(privacy=report)
        return self._set_fitted(module, history, config, n_classes, tuple(np.shape(X)[1:]))

    @property
    def privacy_(self) -> dict:
        self._check_fitted()
        spec = self.privacy_spec()
        return {"epsilon_target": spec.epsilon, "delta": spec.delta, "accountant": spec.accountant,
                "max_grad_norm": spec.max_grad_norm, **self.history_[-1]["privacy"]}


# ------------------------------------------------------------------------------------------------
# Per-sample gradients: what Opacus clips must be each sample's true gradient
# ------------------------------------------------------------------------------------------------

#: Samples whose per-sample circuit gradients are computed together (memory grows with its square).
GRAD_SAMPLE_CHUNK = 32


def quantum_grad_sample(layer: QuantumLayer, activations, backprops: torch.Tensor) -> dict:
    """Per-sample gradients of the quantum layer's angles, for Opacus (registered for :class:`QuantumLayer`).

    Every sample gets its own copy of the angles, and the simulator evaluates each sample with its
    own copy (its leading weight dimension); one backward pass then yields every sample's gradient.
    Equal to Opacus' generic ``torch.func`` fallback and to single-sample autograd
    (:func:`per_sample_gradient_check`), several times faster than the fallback here.
    """
    features = activations[0]
    states = normalize_states(features.detach().to(DTYPE))
    weights = layer.weights.detach()
    grads = []
    with torch.enable_grad():
        for begin in range(0, len(states), GRAD_SAMPLE_CHUNK):
            chunk = states[begin : begin + GRAD_SAMPLE_CHUNK]
            copies = weights.expand(len(chunk), *weights.shape).clone().requires_grad_(True)
            probs = simulate_probs(layer.spec, chunk, copies)  # (chunk, chunk, 2**n): copy k on every sample
            index = torch.arange(len(chunk))
            out = expvals(probs[index, index], layer.spec.n_qubits)  # sample k with its own copy
            (grad,) = torch.autograd.grad(out, copies, backprops[begin : begin + GRAD_SAMPLE_CHUNK].to(out.dtype))
            grads.append(grad)
    return {layer.weights: torch.cat(grads)}


def _register_grad_sampler() -> None:
    from opacus.grad_sample import register_grad_sampler

    register_grad_sampler(QuantumLayer)(quantum_grad_sample)


# ------------------------------------------------------------------------------------------------
# Checks: what Opacus clips must be each sample's true gradient
# ------------------------------------------------------------------------------------------------


def opacus_per_sample_gradients(module: nn.Module, x, y, sampler: str = "kit") -> dict[str, torch.Tensor]:
    """Each sample's gradient of the mean cross-entropy loss as Opacus computes it (on a copy of
    ``module`` in training mode, the mode DP-SGD runs in: Opacus records a layer's inputs only
    then), scaled to the per-sample loss: ``name -> (N, *shape)``.

    ``sampler="kit"`` uses :func:`quantum_grad_sample` for the circuit (what :func:`dp_train` uses);
    ``"functorch"`` Opacus' generic ``torch.func`` path for every layer."""
    from opacus import GradSampleModule

    check_choice("sampler", sampler, ("kit", "functorch"))
    _check_torch_backend(module)
    _register_grad_sampler()
    x, y = as_tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    wrapped = GradSampleModule(copy.deepcopy(module).train(), loss_reduction="mean", force_functorch=sampler == "functorch")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        nn.functional.cross_entropy(wrapped(x), y).backward()
    out = {name.removeprefix("_module."): p.grad_sample.detach().clone() for name, p in wrapped.named_parameters()}
    wrapped.remove_hooks()
    return out


def autograd_per_sample_gradients(module: nn.Module, x, y) -> dict[str, torch.Tensor]:
    """Each sample's loss gradient by a loop of single-sample backward passes (the reference)."""
    x, y = as_tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    names, params = zip(*module.named_parameters())
    rows = [torch.autograd.grad(nn.functional.cross_entropy(module(x[i : i + 1]), y[i : i + 1]), params) for i in range(len(x))]
    return {name: torch.stack([row[k] for row in rows]) for k, name in enumerate(names)}


@dataclass(frozen=True)
class GradientCheck:
    """Opacus' per-sample gradients against single-sample autograd.

    Attributes:
        max_abs_difference: the largest entry-wise difference over samples and parameters.
        smallest_norm: the smallest per-sample gradient norm Opacus returned (0 would mean a
            parameter whose gradient Opacus silently drops).
        n_samples: samples compared.
        parameters: the parameter names compared.
    """

    max_abs_difference: float
    smallest_norm: float
    n_samples: int
    parameters: tuple[str, ...]

    def passed(self, tolerance: float = 1e-8) -> bool:
        """Equal to ``tolerance`` and non-zero for every sample."""
        return self.max_abs_difference <= tolerance and self.smallest_norm > 0


def per_sample_gradient_check(module: nn.Module, x, y, sampler: str = "kit") -> GradientCheck:
    """Compare :func:`opacus_per_sample_gradients` (with ``sampler``) with :func:`autograd_per_sample_gradients`,
    both on a copy of ``module`` in training mode (a trained model comes back in eval mode; ``module`` is left as it is).

    Example:
        >>> from qmu_kit.qnn import BasicQNN
        >>> _ = torch.manual_seed(0)
        >>> check = per_sample_gradient_check(BasicQNN(3, 1, 2), torch.rand(4, 8, dtype=torch.float64), [0, 1, 1, 0])
        >>> check.passed(), check.n_samples
        (True, 4)
    """
    module = copy.deepcopy(module).train()
    opacus, reference = opacus_per_sample_gradients(module, x, y, sampler), autograd_per_sample_gradients(module, x, y)
    difference = max(float((opacus[n] - reference[n]).abs().max()) for n in reference)
    smallest = min(float(g.flatten(1).norm(dim=1).min()) for g in opacus.values())
    return GradientCheck(difference, smallest, len(np.asarray(y)), tuple(reference))


# ------------------------------------------------------------------------------------------------
# The audit: an empirical lower bound on epsilon from a membership attack
# ------------------------------------------------------------------------------------------------


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact two-sided binomial interval of ``successes / n``.

    Example:
        >>> [round(v, 3) for v in clopper_pearson(0, 30)]
        [0.0, 0.116]
    """
    from scipy.stats import beta

    alpha = 1 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


@dataclass(frozen=True)
class EpsilonAudit:
    """What a membership attack proves about epsilon.

    Attributes:
        epsilon_lower: with 95 % confidence the training is not ``(epsilon, delta)``-DP for any
            epsilon below this (0 when the attack proves nothing).
        point: the same bound from the point estimates of TPR and FPR (no confidence).
        delta: the delta used in the inequalities.
        threshold: the score threshold, picked on the selection half.
        tpr, fpr: TPR and FPR at the threshold on the evaluation half (Wilson estimates for display;
            the bound uses Clopper-Pearson).
        n_members, n_nonmembers: evaluation-half sizes.
        ceiling: the largest epsilon this audit could certify at these sizes (what a perfect attack,
            every member above the threshold and every non-member below it, would give).
    """

    epsilon_lower: float
    point: float
    delta: float
    threshold: float
    tpr: Estimate
    fpr: Estimate
    n_members: int
    n_nonmembers: int
    ceiling: float

    def consistent_with(self, epsilon: float) -> bool:
        """Whether the measured bound sits under (or at) a claimed epsilon (always, for ``inf``)."""
        return self.epsilon_lower <= epsilon + 1e-9

    def can_refute(self, epsilon: float) -> bool:
        """Whether this audit could have found ``epsilon`` broken: only if ``epsilon`` lies below its
        :attr:`ceiling` (at or above it, :meth:`consistent_with` holds whatever the attack does)."""
        return epsilon < self.ceiling

    def to_dict(self) -> dict:
        return {"epsilon_lower": self.epsilon_lower, "point": self.point, "delta": self.delta, "threshold": self.threshold,
                "tpr": self.tpr.to_dict(), "fpr": self.fpr.to_dict(), "n_members": self.n_members, "n_nonmembers": self.n_nonmembers,
                "ceiling": self.ceiling}

    @classmethod
    def from_dict(cls, data: Mapping) -> "EpsilonAudit":
        return cls(float(data["epsilon_lower"]), float(data["point"]), float(data["delta"]), float(data["threshold"]),
                   Estimate.from_dict(data["tpr"]), Estimate.from_dict(data["fpr"]), int(data["n_members"]),
                   int(data["n_nonmembers"]), float(data["ceiling"]))


def certifiable_epsilon(n_members: int, n_nonmembers: int, delta: float, confidence: float = 0.95) -> float:
    """The largest epsilon :func:`empirical_epsilon` can certify when it counts ``n_members`` members and
    ``n_nonmembers`` non-members: the bound a perfect attack reaches (every member flagged, no non-member).

    An audit "under the accountant's epsilon" is a test only below this ceiling: above it, it holds for
    any model, however leaky.

    Example:
        >>> round(certifiable_epsilon(150, 150, 1e-5), 2), round(certifiable_epsilon(50, 500, 1e-5), 2)
        (3.69, 4.84)
    """
    check_int("n_members", n_members, 1)
    check_int("n_nonmembers", n_nonmembers, 1)
    return _confident_epsilon(n_members, n_members, 0, n_nonmembers, check_delta(delta), confidence)


def _epsilon_from_rates(tpr: float, fpr: float, delta: float) -> float:
    """The largest epsilon ``TPR <= e^eps FPR + delta`` and ``1-FPR <= e^eps (1-TPR) + delta`` force."""
    return max(_one_sided(tpr, fpr, delta), _one_sided(1 - fpr, 1 - tpr, delta))


def empirical_epsilon(member_scores, nonmember_scores, delta: float, seed: int = 0, confidence: float = 0.95) -> EpsilonAudit:
    """An empirical lower bound on epsilon from membership scores (higher = member).

    The scores are split at random in halves: on the first the threshold with the largest point
    bound is chosen, on the second TPR and FPR are counted and bounded with Clopper-Pearson (TPR from
    below, FPR from above, for the first inequality; the other way round for the second), each at
    ``(1 + confidence) / 2`` so that both hold together with probability ``confidence``.

    The scores are treated as independent trials; they come from one training run on many members
    (Steinke, Nasr & Jagielski 2023 justify auditing in one run), so read the bound as an audit, not
    a proof.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> audit = empirical_epsilon(rng.normal(1, 1, 2000), rng.normal(0, 1, 2000), delta=1e-5)
        >>> 0 < audit.epsilon_lower < audit.point
        True
    """
    members, nonmembers = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    check_delta(delta)
    if len(members) < 4 or len(nonmembers) < 4:
        raise ValueError(f"the audit needs at least 4 members and 4 non-members, got {len(members)} and {len(nonmembers)}")
    rng = np.random.default_rng([seed, 17])
    m, n = rng.permutation(len(members)), rng.permutation(len(nonmembers))
    select_m, eval_m = members[m[: len(m) // 2]], members[m[len(m) // 2 :]]
    select_n, eval_n = nonmembers[n[: len(n) // 2]], nonmembers[n[len(n) // 2 :]]
    pooled = np.r_[select_m, select_n]
    candidates = np.unique(np.quantile(pooled, np.linspace(0, 1, 201))) if len(np.unique(pooled)) > 201 else np.unique(pooled)
    # the threshold whose confident bound is largest on the selection half (a point estimate would
    # favour thresholds with a handful of samples above them, whose ratio is infinite by chance)
    scores = [_confident_epsilon(int((select_m >= t).sum()), len(select_m), int((select_n >= t).sum()), len(select_n),
                                 delta, confidence) for t in candidates]
    threshold = float(candidates[int(np.argmax(scores))])
    hits, false = int((eval_m >= threshold).sum()), int((eval_n >= threshold).sum())
    lower = _confident_epsilon(hits, len(eval_m), false, len(eval_n), delta, confidence)
    point = _epsilon_from_rates(hits / len(eval_m), false / len(eval_n), delta)
    return EpsilonAudit(float(lower), float(point), delta, threshold, stats.proportion(hits, len(eval_m)),
                        stats.proportion(false, len(eval_n)), len(eval_m), len(eval_n),
                        certifiable_epsilon(len(eval_m), len(eval_n), delta, confidence))


def _confident_epsilon(hits: int, n_members: int, false: int, n_nonmembers: int, delta: float, confidence: float) -> float:
    """The epsilon both inequalities force at the conservative ends of the Clopper-Pearson intervals."""
    tpr_low, tpr_high = clopper_pearson(hits, n_members, confidence)  # each side one-sided at (1 + confidence) / 2
    fpr_low, fpr_high = clopper_pearson(false, n_nonmembers, confidence)
    return max(0.0, _one_sided(tpr_low, fpr_high, delta), _one_sided(1 - fpr_high, 1 - tpr_low, delta))


def _one_sided(hit: float, miss: float, delta: float) -> float:
    """The epsilon ``hit <= e^eps * miss + delta`` forces (0 when it forces nothing)."""
    if hit - delta <= 0:
        return 0.0
    return math.inf if miss <= 0 else max(0.0, math.log((hit - delta) / miss))


# ------------------------------------------------------------------------------------------------
# One private training run, attacked and audited; a sweep over epsilons and seeds
# ------------------------------------------------------------------------------------------------

#: Version of :class:`PrivacyResult`'s and :class:`PrivacySweep`'s JSON (their ``"schema"``); bumped when
#: it changes shape or meaning (part of every cache key).
PRIVACY_SCHEMA = 3


def privacy_cache_key(config: ExperimentConfig, spec: PrivacySpec, part: str = "result") -> str:
    """Hash of what a privacy run's ``part`` (``"result"``, ``"model"`` or ``"shadows"``) depends on:
    the data and training settings, the privacy spec, and the kit's computing code (this module included)."""
    payload = {"base": config.cache_key("original"), "privacy": spec.to_dict(), "part": part, "schema": PRIVACY_SCHEMA,
               "code": code_fingerprint()}
    if part == "result":
        payload.update(shots=config.shots, attacks=list(config.attacks), n_shadows=config.n_shadows)
    elif part == "shadows":
        payload.update(n_shadows=config.n_shadows)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PrivacyResult(Result):
    """One model trained under a privacy spec, attacked and audited.

    Attributes:
        spec: the :class:`PrivacySpec` asked for.
        seed, shots: the run's seed and the attacker's shots per query (``None``: exact).
        epsilon_spent: what the accountant reports after training (``inf`` without privacy).
        noise_multiplier: the noise Opacus used (0 without privacy).
        train_accuracy, test_accuracy: on members and non-members (Wilson estimates).
        attacks: attack name -> :class:`~qmu_kit.leakage.metrics.MembershipMetrics`, all members vs all
            non-members (balanced, cross-fitted as in :class:`~qmu_kit.leakage.audit.MembershipAudit`).
        audits: attack name -> :class:`EpsilonAudit` on the same cross-fitted scores, every member against
            every non-member (unbalanced: more non-members raise the epsilon the audit can certify).
        seconds: training time.
    """

    spec: PrivacySpec
    seed: int
    shots: int | None
    epsilon_spent: float
    noise_multiplier: float
    train_accuracy: Estimate
    test_accuracy: Estimate
    attacks: dict[str, MembershipMetrics]
    audits: dict[str, EpsilonAudit]
    seconds: float
    from_cache: bool = field(default=False, compare=False)

    KIND = "privacy-run"
    VERSION = PRIVACY_SCHEMA

    @property
    def epsilon_lower(self) -> float:
        """The largest empirical lower bound over the attacks."""
        return max(a.epsilon_lower for a in self.audits.values())

    @property
    def bound_holds(self) -> bool:
        """Every attack's empirical epsilon sits under the accountant's."""
        return all(a.consistent_with(self.epsilon_spent) for a in self.audits.values())

    @property
    def epsilon_ceiling(self) -> float:
        """The largest epsilon the audits could certify (:attr:`EpsilonAudit.ceiling`; the smallest over the attacks)."""
        return min(a.ceiling for a in self.audits.values())

    @property
    def bound_tested(self) -> bool:
        """Whether :attr:`bound_holds` could have been false: the accountant's epsilon lies below every audit's ceiling."""
        return all(a.can_refute(self.epsilon_spent) for a in self.audits.values())

    def table(self, intervals: bool = True):
        """One row per attack: AUC, TPR at 1 % FPR (with the lowest measurable FPR), empirical epsilon."""
        import pandas as pd

        rows = {}
        for name, metrics in self.attacks.items():
            tpr = metrics.tpr_at_1pct_fpr
            rows[name] = {**interval_cells("AUC", metrics.auc, intervals), **interval_cells("TPR@1%FPR", tpr.tpr, intervals),
                          "lowest FPR": tpr.lowest_measurable_fpr, "epsilon lower (95 %)": round(self.audits[name].epsilon_lower, 3),
                          "certifiable up to": round(self.audits[name].ceiling, 3), "epsilon (accountant)": self.epsilon_spent}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        """The run in words, then :meth:`table` with its intervals."""
        shots = "exact outputs" if self.shots is None else f"{self.shots} shots per query"
        return "\n".join([
            f"{self.spec.label()}, seed {self.seed}, {shots}: accountant epsilon {self.epsilon_spent:.3g}, "
            f"noise multiplier {self.noise_multiplier:.3g}, {self.seconds:.1f} s of training",
            f"test accuracy {self.test_accuracy.format()}, train accuracy {self.train_accuracy.format()}",
            interval_strings(self.table()).to_string(),
            f"every attack's empirical epsilon under the accountant's: {self.bound_holds} (the audits certify at most "
            f"{self.epsilon_ceiling:.2f}, so this check {'could' if self.bound_tested else 'could not'} fail)",
        ])

    def plot(self, ax=None):
        """ROC curves of every attack (log-log) with the DP region ``TPR <= e^eps FPR + delta``."""

        return privacy_roc_figure(self, ax=ax)

    def to_dict(self) -> dict:
        inf = lambda v: None if math.isinf(v) else v  # noqa: E731
        return {"spec": self.spec.to_dict(), "seed": self.seed, "shots": self.shots, "epsilon_spent": inf(self.epsilon_spent),
                "noise_multiplier": self.noise_multiplier, "train_accuracy": self.train_accuracy.to_dict(),
                "test_accuracy": self.test_accuracy.to_dict(), "attacks": {k: v.to_dict() for k, v in self.attacks.items()},
                "audits": {k: v.to_dict() for k, v in self.audits.items()}, "seconds": self.seconds,
                "schema": self.schema()}

    @classmethod
    def from_dict(cls, data: Mapping, from_cache: bool = False) -> "PrivacyResult":
        cls.check_schema(data)
        return cls(PrivacySpec.from_dict(data["spec"]), int(data["seed"]), data["shots"],
                   math.inf if data["epsilon_spent"] is None else float(data["epsilon_spent"]), float(data["noise_multiplier"]),
                   Estimate.from_dict(data["train_accuracy"]), Estimate.from_dict(data["test_accuracy"]),
                   {k: MembershipMetrics.from_dict(v) for k, v in data["attacks"].items()},
                   {k: EpsilonAudit.from_dict(v) for k, v in data["audits"].items()}, float(data["seconds"]), from_cache)


#: DP-SGD's training recipe (notebook 07 and the privacy panel): larger batches than the paper's, since
#: the noise is added once per batch and its share of each update shrinks with the batch; 15 epochs.
DP_RECIPE = {"epochs": 15, "batch_size": 50, "lr": 0.1}
#: The classroom preset's privacy setting, over :data:`DP_RECIPE`: few members trained for 40 epochs in
#: expected batches of 25, so that the non-private baseline memorizes them and leaks measurably (its
#: loss-attack AUC clearly above 0.5), and many non-members, so that the audit can certify an epsilon
#: above 4 (:func:`certifiable_epsilon`: 50 members and 500 non-members in its counting half give 4.8).
#: The paper preset keeps its own sizes.
DP_CLASSROOM = {"n_train": 100, "n_test": 1000, "epochs": 40, "batch_size": 25}


def privacy_config(preset: str = "classroom", **overrides) -> ExperimentConfig:
    """The experiment settings a privacy run uses: ``preset`` with :data:`DP_RECIPE` (and, for the
    classroom preset, :data:`DP_CLASSROOM`), no unlearning and the cheap attacks
    (:data:`DEFAULT_ATTACKS`), unless overridden.

    Example:
        >>> config = privacy_config()
        >>> config.model, config.n_train, config.n_test, config.batch_size, config.attacks
        ('hybrid', 100, 1000, 25, ('loss', 'confidence'))
    """
    sizes = DP_CLASSROOM if preset == "classroom" else {}
    return ExperimentConfig.from_preset(preset, **{**DP_RECIPE, **sizes, "methods": (), "retrain": False,
                                                   "attacks": DEFAULT_ATTACKS, **overrides})


def _classifier(config: ExperimentConfig, spec: PrivacySpec, n_classes: int, seed: int) -> PrivateQNNClassifier:
    settings = config.training()
    return PrivateQNNClassifier(config.model, config.n_qubits, settings["depth"], n_classes=n_classes, lr=settings["lr"],
                                batch_size=settings["batch_size"], epochs=settings["epochs"], seed=seed, **spec.to_dict()
                                | {"epsilon": spec.epsilon})


def private_model(config: ExperimentConfig, spec: PrivacySpec, data=None, cache: ResultCache | bool = True) -> PrivateQNNClassifier:
    """The model ``config`` and ``spec`` describe, trained (or replayed from the model cache)."""
    data = data if data is not None else config.load_data()
    check_delta(spec.delta, config.n_train)
    return get_or_fit(resolve_cache(cache), privacy_cache_key(config, spec, "model"),
                      lambda: _classifier(config, spec, data.n_classes, config.seed).fit(data.x_train, data.y_train),
                      load=PrivateQNNClassifier.from_state)


def run_private(config: ExperimentConfig | None = None, spec: PrivacySpec | None = None, *,
                cache: ResultCache | bool = True) -> PrivacyResult:
    """Train under ``spec`` (DP-SGD, or ordinarily for ``epsilon=inf``), attack, audit: one cached call.

    Args:
        config: data, model, training, attacks, shots and seed (default :func:`privacy_config`).
        spec: the privacy budget (default epsilon 4, delta 1e-5, clip 1, RDP).
        cache: as for :func:`~qmu_kit.experiment.pipeline.run_experiment`.

    Example:
        >>> result = run_private(privacy_config(epochs=5), PrivacySpec(epsilon=4.0))   # doctest: +SKIP
        >>> result.bound_holds                                                        # doctest: +SKIP
        True
    """
    config = (config if config is not None else privacy_config()).resolved()
    spec = spec if spec is not None else PrivacySpec()
    check_delta(spec.delta, config.n_train)
    store = resolve_cache(cache)
    key = privacy_cache_key(config, spec)
    stored = store.load_json(key) if store is not None else None
    if stored is not None:
        try:
            return PrivacyResult.from_dict(stored, from_cache=True)
        except (ValueError, KeyError, TypeError):
            pass
    data = config.load_data()
    model = private_model(config, spec, data, store)
    reference_train = reference_test = None
    if needs_reference(config.attacks):
        def fit_shadows():
            return ShadowModels(lambda seed: _classifier(config, spec, data.n_classes, seed), config.n_shadows,
                                train_size=min(config.n_train, len(data.y_population) // 2), seed=config.seed,
                                ).fit(data.x_population, data.y_population)

        shadows = get_or_fit(store, privacy_cache_key(config, spec, "shadows"), fit_shadows,
                             save=lambda fitted: {"models": [m.to_state() for m in fitted.models_]},
                             load=lambda state: ShadowModels.from_models([PrivateQNNClassifier.from_state(m) for m in state["models"]]))
        reference_train = shadows.predict_proba(data.x_train, readout=make_readout(config.shots, stream_seed(config.seed, "shadow-train")))
        reference_test = shadows.predict_proba(data.x_test, readout=make_readout(config.shots, stream_seed(config.seed, "shadow-test")))
    no_forget = lambda n: np.zeros(n, bool)  # noqa: E731 - membership of the whole training set
    queries = AuditQueries(data.x_train, data.y_train, data.x_test, data.y_test,
                           AuditSplit.from_masks(no_forget(len(data.y_train)), no_forget(len(data.y_test)), config.seed),
                           (reference_train, reference_test))
    audited = audit_models({"original": model}, queries, config.attacks, config.seed,
                           readout=lambda name, part: make_readout(config.shots, stream_seed(config.seed, f"private-{part}")))
    audit, (members, nonmembers) = audited.audit, audited.observed["original"]
    split = queries.split
    attacks, audits = {}, {}
    for name in config.attacks:
        member_scores, _ = audit.out_of_fold(name, members, split.member_fold)
        nonmember_scores, _ = audit.out_of_fold(name, nonmembers, split.nonmember_fold)
        keep_m, keep_n = balanced_indices(len(member_scores), len(nonmember_scores), stream_seed(config.seed, "balance-private"))
        attacks[name] = membership_metrics(member_scores[keep_m], nonmember_scores[keep_n])
        # the audit counts every score: its ceiling grows with the non-members (the FPR's upper bound shrinks)
        audits[name] = empirical_epsilon(member_scores, nonmember_scores, spec.delta, config.seed)
    report = model.privacy_
    result = PrivacyResult(
        spec, config.seed, config.shots, float(report["epsilon_spent"]), float(report["noise_multiplier"]),
        prediction_accuracy(members.probs.argmax(1), data.y_train), prediction_accuracy(nonmembers.probs.argmax(1), data.y_test),
        attacks, audits, float(model.history_[-1]["seconds"]),
    )
    if store is not None:
        store.store_json(key, result.to_dict())
    return PrivacyResult.from_dict(result.to_dict())  # JSON-shaped, like what a replay reads back


@dataclass(frozen=True)
class PrivacySweep(Result):
    """Private runs over several epsilons and seeds, with the trade-off as a table and a plot.

    Attributes:
        results: one :class:`PrivacyResult` per (epsilon, seed), epsilons in the order given.
        attack: the attack the summary columns use.
    """

    results: tuple[PrivacyResult, ...]
    attack: str = "loss"

    KIND = "privacy-sweep"
    VERSION = PRIVACY_SCHEMA

    def epsilons(self) -> list[float]:
        seen: list[float] = []
        for r in self.results:
            if r.spec.epsilon not in seen:
                seen.append(r.spec.epsilon)
        return seen

    def at(self, epsilon: float) -> tuple[PrivacyResult, ...]:
        """The runs at one target epsilon (one per seed, in seed order).

        Example:
            >>> sweep = privacy_sweep(privacy_config(epochs=5), epsilons=(1, math.inf), seeds=(0, 1))   # doctest: +SKIP
            >>> [r.seed for r in sweep.at(math.inf)]                                                 # doctest: +SKIP
            [0, 1]
        """
        runs = tuple(r for r in self.results if r.spec.epsilon == epsilon)
        if not runs:
            raise ValueError(f"epsilon={epsilon} is not in this sweep: it ran epsilons {self.epsilons()}")
        return runs

    def aucs(self, epsilon: float, attack: str | None = None) -> list[float]:
        """The attack's AUC (all members vs all non-members) of each seed's run at ``epsilon``, e.g. for
        :func:`~qmu_kit.core.stats.mean_auc_vs_chance`; ``attack`` defaults to :attr:`attack`.

        Example:
            >>> sweep = privacy_sweep(privacy_config(epochs=5), epsilons=(1, math.inf), seeds=(0, 1))   # doctest: +SKIP
            >>> len(sweep.aucs(math.inf))                                                             # doctest: +SKIP
            2
        """
        return [r.attacks[attack or self.attack].auc.value for r in self.at(epsilon)]

    def by_epsilon(self) -> dict[float, dict]:
        """Per target epsilon: accuracies, AUC, TPR at 1 % FPR (mean over seeds with intervals), the
        accountant's epsilon, the largest empirical lower bound, the largest epsilon the audits could
        certify (``epsilon_ceiling``, the smallest over the runs), whether every run satisfies the bound,
        and whether that check could fail in every run (``bound_tested``)."""
        out = {}
        for eps in self.epsilons():
            runs = [r for r in self.results if r.spec.epsilon == eps]
            metrics = [r.attacks[self.attack] for r in runs]
            out[eps] = {
                "test_accuracy": stats.rate_over_seeds([r.test_accuracy.value for r in runs], [r.test_accuracy.n for r in runs]),
                "train_accuracy": stats.rate_over_seeds([r.train_accuracy.value for r in runs], [r.train_accuracy.n for r in runs]),
                "auc": stats.mean_of_estimates([m.auc for m in metrics], bounds=(0.0, 1.0)),
                "tpr_at_1pct_fpr": stats.rate_over_seeds([m.tpr_at_1pct_fpr.tpr.value for m in metrics],
                                                         [m.tpr_at_1pct_fpr.tpr.n for m in metrics]),
                "lowest_fpr": max(m.tpr_at_1pct_fpr.lowest_measurable_fpr for m in metrics),
                "epsilon_spent": max(r.epsilon_spent for r in runs),
                "noise_multiplier": float(np.mean([r.noise_multiplier for r in runs])),
                "epsilon_lower": max(r.epsilon_lower for r in runs),
                "epsilon_ceiling": min(r.epsilon_ceiling for r in runs),
                "bound_holds": all(r.bound_holds for r in runs),
                "bound_tested": all(r.bound_tested for r in runs),
                "n_seeds": len(runs),
            }
        return out

    def table(self, intervals: bool = True):
        """The epsilon-accuracy-leakage table: one row per target epsilon (a DataFrame; each estimate with
        its count and 95 % interval when ``intervals``)."""
        import pandas as pd

        rows = {}
        for eps, s in self.by_epsilon().items():
            label = "inf (non-private)" if math.isinf(eps) else f"{eps:g}"
            rows[label] = {
                "accountant eps": s["epsilon_spent"], "sigma": round(s["noise_multiplier"], 3),
                **interval_cells("test accuracy", s["test_accuracy"], intervals),
                **interval_cells(f"AUC ({self.attack})", s["auc"], intervals),
                **interval_cells("TPR@1%FPR", s["tpr_at_1pct_fpr"], intervals), "lowest FPR": round(s["lowest_fpr"], 4),
                "empirical eps >=": round(s["epsilon_lower"], 3), "certifiable eps <=": round(s["epsilon_ceiling"], 3),
                "bound holds": s["bound_holds"], "could fail": s["bound_tested"], "seeds": s["n_seeds"],
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def audit_table(self):
        """Every run's epsilon audit, one row per (target epsilon, seed, attack): the accountant's
        epsilon, the empirical lower bound (95 %) and its point estimate, the largest epsilon the audit
        could certify (:func:`certifiable_epsilon`), how many members and non-members it counted, the
        TPR and FPR at its threshold, whether the bound held and whether it could have failed."""
        import pandas as pd

        rows = [{"target eps": r.spec.label(), "seed": r.seed, "attack": attack, "accountant eps": round(r.epsilon_spent, 3),
                 "empirical eps >= (95 %)": round(audit.epsilon_lower, 3), "point estimate": round(audit.point, 3),
                 "certifiable up to": round(audit.ceiling, 3), "counted": f"{audit.n_members} + {audit.n_nonmembers}",
                 "TPR at threshold": str(audit.tpr), "FPR at threshold": str(audit.fpr),
                 "under the bound": audit.consistent_with(r.epsilon_spent), "could fail": audit.can_refute(r.epsilon_spent)}
                for r in self.results for attack, audit in r.audits.items()]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """:meth:`table` as text, each estimate ``value [low, high] (n=N)``."""
        seeds = sorted({r.seed for r in self.results})
        return (f"private training at {len(self.epsilons())} target epsilons x {len(seeds)} seed(s), the {self.attack} attack "
                f"(means over seeds):\n{interval_strings(self.table()).to_string()}")

    def plot(self, ax=None):
        """Test accuracy and attack AUC against epsilon, with their intervals (on a given ``ax``: the AUC)."""

        return privacy_tradeoff_figure(self, ax=ax)

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "attack": self.attack, "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "PrivacySweep":
        cls.check_schema(data)
        return cls(tuple(PrivacyResult.from_dict(r) for r in data["results"]), data["attack"])


def privacy_sweep(config: ExperimentConfig | None = None, epsilons: Sequence[float] = (1.0, 4.0, 16.0, math.inf),
                  seeds: Sequence[int] = (0, 1), *, delta: float = 1e-5, max_grad_norm: float = 1.0,
                  accountant: str = "rdp", attack: str = "loss", cache: ResultCache | bool = True) -> PrivacySweep:
    """:func:`run_private` at every epsilon and seed (each cached).

    Example:
        >>> sweep = privacy_sweep(privacy_config(epochs=5), epsilons=(1, math.inf), seeds=(0,))   # doctest: +SKIP
        >>> sweep.table()                                                                       # doctest: +SKIP
    """
    config = config if config is not None else privacy_config()
    specs = [PrivacySpec(check_epsilon(e), delta, max_grad_norm, accountant) for e in epsilons]
    if not specs:
        raise ValueError("epsilons=() is empty: give at least one epsilon (math.inf for the non-private baseline)")
    seeds = [check_int("seed", s, 0, 2**32 - 1) for s in seeds]
    if not seeds:
        raise ValueError("seeds=() is empty: give at least one seed")
    check_choice("attack", attack, config.attacks)
    results = tuple(run_private(config.replace(seed=s), spec, cache=cache) for spec in specs for s in seeds)
    return PrivacySweep(results, attack)


# ------------------------------------------------------------------------------------------------
# Shots as noise: they perturb each answer, but averaging re-queries removes them
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequeryAveraging(Result):
    """How far shot-estimated outputs sit from the exact ones when an attacker averages ``k`` queries.

    Attributes:
        shots: shots per query.
        queries: the ``k`` values.
        distance: mean absolute difference between the averaged and exact class probabilities, per ``k``.
        n_samples: inputs queried.
    """

    shots: int
    queries: tuple[int, ...]
    distance: tuple[float, ...]
    n_samples: int

    KIND = "requery-averaging"
    VERSION = 1

    def table(self, intervals: bool = True):
        """One row per ``k``: the distance and the shots it amounts to (plain numbers: no estimate here,
        so ``intervals`` changes nothing)."""
        import pandas as pd

        return pd.DataFrame({"queries averaged": self.queries, "mean |p - p_exact|": self.distance,
                             "effective shots": [k * self.shots for k in self.queries]}).set_index("queries averaged")

    def summary(self) -> str:
        shrink = self.distance[0] / self.distance[-1]
        return (f"{self.shots} shots per query, {self.n_samples} inputs:\n{self.table().to_string()}\n"
                f"averaging {self.queries[-1]} queries instead of {self.queries[0]} shrinks the distance {shrink:.1f}-fold "
                f"(1/sqrt(k) predicts {math.sqrt(self.queries[-1] / self.queries[0]):.1f}-fold)")

    def plot(self, ax=None):
        """The distance against the queries averaged (log-log) with the ``1 / sqrt(k)`` law."""
        return requery_figure(self, ax=ax)

    def to_dict(self) -> dict:
        return {"schema": self.schema(), "shots": self.shots, "queries": list(self.queries), "distance": list(self.distance),
                "n_samples": self.n_samples}

    @classmethod
    def from_dict(cls, data: Mapping) -> "RequeryAveraging":
        cls.check_schema(data)
        return cls(int(data["shots"]), tuple(int(k) for k in data["queries"]), tuple(float(d) for d in data["distance"]),
                   int(data["n_samples"]))


def requery_averaging(model: QNNClassifier, x, shots: int = 100, queries: Sequence[int] = (1, 4, 16, 64),
                      seed: int = 0) -> RequeryAveraging:
    """Average ``k`` independent ``shots``-shot queries of every input and measure the distance to
    the exact outputs: it shrinks like ``1 / sqrt(k)``, so finite shots are no privacy guarantee
    against an attacker who may ask again.

    Example:
        >>> from qmu_kit.qnn import prepare_data
        >>> data = prepare_data("digits", model="basic", n_qubits=4, n_train=60, n_test=40)
        >>> clf = QNNClassifier("basic", 4, 1, epochs=1).fit(data.x_train, data.y_train)
        >>> r = requery_averaging(clf, data.x_test[:10], shots=50, queries=(1, 16))
        >>> r.distance[1] < r.distance[0]
        True
    """

    shots = check_shots(shots)
    if shots is None:
        raise ValueError("shots='exact' has no shot noise to average: give 1..1000000 shots")
    queries = tuple(check_int("queries", k, 1, 10_000) for k in queries)
    exact = model.predict_proba(x)
    answers = [model.predict_proba(x, shots=shots, seed=stream_seed(seed, f"requery-{i}")) for i in range(max(queries))]
    distance = tuple(float(np.abs(np.mean(answers[:k], axis=0) - exact).mean()) for k in queries)
    return RequeryAveraging(shots, queries, distance, len(exact))


__all__ = [
    "ACCOUNTANTS", "DEFAULT_EPSILON", "DP_CLASSROOM", "DP_RECIPE", "EpsilonAudit", "GradientCheck", "PrivacyResult", "PrivacySpec", "PrivacySweep", "PrivateQNNClassifier",
    "PRIVACY_FIELDS", "RequeryAveraging", "autograd_per_sample_gradients", "certifiable_epsilon", "check_epsilon", "clopper_pearson", "dp_train",
    "empirical_epsilon", "noise_for_budget", "opacus_per_sample_gradients", "quantum_grad_sample", "per_sample_gradient_check", "privacy_config", "privacy_sweep",
    "private_model", "requery_averaging", "run_private",
]
