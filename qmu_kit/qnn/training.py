"""Training: a seeded mini-batch loop and a scikit-learn-style classifier around the QNN models.

Example:
    >>> from qmu_kit.qnn import prepare_data
    >>> from qmu_kit.qnn import QNNClassifier
    >>> data = prepare_data("digits", model="basic", n_qubits=6, n_train=300, n_test=200)
    >>> clf = QNNClassifier("basic", n_qubits=6, depth=2, epochs=2, seed=0)
    >>> clf = clf.fit(data.x_train, data.y_train)
    >>> clf.predict_proba(data.x_test[:3], shots=100).shape
    (3, 10)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from qmu_kit.core.stats import Estimate, proportion
from qmu_kit.core.validation import check_choice, check_float, check_int
from qmu_kit.qnn.models import BACKENDS, DTYPE, MODEL_CLASSES, build_model, circuit_counter, parameter_counts
from qmu_kit.qnn.readout import make_readout

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimizer settings for one training run.

    Attributes:
        lr: learning rate, > 0.
        batch_size: samples per step, >= 1.
        epochs: passes over the data, >= 1.
        momentum: SGD momentum in [0, 1).
        nesterov: Nesterov momentum (SGD only).
        optimizer: ``"sgd"`` or ``"adam"``.
    """

    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    nesterov: bool = False
    optimizer: str = "sgd"

    def __post_init__(self):
        check_float("lr", self.lr, 0.0, 10.0, low_inclusive=False)
        check_int("batch_size", self.batch_size, 1, 100_000)
        check_int("epochs", self.epochs, 1, 10_000)
        check_float("momentum", self.momentum, 0.0, 1.0, high_inclusive=False)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, foreach=True)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov and self.momentum > 0, foreach=True)


#: The published training settings (Su et al., arXiv 2509.06086), one per model of :data:`MODELS` (a test checks the
#: keys). The basic QNN's epoch count is not stated in the paper; 50 epochs reach a plateau on the digits data.
PAPER_TRAINING = {
    "basic": TrainingConfig(lr=0.05, batch_size=32, epochs=50, momentum=0.9, nesterov=True),
    "hybrid": TrainingConfig(lr=0.1, batch_size=8, epochs=25, momentum=0.9),
}


#: Circuit depth per model in the paper (each model class's ``paper_depth``): 10 layers for the basic QNN, 1 for the hybrid QNN.
PAPER_DEPTH = {name: model.paper_depth for name, model in MODEL_CLASSES.items()}


def as_tensor(x) -> torch.Tensor:
    """Model inputs as a float64 tensor (the dtype of every kit model)."""
    return torch.as_tensor(np.asarray(x), dtype=DTYPE)


def prediction_accuracy(predicted, labels) -> Estimate:
    """The kit's one accuracy rule: the share of ``predicted`` labels equal to ``labels``, as a Wilson
    :class:`~qmu_kit.core.stats.Estimate` over the samples (``nan`` for an empty set).

    Example:
        >>> prediction_accuracy([1, 2, 3], [1, 2, 0]).value
        0.666...
        >>> prediction_accuracy([], []).value
        nan
    """
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return proportion(int((predicted == labels).sum()), len(labels))


def accuracy(module: nn.Module, x, y, readout=None, batch_size: int = 1024) -> float:
    """Fraction of correct predictions of a torch module (``nan`` for an empty set)."""
    if len(y) == 0:
        return prediction_accuracy([], []).value
    return prediction_accuracy(predict_logits(module, x, readout, batch_size).argmax(1).numpy(), y).value


def predict_logits(module: nn.Module, x, readout=None, batch_size: int = 1024) -> torch.Tensor:
    """Logits for all of ``x`` in batches, without gradients."""
    x = as_tensor(x)
    with torch.no_grad():
        return torch.cat([module(x[i : i + batch_size], readout) for i in range(0, len(x), batch_size)])


def train(
    module: nn.Module,
    x,
    y,
    config: TrainingConfig,
    *,
    seed: int = 0,
    params: list[nn.Parameter] | None = None,
    readout=None,
    validation: tuple | None = None,
    progress: bool = False,
    description: str = "training",
    penalty: Callable[[int], torch.Tensor] | None = None,
    before_step: Callable[[list[nn.Parameter]], None] | None = None,
) -> list[dict]:
    """Minimize cross-entropy on ``(x, y)`` with mini-batches; returns the per-epoch history.

    Args:
        module: the model, trained in place.
        x, y: inputs and integer labels.
        config: optimizer settings.
        seed: seeds the batch order (and dropout, if any) without touching global random state.
        params: the parameters to update (default: all).
        readout: how circuit outputs are read during training (default exact).
        validation: optional ``(x_val, y_val)`` evaluated after every epoch.
        progress: show a ``tqdm.auto`` progress bar.
        penalty: called with the epoch index (from 0) at every step, a term added to the batch's
            cross-entropy before the backward pass (e.g. an l1 norm of the parameters); ``loss`` in
            the history stays the cross-entropy alone.
        before_step: called with the trained parameters after the backward pass and before the
            optimizer step, to change their gradients in place (e.g. clip them and add noise); it
            may draw from torch's global random stream, which ``seed`` seeds here.

    Returns:
        One dict per epoch: ``epoch``, ``loss`` (mean training cross-entropy), ``train_accuracy``,
        ``test_accuracy`` (``None`` without ``validation``), and the cumulative cost of training so
        far, ``seconds`` and ``circuit_evaluations`` (validation passes not included).
    """
    from tqdm.auto import tqdm

    x, y = as_tensor(x), torch.as_tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(int(seed))
    trained = list(params) if params is not None else list(module.parameters())
    optimizer = config.make_optimizer(trained)
    loss_fn = nn.CrossEntropyLoss()
    history: list[dict] = []
    counter = circuit_counter(module)  # counts device-equivalent circuit executions
    start, start_evaluations = time.perf_counter(), counter.circuit_evaluations
    monitoring_seconds = monitoring_evaluations = 0  # validation passes watch training; they are not its cost
    bar = tqdm(range(config.epochs), desc=description, disable=not progress, leave=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for epoch in bar:
            module.train()
            order = torch.randperm(len(x), generator=generator)
            total, correct = 0.0, 0
            for begin in range(0, len(x), config.batch_size):
                batch = order[begin : begin + config.batch_size]
                optimizer.zero_grad()
                logits = module(x[batch], readout)
                loss = loss_fn(logits, y[batch])
                (loss + penalty(epoch) if penalty is not None else loss).backward()
                if before_step is not None:
                    before_step(trained)
                optimizer.step()
                total += loss.item() * len(batch)
                correct += int((logits.argmax(1) == y[batch]).sum())
            module.eval()
            record = {
                "epoch": epoch + 1,
                "loss": total / len(x),
                "train_accuracy": correct / len(x),
                "test_accuracy": None,
                "seconds": time.perf_counter() - start - monitoring_seconds,
                "circuit_evaluations": counter.circuit_evaluations - start_evaluations - monitoring_evaluations,
            }
            if validation is not None:
                before, evaluations_before = time.perf_counter(), counter.circuit_evaluations
                record["test_accuracy"] = accuracy(module, *validation)
                monitoring_seconds += time.perf_counter() - before
                monitoring_evaluations += counter.circuit_evaluations - evaluations_before
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_accuracy']:.2f}")
    return history


class ReadoutPredictions:
    """``predict`` and ``score`` from a ``predict_proba(X, **readout_options)``: one rule for the kit's
    QNNs and for wrapped models (:class:`~qmu_kit.studies.byo.TorchClassifier`), with the readout passed through."""

    def predict(self, X, **readout_options) -> np.ndarray:
        """The most probable class of each row of ``X`` (``readout_options`` as for ``predict_proba``)."""
        return self.predict_proba(X, **readout_options).argmax(1)

    def accuracy(self, X, y, **readout_options) -> Estimate:
        """Accuracy on ``(X, y)`` with its sample count and 95 % interval (:func:`prediction_accuracy`;
        ``readout_options`` as for ``predict_proba``)."""
        return prediction_accuracy(self.predict(X, **readout_options), y)

    def score(self, X, y, **readout_options) -> float:
        """Accuracy on ``(X, y)`` as a number (scikit-learn's convention; :meth:`accuracy` has its interval)."""
        return self.accuracy(X, y, **readout_options).value

    def train_test_accuracy(self, data, **readout_options) -> dict[str, Estimate]:
        """:meth:`accuracy` on a data set's training and test sets (``data.x_train``, ``data.y_train``,
        ``data.x_test``, ``data.y_test``, as in :class:`~qmu_kit.qnn.data.PreparedData`).

        Example:
            >>> from types import SimpleNamespace
            >>> class AlwaysZero(ReadoutPredictions):
            ...     def predict_proba(self, X):
            ...         return np.tile([1.0, 0.0], (len(X), 1))
            >>> data = SimpleNamespace(x_train=np.zeros((4, 2)), y_train=np.array([0, 0, 0, 1]),
            ...                        x_test=np.zeros((2, 2)), y_test=np.array([0, 1]))
            >>> {split: accuracy.value for split, accuracy in AlwaysZero().train_test_accuracy(data).items()}
            {'train': 0.75, 'test': 0.5}
        """
        return {"train": self.accuracy(data.x_train, data.y_train, **readout_options),
                "test": self.accuracy(data.x_test, data.y_test, **readout_options)}


class QNNClassifier(ReadoutPredictions, ClassifierMixin, BaseEstimator):
    """A basic or hybrid QNN, a scikit-learn classifier (``get_params``, ``clone``, ``repr`` from
    :class:`~sklearn.base.BaseEstimator`).

    The constructor only stores settings; :meth:`fit` builds and trains the model and returns
    ``self``; learned state ends in ``_``. Unset training options take the paper's defaults for the
    model (:data:`PAPER_TRAINING`). Fitting twice with the same ``seed`` gives the same model.

    Args:
        model: ``"basic"`` or ``"hybrid"``.
        n_qubits: circuit width (the basic QNN's inputs have ``2**n_qubits`` features).
        depth: number of circuit layers (default: the paper's, 10 for the basic QNN, 1 for the hybrid).
        n_classes: output classes (default: ``max(y) + 1``); set it when a class is absent from the
            training labels, as in retraining without a forgotten class.
        lr, batch_size, epochs, momentum, nesterov, optimizer: override the paper's defaults.
        seed: seeds initialization and batch order.
        backend: ``"torch"`` (fast) or ``"pennylane"``.
        progress: show a progress bar while fitting.

    Attributes:
        module_: the trained torch module.
        history_: per-epoch records (see :func:`train`).
        training_config_: the :class:`TrainingConfig` used.
        n_params_: ``{"quantum": ..., "classical": ...}``.
    """

    def __init__(
        self,
        model: str = "basic",
        n_qubits: int = 6,
        depth: int | None = None,
        *,
        n_classes: int | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        momentum: float | None = None,
        nesterov: bool | None = None,
        optimizer: str | None = None,
        seed: int = 0,
        backend: str = "torch",
        progress: bool = False,
    ):
        self.model = model
        self.n_qubits = n_qubits
        self.depth = depth
        self.n_classes = n_classes
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.momentum = momentum
        self.nesterov = nesterov
        self.optimizer = optimizer
        self.seed = seed
        self.backend = backend
        self.progress = progress

    def training_config(self) -> TrainingConfig:
        """The paper's defaults for this model, with every option set here replacing its default."""
        check_choice("model", self.model, MODEL_CLASSES)
        overrides = {
            name: getattr(self, name)
            for name in ("lr", "batch_size", "epochs", "momentum", "nesterov", "optimizer")
            if getattr(self, name) is not None
        }
        return replace(PAPER_TRAINING[self.model], **overrides)

    def fit(self, X, y, validation_data: tuple | None = None) -> "QNNClassifier":
        """Build the model from ``seed`` and train it on ``(X, y)``; returns ``self``.

        A fit interrupted part way (Ctrl-C, a kernel interrupt) leaves any earlier fitted state
        untouched: attributes are only set once training has finished.
        """
        config = self.training_config()
        check_choice("backend", self.backend, BACKENDS)
        check_int("seed", self.seed, 0)
        y = np.asarray(y)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and the same length, got {len(X)} and {len(y)}")
        n_classes = self.n_classes if self.n_classes is not None else int(y.max()) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            module = self._build(n_classes, tuple(np.shape(X)[1:]))
        history = train(
            module, X, y, config, seed=self.seed, validation=validation_data, progress=self.progress,
            description=f"training {self.model} QNN",
        )
        return self._set_fitted(module, history, config, n_classes, tuple(np.shape(X)[1:]))

    def _build(self, n_classes: int, input_shape: tuple) -> nn.Module:
        """The untrained torch module these settings describe (shared by :meth:`fit` and :meth:`from_state`)."""
        depth = self.depth if self.depth is not None else PAPER_DEPTH[self.model]  # the paper's, looked up here only
        return build_model(self.model, self.n_qubits, depth, n_classes, input_shape, self.backend)

    def _set_fitted(self, module, history, config, n_classes: int, input_shape: tuple) -> "QNNClassifier":
        self.module_, self.history_, self.training_config_ = module, list(history), config
        self.n_classes_, self.input_shape_ = n_classes, tuple(input_shape)
        self.n_params_ = parameter_counts(module)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise RuntimeError("this QNNClassifier is not fitted yet: call fit(X, y) first")

    def predict_proba(self, X, *, shots=None, seed: int = 0, noise=None, readout=None) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` as a deployed model returns them.

        Args:
            X: inputs.
            shots: ``None`` for exact expectations, or the number of measurement shots per input.
            seed: seeds the shot sampling.
            noise: a :class:`~qmu_kit.qnn.readout.NoiseSpec` to run on qiskit-aer with noise.
            readout: a ready readout object (overrides ``shots``/``seed``/``noise``).
        """
        self._check_fitted()
        readout = readout if readout is not None else make_readout(shots, seed, noise)
        return torch.softmax(predict_logits(self.module_, X, readout), dim=1).numpy()

    @property
    def circuit_evaluations_(self) -> int:
        """Device-equivalent circuit executions spent on this model so far (see ``QuantumLayer``)."""
        self._check_fitted()
        return self.module_.quantum.circuit_evaluations

    def to_state(self) -> dict:
        """Everything needed to rebuild this fitted classifier: settings, weights, history.

        Only plain values and tensors, so ``torch.load(..., weights_only=True)`` can read it back.
        """
        self._check_fitted()
        return {
            "params": self.get_params(),
            "n_classes": self.n_classes_,
            "input_shape": list(self.input_shape_),
            "state_dict": self.module_.state_dict(),
            "history": self.history_,
            "circuit_evaluations": self.circuit_evaluations_,
            "simulator_gradient_evaluations": self.module_.quantum.simulator_gradient_evaluations,
        }

    @classmethod
    def from_state(cls, state: dict) -> "QNNClassifier":
        """Rebuild a fitted classifier from :meth:`to_state`'s output."""
        clf = cls(**state["params"])
        module = clf._build(state["n_classes"], tuple(state["input_shape"]))
        module.load_state_dict(state["state_dict"])
        module.eval()
        module.quantum.circuit_evaluations = int(state["circuit_evaluations"])
        module.quantum.simulator_gradient_evaluations = int(state["simulator_gradient_evaluations"])
        return clf._set_fitted(module, state["history"], clf.training_config(), state["n_classes"], state["input_shape"])

    def copy(self) -> "QNNClassifier":
        """An independent deep copy (e.g. to unlearn without touching the original)."""
        return copy.deepcopy(self)

    def unfitted_twin(self, progress: bool = False) -> "QNNClassifier":
        """An unfitted classifier with this one's settings and class count (what retraining fits)."""
        self._check_fitted()
        return QNNClassifier(**{**self.get_params(), "n_classes": self.n_classes_, "progress": progress})

    def training_steps(self, n_samples: int) -> int:
        """Optimizer steps a fit on ``n_samples`` samples takes with this classifier's recipe."""
        config = self.training_config()
        return config.epochs * -(-n_samples // config.batch_size)
