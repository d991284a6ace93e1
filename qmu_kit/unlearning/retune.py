"""Benchmark methods that keep training on the retain set in a restricted or regularized way: CF-k,
EU-k, l1-sparse fine-tuning and certified noisy fine-tuning. Each trains with the original recipe
through :func:`~qmu_kit.unlearning.methods.retain_training` (the fine-tuning of
:class:`~qmu_kit.unlearning.methods.FineTune`), every output read through the readout passed in.

Example:
    >>> from qmu_kit.qnn.models import BasicQNN
    >>> [name for name, _ in parameter_layers(BasicQNN(4, 1))]
    ['quantum', 'head']
"""

from __future__ import annotations

import torch
from torch import nn

from qmu_kit.core.palette import COLOURS
from qmu_kit.qnn.models import quantum_parameters
from qmu_kit.unlearning.methods import Knob, UnlearningMethod, register, retain_training, wrap_angles

__all__ = ["CatastrophicForgettingK", "ExactUnlearningK", "L1Sparse", "CertifiedNoisyFineTune", "parameter_layers", "last_layers"]

#: The knobs every method here shares: epochs of retain training and its learning rate (``None``:
#: the original training's).
RETAIN_KNOBS = {
    "epochs": Knob("int", 1, 1000, grid=(2, 5, 10)),
    "lr": Knob("float", 0.0, 10.0, low_inclusive=False, optional=True),
}


def parameter_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The submodules that hold parameters directly, in registration (forward) order: the basic QNN's
    circuit and head; the hybrid's convolution, linear layer, circuit and head."""
    return [(name, part) for name, part in module.named_modules() if any(True for _ in part.parameters(recurse=False))]


def last_layers(method: str, module: nn.Module, k: int, parameters: list[nn.Parameter]) -> list[tuple[str, nn.Module]]:
    """The last ``k`` parameter layers whose parameters the method may change.

    Raises:
        ValueError: ``k`` exceeds the model's layers, or none of the last ``k`` layers is among the
            parameters the method may change (e.g. ``k=1``, the classical head, with ``params="quantum"``).
    """
    layers = parameter_layers(module)
    if k > len(layers):
        raise ValueError(f"{method} k={k} is out of range: this model has {len(layers)} parameter layers "
                         f"({', '.join(name for name, _ in layers)}), so k must be from 1 to {len(layers)}")
    allowed = {id(p) for p in parameters}
    chosen = [(name, part) for name, part in layers[-k:] if all(id(p) in allowed for p in part.parameters(recurse=False))]
    if not chosen:
        raise ValueError(f"{method} k={k} would change only {', '.join(name for name, _ in layers[-k:])}, none of which "
                         "the chosen unlearn_params may change: raise k to reach those layers, or allow them")
    return chosen


class CatastrophicForgettingK(UnlearningMethod):
    """CF-k (Goel, Prabhu, Sanyal, Lim, Torr, Kumaraguru, "Towards Adversarial Evaluation of Machine
    Unlearning", 2022): fine-tune only the last ``k`` layers on the retain set, the rest frozen.

    A QNN's "layers" are its parameter layers in forward order (:func:`parameter_layers`): ``k=1`` is
    the classical head alone, ``k=2`` adds the circuit. With ``params="quantum"`` or ``"classical"``
    only the chosen layers of that group train, and a ``k`` that reaches none of them is an error.
    The frozen layers track no gradients, so frozen circuit angles cost no parameter-shift circuits
    (``k=1``: one circuit per input and step). Deviations: the hybrid-QNN study's CF-k freezes the *first* k layer groups and ascends the forget
    loss; this is Goel et al.'s definition. Defaults: ``k=1``, ``epochs=10`` at the original
    training's learning rate and batch size.
    """

    name = "cf_k"
    KNOBS = {"k": Knob("int", 1, 100, grid=(1, 2, 3)), **RETAIN_KNOBS}

    def __init__(self, k: int = 1, epochs: int = 10, lr: float | None = None):
        self._set_knobs(k=k, epochs=epochs, lr=lr)

    def _update(self, model, task, readout, parameters, seed, progress):
        layers = last_layers(self.name, model.module_, self.k, parameters)
        trained = [p for _, part in layers for p in part.parameters(recurse=False)]
        steps = retain_training(model, task, readout, trained, seed, progress, self.epochs, self.lr, description=self.name,
                                freeze_others=True)
        return {**steps, "diagnostics": {"layers": [name for name, _ in layers]}}


class ExactUnlearningK(CatastrophicForgettingK):
    """EU-k (Goel et al., 2022): re-initialize the last ``k`` layers and train them on the retain set,
    the rest frozen (the other layers keep what they learned from the forget set).

    Layers as in :class:`CatastrophicForgettingK`: ``k=1`` re-initializes the classical head (the
    hybrid-QNN study's EU-k does exactly that), ``k=2`` also the circuit (fresh angles uniform in
    [0, 2 pi)). Deviations: none beyond the QNN's layer list. Defaults: ``k=1``, ``epochs=10`` at
    the original training's learning rate and batch size.
    """

    name = "eu_k"

    def _update(self, model, task, readout, parameters, seed, progress):
        for _, part in last_layers(self.name, model.module_, self.k, parameters):
            part.reset_parameters()
        return super()._update(model, task, readout, parameters, seed, progress)


class L1Sparse(UnlearningMethod):
    """l1-sparse fine-tuning (Jia, Liu, Ram, Yao, Liu, Liu, Sharma, Liu, "Model Sparsity Can Simplify
    Machine Unlearning", NeurIPS 2023): fine-tune on the retain set with the penalty
    ``gamma_t * |theta|_1``, ``gamma_t`` decaying linearly from ``gamma`` to 0 over the epochs (the
    paper's linear schedule).

    A circuit angle's l1 norm is taken on the angle wrapped to (-pi, pi] (:func:`wrap_angles`): the
    sparse angle is the identity rotation, and 2 pi is the same gate as 0. Deviations: SGD with the
    original recipe instead of the paper's. Defaults: ``gamma=1e-3``, ``epochs=10`` (chosen on the
    unit tests' small fixture).
    """

    name = "l1_sparse"
    KNOBS = {"gamma": Knob("float", 0.0, 10.0, grid=(1e-4, 1e-3, 1e-2)), **RETAIN_KNOBS}

    def __init__(self, gamma: float = 1e-3, epochs: int = 10, lr: float | None = None):
        self._set_knobs(gamma=gamma, epochs=epochs, lr=lr)

    def _update(self, model, task, readout, parameters, seed, progress):
        angles = {id(p) for p in quantum_parameters(model.module_)}

        def penalty(epoch: int) -> torch.Tensor:
            weight = self.gamma * (1.0 - epoch / self.epochs)
            return weight * sum((wrap_angles(p) if id(p) in angles else p).abs().sum() for p in parameters)

        return retain_training(model, task, readout, parameters, seed, progress, self.epochs, self.lr,
                               description=self.name, penalty=penalty)


class CertifiedNoisyFineTune(UnlearningMethod):
    """Certified noisy fine-tuning, as the hybrid-QNN unlearning study runs it (Crivoi et al., ICPR
    2026, in the spirit of noisy-gradient certified unlearning, e.g. Chien, Wang, Li, "Langevin
    Unlearning", NeurIPS 2024): fine-tune on the retain set with every step's joint gradient clipped
    to norm ``clip_norm`` and Gaussian noise of standard deviation ``sigma`` added to each component.

    Deviations: no privacy certificate is computed (the study computes none either); SGD with the
    original recipe instead of Adam. Defaults: the study's ``clip_norm=1.0, sigma=0.05``;
    ``epochs=10``.
    """

    name = "certified_finetune"
    KNOBS = {
        "clip_norm": Knob("float", 0.0, 1e3, low_inclusive=False, grid=(0.5, 1.0)),
        "sigma": Knob("float", 0.0, 10.0, grid=(0.01, 0.05, 0.1)),
        **RETAIN_KNOBS,
    }

    def __init__(self, clip_norm: float = 1.0, sigma: float = 0.05, epochs: int = 10, lr: float | None = None):
        self._set_knobs(clip_norm=clip_norm, sigma=sigma, epochs=epochs, lr=lr)

    def _update(self, model, task, readout, parameters, seed, progress):
        def clip_and_noise(trained: list[nn.Parameter]) -> None:
            nn.utils.clip_grad_norm_(trained, self.clip_norm)
            for p in trained:
                if p.grad is not None:
                    p.grad += self.sigma * torch.randn_like(p.grad)

        return retain_training(model, task, readout, parameters, seed, progress, self.epochs, self.lr,
                               description=self.name, before_step=clip_and_noise)


register("cf_k", label="CF-k", colour=COLOURS["bluish_green"], lesson=False,
         description="CF-k: fine-tune the last k layers on the retain set",
         scope="the last k parameter layers in forward order: k=1 is the classical head only, k=2 adds the circuit; "
               "a k that reaches none of the chosen unlearn_params is an error")(CatastrophicForgettingK)
register("eu_k", label="EU-k", colour=COLOURS["vermillion"], lesson=False,
         description="EU-k: re-initialize the last k layers and train them on the retain set",
         scope="the last k parameter layers in forward order: k=1 re-initializes the classical head only, k=2 also "
               "the circuit; a k that reaches none of the chosen unlearn_params is an error")(ExactUnlearningK)
register("l1_sparse", label="l1-sparse", colour=COLOURS["sky_blue"], lesson=False,
         description="l1-sparse: fine-tune on the retain set with a decaying l1 penalty",
         scope="circuit angles: the l1 norm of the angle wrapped to (-pi, pi]")(L1Sparse)
register("certified_finetune", label="certified fine-tune", colour=COLOURS["yellow"], lesson=False,
         description="certified: fine-tune on the retain set with clipped, noisy gradients")(CertifiedNoisyFineTune)
