"""A method or attack registered at run time is a valid choice everywhere (issue 10's exercise)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from qmu_kit.leakage import attacks  # noqa: E402
import qmu_kit.unlearning.methods as unlearning
from qmu_kit.core.cache import ResultCache  # noqa: E402
from qmu_kit.experiment.config import ExperimentConfig  # noqa: E402
from qmu_kit.experiment.pipeline import run_experiment

TINY = dict(model="basic", n_qubits=4, depth=1, n_train=100, n_test=100, epochs=2, attacks=("loss",))


class Shrink(unlearning.UnlearningMethod):
    """Pull every parameter the method may change toward 0 (a student's ten-line method)."""

    def __init__(self, factor: float = 0.5):
        self.factor = factor

    def _update(self, model, task, readout, parameters, seed, progress):
        with torch.no_grad():
            for p in parameters:
                p.mul_(self.factor)
        return {}


@pytest.fixture
def shrink():
    unlearning.register("shrink", label="Shrink", colour="teal", description="Shrink: scale parameters toward 0")(Shrink)
    attacks.register("always", label="always member", colour="olive")(lambda seed: attacks.ThresholdAttack("confidence"))
    yield
    unlearning.UNLEARNING_METHODS.unregister("shrink")
    attacks.ATTACKS.unregister("always")


def test_a_method_registered_at_run_time_is_a_choice_everywhere(shrink, tmp_path):
    from qmu_kit.cli.commands import build_parser, main
    from qmu_kit.report.notebook import check_parameters
    from qmu_kit.plots.figures import model_colour, model_label
    from qmu_kit.ui.widgets import attack_selector, method_selector

    # the command line
    args = build_parser().parse_args(["run", "--method", "shrink", "--attacks", "loss,always", "--attack", "always"])
    assert args.method == ("shrink",) and args.attacks == ("loss", "always") and args.attack == "always"
    assert main(["run", "--method", "shrinkk", "--no-cache"]) == 2
    # the config and papermill validation
    assert "shrink" in ExperimentConfig().methods and "always" in ExperimentConfig().attacks
    assert check_parameters({"method": "shrink"}, ["method"]) == {"method": "shrink"}
    # the widgets' dropdowns, by the entries' own descriptions
    assert ("Shrink: scale parameters toward 0", "shrink") in method_selector("shrink").options
    assert ("always", "always") in attack_selector("always").options
    # the figures
    assert model_label("shrink") == "Shrink" and model_colour("shrink") == "teal"
    assert model_colour("not_registered") is None and model_colour("not_registered", "0.3") == "0.3"
    # the experiment and its result table
    config = ExperimentConfig(**TINY, methods=("ga", "shrink"), method_options={"shrink": {"factor": 0.9}})
    result = run_experiment(config, cache=ResultCache(tmp_path))
    table = result.table()
    assert list(table.index) == ["original", "retrained", "ga", "shrink"]
    assert 0 <= table.loc["shrink", "acc_test_retain"] <= 1
    assert result.models["shrink"].details["options"] == {"factor": 0.9}
    with pytest.raises(ValueError, match=r"unknown option 'scale' for method 'shrink': allowed are factor"):
        ExperimentConfig(**TINY, methods=("shrink",), method_options={"shrink": {"scale": 0.9}})


def test_unregistered_names_are_refused_again(shrink):
    unlearning.UNLEARNING_METHODS.unregister("shrink")
    with pytest.raises(ValueError, match="unknown method 'shrink'"):
        ExperimentConfig(**TINY, methods=("shrink",))
    unlearning.register("shrink")(Shrink)  # for the fixture's clean-up


def test_an_edited_student_method_is_not_replayed_from_the_cache(shrink, tmp_path):
    """The cache key covers a registered method's own code: editing it recomputes the result."""
    cache = ResultCache(tmp_path)
    config = ExperimentConfig(**TINY, methods=("shrink",))
    first = run_experiment(config, cache=cache)
    assert run_experiment(config, cache=cache).from_cache

    class Shrink2(Shrink):
        def _update(self, model, task, readout, parameters, seed, progress):
            with torch.no_grad():
                for p in parameters:
                    p.mul_(0.0)
            return {}

    unlearning.register("shrink", replace=True)(Shrink2)
    second = run_experiment(config, cache=cache)
    assert not second.from_cache
    assert not np.isclose(second.models["shrink"].acc_train_retain.value, first.models["shrink"].acc_train_retain.value) or \
        second.models["shrink"].losses != first.models["shrink"].losses


def test_a_benchmark_only_method_is_valid_by_name_but_not_offered_in_the_lessons(tmp_path):
    from qmu_kit.ui.widgets import method_selector

    unlearning.register("shrink_more", label="Shrink more", colour="navy", lesson=False, scope="every parameter")(Shrink)
    try:
        assert "shrink_more" in unlearning.method_names() and "shrink_more" not in unlearning.method_names(lessons=True)
        assert "shrink_more" not in ExperimentConfig().methods
        assert "shrink_more" not in [value for _, value in method_selector("ga").options]
        assert ExperimentConfig(**TINY, methods=("shrink_more",)).methods == ("shrink_more",)
        assert unlearning.UNLEARNING_METHODS.entry("shrink_more").scope == "every parameter"
    finally:
        unlearning.UNLEARNING_METHODS.unregister("shrink_more")
    with pytest.raises(ValueError, match=r"lesson='no' for unlearning method 'shrink_more' is not valid: lesson must be True or False"):
        unlearning.register("shrink_more", lesson="no")(Shrink)
    assert "shrink_more" not in unlearning.UNLEARNING_METHODS
