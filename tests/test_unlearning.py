import numpy as np
import pytest
import torch

from qmu_kit.data import prepare_data
from qmu_kit.models import classical_parameters, quantum_parameters
from qmu_kit.readout import ShotReadout
from qmu_kit.training import QNNClassifier, accuracy
from qmu_kit.unlearning import (
    UNLEARNING_METHODS,
    GradientAscent,
    SelectiveSynapticDampening,
    UnlearningMethod,
    UnlearningTask,
    diagonal_fisher,
    make_method,
)


@pytest.fixture(scope="module")
def setup():
    data = prepare_data("digits", model="hybrid", n_qubits=4, n_train=150, n_test=100, seed=0)
    original = QNNClassifier("hybrid", 4, 1, epochs=8, seed=0).fit(data.x_train, data.y_train)
    return data, original, UnlearningTask.from_data(data, original)


def snapshot(model):
    return [p.detach().clone() for p in model.module_.parameters()]


def test_registry_and_errors():
    from qmu_kit.unlearning import method_names

    # every entry is reachable by its own name, and shows with its own label and colour
    assert {"ga", "ssd", "rga", "finetune", "retrain"} <= set(UNLEARNING_METHODS)
    assert all(UNLEARNING_METHODS[name].name == name for name in UNLEARNING_METHODS)
    assert len({UNLEARNING_METHODS.colour(n) for n in UNLEARNING_METHODS}) == len(UNLEARNING_METHODS)
    assert len({UNLEARNING_METHODS.label(n) for n in UNLEARNING_METHODS}) == len(UNLEARNING_METHODS)
    # retraining is the reference, never a requestable method
    assert "retrain" not in method_names() and set(method_names()) == set(UNLEARNING_METHODS) - {"retrain"}
    with pytest.raises(ValueError, match="unknown unlearning method 'forget': choose one of 'ga', 'ssd', 'rga', 'finetune', 'retrain'"):
        make_method("forget")
    with pytest.raises(ValueError, match=r"unknown option 'gamma' for method 'ssd': allowed are alpha, lam"):
        make_method("ssd", gamma=1)
    with pytest.raises(ValueError, match=r"unknown options 'rate', 'steps' for method 'ga': allowed are lr, momentum"):
        make_method("ga", lr=0.1, rate=1, steps=2)
    with pytest.raises(ValueError, match=r"unlearning method 'ga' is already registered"):
        UNLEARNING_METHODS.register("ga")(type("Other", (UnlearningMethod,), {}))
    with pytest.raises(ValueError, match=r"colour='nocolour' for unlearning method 'mine' is not a matplotlib colour"):
        UNLEARNING_METHODS.register("mine", colour="nocolour")(type("Mine", (UnlearningMethod,), {}))
    assert "mine" not in UNLEARNING_METHODS
    with pytest.raises(ValueError, match=r"ga lr=-1 is out of range"):
        make_method("ga", lr=-1)


@pytest.mark.parametrize("name", list(UNLEARNING_METHODS))
def test_every_method_returns_a_new_model_and_a_report(setup, name):
    data, original, task = setup
    before = snapshot(original)
    model, report = make_method(name).unlearn(original, task, seed=0)
    assert model is not original
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(original)))  # original untouched
    assert report.method == name and report.seconds > 0 and report.circuit_evaluations > 0
    assert model.predict_proba(data.x_test[:3]).shape == (3, 10)


def test_task_targets(setup):
    data, original, task = setup
    assert task.target_forget_accuracy == 0.0 and len(task.y_forget) == data.forget_train.sum()
    random_data = prepare_data("digits", model="hybrid", n_qubits=4, n_train=150, n_test=100, forget="random:0.2")
    random_task = UnlearningTask.from_data(random_data, original)
    expected = accuracy(original.module_, random_data.x_test[random_data.forget_test], random_data.y_test[random_data.forget_test])
    assert random_task.target_forget_accuracy == pytest.approx(expected)


@pytest.mark.parametrize("name", ["ga", "rga"])
def test_gradient_methods_forget_and_stop_at_the_target(setup, name):
    data, original, task = setup
    model, report = make_method(name).unlearn(original, task, seed=0)
    assert report.stopped_early
    assert accuracy(model.module_, task.x_forget, task.y_forget) <= task.target_forget_accuracy
    # one more step budget without the stop rule would have gone on
    assert report.steps < make_method(name).epochs * -(-len(task.y_forget) // 16)


@pytest.mark.parametrize("group, changed, fixed", [("quantum", quantum_parameters, classical_parameters), ("classical", classical_parameters, quantum_parameters)])
def test_parameter_groups_restrict_what_changes(setup, group, changed, fixed):
    data, original, task = setup
    model, _ = make_method("rga").unlearn(original, task, params=group, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(fixed(original.module_), fixed(model.module_)))
    assert any(not torch.equal(a, b) for a, b in zip(changed(original.module_), changed(model.module_)))
    with pytest.raises(ValueError, match="unknown unlearn_params 'head'"):
        make_method("ga").unlearn(original, task, params="head")


def test_ssd_dampens_exactly_the_selected_parameters(setup):
    data, original, task = setup
    ssd = SelectiveSynapticDampening(alpha=5.0, lam=1.0)
    model, report = ssd.unlearn(original, task)
    params = list(original.module_.parameters())
    from qmu_kit.readout import ExactReadout

    fisher_all = diagonal_fisher(original.module_, task.x_train, task.y_train, params, ExactReadout())
    fisher_forget = diagonal_fisher(original.module_, task.x_forget, task.y_forget, params, ExactReadout())
    selected = sum(int((f > 5.0 * a).sum()) for a, f in zip(fisher_all, fisher_forget))
    assert report.dampened == selected > 0
    for old, new, a, f in zip(params, model.module_.parameters(), fisher_all, fisher_forget):
        mask = f > 5.0 * a
        assert torch.equal(old[~mask], new[~mask])
        assert torch.allclose(new[mask], old[mask] * (a[mask] / f[mask]))


def test_fisher_is_the_mean_squared_per_sample_gradient(setup):
    data, original, task = setup
    from qmu_kit.readout import ExactReadout

    module = original.module_
    params = [module.head.bias]
    x, y = task.x_forget[:3], task.y_forget[:3]
    fisher = diagonal_fisher(module, x, y, params, ExactReadout())[0]
    probs = torch.softmax(module(torch.as_tensor(x, dtype=torch.float64)), 1).detach()
    per_sample = probs - torch.nn.functional.one_hot(torch.as_tensor(y), 10)  # dCE/dbias
    assert torch.allclose(fisher, (per_sample**2).mean(0))


def test_shots_make_unlearning_use_parameter_shift(setup, monkeypatch):
    data, original, task = setup
    calls = []
    parameter_shift = ShotReadout._parameter_shift

    def spy(self, spec, states, weights, grad_out, simulate, *args, **kwargs):
        grad = parameter_shift(self, spec, states, weights, grad_out, simulate, *args, **kwargs)
        calls.append((self.shots, tuple(weights.shape), tuple(grad.shape)))
        return grad

    monkeypatch.setattr(ShotReadout, "_parameter_shift", spy)
    exact_model, exact = make_method("ga", epochs=1, stop_at_target=False).unlearn(original, task, seed=0)
    assert calls == []  # exact readout: autograd through the simulator, no parameter shift
    shot_model, shots = make_method("ga", epochs=1, stop_at_target=False).unlearn(
        original, task, readout=ShotReadout(50, seed=1), seed=0
    )
    weights_shape = tuple(original.module_.quantum.weights.shape)
    assert shots.steps > 0 and len(calls) >= shots.steps  # at least one parameter-shift gradient per step
    assert set(calls) == {(50, weights_shape, weights_shape)}
    assert exact.circuit_evaluations == shots.circuit_evaluations  # same device cost accounting
    assert not torch.equal(exact_model.module_.quantum.weights, shot_model.module_.quantum.weights)


def test_retrain_keeps_all_classes_and_reports_speedups(setup):
    data, original, task = setup
    model, report = make_method("retrain").unlearn(original, task, seed=0)
    assert model.n_classes_ == 10 and report.steps > 0
    _, ga = make_method("ga").unlearn(original, task, seed=0)
    speedup = ga.speedup_over(report)
    assert speedup["seconds"] == pytest.approx(report.seconds / ga.seconds)
    assert speedup["circuit_evaluations"] == pytest.approx(report.circuit_evaluations / ga.circuit_evaluations)
    assert speedup["circuit_evaluations"] > 1
    assert accuracy(model.module_, task.x_forget, task.y_forget) == 0.0
