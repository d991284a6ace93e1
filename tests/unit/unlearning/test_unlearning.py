import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from qmu_kit.qnn.data import prepare_data
from qmu_kit.qnn.models import classical_parameters, quantum_parameters
from qmu_kit.qnn.readout import ExactReadout, ShotReadout
from qmu_kit.qnn.training import QNNClassifier, accuracy
from qmu_kit.unlearning.methods import (
    _fisher_and_error,
    UNLEARNING_METHODS,
    SelectiveSynapticDampening,
    UnlearningMethod,
    UnlearningTask,
    diagonal_fisher,
    make_method,
    wrap_angles,
)


@pytest.fixture(scope="module")
def setup():
    data = prepare_data("digits", model="hybrid", n_qubits=4, n_train=150, n_test=100, seed=0)
    original = QNNClassifier("hybrid", 4, 1, epochs=8, seed=0).fit(data.x_train, data.y_train)
    return data, original, UnlearningTask.from_data(data, original)


def snapshot(model):
    return [p.detach().clone() for p in model.module_.parameters()]


def test_registry_and_errors():
    from qmu_kit.unlearning.methods import method_names

    # every entry is reachable by its own name, and shows with its own label and colour
    assert {"ga", "ssd", "rga", "finetune", "retrain"} <= set(UNLEARNING_METHODS)
    assert all(UNLEARNING_METHODS[name].name == name for name in UNLEARNING_METHODS)
    # the lessons' methods are told apart by colour; the benchmark's many methods share the palette's few
    # colour-blind-safe colours and are told apart by their labels
    lessons = UNLEARNING_METHODS.names(lessons=True)
    assert len({UNLEARNING_METHODS.colour(n) for n in lessons}) == len(lessons)
    assert len({UNLEARNING_METHODS.label(n) for n in UNLEARNING_METHODS}) == len(UNLEARNING_METHODS)
    # retraining is the reference, never a requestable method
    assert "retrain" not in method_names() and set(method_names()) == set(UNLEARNING_METHODS) - {"retrain"}
    with pytest.raises(ValueError, match="unknown unlearning method 'forget': choose one of 'ga', 'ssd', 'rga', 'finetune', 'retrain', 'neggrad_plus'"):
        make_method("forget")
    with pytest.raises(ValueError, match=r"unknown option 'gamma' for method 'ssd': allowed are alpha, lam, batch_size"):
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
    assert (task.target_samples, task.target_source) == (0, "class")


def test_random_forget_target_never_uses_the_audit_sets(setup):
    """The stopping target of random:F comes from the held-out population, disjoint from the
    training members and from every test non-member (so from the audit's control set too)."""
    data, original, _ = setup
    random_data = prepare_data("digits", model="hybrid", n_qubits=4, n_train=150, n_test=100, forget="random:0.2")
    task = UnlearningTask.from_data(random_data, original)
    expected = accuracy(original.module_, random_data.x_population, random_data.y_population)
    assert task.target_forget_accuracy == pytest.approx(expected)
    assert (task.target_samples, task.target_source) == (len(random_data.y_population), "held-out population")
    flat = lambda x: {row.tobytes() for row in x.reshape(len(x), -1)}  # noqa: E731
    population = flat(random_data.x_population)
    assert population.isdisjoint(flat(random_data.x_train)) and population.isdisjoint(flat(random_data.x_test))
    # replace every test image (the control set among them) by noise: the target must not move
    noisy = dataclasses.replace(random_data, x_test=np.random.default_rng(0).random(random_data.x_test.shape))
    assert UnlearningTask.from_data(noisy, original).target_forget_accuracy == task.target_forget_accuracy
    no_population = dataclasses.replace(random_data, x_population=random_data.x_population[:0], y_population=random_data.y_population[:0])
    with pytest.raises(ValueError, match="forget=random:0.2 needs held-out samples"):
        UnlearningTask.from_data(no_population, original)


@pytest.mark.parametrize("name", ["ga", "rga"])
def test_gradient_methods_forget_and_stop_at_the_target(setup, name):
    data, original, task = setup
    method = make_method(name, epochs=20)  # a budget that lets the stop rule act (GA's tuned cap is 2 epochs)
    model, report = method.unlearn(original, task, seed=0)
    assert report.stopped_early
    assert accuracy(model.module_, task.x_forget, task.y_forget) <= task.target_forget_accuracy
    # one more step budget without the stop rule would have gone on
    assert report.steps < method.epochs * -(-len(task.y_forget) // 16)


@pytest.mark.parametrize("group, changed, fixed", [("quantum", quantum_parameters, classical_parameters), ("classical", classical_parameters, quantum_parameters)])
def test_parameter_groups_restrict_what_changes(setup, group, changed, fixed):
    data, original, task = setup
    model, _ = make_method("rga").unlearn(original, task, params=group, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(fixed(original.module_), fixed(model.module_)))
    assert any(not torch.equal(a, b) for a, b in zip(changed(original.module_), changed(model.module_)))
    with pytest.raises(ValueError, match="unknown unlearn_params 'head'"):
        make_method("ga").unlearn(original, task, params="head")


def test_ssd_dampens_exactly_the_selected_parameters(setup):
    """SSD's rule on the importances that are well above rounding: every parameter with I_f > alpha I_D
    (clearly) is scaled by I_D / I_f, every one clearly below is left alone. Importances near the
    selection floor (eps x the largest; inert angles sit far below it, at rounding noise of ~1e-33
    that differs between CPUs) or within rounding of the threshold are only counted, never asserted
    one way or the other."""
    data, original, task = setup
    ssd = SelectiveSynapticDampening(alpha=5.0, lam=1.0)
    model, report = ssd.unlearn(original, task)
    params = list(original.module_.parameters())
    from qmu_kit.qnn.readout import ExactReadout

    fisher_all = diagonal_fisher(original.module_, task.x_train, task.y_train, params, ExactReadout(), 64, seed=0)
    fisher_forget = diagonal_fisher(original.module_, task.x_forget, task.y_forget, params, ExactReadout(), 64, seed=0)
    # well above rounding: a thousand times SSD's floor (eps x the largest importance), and 1e-6
    # (relative) away from the threshold
    floor = torch.finfo(torch.float64).eps * max(float(f.max()) for f in fisher_forget)
    clear = [(f > 1e3 * floor) & ((f - 5.0 * a).abs() > 1e-6 * f) for a, f in zip(fisher_all, fisher_forget)]
    chosen = [c & (f > 5.0 * a) for c, a, f in zip(clear, fisher_all, fisher_forget)]
    kept = [c & (f < 5.0 * a) for c, a, f in zip(clear, fisher_all, fisher_forget)]
    undecided = [~c for c in clear]
    count = lambda masks: sum(int(m.sum()) for m in masks)  # noqa: E731
    assert count(chosen) > 0 and count(kept) > 0  # both sides of the rule are exercised above rounding
    assert count(chosen) <= report.dampened <= count(chosen) + count(undecided)
    angles = original.module_.quantum.weights
    at = next(i for i, p in enumerate(params) if p is angles)
    assert int(chosen[at].sum()) <= report.dampened_quantum <= int(chosen[at].sum()) + int(undecided[at].sum())
    assert report.dampened_quantum + report.dampened_classical == report.dampened
    for old, new, a, f, pick, keep in zip(params, model.module_.parameters(), fisher_all, fisher_forget, chosen, kept):
        assert torch.equal(old[keep], new[keep])
        start = wrap_angles(old[pick]) if old is angles else old[pick]
        assert torch.allclose(new[pick], start * (a[pick] / f[pick]))
    # quantum-only SSD touches circuit angles only, and says how many
    _, quantum_only = ssd.unlearn(original, task, params="quantum")
    assert quantum_only.dampened_classical == 0 and quantum_only.dampened == quantum_only.dampened_quantum


class _ForgetFeatureModel(nn.Module):
    """Logits ``head(x)``, plus on logit 0 a feature only the forget class has (``x[:, 2]``) times a
    normal weight and times a weight scaled by 1e-12: both weights matter far more to the forget set
    than to the whole set, and the second's importance (1e-24 relative to the first's, computed to
    full relative precision) lies below the selection floor."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 3, dtype=torch.float64)
        self.weights = nn.Parameter(torch.tensor([0.5, 0.5], dtype=torch.float64))  # [normal, tiny]
        self.circuit_evaluations = self.simulator_gradient_evaluations = 0

    def quantum_parameters(self):
        return [self.weights]

    def forward(self, x, readout=None):
        extra = x[:, 2] * (self.weights[0] + 1e-12 * self.weights[1])
        return self.head(x[:, :2]) + torch.stack([extra, 0 * extra, 0 * extra], dim=1)


class _Fitted:
    def __init__(self, module):
        self.module_ = module

    def _check_fitted(self):
        pass

    def copy(self):
        return copy.deepcopy(self)


def test_ssd_never_selects_importances_below_its_floor():
    """The floor rule on importances the test sets itself (not rounding noise): a weight whose
    importance is 1e-24 of the largest is never dampened, even though I_f > alpha I_D for it exactly
    as for its normal-sized twin, which is dampened."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    x = np.c_[rng.normal(size=(60, 2)), np.where(y == 0, rng.normal(1.0, 0.3, 60), 0.0)]
    task = UnlearningTask(x[y == 0], y[y == 0], x[y != 0], y[y != 0], 0.0)
    original = _Fitted(_ForgetFeatureModel())
    fisher_all, fisher_forget = (
        diagonal_fisher(original.module_, xs, ys, [original.module_.weights], ExactReadout(), 64, seed=0)[0]
        for xs, ys in ((task.x_train, task.y_train), (task.x_forget, task.y_forget)))
    largest = max(float(f.max()) for f in diagonal_fisher(
        original.module_, task.x_forget, task.y_forget, list(original.module_.parameters()), ExactReadout(), 64, seed=0))
    assert bool((fisher_forget > 5.0 * fisher_all).all())  # both weights pass the ratio test, by a wide margin
    assert float(fisher_forget[0]) > 1e-6 * largest and float(fisher_forget[1]) < 1e-20 * largest
    model, report = SelectiveSynapticDampening(alpha=5.0, lam=1.0).unlearn(original, task, params="quantum")
    new = model.module_.weights.detach()
    assert report.dampened_quantum == 1
    assert float(new[1]) == 0.5 and float(new[0]) == pytest.approx(0.5 * float(fisher_all[0] / fisher_forget[0]), rel=1e-9)


def test_angles_are_wrapped_before_dampening(setup):
    """A selected angle of 6.2 rad is the gate of -0.08 rad: dampening must shrink that, not 6.2."""
    data, original, task = setup
    assert torch.allclose(wrap_angles(torch.tensor([6.2, -3.5, math.pi, -math.pi, 0.3], dtype=torch.float64)),
                          torch.tensor([6.2 - 2 * math.pi, 2 * math.pi - 3.5, math.pi, math.pi, 0.3], dtype=torch.float64))
    shifted = original.copy()
    with torch.no_grad():
        turns = torch.randint(-2, 3, shifted.module_.quantum.weights.shape, generator=torch.Generator().manual_seed(0))
        shifted.module_.quantum.weights += 2 * math.pi * turns
    np.testing.assert_allclose(shifted.predict_proba(data.x_test[:20]), original.predict_proba(data.x_test[:20]), atol=1e-6)
    ssd = SelectiveSynapticDampening(alpha=2.0)
    from_shifted, report = ssd.unlearn(shifted, task, params="quantum")
    from_original, _ = ssd.unlearn(original, task, params="quantum")
    assert report.dampened_quantum > 0
    new = from_shifted.module_.quantum.weights.detach()
    changed = new != shifted.module_.quantum.weights.detach()
    assert changed.any() and bool((new[changed].abs() <= math.pi).all())
    # the same gates before, the same gates after, up to the rounding of the shifted angles: the shift alone
    # moves the outputs by about 1e-7 (above), and the importances and dampening carry that to about 1e-6
    # (some shift patterns reach a little above 1e-6, hence atol 1e-5)
    np.testing.assert_allclose(from_shifted.predict_proba(data.x_test[:20]), from_original.predict_proba(data.x_test[:20]), atol=1e-5)


def test_fisher_is_the_mean_squared_per_sample_gradient(setup):
    data, original, task = setup
    from qmu_kit.qnn.readout import ExactReadout

    module = original.module_
    params = [module.head.bias]
    x, y = task.x_forget[:3], task.y_forget[:3]
    fisher = diagonal_fisher(module, x, y, params, ExactReadout(), batch_size=1)[0]
    probs = torch.softmax(module(torch.as_tensor(x, dtype=torch.float64)), 1).detach()
    per_sample = probs - torch.nn.functional.one_hot(torch.as_tensor(y), 10)  # dCE/dbias
    assert torch.allclose(fisher, (per_sample**2).mean(0))


def test_fisher_squares_the_mini_batch_gradient(setup):
    """Foster et al.'s estimator: the gradient of a batch's mean loss is squared, so opposite
    per-sample gradients cancel (here across classes) instead of adding up."""
    data, original, task = setup
    from qmu_kit.qnn.readout import ExactReadout

    module = original.module_
    x, y = task.x_retain[:40], task.y_retain[:40]
    probs = torch.softmax(module(torch.as_tensor(x, dtype=torch.float64)), 1).detach()
    per_sample = probs - torch.nn.functional.one_hot(torch.as_tensor(y), 10)
    whole = diagonal_fisher(module, x, y, [module.head.bias], ExactReadout(), batch_size=40)[0]
    assert torch.allclose(whole, per_sample.mean(0) ** 2)
    halves = diagonal_fisher(module, x, y, [module.head.bias], ExactReadout(), batch_size=20, seed=3)[0]
    order = torch.randperm(40, generator=torch.Generator().manual_seed(3))
    expected = (per_sample[order[:20]].mean(0) ** 2 + per_sample[order[20:]].mean(0) ** 2) / 2
    assert torch.allclose(halves, expected)
    per_sample_fisher = diagonal_fisher(module, x, y, [module.head.bias], ExactReadout(), batch_size=1)[0]
    assert whole.sum() < per_sample_fisher.sum() / 5  # the mixed batch cancels


class _NoisyReadout:
    """A stand-in for a shot readout: every call draws a fresh multiplicative noise."""

    shots = 100

    def __init__(self, sigma):
        self.sigma, self.rng = sigma, np.random.default_rng(0)

    def noise(self):
        return 1.0 + self.sigma * float(self.rng.standard_normal())


def test_fisher_under_shots_is_unbiased():
    """With logits (w * s, 0), w = 0 and label 0, dCE/dw = -s / 2 where s = 1 + noise of sd 1 on every
    call: the true squared gradient is 1/4, a squared estimate averages 1/4 * (1 + 1) = 1/2, the
    product of two independent estimates averages 1/4."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)

    def module(x, readout):
        s = readout.noise() if readout is not None else 1.0
        return torch.stack([w * s * torch.ones(len(x), dtype=torch.float64), torch.zeros(len(x), dtype=torch.float64)], 1)

    n = 1000
    x, y = torch.zeros(n, 1), torch.zeros(n, dtype=torch.long)
    exact = diagonal_fisher(module, x, y, [w], None, batch_size=1)[0]
    assert float(exact) == pytest.approx(0.25)
    noisy, (error,) = _fisher_and_error(module, x, y, [w], _NoisyReadout(1.0), 1, 0)
    # Var(g1 g2) = 2 g^2 s^2 + s^4 = 0.1875 per batch: sd of the mean 0.0137
    assert float(noisy[0]) == pytest.approx(0.25, abs=0.045)
    readout = _NoisyReadout(1.0)
    biased = np.mean([(0.5 * readout.noise()) ** 2 for _ in range(n)])
    assert biased == pytest.approx(0.5, abs=0.08)  # what squaring one estimate would have given
    # the shot-noise standard error SSD selects with
    assert float(error) == pytest.approx(np.sqrt(0.1875 / n), rel=0.2)
    _, (exact_error,) = _fisher_and_error(module, x, y, [w], None, 1, 0)
    assert float(exact_error) == 0.0


def test_ssd_under_few_shots_selects_only_what_stands_out_of_the_noise(setup):
    """At 20 shots the training set's importances drown in shot noise: SSD dampens fewer
    parameters than exactly, and never one whose ratio the noise could explain."""
    data, original, task = setup
    ssd = SelectiveSynapticDampening(alpha=5.0)
    _, exact = ssd.unlearn(original, task)
    _, noisy = ssd.unlearn(original, task, readout=ShotReadout(20, seed=3))
    assert noisy.dampened < exact.dampened


def test_ssd_knobs_and_published_alpha(setup):
    data, original, task = setup
    assert SelectiveSynapticDampening.PAPER == {"alpha": 10.0, "lam": 1.0}
    with pytest.raises(ValueError, match="ssd batch_size=0 is out of range"):
        SelectiveSynapticDampening(batch_size=0)
    # per sample, I_f / I_D <= |D| / |D_f|: an alpha above that ratio selects nothing by construction
    bound = len(task.y_train) / len(task.y_forget)
    _, report = SelectiveSynapticDampening(alpha=bound * 1.01, batch_size=1).unlearn(original, task)
    assert report.dampened == 0
    _, report = SelectiveSynapticDampening(alpha=bound * 1.01, batch_size=64).unlearn(original, task)
    assert report.dampened > 0


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
    # the CNN weights' gradients pass through the encoded state: the simulator's, one per input per gradient pass
    assert shots.simulator_gradient_evaluations == exact.simulator_gradient_evaluations > 0
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


def test_reports_count_the_gradients_only_the_simulator_computed(setup):
    """The hybrid QNN's CNN weights learn through the encoded state's exact gradient: one per input of
    every gradient pass, counted beside the circuits; the basic QNN, whose inputs are data, has none."""
    data, original, task = setup
    _, report = make_method("finetune", epochs=1).unlearn(original, task, seed=0)
    assert report.simulator_gradient_evaluations == len(task.y_retain)  # one pass over the retain set
    assert report.circuit_evaluations == len(task.y_retain) * (1 + 2 * original.module_.quantum.spec.n_params)
    basic_data = prepare_data("digits", n_qubits=4, n_train=150, n_test=100, seed=0)
    basic = QNNClassifier("basic", 4, 1, epochs=1, seed=0).fit(basic_data.x_train, basic_data.y_train)
    _, on_basic = make_method("finetune", epochs=1).unlearn(basic, UnlearningTask.from_data(basic_data, basic), seed=0)
    assert on_basic.simulator_gradient_evaluations == 0 and on_basic.circuit_evaluations > 0
