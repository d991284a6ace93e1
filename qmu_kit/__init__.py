"""qmu-kit: membership-privacy leakage of quantum neural networks, and quantum machine unlearning.

A thin package behind a series of teaching notebooks. It reads as a pipeline, each layer importing
only the ones before it: ``data`` -> ``circuit`` -> ``readout`` -> ``models`` -> ``training``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qmu-kit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
