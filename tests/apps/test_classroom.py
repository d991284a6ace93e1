"""End to end at the classroom preset: the numbers the notebooks and README quote."""

import pytest

from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import original_model, train_original
from qmu_kit.leakage.metrics import prediction_distance
from qmu_kit.qnn.training import accuracy
from qmu_kit.unlearning.methods import GradientAscent, UnlearningTask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classroom(classroom_result):
    return classroom_result  # the notebooks' models, computed once per run


def test_test_accuracy_of_both_models_at_the_classroom_preset(shared_cache):
    config = ExperimentConfig()
    for model, floor in (("hybrid", 0.90), ("basic", 0.80)):
        sized = config.replace(model=model)
        data = sized.load_data()
        assert original_model(sized, shared_cache).score(data.x_test, data.y_test) >= floor, model


def test_the_original_model_leaks(classroom):
    original = classroom.models["original"]
    assert original.acc_train_retain.value == 1.0
    lira = original.attacks["lira"].overall
    assert lira.auc.value > 0.55  # held-out members vs non-members, clearly above guessing
    assert original.mia_success_forget.value > 0.8
    # the control: the paper's metric flags many non-members of the class too
    assert original.mia_flag_rate_forget_nonmembers.value > 0.3


def test_retraining_lowers_forget_set_mia_success(classroom):
    original, retrained = classroom.models["original"], classroom.models["retrained"]
    assert retrained.mia_success_forget.value < original.mia_success_forget.value - 0.5
    assert retrained.acc_train_forget.value == 0.0


#: How much retained accuracy each method may cost at seed 0. SSD with its tuned knobs (alpha 30, lam 10,
#: qmu_kit/unlearning/tuned_defaults.py) forgets but costs 9 points at seed 0 (0.81 against 0.90), and much more
#: on some seeds (retained 0.71 [0.22, 1.00] over evaluation seeds 0-4, reports/tuning_classroom.txt).
RETAIN_COST = {"ga": 0.10, "rga": 0.10, "ssd": 0.25}


@pytest.mark.parametrize("method", ["ga", "ssd", "rga"])
def test_unlearning_moves_toward_the_retrained_model_and_keeps_retain_accuracy(classroom, method):
    original, retrained, unlearned = (classroom.models[n] for n in ("original", "retrained", method))
    gap_before = abs(original.acc_train_forget.value - retrained.acc_train_forget.value)
    gap_after = abs(unlearned.acc_train_forget.value - retrained.acc_train_forget.value)
    if method == "ga":
        # GA's tuned defaults (at most 2 epochs) are the closest to retraining that keeps the retained
        # accuracy within 5 points on the tuning seeds: it moves toward the target without reaching it
        assert gap_after < gap_before
    else:
        assert gap_after < 0.5 * gap_before
    assert unlearned.acc_test_retain.value >= original.acc_test_retain.value - RETAIN_COST[method]
    assert unlearned.acc_train_retain.value >= original.acc_train_retain.value - RETAIN_COST[method]
    assert unlearned.mia_success_forget.value < original.mia_success_forget.value
    assert unlearned.speedup_vs_retrain > 1
    assert unlearned.distance_to_retrained < original.distance_to_retrained


def test_papers_ga_settings_do_not_forget_on_digits(classroom, shared_cache):
    """The docstring's claim behind the tuned GA defaults."""
    config = classroom.config
    data = config.load_data()
    original = train_original(config, data, shared_cache)
    task = UnlearningTask.from_data(data, original)
    model, _ = GradientAscent(**GradientAscent.PAPER).unlearn(original, task)
    assert accuracy(model.module_, task.x_forget, task.y_forget) > 0.8
    # the kit's fixed-length steps forget given the epochs (5, the tuning grid's longer budget) ...
    longer, _ = GradientAscent(epochs=5).unlearn(original, task)
    assert accuracy(longer.module_, task.x_forget, task.y_forget) < 0.1
    # ... and the tuned defaults (at most 2 epochs: the 5-point retained-accuracy budget) go further than the paper's
    tuned, _ = GradientAscent().unlearn(original, task)
    assert accuracy(tuned.module_, task.x_forget, task.y_forget) < accuracy(model.module_, task.x_forget, task.y_forget)
    # the paper's settings barely move the forget-set predictions; the tuned defaults move them a lot
    forget = data.x_train[data.forget_train]
    before = original.predict_proba(forget)

    def moved(m):  # how far the predictions on the forget set moved from the original's
        return prediction_distance(m.predict_proba(forget), before)

    assert moved(model) < 0.5 * moved(tuned)
    # the classroom experiment's GA runs with these tuned defaults: its forget-set predictions moved toward the
    # retrained model's (distance_to_retrained: the same distance, to the retrained model's predictions)
    assert classroom.models["ga"].distance_to_retrained < classroom.models["original"].distance_to_retrained
    assert classroom.models["retrained"].distance_to_retrained == 0.0
