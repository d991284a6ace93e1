"""The benchmark's unlearning methods: each forgets a class on a small fixture where retraining does,
each refuses bad knobs, each runs under shots and reports its circuits and shots."""

import inspect
import math

import numpy as np
import pytest
import torch

from qmu_kit.qnn.data import prepare_data
from qmu_kit.qnn.models import circuit_counter, classical_parameters, quantum_parameters
from qmu_kit.qnn.readout import ShotReadout
from qmu_kit.qnn.training import QNNClassifier, accuracy
from qmu_kit.unlearning import (
    UNLEARNING_METHODS,
    Knob,
    UnlearningTask,
    make_method,
    method_names,
    other_labels,
    parameter_layers,
    sensitivity_tiers,
    similar_classes,
)

LESSONS = ("ga", "ssd", "rga", "finetune")
BENCHMARK = ("neggrad_plus", "adv_uniform", "random_labels", "salun", "lca", "qmul_remap", "scrub", "bad_teacher",
             "cf_k", "eu_k", "l1_sparse", "certified_finetune", "fisher_forgetting", "sensitivity_noise")


@pytest.fixture(scope="module")
def hybrid():
    """A hybrid QNN on 200 digits that recognizes the forget class (4) on 75 % of its training
    samples; retraining without it takes that to 0."""
    data = prepare_data("digits", model="hybrid", n_qubits=4, n_train=200, n_test=100, seed=0)
    original = QNNClassifier("hybrid", 4, 1, epochs=20, seed=0).fit(data.x_train, data.y_train)
    task = UnlearningTask.from_data(data, original)
    retrained, _ = make_method("retrain").unlearn(original, task, seed=0)
    return original, task, retrained


@pytest.fixture(scope="module")
def basic():
    data = prepare_data("digits", model="basic", n_qubits=4, n_train=100, n_test=100, seed=0)
    original = QNNClassifier("basic", 4, 1, epochs=3, seed=0).fit(data.x_train, data.y_train)
    return original, UnlearningTask.from_data(data, original)


def forget_accuracy(model, task):
    return accuracy(model.module_, task.x_forget, task.y_forget)


def test_the_registry_marks_the_lessons_methods():
    assert method_names(lessons=True) == LESSONS
    assert method_names() == LESSONS + BENCHMARK
    assert all(not UNLEARNING_METHODS.entry(name).lesson for name in BENCHMARK)
    # where a method's meaning depends on the model, its entry says so
    assert "classical head" in UNLEARNING_METHODS.entry("cf_k").scope and "classical head" in UNLEARNING_METHODS.entry("eu_k").scope
    assert UNLEARNING_METHODS.entry("neggrad_plus").scope == ""


@pytest.mark.parametrize("name", LESSONS + BENCHMARK)
def test_every_method_has_one_knob_table_with_a_grid(name):
    cls = UNLEARNING_METHODS[name]
    signature = inspect.signature(cls)
    assert set(cls.KNOBS) == set(signature.parameters)
    method = cls()
    for knob, spec in cls.KNOBS.items():
        assert spec.check(f"{name} {knob}", getattr(method, knob)) == getattr(method, knob)  # defaults in range
        for value in spec.grid:
            assert spec.check(f"{name} {knob}", value) == value
    assert cls.knob_grid() and all(cls.KNOBS[knob].grid for knob in cls.knob_grid())


def _out_of_range(spec: Knob):
    if spec.kind == "bool":
        return 1, "is not valid"
    if spec.high is not None:
        return (spec.high + 1 if spec.kind == "int" else spec.high * 2 + 1), "is out of range"
    return (spec.low - 1 if spec.kind == "int" else spec.low - 1.0), "is out of range"


@pytest.mark.parametrize("name", BENCHMARK)
def test_bad_knobs_are_refused_naming_the_value_and_range(name):
    for knob, spec in UNLEARNING_METHODS[name].KNOBS.items():
        value, problem = _out_of_range(spec)
        with pytest.raises(ValueError, match=rf"^{name} {knob}={value!r} {problem}: {name} {knob} must be "):
            make_method(name, **{knob: value})
    with pytest.raises(ValueError, match=rf"unknown option 'speed' for method '{name}': allowed are "):
        make_method(name, speed=1)


def test_a_budget_of_zero_and_inconsistent_knobs_are_refused(hybrid):
    original, task, _ = hybrid
    for name in ("neggrad_plus", "cf_k", "sensitivity_noise"):
        with pytest.raises(ValueError, match=rf"{name} epochs=0 is out of range: {name} epochs must be an integer from 1 to 1000"):
            make_method(name, epochs=0)
    with pytest.raises(ValueError, match=r"scrub max_epochs=12 is out of range: it must be at most epochs=10"):
        make_method("scrub", max_epochs=12)
    with pytest.raises(ValueError, match=r"eu_k k=5 is out of range: this model has 4 parameter layers \(front.0, front.4, quantum, head\)"):
        make_method("eu_k", k=5).unlearn(original, task)
    # k=1 is the classical head: a quantum-only run has nothing to change there
    with pytest.raises(ValueError, match=r"cf_k k=1 would change only head, none of which the chosen unlearn_params may change"):
        make_method("cf_k", k=1).unlearn(original, task, params="quantum")


@pytest.mark.parametrize("name", BENCHMARK)
def test_each_method_forgets_the_class_like_retraining(hybrid, name):
    """At its default knobs, each method moves the forget accuracy from the original's (0.75) clearly
    toward the retrained model's (0) while keeping most of the retained accuracy."""
    original, task, retrained = hybrid
    before = forget_accuracy(original, task)
    assert before >= 0.7 and forget_accuracy(retrained, task) == 0.0
    model, report = make_method(name).unlearn(original, task, seed=0)
    assert forget_accuracy(model, task) <= before - 0.5
    assert accuracy(model.module_, task.x_retain, task.y_retain) >= 0.7
    assert report.method == name and report.circuit_evaluations > 0 and report.total_shots is None


@pytest.mark.parametrize("name", BENCHMARK)
def test_under_shots_each_method_records_its_circuits_and_shots_and_repeats_exactly(basic, name):
    original, task = basic
    runs = [make_method(name).unlearn(original, task, readout=ShotReadout(20, seed=1), seed=3) for _ in range(2)]
    (model, report), (again, _) = runs
    assert report.circuit_evaluations > len(task.y_forget) and report.total_shots == 20 * report.circuit_evaluations
    assert all(torch.equal(a, b) for a, b in zip(model.module_.parameters(), again.module_.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(model.module_.parameters(), original.module_.parameters()))


def test_helpers():
    labels = torch.tensor([0, 1, 2, 3] * 100)
    drawn = other_labels(labels, 4, torch.Generator().manual_seed(0))
    assert bool((drawn != labels).all()) and set(drawn.tolist()) == {0, 1, 2, 3}
    stds, counts = sensitivity_tiers(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 1.5)
    assert counts == {"high": 1, "medium": 1, "low": 1}
    assert stds.tolist() == pytest.approx([0.0, 0.5 * 0.35, 1.0 * 0.5], rel=1e-6)
    logits = torch.tensor([[1.0, 0.0, 0.9], [0.0, 1.0, 0.0], [0.9, 0.0, 1.0]])
    assert similar_classes(logits, torch.tensor([0, 1, 2]), 3).tolist() == [2, 0, 0]


def test_salun_masks_exactly_its_share_of_the_parameters(hybrid):
    original, task, _ = hybrid
    total = sum(p.numel() for p in original.module_.parameters())
    model, report = make_method("salun", saliency=0.3).unlearn(original, task, seed=0)
    assert report.diagnostics["salient"] == math.ceil(0.3 * total)
    changed = sum(int((a != b).sum()) for a, b in zip(original.module_.parameters(), model.module_.parameters()))
    assert 0 < changed <= report.diagnostics["salient"]


def test_cf_k_and_eu_k_change_only_the_last_layers(hybrid):
    original, task, _ = hybrid
    layers = [name for name, _ in parameter_layers(original.module_)]
    assert layers == ["front.0", "front.4", "quantum", "head"]
    for name in ("cf_k", "eu_k"):
        model, report = make_method(name, k=2, epochs=1).unlearn(original, task, seed=0)
        assert report.diagnostics["layers"] == ["quantum", "head"]
        old, new = dict(original.module_.named_parameters()), dict(model.module_.named_parameters())
        assert all(torch.equal(old[key], new[key]) for key in old if key.startswith("front"))
        assert all(not torch.equal(old[key], new[key]) for key in old if not key.startswith("front"))
    # frozen circuit angles cost no parameter-shift circuits: with the head alone, one circuit per input
    cf_head, report = make_method("cf_k", k=1, epochs=1).unlearn(original, task, seed=0)
    assert report.circuit_evaluations == len(task.y_retain)
    assert all(p.requires_grad for p in cf_head.module_.parameters())  # the flags come back
    # EU-k starts the head afresh: one epoch of CF-k stays closer to the original head
    cf, _ = make_method("cf_k", k=1, epochs=1).unlearn(original, task, seed=0)
    eu, _ = make_method("eu_k", k=1, epochs=1).unlearn(original, task, seed=0)
    distance = lambda m: float((m.module_.head.weight - original.module_.head.weight).detach().norm())  # noqa: E731
    assert distance(eu) > 2 * distance(cf)


def test_without_their_extra_terms_the_fine_tuning_variants_are_fine_tuning(hybrid):
    """l1-sparse with gamma 0 and certified fine-tuning with no noise and an unreachable clip are
    plain fine-tuning: they share its training loop."""
    original, task, _ = hybrid
    reference, _ = make_method("finetune", epochs=2).unlearn(original, task, seed=0)
    for name, knobs in (("l1_sparse", {"gamma": 0.0}), ("certified_finetune", {"sigma": 0.0, "clip_norm": 1e3})):
        model, _ = make_method(name, epochs=2, **knobs).unlearn(original, task, seed=0)
        assert all(torch.equal(a, b) for a, b in zip(reference.module_.parameters(), model.module_.parameters()))
    noisy, _ = make_method("certified_finetune", epochs=2).unlearn(original, task, seed=0)
    assert any(not torch.equal(a, b) for a, b in zip(reference.module_.parameters(), noisy.module_.parameters()))


def test_bad_teacher_counts_the_incompetent_teachers_circuits(hybrid):
    original, task, _ = hybrid
    model, report = make_method("bad_teacher", epochs=1).unlearn(original, task, seed=0)
    on_model = circuit_counter(model.module_).circuit_evaluations - circuit_counter(original.module_).circuit_evaluations
    assert report.circuit_evaluations == on_model + len(task.y_forget)  # one exact forward pass of the random teacher


def test_fisher_forgetting_zeroes_the_forgotten_class_outputs_and_noises_the_rest(hybrid):
    original, task, _ = hybrid
    model, report = make_method("fisher_forgetting").unlearn(original, task, seed=0)
    assert report.diagnostics["zeroed"] == 4 + 1  # the head's row and bias of class 4
    assert float(model.module_.head.weight[4].detach().abs().sum()) == 0.0 and float(model.module_.head.bias[4].detach()) == 0.0
    _, plain = make_method("fisher_forgetting", zero_forgotten_outputs=False).unlearn(original, task, seed=0)
    assert plain.diagnostics["zeroed"] == 0
    # the quantum group has no output layer: only the noise acts, on the circuit angles alone
    quantum_only, report = make_method("fisher_forgetting").unlearn(original, task, params="quantum", seed=0)
    assert report.diagnostics["zeroed"] == 0
    assert all(torch.equal(a, b) for a, b in zip(classical_parameters(original.module_), classical_parameters(quantum_only.module_)))
    assert not torch.equal(quantum_parameters(original.module_)[0], quantum_parameters(quantum_only.module_)[0])
    assert np.isfinite(report.diagnostics["mean_noise_std"])
