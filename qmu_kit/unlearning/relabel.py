"""Benchmark methods that train on the forget set under other labels: random labels, SalUn (random
labels on the most salient parameters), label-complement augmentation (LCA) and the Q-MUL-inspired
remapping to the most similar class. All run on the loop GA and RGA share
(:class:`~qmu_kit.unlearning.methods._SteppedUnlearning`: an epoch is one pass over the forget set,
each step pairs a forget batch with the next retain batch, every output read through the readout).

Example:
    >>> SalUn(saliency=0.3).saliency
    0.3
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qmu_kit.core.palette import COLOURS
from qmu_kit.qnn.training import predict_logits
from qmu_kit.unlearning.methods import Knob, _SteppedUnlearning, register, set_balanced_gradients

__all__ = ["RandomLabels", "SalUn", "LabelComplement", "SimilarClassRemap", "other_labels", "similar_classes"]


def other_labels(labels: torch.Tensor, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For each label, a class drawn uniformly from the other ``n_classes - 1``.

    Example:
        >>> labels = torch.tensor([0, 1, 2] * 50)
        >>> bool((other_labels(labels, 3, torch.Generator().manual_seed(0)) != labels).all())
        True
    """
    shift = torch.randint(1, n_classes, labels.shape, generator=generator)
    return (labels + shift) % n_classes


class RandomLabels(_SteppedUnlearning):
    """Random labels (Golatkar, Achille, Soatto, CVPR 2020; "RL" in Fan et al.'s SalUn benchmark, ICLR
    2024): minimize ``CE(D_f batch, random other labels) + CE(D_r batch)``, the forget samples'
    labels redrawn at every step from the classes they do not belong to.

    Deviations: an epoch is one pass over the forget set; SGD with momentum. Defaults (chosen on the
    unit tests' small fixture): ``lr=0.05, momentum=0.9, batch_size=16, epochs=10``.
    """

    name = "random_labels"

    def __init__(self, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _prepare(self, context, model):
        context.extras["n_classes"] = model.n_classes_
        return {}

    def _set_gradients(self, context, forget_batch):
        module, readout = context.module, context.readout
        relabelled = other_labels(context.y_forget[forget_batch], context.extras["n_classes"], context.generator)
        retain = context.next_retain_batch()
        loss = nn.functional.cross_entropy(module(context.x_forget[forget_batch], readout), relabelled)
        loss = loss + nn.functional.cross_entropy(module(context.x_retain[retain], readout), context.y_retain[retain])
        loss.backward()
        mask = context.extras.get("mask")
        if mask is not None:
            for p, keep in zip(context.parameters, mask):
                if p.grad is not None:
                    p.grad *= keep


class SalUn(RandomLabels):
    """SalUn (Fan, Liu, Zhang, Wei, Wong, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based
    Weight Saliency", ICLR 2024): random-label unlearning (:class:`RandomLabels`) restricted to the
    salient parameters, those whose forget-loss gradient ``|grad CE(D_f)|`` is in the top
    ``saliency`` fraction over every parameter the method may change (the paper's hard threshold,
    set by its default of keeping half).

    Deviations: the mask keeps exactly ``ceil(saliency * n)`` parameters, ranked by ``|g|`` (ties,
    e.g. parameters the forget loss does not reach, in parameter order), where the paper thresholds
    at a quantile; circuit angles and classical weights share one ranking. Under shots the
    saliency gradient is one parameter-shift estimate per forget batch. The report's ``diagnostics``
    give ``salient`` (how many parameters the mask keeps). Defaults: ``saliency=0.5`` (the paper's),
    the rest as :class:`RandomLabels`.
    """

    name = "salun"
    KNOBS = {**_SteppedUnlearning.KNOBS, "saliency": Knob("float", 0.0, 1.0, low_inclusive=False, grid=(0.3, 0.5, 0.7))}

    def __init__(self, saliency: float = 0.5, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(saliency=saliency)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _prepare(self, context, model):
        super()._prepare(context, model)
        module, readout, parameters = context.module, context.readout, context.parameters
        totals = [torch.zeros_like(p) for p in parameters]
        for begin in range(0, len(context.y_forget), self.batch_size):
            x = context.x_forget[begin : begin + self.batch_size]
            y = context.y_forget[begin : begin + self.batch_size]
            loss = nn.functional.cross_entropy(module(x, readout), y, reduction="sum")
            for total, g in zip(totals, torch.autograd.grad(loss, parameters)):
                total += g
        size = torch.cat([t.abs().flatten() for t in totals])
        keep = torch.zeros_like(size)
        keep[torch.argsort(size, descending=True, stable=True)[: math.ceil(self.saliency * len(size))]] = 1.0
        mask = [part.view_as(t) for part, t in zip(keep.split([t.numel() for t in totals]), totals)]
        context.extras["mask"] = mask
        return {"diagnostics": {"salient": int(sum(int(m.sum()) for m in mask))}}


class LabelComplement(_SteppedUnlearning):
    """Label-complement augmentation (LCA), as the hybrid-QNN unlearning study defines it (Crivoi et al.,
    ICPR 2026): every forget sample is trained toward each of the classes it does not belong to,
    minimizing ``CE(D_r batch) + beta * mean_{c != y} CE(x_f, c)``.

    Deviations: the study replicates each forget sample ``C - 1`` times with the complement labels;
    the mean over complement labels computed directly is the same loss. An epoch is one pass over the
    forget set; SGD with momentum. Defaults: the study's ``beta=1.0``; ``lr=0.05, epochs=10``.
    """

    name = "lca"
    KNOBS = {**_SteppedUnlearning.KNOBS, "beta": Knob("float", 0.0, 100.0, low_inclusive=False, grid=(0.5, 1.0, 2.0))}

    def __init__(self, beta: float = 1.0, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(beta=beta)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _set_gradients(self, context, forget_batch):
        module, readout = context.module, context.readout
        log_p = torch.log_softmax(module(context.x_forget[forget_batch], readout), 1)
        others = torch.ones_like(log_p).scatter_(1, context.y_forget[forget_batch][:, None], 0.0)
        complement = -(log_p * others).sum(1).mean() / (log_p.shape[1] - 1)
        retain = context.next_retain_batch()
        retain_loss = nn.functional.cross_entropy(module(context.x_retain[retain], readout), context.y_retain[retain])
        (retain_loss + self.beta * complement).backward()


def similar_classes(logits: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """For each class, the other class whose mean logit vector is the most cosine-similar (ties go to
    the lower class; a class without samples has a zero mean, similar to none: it maps to class 0,
    or 1 for class 0).

    Example:
        >>> logits = torch.tensor([[1.0, 0.0, 0.9], [0.0, 1.0, 0.0], [0.9, 0.0, 1.0]])
        >>> similar_classes(logits, torch.tensor([0, 1, 2]), 3).tolist()
        [2, 0, 0]
    """
    means = torch.stack([logits[labels == c].mean(0) if bool((labels == c).any()) else torch.zeros(logits.shape[1], dtype=logits.dtype)
                         for c in range(n_classes)])
    similarity = nn.functional.cosine_similarity(means[:, None, :], means[None, :, :], dim=2)
    similarity.fill_diagonal_(-torch.inf)
    return similarity.argmax(1)


class SimilarClassRemap(_SteppedUnlearning):
    """The Q-MUL-inspired remapping of the hybrid-QNN unlearning study (Crivoi et al., ICPR 2026, after
    Q-MUL's "similar label" idea): each forget sample is relabelled with the class most similar to its
    own (cosine similarity of the original model's mean logits per class) and the model descends on
    ``g_r + alpha * (|g_r| / |g_f|) * g_f`` (:func:`~qmu_kit.unlearning.methods.balanced_gradient`),
    ``g_r`` the retain batch's gradient and ``g_f`` the remapped forget batch's.

    Deviations: the class means are over the whole training set (the study takes them on the retain
    set, where a forgotten class has no samples and maps to an arbitrary class); the study's code
    *subtracts* the remapped forget loss, which pushes the samples away from the similar class; here
    they are trained toward it, as the remapping intends. An epoch is one pass over the forget set;
    SGD with momentum. Defaults: the study's ``alpha=1.0``; ``lr=0.05, epochs=10``.
    """

    name = "qmul_remap"
    KNOBS = {**_SteppedUnlearning.KNOBS, "alpha": Knob("float", 0.0, 100.0, low_inclusive=False, grid=(0.5, 1.0, 2.0))}

    def __init__(self, alpha: float = 1.0, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16, epochs: int = 10,
                 normalize: bool = False, stop_at_target: bool = False):
        self._set_knobs(alpha=alpha)
        super().__init__(lr, momentum, batch_size, epochs, normalize, stop_at_target)

    def _prepare(self, context, model):
        x = torch.cat([context.x_retain, context.x_forget])
        y = torch.cat([context.y_retain, context.y_forget])
        mapping = similar_classes(predict_logits(context.module, x, context.readout), y, model.n_classes_)
        context.extras["remapped"] = mapping[context.y_forget]
        return {"diagnostics": {"mapping": {int(c): int(mapping[c]) for c in torch.unique(context.y_forget)}}}

    def _set_gradients(self, context, forget_batch):
        set_balanced_gradients(context, forget_batch, context.extras["remapped"][forget_batch], self.alpha)


register("random_labels", label="random labels", colour=COLOURS["yellow"], lesson=False,
         description="random labels on the forget set, retain loss beside")(RandomLabels)
register("salun", label="SalUn", colour=COLOURS["black"], lesson=False,
         description="SalUn: random labels on the salient parameters")(SalUn)
register("lca", label="LCA", colour=COLOURS["blue"], lesson=False,
         description="LCA: forget samples trained toward their complement labels")(LabelComplement)
register("qmul_remap", label="Q-MUL remap", colour=COLOURS["orange"], lesson=False,
         description="Q-MUL-inspired: forget labels remapped to the most similar class")(SimilarClassRemap)
