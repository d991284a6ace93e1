"""qmu-kit: membership-privacy leakage of quantum neural networks, and quantum machine unlearning.

A thin package behind a series of teaching notebooks, in layers; each imports only the layers above
it in this list (``tests/unit/test_layers.py`` checks it):

* :mod:`qmu_kit.core`: validation, seed streams, registries, statistics, the cache, the code fingerprint
* :mod:`qmu_kit.qnn`: data, circuits, shot readout, models, training, cloud devices
* :mod:`qmu_kit.leakage`: membership signals, attacks, metrics, the audit
* :mod:`qmu_kit.unlearning`: the unlearning methods' registry
* :mod:`qmu_kit.plots`: figures (presentation)
* :mod:`qmu_kit.experiment`: configuration, the cached pipeline, results, sweeps, shot trends
* :mod:`qmu_kit.studies`: verification, tuning, device audits, differential privacy, bring your own model
* :mod:`qmu_kit.report`: claims, notebook helpers, the paper's reproduction (presentation)
* :mod:`qmu_kit.exercises`: the lessons' exercises, checked with a hint (presentation)
* :mod:`qmu_kit.ui`: ipywidgets panels (presentation)
* :mod:`qmu_kit.apps`: Voila apps, classroom pages, JupyterLab (presentation)
* :mod:`qmu_kit.cli`: the ``qmu-kit`` command (presentation)

Only the first six compute numbers (:mod:`qmu_kit.core.fingerprint`): editing a presentation layer never
invalidates a cached result.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qmu-kit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
