"""Unlearning methods, one class each in a registry (:data:`UNLEARNING_METHODS`), with their tuned
defaults. Imports :mod:`qmu_kit.core` and :mod:`qmu_kit.qnn`.

``methods`` holds the shared pieces and the lessons' methods (GA, SSD, RGA, fine-tuning, retraining);
the benchmark's further methods register themselves from one module per family: ``gradient``
(NegGrad+, ADV-UNIFORM), ``relabel`` (random labels, SalUn, LCA, the Q-MUL-inspired remapping),
``distill`` (SCRUB, Bad Teacher), ``retune`` (CF-k, EU-k, l1-sparse, certified noisy fine-tuning) and
``noise`` (Fisher forgetting, sensitivity-guided noise).
"""

from qmu_kit.unlearning.tuned_defaults import (
    TUNED_DEFAULTS,
    PROVENANCE,
)
from qmu_kit.unlearning.methods import (
    PARAMETER_GROUPS,
    Knob,
    UnlearningTask,
    UnlearningReport,
    selected_parameters,
    UnlearningMethod,
    StepContext,
    shots_of,
    balanced_gradient,
    retain_training,
    GradientAscent,
    RelativeGradientAscent,
    wrap_angles,
    SHOT_NOISE_Z,
    diagonal_fisher,
    SelectiveSynapticDampening,
    FineTune,
    Retrain,
    UNLEARNING_METHODS,
    register,
    method_names,
    make_method,
)
from qmu_kit.unlearning.gradient import NegGradPlus, AdversarialUniform, uniform_divergence
from qmu_kit.unlearning.relabel import RandomLabels, SalUn, LabelComplement, SimilarClassRemap, other_labels, similar_classes
from qmu_kit.unlearning.distill import Scrub, BadTeacher, distillation_divergence, reinitialized
from qmu_kit.unlearning.retune import (
    CatastrophicForgettingK,
    ExactUnlearningK,
    L1Sparse,
    CertifiedNoisyFineTune,
    parameter_layers,
    last_layers,
)
from qmu_kit.unlearning.noise import FisherForgetting, SensitivityGuidedNoise, sensitivity_tiers
__all__ = [
    "TUNED_DEFAULTS",
    "PROVENANCE",
    "PARAMETER_GROUPS",
    "Knob",
    "UnlearningTask",
    "UnlearningReport",
    "selected_parameters",
    "UnlearningMethod",
    "StepContext",
    "shots_of",
    "balanced_gradient",
    "retain_training",
    "GradientAscent",
    "RelativeGradientAscent",
    "wrap_angles",
    "SHOT_NOISE_Z",
    "diagonal_fisher",
    "SelectiveSynapticDampening",
    "FineTune",
    "Retrain",
    "UNLEARNING_METHODS",
    "register",
    "method_names",
    "make_method",
    "NegGradPlus",
    "AdversarialUniform",
    "uniform_divergence",
    "RandomLabels",
    "SalUn",
    "LabelComplement",
    "SimilarClassRemap",
    "other_labels",
    "similar_classes",
    "Scrub",
    "BadTeacher",
    "distillation_divergence",
    "reinitialized",
    "CatastrophicForgettingK",
    "ExactUnlearningK",
    "L1Sparse",
    "CertifiedNoisyFineTune",
    "parameter_layers",
    "last_layers",
    "FisherForgetting",
    "SensitivityGuidedNoise",
    "sensitivity_tiers",
]
