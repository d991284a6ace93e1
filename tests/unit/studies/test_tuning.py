"""Tuning: knobs chosen on tuning seeds by the stated criterion, reported on disjoint seeds."""

import importlib.util
import json

import pytest

from qmu_kit.studies import tuning
from qmu_kit.cli.commands import main
from qmu_kit.core.stats import proportion
from qmu_kit.unlearning.tuned_defaults import PROVENANCE, TUNED_DEFAULTS
from qmu_kit.studies.tuning import PUBLISHED, TuningResult, candidates, tune
from qmu_kit.unlearning.methods import GradientAscent, RelativeGradientAscent, SelectiveSynapticDampening, make_method

RETRAINED = {"acc_train_forget": 0.0, "mia_success_forget": 0.2, "acc_test_retain": 0.90}


class FakeRunner:
    """A stand-in for run_experiment with a known answer: SSD's distance to the retrained model is
    smallest at alpha 30 (forget accuracy |alpha - 30| / 100), but alpha 10 would be closer still if
    its retained accuracy (0.80, ten points below the retrained model's) were allowed. Seeds shift
    every number a little, the same for every candidate."""

    def __init__(self):
        self.configs = []

    def __call__(self, config):
        self.configs.append(config)
        options = config.method_options["ssd"]
        alpha, wobble = options["alpha"], (config.seed % 3) * 0.01
        model = {
            "acc_train_forget": 0.0 if alpha == 10 else abs(alpha - 30) / 100 + wobble,
            "mia_success_forget": 0.2 + wobble,
            "acc_test_retain": 0.80 if alpha == 10 else 0.89,
        }
        return {"retrained": dict(RETRAINED, mia_success_forget=0.2 + wobble), "ssd": model}


def test_tuning_picks_the_known_best_within_the_retain_tolerance():
    runner = FakeRunner()
    result = tune("classroom", ["ssd"], [100, 101], [0, 1, 2], {"ssd": {"alpha": [10.0, 30.0, 100.0]}}, runner=runner)
    assert result.chosen == {"ssd": {"alpha": 30.0}} and result.feasible == {"ssd": True}
    # every candidate ran on every tuning seed, then tuned and published settings on the evaluation seeds
    tuned_runs = [(c.seed, c.method_options["ssd"]["alpha"]) for c in runner.configs[:6]]
    assert tuned_runs == [(100, 10.0), (101, 10.0), (100, 30.0), (101, 30.0), (100, 100.0), (101, 100.0)]
    evaluated = [(c.seed, c.method_options["ssd"]) for c in runner.configs[6:]]
    assert evaluated == [(s, {"alpha": 30.0}) for s in (0, 1, 2)] + [(s, PUBLISHED["ssd"]) for s in (0, 1, 2)]
    assert {c.seed for c in runner.configs[:6]}.isdisjoint({c.seed for c in runner.configs[6:]})
    assert all(c.methods == ("ssd",) and c.attacks == ("mlp",) for c in runner.configs)
    # a wider tolerance lets the closer alpha 10 win
    wide = tune("classroom", ["ssd"], [100, 101], [0], {"ssd": {"alpha": [10.0, 30.0, 100.0]}}, retain_tolerance=0.2,
                runner=FakeRunner())
    assert wide.chosen == {"ssd": {"alpha": 10.0}}
    # nothing qualifies: the closest is kept and flagged
    strict = tune("classroom", ["ssd"], [100], [0], {"ssd": {"alpha": [10.0, 100.0]}}, retain_tolerance=0.0, runner=FakeRunner())
    assert strict.chosen == {"ssd": {"alpha": 10.0}} and strict.feasible == {"ssd": False}


def test_the_retain_floor_is_the_lower_of_original_and_retrained():
    """A retrained model often beats the original on the retained classes (it need not tell the forgotten
    class apart); the floor must not then demand that unlearning improve the original. Here the original
    keeps 0.84, the retrained 0.93: alpha 10 (0.81, 3 points below the original) must qualify, which the
    retrained-only floor (0.88) refused."""

    class BetterRetrained(FakeRunner):
        def __call__(self, config):
            models = super().__call__(config)
            models["retrained"]["acc_test_retain"] = 0.93
            models["original"] = {"acc_train_forget": 1.0, "mia_success_forget": 0.9, "acc_test_retain": 0.84}
            models["ssd"]["acc_test_retain"] = 0.81 if config.method_options["ssd"]["alpha"] == 10 else 0.70
            return models

    result = tune("classroom", ["ssd"], [100, 101], [0], {"ssd": {"alpha": [10.0, 30.0]}}, runner=BetterRetrained())
    assert result.chosen == {"ssd": {"alpha": 10.0}} and result.feasible == {"ssd": True}
    rows = [{"original": {"acc_test_retain": 0.84}, "retrained": {"acc_test_retain": 0.93}}]
    assert tuning.retain_floor(rows) == pytest.approx(0.79)
    assert tuning.retain_floor([{"retrained": {"acc_test_retain": 0.93}}]) == pytest.approx(0.88)  # no original: retrained
    # the lower reference on each seed, then the mean: a worse retrained model lowers the floor too
    mixed = rows + [{"original": {"acc_test_retain": 0.95}, "retrained": {"acc_test_retain": 0.91}}]
    assert tuning.retain_floor(mixed) == pytest.approx((0.84 + 0.91) / 2 - 0.05)


def test_tuning_reports_tuned_beside_published_with_intervals():
    result = tune("classroom", ["ssd"], [100, 101], [0, 1, 2], {"ssd": {"alpha": [30.0, 100.0]}}, runner=FakeRunner())
    table = result.table()
    assert list(table["settings"]) == ["tuned", "published"]
    assert list(table["n seeds"]) == [3, 3] and "[" in table.loc[0, "forget acc"]
    summary = result.statistics()
    assert summary[("ssd", "tuned")]["distance"].value == pytest.approx(0.01)  # (0 + 0.01 + 0.02) / 3
    # the published alpha 10 forgets exactly (distance 0) but at a cost the tuning rule would not accept
    assert summary[("ssd", "published")]["distance"].value == pytest.approx(0.0)
    assert summary[("ssd", "published")]["acc_test_retain"].value == pytest.approx(0.80)
    difference = result.comparisons()["ssd"]
    assert difference.value == pytest.approx(0.01) and difference.n == 3
    candidates_table = result.candidates_table()
    assert list(candidates_table["chosen"]) == [True, False]
    stored = json.loads(json.dumps(result.to_dict()))
    assert stored["chosen"] == {"ssd": {"alpha": 30.0}} and stored["tuning_seeds"] == [100, 101]
    assert stored["published"] == {"ssd": {"alpha": 10.0, "lam": 1.0}}
    again = TuningResult.from_dict(stored)
    assert again.chosen == result.chosen and again.table().equals(result.table())


class CountingRunner:
    """A runner like the default one: every rate an Estimate with its sample count. Every seed's SSD
    model forgets completely (0 of 30 forget-set images right, 0 of 30 flagged), the retained accuracy
    is 500 of 630 and the retrained model's forget accuracy is 0 of 30."""

    def __call__(self, config):
        def model(retain):
            return {"acc_train_forget": proportion(0, 30), "mia_success_forget": proportion(0, 30),
                    "acc_test_retain": proportion(retain, 630)}

        return {"original": model(600), "retrained": model(580), "ssd": model(500)}


def test_rates_over_seeds_pool_their_sample_counts():
    result = tune("classroom", ["ssd"], [100], [0, 1, 2, 3, 4], {"ssd": {"alpha": [30.0]}}, runner=CountingRunner())
    stats = result.statistics()[("ssd", "tuned")]
    forget = stats["acc_train_forget"]
    # five seeds all at 0 of 30: not a zero-width interval, but the Wilson interval of 0 of 150
    assert forget.value == 0.0 and forget.n == 5 and forget.ci95 == pytest.approx(proportion(0, 150).ci95)
    assert forget.ci95[1] > 0.02
    assert stats["acc_test_retain"].ci95 == pytest.approx(proportion(5 * 500, 5 * 630).ci95)
    assert stats["retrained acc_train_forget"].ci95 == pytest.approx(proportion(0, 150).ci95)
    assert stats["distance"].n == 5  # the distance stays a mean over the seeds
    assert result.table().loc[0, "forget acc"] == "0.00 [0.00, 0.02] (n=5)"
    assert result.trials[0]["counts"]["model"] == {"acc_train_forget": 30, "mia_success_forget": 30, "acc_test_retain": 630}
    assert result.trials[0]["original"]["acc_test_retain"] == pytest.approx(600 / 630)
    # the counts survive the JSON round trip ...
    again = TuningResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.table().equals(result.table())
    # ... and a JSON written before counts were stored still loads: a mean over seeds, n the seeds
    old = result.to_dict()
    for row in old["trials"] + old["evaluation"]:
        del row["counts"], row["original"]
    legacy = TuningResult.from_dict(json.loads(json.dumps(old))).statistics()[("ssd", "tuned")]["acc_train_forget"]
    assert legacy.value == 0.0 and legacy.n == 5 and legacy.ci95 == (0.0, 0.0)  # seeds alone: no samples to pool


def test_defaults_module_round_trip(tmp_path):
    result = tune("classroom", ["ssd"], [100], [0], {"ssd": {"alpha": [30.0]}}, runner=FakeRunner())
    path = tmp_path / "tuned_defaults.py"
    path.write_text(result.defaults_source("qmu-kit tune --methods ssd"))
    spec = importlib.util.spec_from_file_location("written", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TUNED_DEFAULTS == {"ssd": {"alpha": 30.0}}
    assert module.PROVENANCE["tuning_seeds"] == [100] and module.PROVENANCE["command"] == "qmu-kit tune --methods ssd"
    assert module.PROVENANCE["feasible"] == {"ssd": True}


@pytest.mark.parametrize("kwargs, message", [
    (dict(tuning_seeds=[0, 1], evaluation_seeds=[1, 2]), r"tuning and evaluation seeds must be disjoint: both contain \[1\]"),
    (dict(tuning_seeds=[]), "tuning_seeds is empty"),
    (dict(methods=["finetune"]), "unknown method to tune 'finetune'"),
    (dict(grid={"ssd": {"gamma": [1]}}), r"unknown option 'gamma' for method 'ssd': allowed are alpha, lam, batch_size"),
    (dict(grid={"ssd": {"alpha": [0.0]}}), "ssd alpha=0.0 is out of range"),
    (dict(retain_tolerance=2.0), "retain_tolerance=2.0 is out of range"),
    (dict(preset="huge"), "unknown preset 'huge'"),
])
def test_bad_tuning_input_is_refused_before_any_run(kwargs, message):
    runner = FakeRunner()
    arguments = dict(methods=["ssd"], tuning_seeds=[100], evaluation_seeds=[0], grid={"ssd": {"alpha": [30.0]}}) | kwargs
    preset = arguments.pop("preset", "classroom")
    with pytest.raises(ValueError, match=message):
        tune(preset, runner=runner, **arguments)
    assert runner.configs == []


def test_cli_tune(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tuning, "_default_runner", lambda cache: FakeRunner())
    out = tmp_path / "defaults.py"
    code = main(["tune", "--methods", "ssd", "--grid", "ssd.alpha=10,30,100", "--tuning-seeds", "100,101",
                 "--evaluation-seeds", "0,1", "--json", str(tmp_path / "t.json"), "--write-defaults", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tuned" in printed and "published" in printed
    assert "TUNED_DEFAULTS" in out.read_text() and "--grid ssd.alpha=10,30,100" in out.read_text()
    assert json.loads((tmp_path / "t.json").read_text())["chosen"] == {"ssd": {"alpha": 30}}
    for argv, text in (
        (["tune", "--tuning-seeds", "0", "--evaluation-seeds", "0"], "tuning and evaluation seeds must be disjoint"),
        (["tune", "--grid", "ssd.alpha"], "argument --grid: grid item 'ssd.alpha' is not valid"),
        (["tune", "--grid", "ssd.alpha=ten"], "grid value 'ten' for ssd.alpha is not a number"),
        (["tune", "--tuning-seeds", "a,b"], "argument --tuning-seeds"),
        (["tune", "--shots", "0"], "argument --shots: shots=0 is out of range"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("qmu-kit: error: ") and text in err and err.count("\n") == 1, err


def test_unlearning_defaults_come_from_the_recorded_tuning_run():
    # every knob the tuning run chose is the constructor's default (not only the first knob of each)
    for name, knobs in TUNED_DEFAULTS.items():
        method = make_method(name)
        assert {knob: getattr(method, knob) for knob in knobs} == knobs, name
        assert method.defaults_provenance()["overridden"] == []
    assert set(TUNED_DEFAULTS) == {"ga", "ssd", "rga"} and PROVENANCE["feasible"] == {"ga": True, "ssd": True, "rga": True}
    # the classes themselves, not only the registry, carry them
    assert (GradientAscent().lr, GradientAscent().epochs) == (TUNED_DEFAULTS["ga"]["lr"], TUNED_DEFAULTS["ga"]["epochs"])
    assert RelativeGradientAscent().lr == TUNED_DEFAULTS["rga"]["lr"]
    assert SelectiveSynapticDampening().lam == TUNED_DEFAULTS["ssd"]["lam"]
    assert set(PROVENANCE["tuning_seeds"]).isdisjoint(PROVENANCE["evaluation_seeds"])
    assert set(PROVENANCE["tuning_seeds"]).isdisjoint(range(10))  # the seeds notebooks and tests report (DEFAULT_TUNING_SEEDS)
    assert PROVENANCE["command"].startswith("qmu-kit tune")
    recorded = make_method("ssd").defaults_provenance()
    assert recorded["tuning_seeds"] == PROVENANCE["tuning_seeds"] and recorded["overridden"] == []
    assert make_method("ssd", alpha=TUNED_DEFAULTS["ssd"]["alpha"] * 2).defaults_provenance()["overridden"] == ["alpha"]
    assert make_method("finetune").defaults_provenance() is None
    assert candidates({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
