"""qmu_kit.studies.verification: the epsilon estimator on distributions with known answers, bad input, the JSON
contract, caching and resuming, student-registered methods, and the controls at the classroom preset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import qmu_kit.studies.verification as V
from qmu_kit.ui.verify_panel import VerifyPanel
from qmu_kit.core.cache import ResultCache
from qmu_kit.cli.commands import main
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.qnn.training import QNNClassifier
from qmu_kit.unlearning.methods import UNLEARNING_METHODS, UnlearningMethod
from tests.cli_tools import usage_error


def reference_epsilon(a, b, delta):
    """The competition's per-example procedure written as plainly as possible (one loop per
    threshold and direction), to check the vectorized estimator against."""
    best = 0.0
    for t in np.concatenate([a, b]):
        for direction in (1, -1):
            flagged_a = (a > t) if direction == 1 else ~(a > t)
            flagged_b = (b > t) if direction == 1 else ~(b > t)
            fpr, fnr = flagged_b.mean(), 1 - flagged_a.mean()
            if fpr == 0 and fnr == 0:
                return math.inf
            if fpr == 0 or fnr == 0:
                continue
            candidates = [math.log(1 - delta - fpr) - math.log(fnr) if 1 - delta - fpr > 0 else math.nan,
                          math.log(1 - delta - fnr) - math.log(fpr) if 1 - delta - fnr > 0 else math.nan]
            if all(math.isnan(c) for c in candidates):
                return math.inf
            best = max(best, max(c for c in candidates if not math.isnan(c)))
    return best


# --- the estimator -------------------------------------------------------------------------------


def test_hand_computed_cases():
    # Interleaved 1, 2 vs 0, 3: no threshold does better than chance -> 0.
    # Disjoint 3, 4 vs 0, 1: a threshold separates them perfectly -> infinity.
    eps = V.epsilon_per_example(np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([[0.0, 0.0], [3.0, 1.0]]))
    assert eps[0] == 0.0
    assert math.isinf(eps[1])


def test_matches_the_plain_procedure(rng):
    for k, shift, delta in [(4, 0.0, 0.01), (8, 1.0, 0.01), (16, 0.5, 0.05), (16, 2.0, 0.2), (5, 0.0, 0.3)]:
        a, b = rng.normal(size=(k, 40)), rng.normal(shift, 1.0, size=(k, 40))
        fast = V.epsilon_per_example(a, b, delta)
        slow = np.array([reference_epsilon(a[:, i], b[:, i], delta) for i in range(a.shape[1])])
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_identical_distributions_score_near_zero_and_separated_ones_large(rng):
    k = 64
    same = V.epsilon_per_example(rng.normal(size=(k, 300)), rng.normal(size=(k, 300)))
    apart = V.epsilon_per_example(rng.normal(size=(k, 300)), rng.normal(4.0, 1.0, size=(k, 300)))
    # Identical: most examples near 0 (the in-sample maximum over thresholds has a floor of about 1
    # at this K; that floor is what the "retrain" control measures).
    assert np.median(same) < 1.6 and np.isinf(same).mean() < 0.01
    # Four standard deviations apart: every example near the largest finite value K can measure or beyond.
    assert np.all(apart > 0.9 * V.max_measurable_epsilon(k)) and np.median(apart) > 3 * np.median(same)
    # The estimate grows with the separation (median over examples).
    medians = [np.median(V.epsilon_per_example(rng.normal(size=(k, 300)), rng.normal(s, 1.0, size=(k, 300)))) for s in (0, 0.5, 1, 2)]
    assert medians == sorted(medians)


def test_scores_and_forgetting_quality(rng):
    assert V.example_scores([0.0, 0.49, 0.5, 0.99, 1.0, math.inf]).tolist() == [1.0, 1.0, 0.5, 0.5, 0.25, 2.0 / 2**13]
    same = V.forgetting_quality(rng.normal(size=(16, 30)), rng.normal(size=(16, 30)), n_resamples=200)
    apart = V.forgetting_quality(rng.normal(size=(16, 30)), rng.normal(6.0, 1.0, size=(16, 30)), n_resamples=200)
    assert same.n == 30 and same.kind == "bootstrap"
    assert same.ci95[0] <= same.value <= same.ci95[1]
    assert apart.value < 0.01 and apart.ci95[1] < same.ci95[0]
    # Near the floor (a few examples not quite separated), the interval stays inside the score's range.
    unlearned = rng.normal(size=(16, 30))
    unlearned[:, :27] += 6.0
    near_floor = V.forgetting_quality(unlearned, rng.normal(size=(16, 30)), n_resamples=200)
    assert V.example_scores([math.inf])[0] <= near_floor.ci95[0] <= near_floor.value <= near_floor.ci95[1] <= 1.0


def hand_made_methods(rng, config) -> dict:
    """GA, retraining and no unlearning verified from hand-made per-model records (K = ``config.models``):
    GA a little apart from the reference, the untouched model far apart."""

    def records(shift):
        return [{"signal": list(rng.normal(shift, 1.0, size=6)), "relearn_steps": int(rng.integers(1, 9)),
                 "streisand_auc": float(rng.uniform(0.4, 0.6)), "retain_accuracy": float(rng.uniform(0.7, 0.9)),
                 "forget_accuracy": float(rng.uniform(0.0, 0.3)), "forget_train_accuracy": 0.0, "seconds": 1.0}
                for _ in range(config.models)]

    reference = records(0.0)
    return {name: V.MethodVerification.from_records(name, records(shift), reference, config)
            for name, shift in (("ga", 1.0), ("retrain", 0.0), ("none", 8.0))}


def test_summary_shows_every_number_with_its_interval_and_n(rng):
    config = V.VerifyConfig(models=4)
    methods = hand_made_methods(rng, config)
    summary = V.VerifyResult(config, methods, {}).summary()
    ga = next(line for line in summary.splitlines() if line.startswith("ga "))
    for estimate in (methods["ga"].retain_accuracy, methods["ga"].forget_accuracy, methods["ga"].streisand_auc):
        assert f"{estimate.value:.2f} [{estimate.ci95[0]:.2f}, {estimate.ci95[1]:.2f}]" in ga
    assert "bootstrap over the K=4 models per side and the n=6 forget-set examples together" in summary
    assert "t over the n=4 models" in summary


def test_every_score_sits_beside_the_retrain_control_at_the_same_k(rng):
    """The estimator's value for "indistinguishable" moves with K, so the table, the summary (what
    ``qmu-kit verify`` prints) and the figure give every row's score beside the retrain control's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = V.VerifyConfig(models=4)
    result = V.VerifyResult(config, hand_made_methods(rng, config), {})
    control = result.methods["retrain"].forgetting_quality
    table = result.table()
    assert (table["K"] == 4).all()
    for column, value in (("retrain control FQ", control.value), ("retrain control FQ_low", control.ci95[0]),
                          ("retrain control FQ_high", control.ci95[1])):
        np.testing.assert_array_equal(table[column].to_numpy(), np.full(len(table), value))
    cell = f"{control.value:.2f} [{control.ci95[0]:.2f}, {control.ci95[1]:.2f}]"
    summary = result.summary()
    assert "retrain at K=4" in summary.splitlines()[1]
    for name in result.methods:
        row = next(line for line in summary.splitlines() if line.startswith(f"{name} "))
        assert row.count(cell) >= 1 + (name == "retrain"), row
    fig = result.plot()
    labels = [text.get_text() for axis in fig.axes for text in axis.texts]
    assert sum(f"retrain control {control.format()}" in label for label in labels) == len(result.methods) - 1
    for name, method in result.methods.items():
        assert sum(f"{method.n_separated}/{len(method.epsilon)} perfectly separated" in label for label in labels) >= 1, name
    plt.close(fig)


def _shared_model_effect(rng, reps, k=16, n=20, shared=0.5):
    """Signals of ``reps`` verifications: per example a separation drawn from U(0, 2), and per model an
    effect shared by all its examples carrying ``shared`` of each signal's unit variance."""
    separation = rng.uniform(0.0, 2.0, size=(reps, 1, n))
    side = lambda: np.sqrt(shared) * rng.normal(size=(reps, k, 1)) + np.sqrt(1 - shared) * rng.normal(size=(reps, k, n))  # noqa: E731
    return separation + side(), side()


def test_interval_covers_when_models_vary_and_the_examples_only_interval_does_not():
    """Coverage of the expected score at K = 16 when half of each signal's variance is a model effect
    shared across examples. The truth is the mean score over 1000 more verifications (Monte Carlo
    error about 0.001, under 1 % of an interval's width). With R = 200 verifications a coverage
    estimate has a standard error of at most 0.018 near 0.93, so the margin is 2 of them: the
    interval must cover at least 0.93 - 0.036, and the examples-only interval (the percentile
    bootstrap of the example scores, the kit's former interval) must stay below 0.93 - 0.036 too."""
    rng = np.random.default_rng(2026)
    truth = V._quality(*_shared_model_effect(rng, 1000), V.DEFAULT_DELTA).mean()
    unlearned, retrained = _shared_model_effect(rng, 200)
    margin = 2 * math.sqrt(0.93 * 0.07 / 200)
    crossed = [V.forgetting_quality(u, r, n_resamples=100, seed=i) for i, (u, r) in enumerate(zip(unlearned, retrained))]
    examples_only = [V.stats.bootstrap(np.mean, V.example_scores(V.epsilon_per_example(u, r)), n_resamples=100, seed=i)
                     for i, (u, r) in enumerate(zip(unlearned, retrained))]
    coverage = np.mean([e.contains(truth) for e in crossed])
    coverage_examples_only = np.mean([e.contains(truth) for e in examples_only])
    assert coverage >= 0.93 - margin, coverage
    assert coverage_examples_only < 0.93 - margin, coverage_examples_only


def test_the_null_value_depends_on_k_and_not_monotonically(rng):
    """Two sets of K draws from one distribution, 30 examples: about 0.27 at K = 8, 0.24 at 16 and
    0.28 at 32 (the module docstring's numbers). Each mean is over enough verifications that its
    Monte Carlo error (at most 0.0015) is under a tenth of the gaps asserted."""
    null = {k: V._quality(rng.normal(size=(reps, k, 30)), rng.normal(size=(reps, k, 30)), V.DEFAULT_DELTA).mean()
            for k, reps in ((8, 400), (16, 400), (32, 200))}
    assert null[16] < null[8] - 0.02 and null[16] < null[32] - 0.02, null
    for k, stated in ((8, 0.27), (16, 0.24), (32, 0.28)):
        assert abs(null[k] - stated) < 0.01, (k, null[k])


def test_rates_and_steps_keep_their_intervals_inside_their_range():
    """A forget accuracy of 0 on all but one model has a t-interval reaching below 0 ("0.00 [-0.00, 0.00]"
    in a K = 16 run): rates are cut to [0, 1], relearning steps to [0, inf)."""
    config = V.VerifyConfig(models=4)
    records = [{"signal": [0.0] * 6, "relearn_steps": steps, "streisand_auc": auc, "retain_accuracy": acc,
                "forget_accuracy": acc, "forget_train_accuracy": acc, "seconds": 1.0}
               for steps, auc, acc in ((0, 1.0, 0.0), (0, 1.0, 0.0), (0, 1.0, 0.0), (3, 0.9, 0.1))]
    method = V.MethodVerification.from_records("ga", records, records, config)
    for estimate in (method.streisand_auc, method.retain_accuracy, method.forget_accuracy, method.forget_train_accuracy):
        assert 0.0 <= estimate.ci95[0] <= estimate.value <= estimate.ci95[1] <= 1.0, estimate
    assert method.relearn_steps.ci95[0] == 0.0


def test_max_measurable_epsilon():
    assert V.max_measurable_epsilon(16, 0.01) == pytest.approx(math.log(0.99 * 16 - 1))
    assert V.max_measurable_epsilon(V.MIN_MODELS) > 1.0 > V.max_measurable_epsilon(V.MIN_MODELS - 1)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("models", [0, 3, 257, 8.0, "8"])
def test_too_few_models(models):
    with pytest.raises(ValueError, match=r"models=.*integer from 4 to 256.*1/K"):
        V.VerifyConfig(models=models)


@pytest.mark.parametrize("delta", [0, 1, 1.5, -0.1, float("nan")])
def test_delta_outside_0_1(delta):
    with pytest.raises(ValueError, match=r"delta=.*\(0\.0, 1\.0\)"):
        V.VerifyConfig(delta=delta)


def test_unknown_method():
    with pytest.raises(ValueError, match=r"unknown method 'gaa': choose one of 'ga', 'ssd', 'rga', 'finetune', 'neggrad_plus', .*, or 'all' \(the controls retrain and none always run\)"):
        V.parse_methods("ga,gaa")
    # "all" is the lessons' methods; the benchmark's others are named one by one
    assert V.parse_methods("all") == V.available_methods() == ("ga", "ssd", "rga", "finetune")
    assert V.parse_methods("scrub,ga") == ("scrub", "ga")
    assert V.parse_methods(["retrain", "ga"]) == ("ga",)  # the controls always run


def test_relearn_samples_larger_than_the_forget_set():
    config = V.VerifyConfig(ExperimentConfig(n_qubits=4, n_train=60, n_test=60), relearn_samples=50)
    with pytest.raises(ValueError, match=r"relearn_samples=50 is out of range: .* from 1 to \d+ \(the forget set class:4 has"):
        V.verify(config, "ga", cache=False)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "3"], "argument --models: models=3 is out of range"),
        (["--delta", "1"], "argument --delta: delta=1 is out of range"),
        (["--delta", "x"], "argument --delta: delta='x' is not valid"),
        (["--method", "nope"], "argument --method: unknown method 'nope'"),
        (["--relearn-samples", "0"], "argument --relearn-samples: relearn_samples=0 is out of range"),
        (["--relearn-accuracy", "0"], "argument --relearn-accuracy: relearn_accuracy=0 is out of range"),
        (["--n-train", "60", "--n-test", "60", "--qubits", "4", "--relearn-samples", "40"],
         "argument --relearn-samples: relearn_samples=40 is out of range"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert usage_error(["verify", *argv], capsys).startswith(message)


# --- end to end on a tiny configuration -----------------------------------------------------------

TINY = dict(n_qubits=4, n_train=80, n_test=60, epochs=2)
TINY_FLAGS = ["--qubits", "4", "--n-train", "80", "--n-test", "60", "--epochs", "2"]
KNOBS = dict(models=4, relearn_samples=2, relearn_max_steps=5)

#: Set by the test to make the student's method fail part way, as a crash or a Ctrl-C would.
FAIL_AT = {"call": None, "calls": 0}


class StudentDamping(UnlearningMethod):
    """A student's method: shrink every parameter a little (registered under a new name)."""

    name = "shrink"

    def __init__(self, factor: float = 0.9):
        self.factor = factor

    def _update(self, model, task, readout, parameters, seed, progress):
        FAIL_AT["calls"] += 1
        if FAIL_AT["call"] is not None and FAIL_AT["calls"] >= FAIL_AT["call"]:
            raise RuntimeError("interrupted")
        import torch

        with torch.no_grad():
            for p in parameters:
                p *= self.factor
        return {}


class StudentDampingTwice(StudentDamping):
    """A student's method built on another of theirs: editing the parent must change the identity."""

    name = "shrink-twice"


def test_method_identity_covers_the_students_base_classes():
    import hashlib
    import inspect

    identity = V.method_identity(StudentDampingTwice())
    source = inspect.getsource(StudentDampingTwice) + inspect.getsource(StudentDamping)
    assert identity["source"] == hashlib.sha256(source.encode()).hexdigest()[:16]
    assert "source" not in V.method_identity(V.make_method("ga"))  # the kit's own: its code fingerprint covers it


@pytest.mark.slow
def test_student_method_interrupted_run_resumes_and_replays(monkeypatch, tmp_path):
    monkeypatch.setitem(UNLEARNING_METHODS, "shrink", StudentDamping)
    assert "shrink" in V.available_methods()
    cache = ResultCache(tmp_path / "cache")
    config = V.VerifyConfig(ExperimentConfig(**TINY), **KNOBS)
    FAIL_AT.update(call=3, calls=0)
    with pytest.raises(RuntimeError, match="interrupted"):
        V.verify(config, "shrink", cache=cache)
    FAIL_AT.update(call=None, calls=0)

    fits = []
    original_fit = QNNClassifier.fit
    monkeypatch.setattr(QNNClassifier, "fit", lambda self, *a, **k: fits.append(1) or original_fit(self, *a, **k))
    result = V.verify(config, "shrink", cache=cache)
    # Every trained model came from the cache, and only the two unfinished unlearning runs ran again.
    assert fits == [] and FAIL_AT["calls"] == 2
    assert list(result.methods) == ["retrain", "none", "shrink"] and not result.from_cache
    assert V.verify(config, "shrink", cache=cache).from_cache

    # A smaller K reuses the first models: nothing is trained again.
    smaller = V.verify(config.replace(models=V.MIN_MODELS), "shrink", cache=cache)
    assert fits == [] and smaller.methods["shrink"].forgetting_quality.n == result.methods["shrink"].forgetting_quality.n

    # The JSON round trip keeps every number.
    again = V.VerifyResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.methods["shrink"] == result.methods["shrink"] and again.config == result.config

    # The panel finds it, and says what to run for what is missing.
    panel = VerifyPanel(config, methods=["shrink"], shots=[None, 100], models=[4], cache=cache)
    assert panel.lookup("shrink", None, 4) is not None and panel.lookup("shrink", 100, 4) is None
    assert "not computed yet: qmu-kit verify --method shrink --shots 100 --models 4" in panel.describe("shrink", 100, 4)
    assert "forgetting quality" in panel.describe("shrink", None, 4)
    control = result.methods["retrain"].forgetting_quality.format()
    assert f"(retrain control at K=4: {control})" in panel.describe("shrink", None, 4).splitlines()[1]


@pytest.mark.slow
def test_cli_json_contract_at_finite_shots(tmp_path, capsys):
    out = tmp_path / "out.json"
    argv = ["verify", *TINY_FLAGS, "--method", "ga", "--models", "4", "--relearn-samples", "2", "--relearn-max-steps", "5",
            "--shots", "200", "--jobs", "1", "--cache-dir", str(tmp_path / "cache"), "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "verdict:" in printed and f"wrote {out}" in printed
    assert "each beside the retrain control at the same K" in printed and "retrain at K=4" in printed
    data = json.loads(out.read_text())
    assert data["config"]["models"] == 4 and data["config"]["shots"] == 200 and data["config"]["delta"] == V.DEFAULT_DELTA
    assert set(data["methods"]) == {"ga", "retrain", "none"}
    n_forget = len(data["methods"]["ga"]["epsilon"]["per_example"])
    for name, entry in data["methods"].items():
        for key in ("forgetting_quality", "streisand_auc", "relearn_steps", "retain_accuracy"):
            assert {"value", "ci95", "n"} <= set(entry[key]), (name, key)
        assert set(entry["epsilon"]) >= {"mean", "median", "per_example"}
        assert len(entry["epsilon"]["per_example"]) == n_forget == entry["forgetting_quality"]["n"]
        assert 0 <= entry["forgetting_quality"]["value"] <= 1 and entry["seconds"] >= 0
        assert entry["relearn_steps"]["n"] == entry["streisand_auc"]["n"] == 4
    assert isinstance(data["has_power"], bool) and data["verdict"]
    # Same machine, same config: the replay from the cache gives the same numbers.
    assert main(argv) == 0
    assert "(from cache)" in capsys.readouterr().out
    assert json.loads(out.read_text())["methods"] == data["methods"]


@pytest.mark.slow
def test_controls_separate_at_the_classroom_preset(shared_cache):
    """The self-check: at the classroom preset, even K = 4 models per side tell the original (not
    unlearned) from retrained models, and another set of retrained models scores far higher. (Notebook 06
    trains these models too: in ``make test`` they are replayed from the shared cache.)"""
    config = V.VerifyConfig(ExperimentConfig.from_preset("classroom"), models=V.MIN_MODELS, relearn_max_steps=20)
    result = V.verify(config, [], cache=shared_cache, n_jobs=2)
    retrain, none = result.methods["retrain"], result.methods["none"]
    assert result.has_power, result.verdict
    assert none.n_separated >= 0.9 * len(none.epsilon)
    assert retrain.forgetting_quality.value > 0.2 > 0.05 > none.forgetting_quality.value
