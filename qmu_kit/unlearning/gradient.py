"""Benchmark methods that ascend the forget loss while descending the retain loss: NegGrad+ and
ADV-UNIFORM. Both run on the loop GA and RGA share (:class:`~qmu_kit.unlearning.methods._SteppedUnlearning`:
one pass over the forget set is an epoch, each step pairs a forget batch with the next retain batch,
every output read through the readout passed in).

Example:
    >>> NegGradPlus(beta=0.8).beta
    0.8
"""

from __future__ import annotations

import torch
from torch import nn

from qmu_kit.core.palette import COLOURS
from qmu_kit.unlearning.methods import Knob, _SteppedUnlearning, register

__all__ = ["NegGradPlus", "AdversarialUniform"]


class NegGradPlus(_SteppedUnlearning):
    """NegGrad+ (Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning",
    NeurIPS 2023): minimize ``beta * CE(D_r batch) - (1 - beta) * CE(D_f batch)``, the benchmarks'
    "baseline to beat" once tuned.

    Deviations: an epoch is one pass over the forget set (each step draws the next retain batch), not
    over the retain set; plain SGD with momentum instead of the authors' Adam. Defaults (chosen on
    the unit tests' small fixture, to be tuned with :meth:`knob_grid`): ``beta=0.9, lr=0.05,
    momentum=0.9, batch_size=16, epochs=20``; ``normalize`` and ``stop_at_target`` as in
    :class:`~qmu_kit.unlearning.methods.GradientAscent`, off by default (the paper has neither).
    """

    name = "neggrad_plus"
    KNOBS = {
        **_SteppedUnlearning.KNOBS,
        "beta": Knob("float", 0.0, 1.0, low_inclusive=False, high_inclusive=False, grid=(0.5, 0.8, 0.95)),
    }

    def __init__(self, beta: float = 0.9, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 20,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(beta=beta)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _set_gradients(self, context, forget_batch):
        module, readout = context.module, context.readout
        retain = context.next_retain_batch()
        retain_loss = nn.functional.cross_entropy(module(context.x_retain[retain], readout), context.y_retain[retain])
        forget_loss = nn.functional.cross_entropy(module(context.x_forget[forget_batch], readout), context.y_forget[forget_batch])
        (self.beta * retain_loss - (1 - self.beta) * forget_loss).backward()


def uniform_divergence(logits: torch.Tensor) -> torch.Tensor:
    """Mean KL(p || uniform) of the batch's output distributions ``p`` (0 exactly when uniform).

    Example:
        >>> float(uniform_divergence(torch.zeros(2, 10)))
        0.0
    """
    log_p = torch.log_softmax(logits, 1)
    return (log_p.exp() * (log_p + torch.log(torch.tensor(float(logits.shape[1]), dtype=logits.dtype)))).sum(1).mean()


class AdversarialUniform(_SteppedUnlearning):
    """ADV-UNIFORM, as the hybrid-QNN unlearning study defines it (Crivoi et al., "Machine unlearning
    in the era of quantum machine learning", ICPR 2026, code CrivoiCarla/hybrid-quantum-machine-unlearning):
    each forget batch is moved one FGSM step of size ``eps`` along the sign of the input gradient of
    KL(p || uniform), and the model minimizes ``CE(D_r batch) + lam * KL(p(x_adv) || uniform)``.

    Deviations: an epoch is one pass over the forget set; SGD with momentum instead of Adam; inputs are
    not clamped after the FGSM step (the basic QNN's amplitude features are normalized by the
    embedding anyway; the hybrid's images may leave [0, 1]). The input gradient is taken with the
    parameters frozen, so it costs one circuit per input: under shots it is the simulator's exact
    vector-Jacobian product at the shot-estimated outputs (amplitude encoding has no parameter-shift
    rule; :class:`~qmu_kit.qnn.readout.ShotReadout`). Defaults: the study's ``lam=1.0``; ``eps=0.3``,
    ``lr=0.05``, ``epochs=20``. On the unit tests' small fixture (one seed) the study's ``eps=0.1``
    does not forget the class and ``eps=0.3`` does: the step moves the forget
    inputs toward *more* confident outputs, and pushing those to uniform reaches the clean inputs
    only once the step is large enough.
    """

    name = "adv_uniform"
    KNOBS = {
        **_SteppedUnlearning.KNOBS,
        "eps": Knob("float", 0.0, 10.0, grid=(0.03, 0.1, 0.3)),
        "lam": Knob("float", 0.0, 100.0, low_inclusive=False, grid=(0.5, 1.0, 2.0)),
    }

    def __init__(self, eps: float = 0.3, lam: float = 1.0, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16,
                 epochs: int = 20, normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(eps=eps, lam=lam)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _set_gradients(self, context, forget_batch):
        module, readout = context.module, context.readout
        x = context.x_forget[forget_batch].clone().requires_grad_(True)
        flags = [p.requires_grad for p in module.parameters()]
        for p in module.parameters():
            p.requires_grad_(False)
        try:
            (gradient,) = torch.autograd.grad(uniform_divergence(module(x, readout)), x)
        finally:
            for p, flag in zip(module.parameters(), flags):
                p.requires_grad_(flag)
        adversarial = (x + self.eps * gradient.sign()).detach()
        retain = context.next_retain_batch()
        retain_loss = nn.functional.cross_entropy(module(context.x_retain[retain], readout), context.y_retain[retain])
        (retain_loss + self.lam * uniform_divergence(module(adversarial, readout))).backward()


register("neggrad_plus", label="NegGrad+", colour=COLOURS["vermillion"], lesson=False,
         description="NegGrad+: retain loss minus a weighted forget loss")(NegGradPlus)
register("adv_uniform", label="ADV-UNIFORM", colour=COLOURS["yellow"], lesson=False,
         description="ADV-UNIFORM: adversarial forget inputs pushed to a uniform output",
         scope="the FGSM step perturbs the model's input: amplitude features (basic QNN) or images (hybrid)")(AdversarialUniform)
