"""Bring your own QNN: audit and unlearn any torch module that maps inputs to logits.

The kit's attacks, audit and unlearning methods were written for its two QNNs. This module wraps any
``torch.nn.Module`` whose forward pass maps a batch of inputs ``(B, ...)`` to logits ``(B, C)`` (a
PennyLane ``qml.qnn.TorchLayer`` inside a torch model included) so that they apply unchanged:

* :class:`LogitsModule` - the user's module behind the kit's model interface (``forward(x, readout)``,
  a circuit-evaluation counter, its quantum parameters), checking every output's shape;
* :class:`TorchClassifier` - the wrapped module as a fitted classifier (``predict_proba``, ``copy``),
  refittable when a training recipe is given: ``build`` (seed -> untrained module, trained by the
  kit's loop with ``training``) or ``train_fn`` (``(x, y, seed) -> trained module``, your own loop);
* :func:`audit_model` - the kit's audit of that model (threshold attacks, the paper's MLP attack, LiRA when
  the model can be refitted for shadow models), optionally followed by unlearning (GA, RGA, SSD,
  fine-tune and any registered method) and the retrained reference, returning an
  :class:`~qmu_kit.experiment.results.AuditResult` with the kit's estimates, tables and figures.

Finite shots: a readout with ``shots`` (``predict_proba(x, shots=300)``, ``audit_model(..., shots=300)``)
is applied to every PennyLane ``TorchLayer`` through PennyLane's own mechanism (``qml.set_shots``
on a device re-created with a seed drawn from the readout's random stream, so a run is reproducible),
and to every kit :class:`~qmu_kit.qnn.models.QuantumLayer` through the kit's sampler
(:mod:`qmu_kit.qnn.readout`). A model with neither refuses shots.

Circuit evaluations (this kit's definition, as for its own QNNs): one per input per quantum layer
per forward pass, plus ``2 * n_params`` of that layer per input when the pass tracks its gradients
(the parameter-shift cost on a device). A ``train_fn`` trains outside the wrapper, so its evaluations
are not counted (0 in the results); ``build`` trains through the kit's loop, which counts them.

Example:
    >>> import numpy as np, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(60, 4)).astype(np.float32), rng.integers(0, 3, 60)
    >>> result = audit_model(net, (x[:30], y[:30]), (x[30:], y[30:]), attacks=("loss",), forget="class:1")
    >>> list(result.models), result.models["original"].mia_auc_overall.n > 0
    (['original'], True)
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from qmu_kit.core.seeds import stream_seed
from qmu_kit.core.validation import check_int, check_names
from qmu_kit.experiment.config import versions
from qmu_kit.experiment.pipeline import model_results
from qmu_kit.experiment.results import AuditResult
from qmu_kit.leakage.attacks import ShadowModels, attack_names, needs_reference
from qmu_kit.leakage.audit import headline_attack
from qmu_kit.qnn.data import ForgetSpec, PreparedData, forget_masks
from qmu_kit.qnn.models import QuantumLayer, parameter_counts
from qmu_kit.qnn.readout import ExactReadout, ShotReadout, make_readout
from qmu_kit.qnn.training import ReadoutPredictions, TrainingConfig, predict_logits, train
from qmu_kit.unlearning.methods import UnlearningTask, make_method, method_names

#: The recipe of fine-tuning (and of ``build``'s training) when none is given: Adam, lr 0.05, batches
#: of 16, 5 epochs (fine-tuning sets its own epochs).
DEFAULT_TRAINING = TrainingConfig(lr=0.05, batch_size=16, epochs=5, optimizer="adam")
#: The attacks :func:`audit_model` runs by default: every one that needs only the model's outputs.
OUTPUT_ATTACKS = ("mlp", "loss", "confidence", "entropy")


def _is_torch_layer(module: nn.Module) -> bool:
    """Whether ``module`` is a PennyLane ``TorchLayer`` (without importing PennyLane when unused)."""
    qml = sys.modules.get("pennylane")
    return qml is not None and isinstance(module, qml.qnn.TorchLayer)


def check_logits(logits, n_inputs: int, n_classes: int) -> torch.Tensor:
    """Raise ``ValueError`` unless ``logits`` is a tensor of shape ``(n_inputs, n_classes)``.

    Example:
        >>> check_logits(torch.zeros(4, 3), 4, 3).shape
        torch.Size([4, 3])
        >>> check_logits(torch.zeros(4), 4, 3)
        Traceback (most recent call last):
        ...
        ValueError: the model must map 4 inputs to logits of shape (4, 3) (one score per class), got a tensor of shape (4,)
    """
    shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else None
    if shape != (n_inputs, n_classes):
        seen = f"a tensor of shape {shape}" if shape is not None else f"a {type(logits).__name__}"
        raise ValueError(
            f"the model must map {n_inputs} inputs to logits of shape ({n_inputs}, {n_classes}) (one score per "
            f"class), got {seen}"
        )
    return logits


def check_not_probabilities(logits: torch.Tensor) -> None:
    """Refuse outputs that look like probabilities rather than logits: every value in [0, 1] over at
    least two rows. The kit applies its own softmax; a softmax of probabilities flattens them, and a
    softmax over the batch axis makes each answer depend on the rest of the batch. The message says
    which case it saw: rows summing to 1 (a softmax over the classes), columns summing to 1 (a
    softmax over the batch, ``dim=0``), or neither (e.g. a sigmoid). Logits that happen to lie in
    [0, 1] can be shifted by a constant (a softmax does not change).

    Example:
        >>> check_not_probabilities(torch.tensor([[2.0, -1.0], [0.5, 0.3]]))  # logits: accepted
        >>> check_not_probabilities(torch.sigmoid(torch.tensor([[2.0, -1.0], [0.5, 0.3]])))
        Traceback (most recent call last):
        ...
        ValueError: the model's outputs are probabilities, not logits: every output lies in [0, 1] (e.g. a final sigmoid): return the scores before it; the kit applies its own softmax (logits that happen to lie in [0, 1]: subtract a constant, which a softmax ignores)
    """
    values = logits.detach().to(torch.float64)
    if len(values) < 2 or not bool(((values >= 0) & (values <= 1)).all()):
        return
    sums_to_one = lambda axis: bool(torch.allclose(values.sum(axis), torch.ones(values.shape[1 - axis], dtype=torch.float64), atol=1e-6))  # noqa: E731
    if sums_to_one(1):
        seen = " (every row lies in [0, 1] and sums to 1), not logits: remove its final softmax"
    elif sums_to_one(0):
        seen = (", not logits: every column sums to 1 over the batch, a softmax over the batch axis (dim=0) that makes "
                "each answer depend on the other inputs of the batch: return the scores before it")
    else:
        seen = ", not logits: every output lies in [0, 1] (e.g. a final sigmoid): return the scores before it"
    raise ValueError(f"the model's outputs are probabilities{seen}; the kit applies its own softmax (logits that happen "
                     "to lie in [0, 1]: subtract a constant, which a softmax ignores)")


def check_labelled(name: str, x, y, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as arrays after checking one integer label per finite input, each label in
    ``0 .. n_classes - 1`` (``n_classes=None``: integers, their range checked later with
    :func:`check_classes`, once the model's output width is known).

    Example:
        >>> check_labelled("members", np.zeros((3, 2)), [0, 2, 1], 3)[1].tolist()
        [0, 2, 1]
        >>> check_labelled("members", np.zeros((3, 2)), [0, 1], 3)
        Traceback (most recent call last):
        ...
        ValueError: members: 3 inputs but 2 labels: give exactly one label per input
        >>> check_labelled("non_members", np.array([[0.0, 1.0], [np.nan, 2.0]]), [0, 1])
        Traceback (most recent call last):
        ...
        ValueError: non_members: 1 of 2 inputs contain NaN or infinity (the first: row 1): give finite inputs
    """
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name}: labels must be one integer per input (a 1-D array), got shape {y.shape}")
    if x.ndim == 0 or len(x) != len(y):
        raise ValueError(f"{name}: {len(x) if x.ndim else 0} inputs but {len(y)} labels: give exactly one label per input")
    if len(y) == 0:
        raise ValueError(f"{name} is empty: give at least one labelled input")
    if np.issubdtype(x.dtype, np.number):
        bad_rows = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad_rows.any():
            raise ValueError(f"{name}: {int(bad_rows.sum())} of {len(x)} inputs contain NaN or infinity (the first: row "
                             f"{int(np.argmax(bad_rows))}): give finite inputs")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        classes = f" from 0 to {n_classes - 1}" if n_classes is not None else ""
        raise ValueError(f"{name}: labels must be integers{classes}, got dtype {y.dtype}")
    return x, check_classes(name, y, n_classes) if n_classes is not None else y.astype(np.int64)


def check_classes(name: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels ``y`` as int64 after checking each is in ``0 .. n_classes - 1``.

    Example:
        >>> check_classes("population", np.array([0, 3]), 3)
        Traceback (most recent call last):
        ...
        ValueError: population: label 3 is outside the classes: labels must be integers from 0 to 2 (the model has 3 outputs)
    """
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        raise ValueError(f"{name}: label {y[bad][0]:g} is outside the classes: labels must be integers from 0 to "
                         f"{n_classes - 1} (the model has {n_classes} outputs)")
    return y.astype(np.int64)


def check_disjoint(sets: dict[str, np.ndarray]) -> None:
    """Refuse inputs shared between the named sets (rows equal value for value): a member passed
    again as a non-member makes the two groups alike and hides the leakage (an AUC near 0.5 for a
    model that leaks), and attacker data overlapping either set is no longer held out.

    Example:
        >>> x = np.arange(12.0).reshape(6, 2)
        >>> check_disjoint({"members": x[:4], "non_members": x[4:]})
        >>> check_disjoint({"members": x[:4], "non_members": x[2:]})
        Traceback (most recent call last):
        ...
        ValueError: members and non_members share 2 inputs (2 of the 4 non_members rows equal a members row): the sets must be disjoint, each input in one of them only
    """
    def row(x, i):  # one row as float64, -0.0 as 0.0: no float64 copy of a whole (large) set
        return np.asarray(x[i], dtype=np.float64).ravel() + 0.0

    hashes = {name: [hash(row(x, i).tobytes()) for i in range(len(x))] for name, x in sets.items()}
    names = list(sets)
    for i, first in enumerate(names):
        index = {key: j for j, key in enumerate(hashes[first])}
        for second in names[i + 1:]:
            matched = [key for j, key in enumerate(hashes[second])
                       if key in index and np.array_equal(row(sets[first], index[key]), row(sets[second], j))]
            if matched:
                raise ValueError(
                    f"{first} and {second} share {len(set(matched))} inputs ({len(matched)} of the {len(hashes[second])} "
                    f"{second} rows equal a {first} row): the sets must be disjoint, each input in one of them only"
                )


class LogitsModule(nn.Module):
    """A user's torch module behind the kit's model interface.

    ``forward(x, readout=None)`` casts ``x`` to the module's dtype, reads its quantum layers out
    through ``readout`` (see the module docstring), checks that the output is ``(B, n_classes)`` and
    returns the logits as float64 (the kit's dtype). The kit's unlearning methods, training loop and
    Fisher estimates work on it unchanged.

    Args:
        model: the user's module (``forward(x)`` or ``forward(x, readout)``).
        n_classes: the number of logits per input (>= 2).

    Attributes:
        circuit_evaluations: device-equivalent circuit executions through this wrapper so far.
        simulator_gradient_evaluations: the kit's quantum layers' count of input-state gradients only
            the simulator computed (see :class:`~qmu_kit.qnn.models.QuantumLayer`).

    Example:
        >>> wrapped = LogitsModule(nn.Linear(4, 3), n_classes=3)
        >>> wrapped(torch.zeros(2, 4, dtype=torch.float64)).dtype, wrapped.quantum_parameters()
        (torch.float64, [])
    """

    def __init__(self, model: nn.Module, n_classes: int):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"the model must be a torch.nn.Module mapping inputs to logits, got a {type(model).__name__}")
        self.model = model
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.evaluations = 0
        self.takes_readout = "readout" in inspect.signature(model.forward).parameters

    def torch_layers(self) -> list[nn.Module]:
        """The PennyLane ``TorchLayer`` s inside the model."""
        return [m for m in self.model.modules() if _is_torch_layer(m)]

    def kit_layers(self) -> list[QuantumLayer]:
        """The kit's quantum layers inside the model (they count their own circuit evaluations)."""
        return [m for m in self.model.modules() if isinstance(m, QuantumLayer)]

    @property
    def circuit_evaluations(self) -> int:
        return self.evaluations + sum(layer.circuit_evaluations for layer in self.kit_layers())

    @property
    def simulator_gradient_evaluations(self) -> int:
        return sum(layer.simulator_gradient_evaluations for layer in self.kit_layers())

    def quantum_parameters(self) -> list[nn.Parameter]:
        """The parameters of every quantum layer (PennyLane or the kit's)."""
        return [p for layer in (*self.torch_layers(), *self.kit_layers()) for p in layer.parameters()]

    def forward(self, x: torch.Tensor, readout=None) -> torch.Tensor:
        parameter = next(self.model.parameters(), None)
        x = torch.as_tensor(x).to(parameter.dtype if parameter is not None else torch.get_default_dtype())
        with self._readout(readout):
            logits = self.model(x, readout) if self.takes_readout else self.model(x)
        check_logits(logits, len(x), self.n_classes)
        for layer in self.torch_layers():
            weights = [p for p in layer.parameters() if p.requires_grad]
            gradient = torch.is_grad_enabled() and bool(weights)
            self.evaluations += len(x) * (1 + (2 * sum(p.numel() for p in weights) if gradient else 0))
        return logits.to(torch.float64)

    @contextmanager
    def _readout(self, readout):
        readout = readout if readout is not None else ExactReadout()
        shots = getattr(readout, "shots", None)
        torch_layers = self.torch_layers()
        kit_layers = [] if self.takes_readout else self.kit_layers()
        if shots is not None and not (torch_layers or kit_layers or self.takes_readout):
            raise ValueError(
                f"shots={shots} applies to quantum layers, and this model has none (no PennyLane TorchLayer, no "
                "qmu_kit QuantumLayer): use exact outputs (shots=None)"
            )
        if torch_layers and type(readout) not in (ExactReadout, ShotReadout):
            raise ValueError(
                f"{readout!r} runs the kit's own circuit only; a PennyLane layer takes exact outputs or shots "
                "(shots=None or an integer)"
            )
        saved = [(layer, layer.qnode) for layer in torch_layers]
        saved_readouts = [(layer, layer.default_readout) for layer in kit_layers]
        try:
            for layer, qnode in saved:
                seed = None if shots is None else int(readout.rng.integers(2**31))
                layer.qnode = pennylane_shots(qnode, shots, seed, gradients=torch.is_grad_enabled())
            for layer in kit_layers:
                layer.default_readout = readout
            yield
        finally:
            for layer, qnode in saved:
                layer.qnode = qnode
            for layer, previous in saved_readouts:
                layer.default_readout = previous

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}"


def pennylane_shots(qnode, shots: int | None, seed: int | None = None, gradients: bool = False):
    """``qnode`` run with ``shots`` through PennyLane's own mechanism (``qml.set_shots``; ``None``:
    analytic), on a copy of its device created with ``seed`` so the samples are reproducible, and
    differentiated by the parameter-shift rule where it asked for backpropagation or adjoint.

    With ``gradients=True`` (a pass that will be differentiated) a batch of inputs is expanded into
    one circuit per input (``qml.transforms.broadcast_expand``): PennyLane's parameter-shift rule
    does not differentiate a broadcast circuit with respect to its broadcast (input) parameters, which
    a model with a trainable layer before the circuit needs. This costs one tape per input: training
    or unlearning a PennyLane model under shots is far slower than exactly.

    Example:
        >>> import pennylane as qml
        >>> @qml.qnode(qml.device("default.qubit", wires=1))
        ... def circuit(angle):
        ...     qml.RX(angle, wires=0)
        ...     return qml.expval(qml.Z(0))
        >>> first, second = (float(pennylane_shots(circuit, 100, seed=3)(0.4)) for _ in range(2))
        >>> first == second, float(pennylane_shots(circuit, None)(0.0))
        (True, 1.0)
    """
    import pennylane as qml

    if shots is not None:
        device = qnode.device
        try:
            seeded = qml.device(device.name, wires=device.wires, seed=seed)
        except Exception as error:  # a plugin device that cannot be re-created from its name and wires
            raise ValueError(
                f"cannot re-create the PennyLane device {device.name!r} with a seed for shots={shots}: {error}"
            ) from error
        # Backpropagation and adjoint differentiation need exact states; a device that samples is
        # differentiated with the parameter-shift rule (as the kit's own sampler is).
        exact_only = qnode.diff_method in ("backprop", "adjoint")
        qnode = qnode.update(device=seeded, **({"diff_method": "parameter-shift"} if exact_only else {}))
    qnode = qml.set_shots(qnode, shots=shots)
    return qml.transforms.broadcast_expand(qnode) if shots is not None and gradients else qnode


class TorchClassifier(ReadoutPredictions):
    """A bring-your-own torch module as a classifier the kit's audit and unlearning accept.

    Give a recipe to make it refittable (for the retrained reference and LiRA's shadow models):
    ``build`` (``seed -> untrained module``, trained by the kit's loop :func:`~qmu_kit.qnn.training.train`
    with ``training``) or ``train_fn`` (``(x, y, seed) -> trained module``, your own loop). Wrap a
    module you already trained with :meth:`from_module`.

    Args:
        build: ``seed -> untrained torch module`` (mapping inputs to ``n_classes`` logits).
        train_fn: ``(x, y, seed) -> trained torch module`` (numpy inputs and integer labels).
        n_classes: logits per input (>= 2).
        training: the recipe of ``build``'s training and of fine-tuning (default
            :data:`DEFAULT_TRAINING`).
        seed: seeds the recipe.

    Attributes:
        module_: the fitted :class:`LogitsModule`.
        history_: training history (``seconds`` and ``circuit_evaluations`` per epoch; one record for
            ``train_fn`` or a wrapped module, whose circuit evaluations the kit did not see: 0).
        training_config_: the recipe fine-tuning continues with.
        n_params_: ``{"quantum": ..., "classical": ...}``.

    Example:
        >>> clf = TorchClassifier(build=lambda seed: nn.Linear(4, 2), n_classes=2)
        >>> clf = clf.fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2)
        >>> clf.predict_proba(np.zeros((3, 4))).shape
        (3, 2)
    """

    def __init__(self, build: Callable | None = None, train_fn: Callable | None = None, *, n_classes: int,
                 training: TrainingConfig | None = None, seed: int = 0):
        if build is not None and train_fn is not None:
            raise ValueError("give either build (trained by the kit's loop) or train_fn (your own loop), not both")
        self.build = build
        self.train_fn = train_fn
        self.n_classes = check_int("n_classes", n_classes, 2)
        if training is not None and not isinstance(training, TrainingConfig):
            raise TypeError(f"training must be a qmu_kit.qnn.training.TrainingConfig, got a {type(training).__name__}")
        self.training = training
        self.seed = check_int("seed", seed, 0)

    @property
    def refittable(self) -> bool:
        """Whether a recipe (``build`` or ``train_fn``) was given."""
        return self.build is not None or self.train_fn is not None

    @classmethod
    def from_module(cls, module: nn.Module, n_classes: int, **recipe) -> "TorchClassifier":
        """A fitted classifier around an already trained ``module`` (``recipe``: ``build`` or
        ``train_fn``, ``training``, ``seed`` as for the constructor)."""
        return cls(n_classes=n_classes, **recipe)._set_fitted(module, [{"seconds": 0.0, "circuit_evaluations": 0}])

    def fit(self, X, y) -> "TorchClassifier":
        """Train a fresh module on ``(X, y)`` with the recipe; returns ``self``."""
        if not self.refittable:
            raise ValueError("this model has no training recipe: pass build=... or train_fn=... to fit or retrain it")
        X, y = check_labelled("training data", X, y, self.n_classes)
        start = time.perf_counter()
        if self.build is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                wrapped = LogitsModule(self._module(self.build(self.seed), "build"), self.n_classes)
            history = train(wrapped, X, y, self.training_config(), seed=self.seed, description="training your model")
            return self._set_fitted(wrapped, history)
        module = self._module(self.train_fn(X, y, self.seed), "train_fn")
        return self._set_fitted(module, [{"seconds": time.perf_counter() - start, "circuit_evaluations": 0}])

    @staticmethod
    def _module(module, source: str) -> nn.Module:
        if not isinstance(module, nn.Module):
            raise TypeError(f"{source} must return a torch.nn.Module, got a {type(module).__name__}")
        return module

    def training_config(self) -> TrainingConfig:
        return self.training if self.training is not None else DEFAULT_TRAINING

    def _set_fitted(self, module: nn.Module, history: list[dict]) -> "TorchClassifier":
        wrapped = module if isinstance(module, LogitsModule) else LogitsModule(module, self.n_classes)
        wrapped.eval()
        self.module_, self.history_ = wrapped, list(history)
        self.training_config_ = self.training_config()
        self.n_classes_ = self.n_classes
        self.n_params_ = parameter_counts(wrapped)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise RuntimeError("this TorchClassifier is not fitted yet: call fit(X, y) or use from_module")

    def get_params(self) -> dict:
        return {"build": self.build, "train_fn": self.train_fn, "n_classes": self.n_classes,
                "training": self.training, "seed": self.seed}

    def unfitted_twin(self, progress: bool = False, seed: int | None = None) -> "TorchClassifier":
        """An unfitted classifier with this recipe (``seed``: another seed, e.g. a shadow model's)."""
        if not self.refittable:
            raise ValueError(
                "retraining needs the model's training recipe: pass build=... (seed -> untrained module) or "
                "train_fn=... ((x, y, seed) -> trained module)"
            )
        return TorchClassifier(**{**self.get_params(), **({"seed": seed} if seed is not None else {})})

    def training_steps(self, n_samples: int) -> int:
        """Optimizer steps of a fit on ``n_samples`` samples (0 when ``train_fn`` trains: not known here)."""
        if self.build is None:
            return 0
        config = self.training_config()
        return config.epochs * -(-n_samples // config.batch_size)

    def predict_proba(self, X, *, shots=None, seed: int = 0, readout=None) -> np.ndarray:
        """Class probabilities ``(N, n_classes)``: the softmax of the logits, read out exactly or with
        ``shots`` (seeded by ``seed``), or through a ready ``readout``."""
        self._check_fitted()
        readout = readout if readout is not None else make_readout(shots, seed)
        return torch.softmax(predict_logits(self.module_, X, readout), dim=1).numpy()

    @property
    def circuit_evaluations_(self) -> int:
        self._check_fitted()
        return self.module_.circuit_evaluations

    def copy(self) -> "TorchClassifier":
        """An independent deep copy (unlearning changes the copy, never the original)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        recipe = "build" if self.build is not None else "train_fn" if self.train_fn is not None else "no recipe"
        return f"TorchClassifier(n_classes={self.n_classes}, {recipe}, seed={self.seed})"


def _labelled_pair(name: str, pair) -> tuple:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{name} must be a pair (inputs, labels), got a {type(pair).__name__}")
    return pair


def _forget_masks(forget, y_members, y_nonmembers, seed):
    """``(spec, member mask, non-member mask)`` from ``"class:K"``/``"random:F"`` or a member mask."""
    if isinstance(forget, (str, ForgetSpec)):
        spec = ForgetSpec.parse(forget)
        members, nonmembers = forget_masks(y_members, y_nonmembers, spec, seed)
        return spec, members, nonmembers
    mask = np.asarray(forget)
    if mask.dtype != bool or mask.shape != y_members.shape:
        raise ValueError(
            f"forget must be 'class:K', 'random:F' or a boolean mask over the {len(y_members)} members, got "
            f"{mask.dtype} of shape {mask.shape}"
        )
    if not mask.any() or mask.all():
        raise ValueError(f"the forget mask selects {int(mask.sum())} of {len(mask)} members: select some, not all")
    # The non-member counterparts of a hand-picked forget set: a random share of the same size.
    rng = np.random.default_rng([seed, 1])
    count = min(len(y_nonmembers) - 1, max(1, round(mask.mean() * len(y_nonmembers))))
    nonmembers = np.zeros(len(y_nonmembers), dtype=bool)
    nonmembers[rng.choice(len(y_nonmembers), count, replace=False)] = True
    return ForgetSpec("random", float(mask.mean())), mask, nonmembers


def _forget_label(forget, spec: ForgetSpec) -> str:
    """How the messages name the forget set: ``forget='class:4'``, or ``the forget mask``."""
    return f"forget='{spec.kind}:{spec.value:g}'" if isinstance(forget, (str, ForgetSpec)) else "the forget mask"


def _check_groups(forget, spec: ForgetSpec, forget_members, forget_nonmembers, y_nonmembers) -> None:
    """Refuse a forget set that leaves one of the audit's four groups empty (forget-set members and
    their matched non-members, retained members and retained non-members), naming the group."""
    matched = f"non-members of class {spec.value:g}" if spec.kind == "class" else "non-members matched to the forget set"
    groups = (("members in the forget set", forget_members), (matched, forget_nonmembers),
              ("retained members", ~forget_members), ("retained non-members", ~forget_nonmembers))
    empty = [what for what, mask in groups if not mask.any()]
    if empty:
        described = _forget_label(forget, spec)
        classes = f" (the non-members' classes: {', '.join(str(c) for c in np.unique(y_nonmembers))})" if spec.kind == "class" else ""
        raise ValueError(
            f"{described} leaves no {' and no '.join(empty)}{classes}: the audit compares the forget set's members with "
            "matched non-members and the retained members with the retained non-members, each group at least one sample"
        )


def audit_model(
    model,
    members,
    non_members,
    *,
    n_classes: int | None = None,
    forget="random:0.1",
    attacks: Sequence[str] = OUTPUT_ATTACKS,
    methods: Sequence[str] = (),
    method_options: dict | None = None,
    retrain: bool = True,
    shots=None,
    seed: int = 0,
    population=None,
    n_shadows: int = 2,
    build: Callable | None = None,
    train_fn: Callable | None = None,
    training: TrainingConfig | None = None,
    unlearn_params: str = "all",
) -> AuditResult:
    """Audit your own model for membership leakage, and optionally unlearn a forget set.

    The same audit as the kit's experiments (:mod:`qmu_kit.leakage.audit`): the attacks are fitted against the
    model's outputs on known members and non-members (cross-fitted over two folds) and replayed on
    every unlearned model; each rate and AUC is an :class:`~qmu_kit.core.stats.Estimate` with its count
    and 95 % interval.

    Args:
        model: a torch module mapping inputs ``(B, ...)`` to logits ``(B, n_classes)`` (a PennyLane
            ``TorchLayer`` inside included), or a fitted :class:`TorchClassifier`.
        members: ``(x, y)``, the model's training data (or the part the auditor knows).
        non_members: ``(x, y)``, data it never trained on, from the same distribution; no input may
            also be a member (an overlap is refused: it would hide the leakage).
        n_classes: logits per input (default: the model's output width).
        forget: the forget set: ``"class:K"``, ``"random:F"`` or a boolean mask over the members. The
            audit's ``forget`` comparison is this set against its non-member counterparts, its
            ``overall`` one the rest. Unlearning a random set or a mask (``methods``) needs
            ``population``: the stopping target is the original's accuracy on held-out data.
        attacks: attack registry names, a list or comma-separated text (``"loss"``, ``"loss,mlp"``,
            ``"all"``; default: every attack that needs only outputs); ``"lira"`` needs shadow models,
            so a training recipe and ``population``.
        methods: unlearning methods to run on the forget set, as ``attacks`` (e.g. ``("ga", "ssd")`` or
            ``"ga"``).
        method_options: per-method knobs, e.g. ``{"ga": {"lr": 0.02}}``.
        retrain: train the retrained reference on the retain set (needs a recipe; skipped without one).
        shots: ``None`` (exact) or the shots per query of the attacker and of unlearning.
        seed: seeds folds, attacks, shots and unlearning.
        population: ``(x, y)``, attacker-side data disjoint from members and non-members (an overlap
            is refused): LiRA's shadow models train on it, and ``forget="random:F"`` unlearning
            estimates its stopping target on it.
        n_shadows: LiRA's shadow models (each a full training run).
        build, train_fn, training: the model's training recipe (see :class:`TorchClassifier`).
        unlearn_params: ``"all"``, ``"quantum"`` or ``"classical"`` parameters may change.

    Returns:
        An :class:`~qmu_kit.experiment.results.AuditResult`: ``"original"``, ``"retrained"`` (with a recipe and
        ``methods``), then each method; the fitted models themselves in its ``classifiers``
        (``result.classifiers["ga"]``, a :class:`TorchClassifier`).

    Raises:
        ValueError: outputs that are not ``(B, n_classes)`` logits (probabilities included: a final
            softmax over either axis or a sigmoid), data and labels of different lengths, an empty
            set, inputs with NaN or infinity, labels outside ``0 .. n_classes - 1``, sets sharing
            inputs, a forget set leaving one of the audit's groups empty, an unknown attack or method,
            LiRA without a recipe or a population, random unlearning without a population (each
            message names the value and what is allowed).
    """
    seed = check_int("seed", seed, 0)
    given_attacks, attacks = attacks, check_names("attacks", attacks, attack_names(), every=True)
    if not attacks:
        raise ValueError(f"attacks={given_attacks!r} names no attack: give at least one of {', '.join(attack_names())}")
    methods = check_names("methods", methods, method_names(), every=True)
    for name in methods:
        make_method(name, **(method_options or {}).get(name, {}))
    # every set checked (lengths, emptiness, finite inputs, integer labels) before the model first runs
    x_members, y_members = check_labelled("members", *_labelled_pair("members", members))
    x_nonmembers, y_nonmembers = check_labelled("non_members", *_labelled_pair("non_members", non_members))
    sets = {"members": x_members, "non_members": x_nonmembers}
    if population is not None:
        x_population, y_population = check_labelled("population", *_labelled_pair("population", population))
        sets["population"] = x_population
    else:
        x_population, y_population = x_members[:0], y_members[:0]
    check_disjoint(sets)
    if isinstance(model, TorchClassifier):
        classifier = model
        classifier._check_fitted()
        given = [name for name, value in (("build", build), ("train_fn", train_fn), ("training", training)) if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} belong(s) to the TorchClassifier itself, which has its recipe: pass "
                             "them to TorchClassifier(...), or pass the torch module to audit")
        if n_classes is not None and n_classes != classifier.n_classes:
            raise ValueError(f"n_classes={n_classes!r} does not match the classifier's {classifier.n_classes} classes")
    else:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module or a TorchClassifier, got a {type(model).__name__}")
        if n_classes is None:  # the model's output width, read from its outputs on two members
            parameter = next(model.parameters(), None)
            x_probe = torch.as_tensor(np.asarray(x_members)[:2]).to(parameter.dtype if parameter is not None else torch.float32)
            with torch.no_grad():
                output = model(x_probe)
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            if shape is None or len(shape) != 2 or shape[0] != len(x_probe) or shape[1] < 2:
                raise ValueError(
                    f"the model must map {len(x_probe)} inputs to logits of shape ({len(x_probe)}, C), one score per "
                    f"class (C >= 2), got {f'a tensor of shape {shape}' if shape is not None else f'a {type(output).__name__}'}"
                )
            n_classes = shape[1]
        classifier = TorchClassifier.from_module(model, n_classes, build=build, train_fn=train_fn, training=training, seed=seed)
    n_classes = classifier.n_classes
    for name, y in (("members", y_members), ("non_members", y_nonmembers), ("population", y_population)):
        check_classes(name, y, n_classes)  # the labels against the model's classes
    spec, forget_members, forget_nonmembers = _forget_masks(forget, y_members, y_nonmembers, seed)
    _check_groups(forget, spec, forget_members, forget_nonmembers, y_nonmembers)
    if methods and spec.kind == "random" and len(y_population) == 0:
        raise ValueError(
            f"{_forget_label(forget, spec)} with methods={list(methods)!r} needs "
            "population=(x, y): labelled data that are neither members nor non-members, on which the kit measures the "
            "accuracy a retrained model would have on a random forget set (unlearning's stopping target); or forget a "
            "class (forget='class:K')"
        )
    data = PreparedData("custom", "custom", x_members, y_members, x_nonmembers, y_nonmembers, x_population,
                        y_population, forget_members, forget_nonmembers, n_classes, spec)

    check_not_probabilities(predict_logits(classifier.module_, x_members[:64]))
    readout = lambda part: make_readout(shots, stream_seed(seed, part))  # noqa: E731
    reference_train = reference_test = None
    if needs_reference(attacks):
        if not classifier.refittable or len(y_population) == 0:
            raise ValueError(
                "the 'lira' attack needs shadow models: pass a training recipe (build=... or train_fn=...) and "
                "population=(x, y), attacker data disjoint from the members and non-members"
            )
        shadows = ShadowModels(lambda s: classifier.unfitted_twin(seed=s), n_shadows,
                               train_size=min(len(y_members), len(y_population) // 2), seed=seed)
        shadows.fit(x_population, y_population)
        reference_train = shadows.predict_proba(x_members, readout=readout("shadow-train"))
        reference_test = shadows.predict_proba(x_nonmembers, readout=readout("shadow-test"))

    models, reports = {"original": classifier}, {}
    if methods:
        task = UnlearningTask.from_data(data, classifier, readout("task"))
        if retrain and classifier.refittable:
            models["retrained"], reports["retrained"] = make_method("retrain").unlearn(classifier, task, seed=seed)
        for name in methods:
            method = make_method(name, **(method_options or {}).get(name, {}))
            models[name], reports[name] = method.unlearn(
                classifier, task, readout=readout(f"unlearn-{name}"), params=unlearn_params, seed=seed)

    primary = headline_attack(attacks)
    results = model_results(data, models, reports, attacks=attacks, primary_attack=primary, shots=shots, seed=seed,
                            reference=(reference_train, reference_test))
    setup = {
        "attacks": list(attacks), "methods": list(methods), "forget": f"{spec.kind}:{spec.value:g}",
        "shots": shots, "seed": seed, "n_classes": n_classes, "n_members": len(y_members),
        "n_non_members": len(y_nonmembers), "n_population": len(y_population), "retrained": "retrained" in models,
        "unlearn_params": unlearn_params, "method_options": json.loads(json.dumps(method_options or {})),
    }
    return AuditResult(results, primary, setup, versions(), classifiers=models)


__all__ = ["DEFAULT_TRAINING", "OUTPUT_ATTACKS", "LogitsModule", "TorchClassifier", "audit_model", "check_classes",
           "check_disjoint", "check_labelled", "check_logits", "check_not_probabilities", "pennylane_shots"]
