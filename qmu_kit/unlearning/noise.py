"""Benchmark methods that add parameter noise: Fisher forgetting (noise where the retain set does not
care) and sensitivity-guided noise followed by fine-tuning. Every gradient they take is read through
the readout passed in (parameter-shift estimates under shots).

Example:
    >>> FisherForgetting(alpha=1e-5).alpha
    1e-05
"""

from __future__ import annotations

import torch
from torch import nn

from qmu_kit.core.palette import COLOURS
from qmu_kit.qnn.models import quantum_parameters
from qmu_kit.qnn.training import as_tensor
from qmu_kit.unlearning.methods import Knob, UnlearningMethod, diagonal_fisher, register, retain_training

__all__ = ["FisherForgetting", "SensitivityGuidedNoise", "sensitivity_tiers"]


class FisherForgetting(UnlearningMethod):
    """Fisher forgetting (Golatkar, Achille, Soatto, "Eternal Sunshine of the Spotless Net: Selective
    Forgetting in Deep Networks", CVPR 2020): add Gaussian noise to every parameter, its variance
    ``min(alpha / F_r, max_var)`` large where the retain set's diagonal Fisher ``F_r`` is small, so
    what only the forget set needed is scrambled and what the retain set needs is kept.

    ``F_r`` is :func:`~qmu_kit.unlearning.methods.diagonal_fisher` on the retain set with per-sample
    gradients (``batch_size=1``, the empirical Fisher), unbiased under shots. Noise on a circuit angle
    is a random extra rotation. When whole classes are forgotten, the reference code's class-removal
    step applies too (``zero_forgotten_outputs``): the output layer's rows of those classes (the
    classical parameters whose first dimension is the class count) are set to 0 without noise; with
    ``params="quantum"`` there is no output layer to zero and only the noise acts.

    Deviations: the reference code's Fisher is the model's expected one (labels drawn from its own
    predictions), here the empirical one (true labels); the Newton step toward the retain-set optimum
    is left out (the reference code also applies the noise alone); one variance cap for every layer
    and no averaging of a weight matrix's variance over its rows. Defaults: ``alpha=1e-6`` (the
    reference code's); ``max_var=0.1`` (chosen on the unit tests' small fixture, where 1.0 costs most of
    the retained accuracy); ``batch_size=1``. Without the class-removal step the noise alone did not
    forget a class there (forget accuracy 0.75, as the original's). The report's ``diagnostics`` give the
    mean noise standard deviation and how many output parameters were zeroed.
    """

    name = "fisher_forgetting"
    KNOBS = {
        "alpha": Knob("float", 0.0, 1.0, low_inclusive=False, grid=(1e-7, 1e-6, 1e-5)),
        "max_var": Knob("float", 0.0, 1e3, low_inclusive=False, grid=(0.1, 1.0)),
        "batch_size": Knob("int", 1, 100_000),
        "zero_forgotten_outputs": Knob("bool"),
    }

    def __init__(self, alpha: float = 1e-6, max_var: float = 0.1, batch_size: int = 1, zero_forgotten_outputs: bool = True):
        self._set_knobs(alpha=alpha, max_var=max_var, batch_size=batch_size, zero_forgotten_outputs=zero_forgotten_outputs)

    def _update(self, model, task, readout, parameters, seed, progress):
        module = model.module_
        module.eval()
        fisher = diagonal_fisher(module, task.x_retain, task.y_retain, parameters, readout, self.batch_size, seed)
        angles = {id(p) for p in quantum_parameters(module)}
        forgotten = torch.unique(torch.as_tensor(task.y_forget)) if task.target_source == "class" and self.zero_forgotten_outputs else None
        stds, zeroed = [], 0
        with torch.no_grad():
            for p, f in zip(parameters, fisher):
                std = torch.sqrt(torch.clamp(self.alpha / f.clamp_min(1e-30), max=self.max_var))
                if forgotten is not None and id(p) not in angles and p.shape[0] == model.n_classes_:
                    p[forgotten] = 0.0  # the output layer's rows of the forgotten classes
                    std[forgotten] = 0.0
                    zeroed += int(p[forgotten].numel())
                p += std * torch.randn_like(p)
                stds.append(std.flatten())
        return {"diagnostics": {"mean_noise_std": float(torch.cat(stds).mean()), "zeroed": zeroed}}


#: Sensitivity-guided QMU's tiers (masud1901/Sensitivity-Guided-Quantum-Machine-Unlearning, ``config.py``):
#: a normalized sensitivity above 0.7 is "high" (noise factor 0.5), above 0.3 "medium" (0.35), else "low" (0.2).
TIERS = ((0.7, 0.5, "high"), (0.3, 0.35, "medium"), (-float("inf"), 0.2, "low"))


def sensitivity_tiers(norms: torch.Tensor, epsilon: float) -> tuple[torch.Tensor, dict[str, int]]:
    """Per forget sample, the noise standard deviation of sensitivity-guided QMU: gradient norms
    min-max normalized to [0, 1] (all 1 when equal), a budget ``epsilon * s_i / sum(s)`` per sample,
    times its tier's factor (:data:`TIERS`); and how many samples fell in each tier.

    Example:
        >>> stds, counts = sensitivity_tiers(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 1.5)
        >>> [round(s, 4) for s in stds.tolist()], counts
        ([0.0, 0.175, 0.5], {'high': 1, 'medium': 1, 'low': 1})
    """
    spread = norms.max() - norms.min()
    scores = (norms - norms.min()) / spread if float(spread) > 0 else torch.ones_like(norms)
    budgets = epsilon * scores / (scores.sum() + 1e-8)
    factors = torch.empty_like(norms)
    counts = {}
    assigned = torch.zeros_like(norms, dtype=torch.bool)
    for threshold, factor, tier in TIERS:
        in_tier = (scores > threshold) & ~assigned
        factors[in_tier] = factor
        assigned |= in_tier
        counts[tier] = int(in_tier.sum())
    return budgets * factors, counts


class SensitivityGuidedNoise(UnlearningMethod):
    """Sensitivity-guided quantum unlearning (SQU; code masud1901/Sensitivity-Guided-Quantum-Machine-Unlearning):
    each forget sample's gradient norm sets, through a budget and a tier (:func:`sensitivity_tiers`), the
    standard deviation of a Gaussian noise added to every parameter; then the model is fine-tuned on
    the retain set (:func:`~qmu_kit.unlearning.methods.retain_training`) to recover its utility.

    The authors add one noise draw per forget sample in turn; the sum of those independent draws is
    drawn here at once (the same distribution, std ``sqrt(sum_i std_i^2)``). Deviations: the
    sensitivity is the norm of the per-sample cross-entropy gradient (the authors' binary tasks use a
    squared loss); under shots it is a parameter-shift estimate, whose norm is biased upwards by shot
    noise (the min-max normalization removes a common offset, not the spread). Defaults: the
    authors' ``epsilon=1.0`` and 5 fine-tuning ``epochs``, at the original training's learning rate.
    The report's ``diagnostics`` give the tier counts and the noise standard deviation.
    """

    name = "sensitivity_noise"
    KNOBS = {
        "epsilon": Knob("float", 0.0, 100.0, low_inclusive=False, grid=(0.5, 1.0, 2.0)),
        "epochs": Knob("int", 1, 1000, grid=(2, 5)),
        "lr": Knob("float", 0.0, 10.0, low_inclusive=False, optional=True),
    }

    def __init__(self, epsilon: float = 1.0, epochs: int = 5, lr: float | None = None):
        self._set_knobs(epsilon=epsilon, epochs=epochs, lr=lr)

    def _update(self, model, task, readout, parameters, seed, progress):
        module = model.module_
        module.eval()
        x, y = as_tensor(task.x_forget), torch.as_tensor(task.y_forget)
        norms = []
        for i in range(len(y)):
            loss = nn.functional.cross_entropy(module(x[i : i + 1], readout), y[i : i + 1])
            gradient = torch.autograd.grad(loss, parameters)
            norms.append(torch.sqrt(sum((g**2).sum() for g in gradient)))
        stds, counts = sensitivity_tiers(torch.stack(norms).detach(), self.epsilon)
        std = float(torch.sqrt((stds**2).sum()))
        with torch.no_grad():
            for p in parameters:
                p += std * torch.randn_like(p)
        steps = retain_training(model, task, readout, parameters, seed, progress, self.epochs, self.lr, description=self.name)
        return {**steps, "diagnostics": {"tiers": counts, "noise_std": std}}


register("fisher_forgetting", label="Fisher forgetting", colour=COLOURS["vermillion"], lesson=False,
         description="Fisher forgetting: noise where the retain set's Fisher information is small",
         scope="its class-removal step zeroes the classical output layer's rows of a forgotten class: with "
               "params='quantum' (no output layer) only the noise acts")(FisherForgetting)
register("sensitivity_noise", label="sensitivity noise", colour=COLOURS["reddish_purple"], lesson=False,
         description="sensitivity-guided noise, then fine-tuning on the retain set")(SensitivityGuidedNoise)
