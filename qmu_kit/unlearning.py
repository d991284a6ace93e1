"""Quantum machine unlearning: remove the forget set's influence from a trained QNN.

One interface, one registry (:data:`UNLEARNING_METHODS`), so the CLI, widgets and notebooks list the
same names and a student can add a method in a few lines: subclass :class:`UnlearningMethod`, define
``_update`` and decorate the class with :func:`register` (a name, a label and a colour).

Mechanisms (this kit's definitions):

* ``ga`` - gradient ascent on the forget set D_f: ``theta <- theta + lr * grad L(D_f)``.
* ``ssd`` - selective synaptic dampening (Foster et al., AAAI 2024): diagonal empirical Fisher
  information on the whole training set D and on D_f; every parameter with
  ``I_f > alpha * I_D`` is scaled by ``min(lambda * I_D / I_f, 1)``. One shot, no training.
* ``rga`` - relative gradient ascent: steps along
  ``g = grad L(D_r) - beta * (|grad L(D_r)| / |grad L(D_f)|) * grad L(D_f)`` on a retain and a forget
  batch, so forgetting never outpaces what the retained data can hold.
* ``finetune`` - continue training on the retain set D_r only (cheap baseline).
* ``retrain`` - train from scratch on D_r with the original recipe (the gold standard).

GA and RGA stop as soon as the forget-set accuracy reaches the level a retrained model would have
(:attr:`UnlearningTask.target_forget_accuracy`). Under finite shots every gradient is estimated with
the parameter-shift rule on ``shots``-shot expectations and SSD's Fisher information likewise, because
training happens through the readout passed in.

Example:
    >>> from qmu_kit.data import prepare_data
    >>> from qmu_kit.training import QNNClassifier
    >>> data = prepare_data("digits", n_qubits=4, n_train=200, n_test=100)
    >>> original = QNNClassifier("basic", 4, 2, epochs=2).fit(data.x_train, data.y_train)
    >>> task = UnlearningTask.from_data(data, original)
    >>> model, report = make_method("ssd").unlearn(original, task)
    >>> report.method, report.circuit_evaluations > 0
    ('ssd', True)
"""

from __future__ import annotations

import inspect
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from qmu_kit._validation import check_choice, check_float, check_int
from qmu_kit.data import PreparedData
from qmu_kit.models import classical_parameters, quantum_parameters
from qmu_kit.readout import ExactReadout
from qmu_kit.registry import Registry
from qmu_kit.training import QNNClassifier, accuracy, as_tensor, train

PARAMETER_GROUPS = ("all", "quantum", "classical")


@dataclass(frozen=True)
class UnlearningTask:
    """The data an unlearning request comes with.

    Attributes:
        x_forget, y_forget: the forget set D_f.
        x_retain, y_retain: the retain set D_r (the training set without D_f).
        target_forget_accuracy: the forget-set accuracy a model retrained without D_f would have
            (this kit's estimate: 0 when a whole class is forgotten, since a model never trained on
            a class cannot predict it; for a random forget set, the original model's accuracy on
            the matching unseen test samples). GA and RGA stop once they reach it.
    """

    x_forget: np.ndarray
    y_forget: np.ndarray
    x_retain: np.ndarray
    y_retain: np.ndarray
    target_forget_accuracy: float

    @classmethod
    def from_data(cls, data: PreparedData, original: QNNClassifier, readout=None) -> "UnlearningTask":
        if data.forget.kind == "class":
            target = 0.0
        else:
            target = accuracy(original.module_, data.x_test[data.forget_test], data.y_test[data.forget_test], readout)
        return cls(
            data.x_train[data.forget_train],
            data.y_train[data.forget_train],
            data.x_train[data.retain_train],
            data.y_train[data.retain_train],
            float(target),
        )

    @property
    def x_train(self) -> np.ndarray:
        return np.concatenate([self.x_retain, self.x_forget])

    @property
    def y_train(self) -> np.ndarray:
        return np.concatenate([self.y_retain, self.y_forget])


@dataclass(frozen=True)
class UnlearningReport:
    """What one unlearning run cost and did.

    Attributes:
        method: registry name.
        seconds: wall time.
        circuit_evaluations: device-equivalent circuit executions (forward passes, parameter-shift
            gradients, and the accuracy checks of the stopping rule).
        steps: optimizer steps (0 for SSD).
        stopped_early: whether the stopping rule ended the run before its step budget.
        options: the knobs used.
        dampened: SSD only, how many parameters were dampened.
    """

    method: str
    seconds: float
    circuit_evaluations: int
    steps: int = 0
    stopped_early: bool = False
    options: dict = field(default_factory=dict)
    dampened: int | None = None

    def speedup_over(self, reference: "UnlearningReport") -> dict:
        """How much cheaper this run was than ``reference`` (usually retraining): ratios of wall time
        and of circuit evaluations, e.g. ``{"seconds": 40.2, "circuit_evaluations": 46.6}``."""
        return {
            "seconds": reference.seconds / max(self.seconds, 1e-9),
            "circuit_evaluations": reference.circuit_evaluations / max(self.circuit_evaluations, 1),
        }

    def to_dict(self) -> dict:
        return asdict(self)


def selected_parameters(module: nn.Module, group: str) -> list[nn.Parameter]:
    """The parameters an unlearning method may change: ``all``, ``quantum`` or ``classical``."""
    check_choice("unlearn_params", group, PARAMETER_GROUPS)
    if group == "quantum":
        return quantum_parameters(module)
    if group == "classical":
        return classical_parameters(module)
    return list(module.parameters())


class UnlearningMethod:
    """Base class. Subclasses set ``name`` and implement :meth:`_update` (in place on ``module``)."""

    name = "base"

    def options(self) -> dict:
        return dict(vars(self))

    def unlearn(
        self,
        original: QNNClassifier,
        task: UnlearningTask,
        *,
        readout=None,
        params: str = "all",
        seed: int = 0,
        progress: bool = False,
    ) -> tuple[QNNClassifier, UnlearningReport]:
        """Return an unlearned copy of ``original`` (left untouched) and a report.

        Args:
            original: the fitted model that saw the forget set.
            task: forget and retain data.
            readout: how circuit outputs (and hence gradients) are obtained; default exact.
            params: which parameters may change: ``"all"``, ``"quantum"`` or ``"classical"``.
            seed: seeds batch order.
            progress: show a progress bar where the method iterates.
        """
        original._check_fitted()
        check_int("seed", seed, 0)
        model = original.copy()
        parameters = selected_parameters(model.module_, params)
        readout = readout if readout is not None else ExactReadout()
        before = model.module_.quantum.circuit_evaluations
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            details = self._update(model, task, readout, parameters, seed, progress)
        model.module_.eval()
        report = UnlearningReport(
            method=self.name,
            seconds=time.perf_counter() - start,
            circuit_evaluations=model.module_.quantum.circuit_evaluations - before,
            options=self.options(),
            **details,
        )
        return model, report

    def _update(self, model, task, readout, parameters, seed, progress) -> dict:  # pragma: no cover
        raise NotImplementedError


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _reached(module, task: UnlearningTask, readout) -> bool:
    return accuracy(module, task.x_forget, task.y_forget, readout) <= task.target_forget_accuracy


@dataclass
class StepContext:
    """What one GA/RGA step sees: the model being unlearned, the data as tensors and the batch order.

    Attributes:
        module: the model's torch module (changed in place).
        task: the unlearning request.
        readout: how circuit outputs (and so gradients) are obtained.
        parameters: the parameters the method may change.
        generator: the random stream of every batch order in this run.
        x_forget, y_forget, x_retain, y_retain: the forget and retain sets as tensors.
    """

    module: nn.Module
    task: "UnlearningTask"
    readout: object
    parameters: list
    generator: torch.Generator
    x_forget: torch.Tensor
    y_forget: torch.Tensor
    x_retain: torch.Tensor
    y_retain: torch.Tensor
    batch_size: int
    _retain_batches: list = field(default_factory=list, repr=False)

    def next_retain_batch(self) -> torch.Tensor:
        """The next retain-set batch; a new shuffled pass over the retain set starts when one ends."""
        if not self._retain_batches:
            self._retain_batches = _batches(len(self.y_retain), self.batch_size, self.generator)[::-1]
        return self._retain_batches.pop()


class _SteppedUnlearning(UnlearningMethod):
    """The loop GA and RGA share: SGD with momentum over forget-set batches, optionally fixed-length
    steps, stopped once the forget-set accuracy reaches the target. Subclasses set the gradients in
    :meth:`_set_gradients` from a :class:`StepContext` and the step's forget batch."""

    def __init__(self, lr: float, momentum: float, batch_size: int, epochs: int, normalize: bool, stop_at_target: bool):
        self.lr = check_float(f"{self.name} lr", lr, 0.0, 10.0, low_inclusive=False)
        self.momentum = check_float(f"{self.name} momentum", momentum, 0.0, 1.0, high_inclusive=False)
        self.batch_size = check_int(f"{self.name} batch_size", batch_size, 1)
        self.epochs = check_int(f"{self.name} epochs", epochs, 1, 1000)
        self.normalize = bool(normalize)
        self.stop_at_target = bool(stop_at_target)

    def _set_gradients(self, context: StepContext, forget_batch: torch.Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    def _update(self, model, task, readout, parameters, seed, progress):
        module = model.module_
        optimizer = torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum)
        generator = torch.Generator().manual_seed(seed)
        context = StepContext(
            module, task, readout, parameters, generator, as_tensor(task.x_forget), torch.as_tensor(task.y_forget),
            as_tensor(task.x_retain), torch.as_tensor(task.y_retain), self.batch_size,
        )
        steps = 0
        for _ in range(self.epochs):
            for batch in _batches(len(task.y_forget), self.batch_size, generator):
                module.train()
                optimizer.zero_grad()
                self._set_gradients(context, batch)
                if self.normalize:
                    _scale_gradients(parameters, 1.0)
                optimizer.step()
                steps += 1
                module.eval()
                if self.stop_at_target and _reached(module, task, readout):
                    return {"steps": steps, "stopped_early": True}
        return {"steps": steps, "stopped_early": False}


def _scale_gradients(parameters: list[nn.Parameter], length: float) -> None:
    """Rescale the joint gradient of ``parameters`` to the given Euclidean length."""
    norm = torch.sqrt(sum((p.grad**2).sum() for p in parameters if p.grad is not None))
    for p in parameters:
        if p.grad is not None:
            p.grad *= length / norm.clamp_min(1e-12)


class GradientAscent(_SteppedUnlearning):
    """Gradient ascent on the forget set, stopped once the target accuracy is reached.

    By default each step has a fixed length (``normalize=True``: the step is ``lr * g / |g|``, then
    SGD momentum): a well-trained model is so confident on its training samples that the raw
    gradient of the forget loss nearly vanishes (plain GA barely moves), and once the loss grows the
    raw gradient explodes and wrecks the retained classes. Fixed-length steps forget the class on
    the classroom preset within a few points of retain accuracy (tuned over lr in {0.01, 0.02, 0.05}
    and momentum in {0, 0.9} on four seeds: 0.01 with momentum kept the retain accuracy within 5
    points). Defaults: ``lr=0.01``, ``momentum=0.9``, ``batch_size=16``, at most ``epochs=20``.
    The paper's settings (plain steps, ``lr=0.01, batch_size=16, epochs=6``) are
    ``GradientAscent(**GradientAscent.PAPER)``; on digits they leave the forget accuracy near 1.00
    (they do not forget).
    """

    name = "ga"
    PAPER = {"lr": 0.01, "momentum": 0.9, "batch_size": 16, "epochs": 6, "normalize": False}

    def __init__(
        self, lr: float = 0.01, momentum: float = 0.9, batch_size: int = 16, epochs: int = 20,
        normalize: bool = True, stop_at_target: bool = True,
    ):
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _set_gradients(self, context, forget_batch):
        logits = context.module(context.x_forget[forget_batch], context.readout)
        (-nn.functional.cross_entropy(logits, context.y_forget[forget_batch])).backward()


class RelativeGradientAscent(_SteppedUnlearning):
    """Descend on the retain loss while ascending the forget loss, scaled relative to it.

    Each step: ``g = g_r - beta * (|g_r| / |g_f|) * g_f`` from one retain and one forget batch, then an
    SGD-with-momentum step along ``-g``, of fixed length ``lr`` when ``normalize=True`` (for the same
    reason as :class:`GradientAscent`: a confident model's raw gradients nearly vanish). Defaults:
    ``beta=1.0``, ``lr=0.05``, ``momentum=0.9``, ``batch_size=16``, at most ``epochs=20`` passes over
    the forget set.
    """

    name = "rga"

    def __init__(
        self, beta: float = 1.0, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 20,
        normalize: bool = True, stop_at_target: bool = True,
    ):
        self.beta = check_float("rga beta", beta, 0.0, 100.0, low_inclusive=False)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _set_gradients(self, context, forget_batch):
        module, readout, parameters = context.module, context.readout, context.parameters
        retain_batch = context.next_retain_batch()

        def gradient(x, y):
            return torch.autograd.grad(nn.functional.cross_entropy(module(x, readout), y), parameters)

        g_retain = gradient(context.x_retain[retain_batch], context.y_retain[retain_batch])
        g_forget = gradient(context.x_forget[forget_batch], context.y_forget[forget_batch])
        norm_r = torch.sqrt(sum((g**2).sum() for g in g_retain))
        norm_f = torch.sqrt(sum((g**2).sum() for g in g_forget)).clamp_min(1e-12)
        scale = self.beta * norm_r / norm_f
        for p, gr, gf in zip(parameters, g_retain, g_forget):
            p.grad = gr - scale * gf


def diagonal_fisher(module: nn.Module, x, y, parameters: list[nn.Parameter], readout) -> list[torch.Tensor]:
    """Mean squared per-sample gradient of the cross-entropy (the diagonal empirical Fisher)."""
    x, y = as_tensor(x), torch.as_tensor(y)
    totals = [torch.zeros_like(p) for p in parameters]
    for i in range(len(x)):
        loss = nn.functional.cross_entropy(module(x[i : i + 1], readout), y[i : i + 1])
        for total, grad in zip(totals, torch.autograd.grad(loss, parameters)):
            total += grad**2
    return [total / len(x) for total in totals]


class SelectiveSynapticDampening(UnlearningMethod):
    """Dampen the parameters that matter far more to the forget set than to the training set.

    Defaults: ``alpha=7.0``, ``lam=1.0``. The SSD paper's ``alpha=10`` (``SelectiveSynapticDampening.PAPER``)
    selects nothing when a whole class is forgotten out of ten: D_f is a tenth of D, so ``I_f / I_D``
    cannot exceed 10 even for a parameter only D_f uses. On the classroom preset (six seeds) alpha 7
    forgot the class every time; 4-6 also dampened shared parameters and cost up to 50 points of
    retain accuracy, 8 sometimes forgot nothing. Dampening a circuit angle is riskier than a
    classical weight: a rotation scaled toward 0 is not switched off but turned into a different
    gate, which every class feels (try ``params="quantum"``).
    """

    name = "ssd"
    PAPER = {"alpha": 10.0, "lam": 1.0}

    def __init__(self, alpha: float = 7.0, lam: float = 1.0):
        self.alpha = check_float("ssd alpha", alpha, 0.0, 1e6, low_inclusive=False)
        self.lam = check_float("ssd lam", lam, 0.0, 1e6, low_inclusive=False)

    def _update(self, model, task, readout, parameters, seed, progress):
        module = model.module_
        module.eval()
        fisher_all = diagonal_fisher(module, task.x_train, task.y_train, parameters, readout)
        fisher_forget = diagonal_fisher(module, task.x_forget, task.y_forget, parameters, readout)
        dampened = 0
        with torch.no_grad():
            for p, i_d, i_f in zip(parameters, fisher_all, fisher_forget):
                selected = i_f > self.alpha * i_d
                factor = torch.clamp(self.lam * i_d / i_f.clamp_min(1e-30), max=1.0)
                p[selected] *= factor[selected]
                dampened += int(selected.sum())
        return {"dampened": dampened}


class FineTune(UnlearningMethod):
    """Keep training on the retain set only (catastrophic forgetting as a baseline).

    Defaults: ``epochs=5`` at the original training's learning rate and batch size.
    """

    name = "finetune"

    def __init__(self, epochs: int = 5, lr: float | None = None):
        self.epochs = check_int("finetune epochs", epochs, 1, 1000)
        self.lr = None if lr is None else check_float("finetune lr", lr, 0.0, 10.0, low_inclusive=False)

    def _update(self, model, task, readout, parameters, seed, progress):
        config = model.training_config_
        config = type(config)(**{**asdict(config), "epochs": self.epochs, "lr": self.lr or config.lr})
        history = train(
            model.module_, task.x_retain, task.y_retain, config, seed=seed, params=parameters,
            readout=readout, progress=progress, description="fine-tuning",
        )
        return {"steps": len(history) * -(-len(task.y_retain) // config.batch_size)}


class Retrain(UnlearningMethod):
    """Train a fresh model on the retain set with the original recipe (the gold standard).

    Training is exact (no shots), like the original model's: it is the reference the unlearned models
    are compared with. ``params`` does not apply.
    """

    name = "retrain"
    #: Not an unlearning method an experiment requests: the reference every method is judged against.
    gold_standard = True

    def unlearn(self, original, task, *, readout=None, params="all", seed=0, progress=False):
        original._check_fitted()
        fresh = QNNClassifier(**{**original.get_params(), "n_classes": original.n_classes_, "progress": progress})
        start = time.perf_counter()
        fresh.fit(task.x_retain, task.y_retain)
        config = fresh.training_config_
        steps = config.epochs * -(-len(task.y_retain) // config.batch_size)
        report = UnlearningReport(
            method=self.name,
            seconds=time.perf_counter() - start,
            circuit_evaluations=fresh.history_[-1]["circuit_evaluations"],
            steps=steps,
            options={},
        )
        return fresh, report


#: The registry: name -> method class, with a label and colour each. Construct with knobs:
#: ``UNLEARNING_METHODS["ga"](lr=0.05)``, or better :func:`make_method`.
UNLEARNING_METHODS = Registry("unlearning method")
#: Decorator adding an unlearning method: ``@register("mine", label="Mine", colour="teal")`` on a
#: subclass of :class:`UnlearningMethod` (``replace=True`` when re-running a notebook cell).
register = UNLEARNING_METHODS.register

for _cls, _label, _colour, _description in (
    (GradientAscent, "GA", "#1f77b4", "GA: gradient ascent"),
    (SelectiveSynapticDampening, "SSD", "#9467bd", "SSD: selective synaptic dampening"),
    (RelativeGradientAscent, "RGA", "#ff7f0e", "RGA: relative gradient ascent"),
    (FineTune, "fine-tune", "#8c564b", "fine-tune on the retain set"),
    (Retrain, "retrained (gold standard)", "#2ca02c", "retrain from scratch (the gold standard)"),
):
    register(_cls.name, label=_label, colour=_colour, description=_description)(_cls)


def method_names() -> tuple[str, ...]:
    """The unlearning methods an experiment may request, read live from the registry (retraining,
    the reference every method is judged against, always runs and is not one of them)."""
    return tuple(name for name in UNLEARNING_METHODS if not getattr(UNLEARNING_METHODS[name], "gold_standard", False))


def make_method(name: str, **options) -> UnlearningMethod:
    """An unlearning method by registry name, with its knobs.

    Raises:
        ValueError: an unknown method, or a knob the method does not take (named, with the allowed
            ones); out-of-range knob values are reported by the method itself.

    Example:
        >>> make_method("ga", lr=0.02).lr
        0.02
        >>> make_method("ga", rate=0.02)
        Traceback (most recent call last):
        ...
        ValueError: unknown option 'rate' for method 'ga': allowed are lr, momentum, batch_size, epochs, normalize, stop_at_target
    """
    cls = UNLEARNING_METHODS[check_choice("unlearning method", name, UNLEARNING_METHODS)]
    signature = inspect.signature(cls)
    allowed = [p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [knob for knob in options if knob not in allowed]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(
            f"unknown option{plural} {', '.join(repr(k) for k in unknown)} for method {name!r}: "
            f"allowed are {', '.join(allowed) or 'none'}"
        )
    signature.bind(**options)  # every knob is now known; binding only fails on a missing required one
    return cls(**options)
