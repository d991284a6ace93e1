"""Shared fixtures: seeded generators, small prepared datasets, an isolated result cache per test, and the
run's shared cache with its explicit warm-ups (computed once per run, whichever test worker asks first)."""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
from xdist.scheduler import LoadFileScheduling

from qmu_kit.apps.stops import warm_cache
from qmu_kit.core.cache import ResultCache
from qmu_kit.experiment import ExperimentConfig, run_experiment


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


#: The cache ``make test`` gives the whole run (``QMU_KIT_CACHE=build/test-cache``, read here before any
#: fixture isolates a test). Tests reach it only through :func:`shared_cache_dir` and :func:`shared_cache`.
SHARED_CACHE_DIR = os.environ.get("QMU_KIT_CACHE")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache."""
    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path_factory.mktemp("qmu-cache")))


@pytest.fixture
def occupied_port():
    """A port with a live listener on 127.0.0.1 (what a server still running leaves behind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> str:
    """The run's shared cache directory (``make test``'s, or one for this session): for end-to-end tests
    of preset-sized runs that the notebooks also compute. A replay gives the same numbers as a fresh
    run (same machine, same config: identical numbers, tested in test_experiment), so sharing only
    saves time; no test depends on another having filled it."""
    return SHARED_CACHE_DIR or str(tmp_path_factory.getbasetemp().parent / "shared-cache")


@pytest.fixture(scope="session")
def shared_cache(shared_cache_dir):
    """:func:`shared_cache_dir` as a :class:`~qmu_kit.core.cache.ResultCache`."""
    return ResultCache(shared_cache_dir)


@contextlib.contextmanager
def computed_once(directory: str, name: str):
    """Hold an inter-process lock named ``name`` in ``directory``: the first test worker to ask computes
    what the block computes into the shared cache, the others wait for it and then replay it."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def classroom_result(shared_cache, shared_cache_dir):
    """The classroom preset's experiment (the notebooks' and the apps' default models), computed once
    per run into the shared cache, whichever worker asks first."""
    with computed_once(shared_cache_dir, "classroom"):
        return run_experiment(ExperimentConfig(), cache=shared_cache)


@pytest.fixture(scope="session")
def warm_apps(shared_cache_dir):
    """What ``qmu-kit app`` computes before serving (the apps' default settings), once per run into the
    shared cache; returns the cache directory the servers should use."""
    with computed_once(shared_cache_dir, "apps"), pytest.MonkeyPatch.context() as patch:
        patch.setenv("QMU_KIT_CACHE", shared_cache_dir)
        warm_cache(progress=False)
    return shared_cache_dir


#: The tier of each test directory; the marker is set from the directory, so a test's place is its tier.
TIERS = {"unit": "unit", "notebooks": "notebooks", "nbval": "notebooks", "apps": "apps", "site": "site",
         "project": "project"}

#: The order ``make test`` hands files to its workers (xdist's ``--dist loadfile --no-loadscope-reorder``
#: keeps this order; a file is one unit). The notebooks under nbval go first, longest first: they fill the
#: shared cache that later files replay (the papermill reruns of 04 and 07 ask for a subset of their seeds,
#: test_verify's controls for notebook 06's models, the browser tests for the apps' stops). Then the
#: long files, longest first, so that no long file starts last and leaves the other worker idle; every
#: other file after them in collection order.
RUN_ORDER = (
    "04_shots_privacy_and_stability.ipynb", "06_did_it_really_forget.ipynb", "05_noisy_devices.ipynb",
    "07_privacy_by_design.ipynb", "03b_unlearning_in_depth.ipynb", "03_quantum_unlearning.ipynb",
    "08_bring_your_own_qnn.ipynb", "09_which_unlearning_method.ipynb",
    "02_membership_leakage.ipynb", "01_qnn_classifiers.ipynb", "00_start_here.ipynb",
    "test_notebooks.py", "test_paper_preset.py", "test_notebook_checks.py", "test_verify.py",
    "test_app_browser.py", "test_site.py", "test_bad_input_matrix.py", "test_sweep.py", "test_lab.py", "test_reproduce.py",
)


#: Parametrized tests whose cases each run a whole notebook on their own: independent and long, so each
#: case is a unit of its own that either worker may take (every other file stays one unit).
SPLIT_TESTS = ("test_papermill_rerun_with_other_parameters", "test_notebook_runs_on_embedded_mnist_at_the_paper_preset")


class FileScheduling(LoadFileScheduling):
    """xdist's ``--dist loadfile`` (a notebook's cells share one kernel, a module's fixtures are built
    once), except that each case of :data:`SPLIT_TESTS` is a unit of its own."""

    def _split_scope(self, nodeid: str) -> str:
        if any(f"::{name}[" in nodeid for name in SPLIT_TESTS):
            return nodeid
        return super()._split_scope(nodeid)


def pytest_xdist_make_scheduler(config, log):
    """:class:`FileScheduling` for ``--dist loadfile`` (what ``make test`` asks for)."""
    if config.getvalue("dist") == "loadfile":
        return FileScheduling(config, log)
    return None


def tier(path: Path) -> str | None:
    """The tier of a collected file: the first directory of :data:`TIERS` on its path."""
    return next((TIERS[part] for part in path.parts if part in TIERS), None)


def pytest_collection_modifyitems(config, items):
    """Mark each test with its directory's tier, then order the files as :data:`RUN_ORDER` says (a
    stable sort: tests keep their order inside a file)."""
    rank = {name: position for position, name in enumerate(RUN_ORDER)}

    def file_rank(item):
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" and path.parent.name == "apps":
            return rank["00_start_here.ipynb"] + 0.5  # the apps' notebooks (seconds each) after the series' ones
        return rank.get(path.name, len(RUN_ORDER))

    for item in items:
        name = tier(Path(str(item.fspath)))
        if name is not None:
            item.add_marker(name)
    items.sort(key=file_rank)


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file, the MNIST format."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


@pytest.fixture
def tiny_mnist(tmp_path):
    """A directory with four tiny MNIST-format IDX files (gzipped), 28x28, 10 classes.

    Each class is a distinct bright block, so models can learn it; sizes: 300 train, 120 test.
    """
    generator = np.random.default_rng(7)

    def make(n):
        labels = np.arange(n) % 10
        images = generator.integers(0, 40, size=(n, 28, 28))
        for i, label in enumerate(labels):
            row, col = divmod(int(label), 4)
            images[i, 2 + 8 * row : 8 + 8 * row, 2 + 6 * col : 8 + 6 * col] = 255
        return images.astype(np.uint8), labels.astype(np.uint8)

    directory = tmp_path / "mnist"
    directory.mkdir()
    for prefix, n in (("train", 300), ("t10k", 120)):
        images, labels = make(n)
        write_idx(directory / f"{prefix}-images-idx3-ubyte", images, compress=True)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels, compress=True)
    return directory
