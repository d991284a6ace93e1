"""The embedded tables (iris, wine): loading, splits, standardization fitted off the members, both models' inputs."""

import numpy as np
import pytest
import torch

from qmu_kit.qnn.data import (
    DATASET_CLASSES,
    EMBEDDED_SAMPLES,
    IMAGE_PIXELS,
    MIN_TABULAR_POPULATION,
    TABULAR_LOADERS,
    check_forget_class,
    check_sizes,
    load_dataset,
    load_tabular_data,
    make_split,
    prepare_data,
)
from qmu_kit.qnn.models import build_model


@pytest.mark.parametrize("name", list(TABULAR_LOADERS))
def test_tables_load_with_the_recorded_sizes(name):
    data = load_dataset(name)
    assert data.tabular and data.name == name
    assert data.images.shape == (EMBEDDED_SAMPLES[name], IMAGE_PIXELS[name])
    assert data.classes.tolist() == list(range(DATASET_CLASSES[name]))
    assert data.images.dtype == np.float32 and data.labels.dtype == np.int64


@pytest.mark.parametrize("name, n_train, n_test", [("iris", 50, 50), ("wine", 60, 60), ("iris", 70, 70)])
def test_table_splits_are_disjoint_and_cover_the_table(name, n_train, n_test):
    data = load_tabular_data(name)
    split = make_split(data, n_train, n_test, seed=1)
    assert (len(split.train), len(split.test)) == (n_train, n_test)
    everything = np.concatenate([split.train, split.test, split.population])
    assert len(everything) == len(np.unique(everything)) == EMBEDDED_SAMPLES[name]
    for part in (split.train, split.test, split.population):  # stratified: every class in every part
        assert set(data.labels[part]) == set(data.classes)


@pytest.mark.parametrize("model, shape", [("basic", (16,)), ("hybrid", (4,))])
def test_iris_inputs_per_model(model, shape):
    data = prepare_data("iris", model=model, n_qubits=4, n_train=50, n_test=50, forget="class:0", seed=0)
    assert data.x_train.shape == (50, *shape) and data.x_test.shape == (50, *shape)
    assert data.x_population.shape == (50, *shape) and data.n_classes == 3
    assert np.array_equal(data.forget_train, data.y_train == 0) and data.forget_train.sum() > 0
    if model == "basic":  # the 4 standardized measurements zero-padded into 16 amplitudes
        assert np.all(data.x_train[:, 4:] == 0.0)
    module = build_model(model, 4, 1, data.n_classes, data.x_train.shape[1:])
    assert module(torch.as_tensor(data.x_train[:5])).shape == (5, 3)


def test_standardization_is_fitted_on_the_population_only():
    hybrid = prepare_data("wine", model="hybrid", n_qubits=4, n_train=60, n_test=60, forget="class:0", seed=2)
    assert np.allclose(hybrid.x_population.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(hybrid.x_population.std(axis=0), 1.0, atol=1e-4)
    # members are scaled with the population's statistics, not their own
    assert not np.allclose(hybrid.x_train.mean(axis=0), 0.0, atol=1e-3)
    # changing one member's row leaves every other row's features as they were
    raw = load_tabular_data("wine")
    split = make_split(raw, 60, 60, seed=2)
    images = np.array(raw.images)
    images[split.train[0]] *= 3.0
    changed = prepare_data(model="hybrid", n_qubits=4, n_train=60, n_test=60, forget="class:0", seed=2,
                           data=type(raw)(raw.name, images, raw.labels))
    assert np.array_equal(changed.x_train[1:], hybrid.x_train[1:]) and np.array_equal(changed.x_test, hybrid.x_test)
    assert not np.array_equal(changed.x_train[0], hybrid.x_train[0])


def test_wine_on_few_qubits_takes_pca_fitted_on_the_population():
    data = prepare_data("wine", model="basic", n_qubits=3, n_train=60, n_test=60, forget="class:1", seed=0)
    assert data.x_train.shape == (60, 8) and np.any(data.x_train[:, 7] != 0.0)


@pytest.mark.parametrize(
    "name, n_train, n_test, pattern",
    [
        ("iris", 70, 75, r"n_train \+ n_test = 145 is out of range for iris: its 150 rows .* n_train \+ n_test <= 140"),
        ("wine", 100, 70, r"n_train \+ n_test = 170 is out of range for wine: its 178 rows .* n_train \+ n_test <= 168"),
    ],
)
def test_sizes_a_table_cannot_give_are_refused(name, n_train, n_test, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_sizes(name, None, n_train, n_test)
    with pytest.raises(ValueError, match=pattern):
        prepare_data(name, n_train=n_train, n_test=n_test, forget="class:0")
    check_sizes(name, None, n_train, EMBEDDED_SAMPLES[name] - MIN_TABULAR_POPULATION - n_train)


def test_forget_class_must_be_one_of_the_tables_classes():
    assert check_forget_class("iris", "class:2").value == 2
    with pytest.raises(ValueError, match=r"forget class 3 is out of range for iris: its classes are 0\.\.2"):
        prepare_data("iris", n_train=50, n_test=50, forget="class:3")
    assert check_forget_class("iris", "random:0.2").kind == "random"


def test_data_path_is_refused_for_a_table():
    with pytest.raises(ValueError, match="data_path is only used with dataset='mnist'; the iris data is embedded"):
        load_dataset("iris", "/tmp/nothing")
