"""The iris and wine presets: valid configs, their own cache identity, refused sizes and classes, a tiny run."""

import pytest

from qmu_kit.core.cache import ResultCache
from qmu_kit.core.validation import ConfigError
from qmu_kit.experiment.config import PRESETS, ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.qnn.data import DATASET_CLASSES, EMBEDDED_SAMPLES, MIN_TABULAR_POPULATION


@pytest.mark.parametrize("preset", ["iris", "wine"])
def test_table_presets_are_valid_and_fit_their_table(preset):
    config = ExperimentConfig.from_preset(preset)
    assert config.dataset == preset
    population = EMBEDDED_SAMPLES[preset] - config.n_train - config.n_test
    assert population >= MIN_TABULAR_POPULATION and population // 2 >= 20  # LiRA's shadows need 20 rows each
    assert int(config.forget.split(":")[1]) < DATASET_CLASSES[preset]
    assert config.load_data().x_train.shape[0] == config.n_train


def test_cache_identity_differs_per_dataset():
    fields = dict(n_qubits=4, n_train=50, n_test=50, forget="class:0")
    configs = [ExperimentConfig(dataset=name, **fields) for name in ("digits", "iris", "wine")]
    for part in ("result", "original", "shadows", "retrained"):
        keys = {config.cache_key(part) for config in configs}
        assert len(keys) == 3, part
    assert len({config._data_fingerprint() for config in configs}) == 3


@pytest.mark.parametrize(
    "fields, field, pattern",
    [
        (dict(dataset="iris", n_train=100, n_test=45), "n_train", r"n_train \+ n_test = 145 is out of range for iris"),
        (dict(dataset="wine", n_train=60, n_test=60, forget="class:4"), "forget",
         r"forget class 4 is out of range for wine: its classes are 0\.\.2"),
        (dict(dataset="iris", n_train=50, n_test=50, data_path="/tmp/x"), "data_path",
         r"data_path='/tmp/x' is only used with dataset='mnist'"),
    ],
)
def test_bad_table_configs_are_refused_naming_the_field(fields, field, pattern):
    with pytest.raises(ConfigError, match=pattern) as error:
        ExperimentConfig(**fields)
    assert error.value.field == field


def test_digits_keeps_rejecting_a_class_it_lacks():
    with pytest.raises(ConfigError, match=r"forget class 10 is out of range for digits: its classes are 0\.\.9"):
        ExperimentConfig(forget="class:10")


def test_a_tiny_iris_experiment_runs_end_to_end(tmp_path):
    config = ExperimentConfig.from_preset("iris", model="hybrid", depth=1, epochs=3, attacks=("loss", "mlp"),
                                          methods=("ga",))
    result = run_experiment(config, cache=ResultCache(tmp_path), progress=False)
    original = result.models["original"]
    assert set(result.models) == {"original", "retrained", "ga"}
    forget_members = int(config.load_data().forget_train.sum())
    assert 0 < forget_members < config.n_train
    assert original.attacks["loss"].mia_success_forget.n == forget_members
    assert original.acc_test_retain.n == int((~config.load_data().forget_test).sum())
    again = run_experiment(config, cache=ResultCache(tmp_path), progress=False)
    assert again.from_cache
