"""Unlearning methods, one class each in a registry (:data:`UNLEARNING_METHODS`), with their tuned
defaults. Imports :mod:`qmu_kit.core` and :mod:`qmu_kit.qnn`.
"""

from qmu_kit.unlearning.tuned_defaults import (
    TUNED_DEFAULTS,
    PROVENANCE,
)
from qmu_kit.unlearning.methods import (
    PARAMETER_GROUPS,
    UnlearningTask,
    UnlearningReport,
    selected_parameters,
    UnlearningMethod,
    StepContext,
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
__all__ = [
    "TUNED_DEFAULTS",
    "PROVENANCE",
    "PARAMETER_GROUPS",
    "UnlearningTask",
    "UnlearningReport",
    "selected_parameters",
    "UnlearningMethod",
    "StepContext",
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
]
