"""DP-SGD for the kit's QNNs: per-sample gradients, the accountant, the audit inequality, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qmu_kit.core.cache import ResultCache
from qmu_kit.core.validation import check_delta
from qmu_kit.qnn.models import BasicQNN, HybridQNN
from qmu_kit.studies.privacy import (
    PrivacySpec,
    PrivateQNNClassifier,
    certifiable_epsilon,
    empirical_epsilon,
    per_sample_gradient_check,
    privacy_config,
    privacy_sweep,
    requery_averaging,
    run_private,
)

#: A small, fast private run: basic QNN, 4 qubits, 60 members / 60 non-members, two epochs.
TINY = dict(model="basic", n_qubits=4, depth=1, n_train=60, n_test=60, epochs=2, batch_size=20, lr=0.1)


@pytest.mark.parametrize("sampler", ["kit", "functorch"])
@pytest.mark.parametrize("model, shape", [(BasicQNN(3, 2, 4), (8,)), (HybridQNN(3, 1, 4, (8, 8)), (1, 8, 8))],
                         ids=["basic", "hybrid"])
def test_opacus_per_sample_gradients_are_nonzero_and_equal_single_sample_autograd(model, shape, sampler):
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(6, *shape, dtype=torch.float64, generator=generator)
    y = torch.randint(0, 4, (6,), generator=generator)
    check = per_sample_gradient_check(model, x, y, sampler)
    assert "quantum.weights" in check.parameters and check.n_samples == 6
    assert check.smallest_norm > 1e-6  # no parameter's per-sample gradient silently zero
    assert check.max_abs_difference < 1e-10, check


def test_the_kit_sampler_is_exact_across_chunks():
    """40 samples cross the kit sampler's chunk of 32."""
    x = torch.rand(40, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert per_sample_gradient_check(BasicQNN(3, 2, 2), x, [0, 1] * 20).passed(1e-10)


def test_the_check_fails_when_the_gradients_differ(monkeypatch):
    """The comparison can fail: per-sample gradients scaled by 2 (a wrong loss reduction) are caught."""
    import qmu_kit.studies.privacy as privacy

    real = privacy.opacus_per_sample_gradients
    monkeypatch.setattr(privacy, "opacus_per_sample_gradients", lambda *a: {k: 2 * v for k, v in real(*a).items()})
    check = per_sample_gradient_check(BasicQNN(3, 1, 2), torch.rand(4, 8, dtype=torch.float64), [0, 1, 0, 1])
    assert not check.passed()


def test_the_check_runs_on_a_trained_model_in_eval_mode():
    """A fitted classifier's module comes back in eval mode, where Opacus records no layer inputs; the check
    compares both gradients in training mode and leaves the module's own mode alone."""
    from qmu_kit.qnn.data import prepare_data

    data = prepare_data("digits", model="basic", n_qubits=4, n_train=40, n_test=40)
    module = PrivateQNNClassifier("basic", 4, 1, epsilon=math.inf, epochs=1, batch_size=20).fit(data.x_train, data.y_train).module_
    assert not module.training
    assert per_sample_gradient_check(module, data.x_train[:6], data.y_train[:6]).passed(1e-10)
    assert not module.training


def test_an_empty_poisson_batch_is_a_noise_only_step(monkeypatch):
    """With 8 samples and an expected batch of 1, Poisson sampling draws empty batches; each is still a
    step the accountant counts, and its update is the noise alone."""
    import qmu_kit.studies.privacy as privacy

    real, moved = privacy._noise_only_step, []

    def watched(optimizer):
        before = [p.detach().clone() for p in optimizer.params]
        real(optimizer)
        moved.append(max(float((p.detach() - b).abs().max()) for p, b in zip(optimizer.params, before)))

    monkeypatch.setattr(privacy, "_noise_only_step", watched)
    x = np.random.default_rng(0).random((8, 16)).astype(np.float32)
    for seed in range(3):  # a fixed noise multiplier: no noise search, so the test stays cheap
        clf = PrivateQNNClassifier("basic", 4, 1, noise_multiplier=1.0, delta=1e-3, epochs=1, batch_size=1, seed=seed).fit(x, np.arange(8) % 2)
        assert clf.privacy_["steps"] == 8 and all(torch.isfinite(p).all() for p in clf.module_.parameters())
    assert len(moved) >= 3 and min(moved) > 1e-3  # empty batches were drawn, and the noise moved the parameters


def test_pennylane_layers_are_refused_for_dp_training():
    with pytest.raises(ValueError, match="backend='pennylane' cannot be trained with DP-SGD: Opacus returns all-zero"):
        per_sample_gradient_check(BasicQNN(3, 1, 2, backend="pennylane"), torch.rand(2, 8, dtype=torch.float64), [0, 1])


def test_dp_training_spends_the_target_epsilon_and_is_reproducible(tmp_path):
    from qmu_kit.qnn.data import prepare_data

    data = prepare_data("digits", model="basic", n_qubits=4, n_train=60, n_test=60)
    make = lambda: PrivateQNNClassifier("basic", 4, 1, epsilon=2.0, delta=1e-3, epochs=2, batch_size=20, lr=0.1, seed=5)  # noqa: E731
    first, second = make().fit(data.x_train, data.y_train), make().fit(data.x_train, data.y_train)
    report = first.privacy_
    assert 1.9 <= report["epsilon_spent"] <= 2.0 and report["noise_multiplier"] > 0.5 and report["accountant"] == "rdp"
    for a, b in zip(first.module_.parameters(), second.module_.parameters()):
        assert torch.equal(a, b)
    rebuilt = PrivateQNNClassifier.from_state(first.to_state())
    assert rebuilt.privacy_ == report and np.allclose(rebuilt.predict_proba(data.x_test), first.predict_proba(data.x_test))
    # more noise for a smaller budget, at the same recipe
    tighter = PrivateQNNClassifier("basic", 4, 1, epsilon=0.5, delta=1e-3, epochs=2, batch_size=20, lr=0.1).fit(data.x_train, data.y_train)
    assert tighter.privacy_["noise_multiplier"] > report["noise_multiplier"]


def test_prv_accountant_and_a_fixed_noise_multiplier():
    from qmu_kit.qnn.data import prepare_data

    data = prepare_data("digits", model="basic", n_qubits=4, n_train=60, n_test=60)
    fixed = PrivateQNNClassifier("basic", 4, 1, noise_multiplier=2.0, delta=1e-3, accountant="prv", epochs=1, batch_size=20,
                                 lr=0.1).fit(data.x_train, data.y_train)
    assert fixed.privacy_["noise_multiplier"] == 2.0 and 0 < fixed.privacy_["epsilon_spent"] < 10
    # a fixed noise has no target epsilon: none is recorded beside the one spent, and none comes back from JSON
    assert fixed.privacy_["epsilon_target"] is None and fixed.privacy_spec().epsilon is None
    assert PrivateQNNClassifier.from_state(fixed.to_state()).privacy_["epsilon_target"] is None
    spec = fixed.privacy_spec()
    assert spec.to_dict()["epsilon"] is None and PrivacySpec.from_dict(spec.to_dict()) == spec
    assert PrivacySpec.from_dict(PrivacySpec(epsilon=math.inf).to_dict()).epsilon == math.inf  # null without noise: inf
    assert PrivacySpec().epsilon == 4.0 and PrivacySpec().noise_multiplier is None


def _randomized_response(epsilon: float, n: int, seed: int):
    """Scores of an epsilon-DP mechanism (randomized response on the membership bit)."""
    rng = np.random.default_rng(seed)
    keep = math.exp(epsilon) / (1 + math.exp(epsilon))
    return (rng.random(n) < keep).astype(float), (rng.random(n) >= keep).astype(float)


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_the_audit_sits_under_a_true_epsilon_and_finds_most_of_it(epsilon):
    members, nonmembers = _randomized_response(epsilon, 20_000, seed=1)
    audit = empirical_epsilon(members, nonmembers, delta=1e-5, seed=0)
    assert audit.consistent_with(epsilon) and 0.8 * epsilon < audit.epsilon_lower <= epsilon
    assert audit.point > audit.epsilon_lower  # the interval costs something
    # ... and can fail: the same mechanism does not satisfy a quarter of its epsilon
    assert not audit.consistent_with(epsilon / 4)


def test_the_audit_of_indistinguishable_scores_proves_nothing():
    rng = np.random.default_rng(2)
    audit = empirical_epsilon(rng.normal(size=300), rng.normal(size=300), delta=1e-5)
    assert audit.epsilon_lower < 0.5 and audit.n_members == 150


def test_the_audit_certifies_no_more_than_its_ceiling_and_a_perfect_attack_reaches_it():
    """150 + 150 counted scores certify at most about 3.7 (so "under the accountant's epsilon 4" could not fail);
    more non-members raise the ceiling; perfectly separated scores reach it and any other attack stays under it."""
    assert 3.6 < certifiable_epsilon(150, 150, 1e-5) < 3.8
    assert certifiable_epsilon(50, 500, 1e-5) > 4 > certifiable_epsilon(50, 50, 1e-5)
    perfect = empirical_epsilon(np.ones(100), np.zeros(1000), delta=1e-5)
    assert (perfect.n_members, perfect.n_nonmembers) == (50, 500) and perfect.epsilon_lower == perfect.ceiling
    assert perfect.can_refute(4.0) and not perfect.can_refute(perfect.ceiling)
    members, nonmembers = _randomized_response(8.0, 400, seed=3)  # a leaky mechanism, measured on few samples
    audit = empirical_epsilon(members, nonmembers, delta=1e-5)
    assert 0 < audit.epsilon_lower <= audit.ceiling < 8.0 and audit.consistent_with(8.0) and not audit.can_refute(8.0)
    with pytest.raises(ValueError, match="n_members=0 is out of range"):
        certifiable_epsilon(0, 10, 1e-5)


def test_a_private_run_is_attacked_audited_and_cached(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    config = privacy_config(**TINY, attacks=("loss", "confidence"))
    result = run_private(config, PrivacySpec(epsilon=2.0, delta=1e-3), cache=cache)
    assert not result.from_cache and set(result.attacks) == {"loss", "confidence"}
    assert result.epsilon_spent <= 2.0 and result.bound_holds  # the accountant-vs-measured check
    assert result.test_accuracy.n == 60 and result.attacks["loss"].auc.n == 120
    audit = result.audits["loss"]  # every member against every non-member, half of each counted
    assert (audit.n_members, audit.n_nonmembers) == (30, 30) and audit.ceiling == certifiable_epsilon(30, 30, 1e-3)
    assert result.epsilon_ceiling == audit.ceiling and result.bound_tested == (result.epsilon_spent < audit.ceiling)
    replay = run_private(config, PrivacySpec(epsilon=2.0, delta=1e-3), cache=cache)
    assert replay.from_cache and replay.to_dict() == result.to_dict()
    assert list(result.table().index) == ["loss", "confidence"]
    sweep = privacy_sweep(config, epsilons=(2.0, math.inf), seeds=(0,), delta=1e-3, cache=cache)
    assert sweep.results[0].to_dict() == result.to_dict() and sweep.by_epsilon()[math.inf]["epsilon_spent"] == math.inf
    table = sweep.table()
    assert list(table.index) == ["2", "inf (non-private)"] and bool(table["bound holds"].all())
    assert not table.loc["inf (non-private)", "could fail"]  # no audit can refute an infinite epsilon
    assert table.loc["2", "certifiable eps <="] == round(audit.ceiling, 3)
    audits = sweep.audit_table()  # one row per run and attack
    assert list(zip(audits["target eps"], audits["attack"])) == [
        (r.spec.label(), attack) for r in sweep.results for attack in r.audits]
    assert audits["could fail"].tolist() == [a.can_refute(r.epsilon_spent) for r in sweep.results for a in r.audits.values()]
    assert audits.loc[0, "certifiable up to"] == round(audit.ceiling, 3) and audits.loc[0, "counted"] == "30 + 30"
    assert len(sweep.plot().axes) == 2 and len(result.plot().axes) == 1
    assert sweep.at(2.0) == (sweep.results[0],) and sweep.aucs(2.0) == [result.attacks["loss"].auc.value]
    assert sweep.aucs(math.inf, "confidence") == [sweep.results[1].attacks["confidence"].auc.value]
    assert sweep.by_epsilon()[2.0]["auc"] == result.attacks["loss"].auc  # one seed keeps its DeLong interval
    with pytest.raises(ValueError, match=r"epsilon=4.0 is not in this sweep: it ran epsilons \[2.0, inf\]"):
        sweep.at(4.0)


def test_the_classroom_privacy_setting_has_few_members_and_many_non_members():
    """Few members trained long so the non-private baseline leaks; many non-members so the audit can certify more than 4."""
    config = privacy_config()
    assert (config.n_train, config.n_test, config.epochs, config.batch_size) == (100, 1000, 40, 25)
    assert certifiable_epsilon(config.n_train // 2, config.n_test // 2, 1e-5) > 4
    paper = privacy_config("paper")
    assert (paper.n_train, paper.n_test, paper.epochs, paper.batch_size) == (1000, 500, 15, 50)  # the paper preset: its sizes, DP_RECIPE


def test_averaging_requeries_removes_shot_noise():
    from qmu_kit.qnn.data import prepare_data
    from qmu_kit.qnn.training import QNNClassifier

    data = prepare_data("digits", model="basic", n_qubits=4, n_train=60, n_test=60)
    clf = QNNClassifier("basic", 4, 1, epochs=1).fit(data.x_train, data.y_train)
    result = requery_averaging(clf, data.x_test[:20], shots=50, queries=(1, 4, 16))
    one, four, sixteen = result.distance
    assert sixteen < four < one and sixteen < 0.5 * one  # ~ 1/sqrt(k): 1/4 expected


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PrivacySpec(epsilon=0), "epsilon=0 is out of range: epsilon must be a number in (0, inf) (math.inf: non-private training)"),
        (lambda: PrivacySpec(epsilon=-1.0), "epsilon=-1.0 is out of range"),
        (lambda: PrivacySpec(epsilon=float("nan")), "epsilon=nan is not valid"),
        (lambda: PrivacySpec(epsilon="4"), "epsilon='4' is not valid"),
        (lambda: PrivacySpec(delta=0.0), "delta=0.0 is out of range: delta must be a number in (0.0, 1.0)"),
        (lambda: PrivacySpec(delta=1.0), "delta=1.0 is out of range: delta must be a number in (0.0, 1.0)"),
        (lambda: check_delta(0.01, n_train=300), "delta=0.01 is out of range: delta must be below 1/n_train = 1/300"),
        (lambda: PrivacySpec(max_grad_norm=0.0), "max_grad_norm=0.0 is out of range: max_grad_norm must be a number in (0.0, 1000000.0]"),
        (lambda: PrivacySpec(noise_multiplier=-1.0), "noise_multiplier=-1.0 is out of range: noise_multiplier must be a number in (0.0, 1000000.0]"),
        (lambda: PrivacySpec(noise_multiplier=float("inf")), "noise_multiplier=inf is not valid"),
        (lambda: PrivacySpec(epsilon=4.0, noise_multiplier=1.5),
         "epsilon=4.0 and noise_multiplier=1.5 were both given: give a target epsilon (Opacus finds the noise) or a fixed noise_multiplier"),
        (lambda: PrivacySpec(accountant="gdp"), "unknown accountant 'gdp'"),
        (lambda: run_private(privacy_config(**TINY), PrivacySpec(delta=0.05)), "delta=0.05 is out of range: delta must be below 1/n_train = 1/60"),
        (lambda: run_private(privacy_config(**TINY), PrivacySpec(epsilon=1e-9, delta=1e-3)),
         "epsilon=1e-09 is out of reach: Opacus finds no noise multiplier up to 1e+06"),
        (lambda: privacy_sweep(privacy_config(**TINY), epsilons=()), "epsilons=() is empty: give at least one epsilon"),
    ],
    ids=["eps-zero", "eps-negative", "eps-nan", "eps-text", "delta-zero", "delta-one", "delta-above-1/n", "clip-zero",
         "noise-negative", "noise-inf", "epsilon-and-noise", "accountant", "run-delta-above-1/n", "eps-unreachable", "sweep-empty"],
)
def test_bad_privacy_input_names_the_value_and_the_range(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_the_privacy_panel_shows_accuracy_and_leakage_with_intervals_and_follows_its_sliders(tmp_path):
    from qmu_kit.ui.widgets import PrivacyPanel

    panel = PrivacyPanel(base=privacy_config(**TINY), cache=ResultCache(tmp_path / "cache"), epsilon="4")
    assert "ready" in panel.status.value, panel.status.value
    assert "epsilon spent" in panel.numbers.value and "(n=60)" in panel.numbers.value and panel.image.value
    private_accuracy = panel.result.test_accuracy
    panel.controls["epsilon"].value = "inf"
    assert "ready" in panel.status.value and math.isinf(panel.result.epsilon_spent)
    assert panel.result.noise_multiplier == 0.0 and private_accuracy.n == panel.result.test_accuracy.n
    panel.controls["shots"].value = "100"
    assert "ready" in panel.status.value and panel.result.shots == 100
    with pytest.raises(ValueError, match="epsilon='2' is not a slider stop: choose one of 1, 4, 16, inf"):
        PrivacyPanel(base=privacy_config(**TINY), epsilon="2")


@pytest.mark.parametrize("epsilon", [1.0, 4.0, 16.0])
def test_the_noise_found_never_spends_more_than_the_target(epsilon):
    """The search's Renyi orders are a subset of Opacus' defaults, so the epsilon Opacus reports at the
    noise found (all default orders) is at most the target, and within 2 % of it."""
    from opacus.accountants import RDPAccountant

    from qmu_kit.studies.privacy import SEARCH_ORDERS, noise_for_budget

    assert set(SEARCH_ORDERS) <= set(RDPAccountant.DEFAULT_ALPHAS)
    sigma = noise_for_budget(PrivacySpec(epsilon=epsilon, delta=1e-5), sample_rate=1 / 6, epochs=15)
    accountant = RDPAccountant()
    accountant.history = [(sigma, 1 / 6, 90)]
    assert 0.98 * epsilon <= accountant.get_epsilon(1e-5) <= epsilon
