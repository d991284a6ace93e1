"""qmu-kit: membership-privacy leakage of quantum neural networks, and quantum machine unlearning.

A thin package behind a series of teaching notebooks. It reads as a pipeline, each layer importing
only the ones before it: ``data`` -> ``circuit`` -> ``readout`` -> ``models`` -> ``training``.

Bring your own model: ``qmu_kit.audit_model`` (:func:`qmu_kit.byo.audit`; the name ``qmu_kit.audit``
is the audit module's) and ``qmu_kit.TorchClassifier`` (:class:`qmu_kit.byo.TorchClassifier`),
imported on first use so that ``import qmu_kit`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qmu-kit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


_LAZY = {"audit_model": ("qmu_kit.byo", "audit"), "TorchClassifier": ("qmu_kit.byo", "TorchClassifier")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'qmu_kit' has no attribute {name!r}")
