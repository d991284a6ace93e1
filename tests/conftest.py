"""Shared fixtures: seeded generators, small prepared datasets, and an isolated result cache."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


#: The cache ``make test`` gives the whole run (``QMU_KIT_CACHE=build/test-cache``, read here before any
#: fixture isolates a test): the notebooks under nbval fill it first.
SHARED_CACHE_DIR = os.environ.get("QMU_KIT_CACHE")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache."""
    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path_factory.mktemp("qmu-cache")))


@pytest.fixture
def occupied_port():
    """A port with a live listener on 127.0.0.1 (what a server still running leaves behind)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """The run's shared cache (or one for this session): for end-to-end tests of preset-sized runs that
    the notebooks also compute. A replay gives the same numbers as a fresh run (same machine, same
    config: identical numbers, tested in test_experiment), so sharing only saves time."""
    from qmu_kit.core.cache import ResultCache

    return ResultCache(SHARED_CACHE_DIR or tmp_path_factory.mktemp("shared-cache"))


#: The tier of each test directory; the marker is set from the directory, so a test's place is its tier.
TIERS = {"unit": "unit", "notebooks": "notebooks", "nbval": "notebooks", "apps": "apps", "project": "project"}

#: The order ``make test`` hands files to its workers (xdist's ``--dist loadfile --no-loadscope-reorder``
#: keeps this order; a file is one unit). The notebooks under nbval go first, longest first: they fill the
#: shared cache that later files replay (the papermill reruns of 04 and 07 ask for a subset of their seeds,
#: test_verify's controls for notebook 06's models, the browser tests for the apps' stops). Then the
#: long files, longest first, so that no long file starts last and leaves the other worker idle; every
#: other file after them in collection order.
RUN_ORDER = (
    "04_shots_privacy_and_stability.ipynb", "06_did_it_really_forget.ipynb", "05_noisy_devices.ipynb",
    "07_privacy_by_design.ipynb", "03_quantum_unlearning.ipynb", "08_bring_your_own_qnn.ipynb",
    "02_membership_leakage.ipynb", "01_qnn_classifiers.ipynb", "00_start_here.ipynb",
    "test_notebooks.py", "test_paper_preset.py", "test_notebook_checks.py", "test_verify.py",
    "test_app_browser.py", "test_bad_input_matrix.py", "test_sweep.py", "test_lab.py", "test_reproduce.py",
)


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
