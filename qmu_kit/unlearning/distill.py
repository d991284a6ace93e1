"""Benchmark methods that distil from teachers: SCRUB and Bad Teacher. Both run on the loop GA and RGA
share (:class:`~qmu_kit.unlearning.methods._SteppedUnlearning`). The original model is the competent
teacher: its outputs on the training set are read once, through the readout, before the first step
(the model being unlearned starts as an exact copy of it, so those circuits are counted on it).

Example:
    >>> Scrub(max_epochs=3).max_epochs
    3
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from qmu_kit.core.palette import COLOURS
from qmu_kit.qnn.models import circuit_counter
from qmu_kit.qnn.training import predict_logits
from qmu_kit.unlearning.methods import Knob, _SteppedUnlearning, register

__all__ = ["Scrub", "BadTeacher", "distillation_divergence", "reinitialized"]


def distillation_divergence(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean KL(teacher || student) of the temperature-softened output distributions.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
        >>> float(distillation_divergence(logits, logits, 4.0))
        0.0
    """
    target = torch.softmax(teacher_logits / temperature, 1)
    return nn.functional.kl_div(torch.log_softmax(student_logits / temperature, 1), target, reduction="batchmean")


def _teacher_outputs(context) -> None:
    """The original model's logits on the retain and forget sets, read once through the readout."""
    context.extras["teacher_retain"] = predict_logits(context.module, context.x_retain, context.readout)
    context.extras["teacher_forget"] = predict_logits(context.module, context.x_forget, context.readout)


class Scrub(_SteppedUnlearning):
    """SCRUB (Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning",
    NeurIPS 2023): a student (the model) starts as the teacher (the original) and is trained to
    *disobey* the teacher on the forget set (max-steps: maximize KL(teacher || student) on D_f) while
    *obeying* it on the retain set (min-steps: minimize ``alpha * KL + gamma * CE`` on D_r); the
    max-steps stop after ``max_epochs`` epochs, the min-steps go on to ``epochs``.

    Deviations: each step takes one max-step term (forget batch) and one min-step term (retain batch)
    in a single update, as the hybrid-QNN study's code does, instead of the paper's separate passes;
    an epoch is one pass over the forget set; SGD with momentum; the teacher's outputs are one
    readout of the original (under shots: one shot-estimate per sample, fixed for the whole run).
    SCRUB+R (rewinding) is not included. Defaults: the hybrid-QNN study's (no temperature, a max-step
    term in every step): ``temperature=1, max_epochs=epochs=10``; ``alpha=1.0, gamma=1.0, lr=0.05``.
    On the unit tests' small fixture the paper's ``temperature=4`` with ``max_epochs=5`` does not forget
    the class (one seed): its min-steps restore what its max-steps removed.
    """

    name = "scrub"
    KNOBS = {
        **_SteppedUnlearning.KNOBS,
        "alpha": Knob("float", 0.0, 100.0, grid=(0.5, 1.0)),
        "gamma": Knob("float", 0.0, 100.0, grid=(0.5, 1.0)),
        "temperature": Knob("float", 0.0, 100.0, low_inclusive=False),
        "max_epochs": Knob("int", 0, 1000, grid=(2, 5)),
    }

    def __init__(self, alpha: float = 1.0, gamma: float = 1.0, temperature: float = 1.0, max_epochs: int = 10,
                 lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(alpha=alpha, gamma=gamma, temperature=temperature, max_epochs=max_epochs)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)
        if self.max_epochs > self.epochs:
            raise ValueError(f"scrub max_epochs={self.max_epochs} is out of range: it must be at most epochs={self.epochs}")

    def _prepare(self, context, model):
        _teacher_outputs(context)
        return {}

    def _set_gradients(self, context, forget_batch):
        module, readout, extras = context.module, context.readout, context.extras
        retain = context.next_retain_batch()
        student_retain = module(context.x_retain[retain], readout)
        loss = self.alpha * distillation_divergence(extras["teacher_retain"][retain], student_retain, self.temperature)
        loss = loss + self.gamma * nn.functional.cross_entropy(student_retain, context.y_retain[retain])
        if context.epoch < self.max_epochs:
            student_forget = module(context.x_forget[forget_batch], readout)
            loss = loss - distillation_divergence(extras["teacher_forget"][forget_batch], student_forget, self.temperature)
        loss.backward()


def reinitialized(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every submodule that has ``reset_parameters`` freshly initialized
    (from torch's global random stream)."""
    fresh = copy.deepcopy(module)
    for part in fresh.modules():
        if part is not fresh and callable(getattr(part, "reset_parameters", None)):
            part.reset_parameters()
    return fresh


class BadTeacher(_SteppedUnlearning):
    """Bad Teacher (Chundawat, Tarun, Mandal, Kankanhalli, "Can Bad Teaching Induce Forgetting?
    Unlearning in Deep Networks Using an Incompetent Teacher", AAAI 2023): the student (the model)
    distils the competent teacher (the original) on retain samples and an incompetent teacher (a
    freshly initialized model of the same architecture) on forget samples, minimizing
    ``KL(competent || student)`` on a retain batch plus ``KL(incompetent || student)`` on a forget batch.

    Deviations: the paper mixes a 30 % subset of the retain set with the forget set in each batch; here
    every step takes one retain batch and one forget batch (an epoch is one pass over the forget set);
    SGD with momentum. Both teachers' outputs are read once through the readout before the first step;
    the incompetent teacher's circuits are counted in the report. Defaults: the paper's
    ``temperature=1``; ``lr=0.05, epochs=10``.
    """

    name = "bad_teacher"
    KNOBS = {**_SteppedUnlearning.KNOBS, "temperature": Knob("float", 0.0, 100.0, low_inclusive=False, grid=(1.0, 2.0, 4.0))}

    def __init__(self, temperature: float = 1.0, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(temperature=temperature)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _prepare(self, context, model):
        _teacher_outputs(context)
        incompetent = reinitialized(context.module)
        before = circuit_counter(incompetent).circuit_evaluations
        context.extras["incompetent_forget"] = predict_logits(incompetent, context.x_forget, context.readout)
        return {"other_circuit_evaluations": circuit_counter(incompetent).circuit_evaluations - before}

    def _set_gradients(self, context, forget_batch):
        module, readout, extras = context.module, context.readout, context.extras
        retain = context.next_retain_batch()
        loss = distillation_divergence(extras["teacher_retain"][retain], module(context.x_retain[retain], readout), self.temperature)
        loss = loss + distillation_divergence(
            extras["incompetent_forget"][forget_batch], module(context.x_forget[forget_batch], readout), self.temperature
        )
        loss.backward()


register("scrub", label="SCRUB", colour=COLOURS["sky_blue"], lesson=False,
         description="SCRUB: disobey the original on the forget set, obey it on the retain set")(Scrub)
register("bad_teacher", label="Bad Teacher", colour=COLOURS["orange"], lesson=False,
         description="Bad Teacher: distil a random model on the forget set, the original on the retain set")(BadTeacher)
