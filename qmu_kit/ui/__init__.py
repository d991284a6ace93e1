"""Interactive panels (ipywidgets) for the notebooks and the apps: a figure built once, controls
that call the package, never compute themselves.
"""

from qmu_kit.ui.widgets import (
    EPSILON_OPTIONS,
    SHOT_OPTIONS,
    ClassifierPanel,
    LeakagePanel,
    Panel,
    PrivacyPanel,
    ShotNoisePanel,
    UnlearningPanel,
    attack_selector,
    depth_slider,
    method_selector,
    model_selector,
    params_selector,
    shots_slider,
)
from qmu_kit.ui.predict import (
    Prediction,
    Reveal,
    Solution,
)
from qmu_kit.ui.verify_panel import (
    VerifyPanel,
)
__all__ = [
    "EPSILON_OPTIONS",
    "SHOT_OPTIONS",
    "ClassifierPanel",
    "LeakagePanel",
    "Panel",
    "PrivacyPanel",
    "ShotNoisePanel",
    "UnlearningPanel",
    "attack_selector",
    "depth_slider",
    "method_selector",
    "model_selector",
    "params_selector",
    "shots_slider",
    "Prediction",
    "Reveal",
    "Solution",
    "VerifyPanel",
]
