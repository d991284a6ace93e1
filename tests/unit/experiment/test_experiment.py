import dataclasses
import json
import re
import subprocess
import sys

import pytest

from qmu_kit.core.cache import CacheWarning, ResultCache
from qmu_kit.experiment.config import PRESETS, ExperimentConfig
from qmu_kit.experiment.results import ExperimentResult
from qmu_kit.experiment.pipeline import run_experiment
from qmu_kit.experiment.results import RATES, TABLE_COLUMNS

REQUIRED = {
    "acc_train_retain", "acc_train_forget", "acc_test_retain", "acc_test_forget", "primary_attack", "attacks",
    "headline", "seconds", "circuit_evaluations", "speedup_vs_retrain", "distance_to_retrained", "losses", "details",
}
ACCURACIES = ("acc_train_retain", "acc_train_forget", "acc_test_retain", "acc_test_forget")
HEADLINE = {"mia_success_forget", "mia_flag_rate_forget_nonmembers", "mia_auc", "mia_accuracy", "mia_auc_overall",
            "mia_tpr_at_1pct_fpr", "mia_tpr_at_0_1pct_fpr"}
TIMING = {"seconds", "speedup_vs_retrain"}


def numbers(models: dict) -> str:
    """Every model's numbers (attacks, losses and details included) without wall-clock times, as JSON."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in TIMING}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(models), sort_keys=True)

# A small, quick experiment for behaviour tests (the classroom preset itself runs in test_classroom).
QUICK = dict(model="basic", n_qubits=4, depth=1, n_train=120, n_test=120, epochs=2, attacks=("loss", "mlp"), methods=("ga", "ssd"))


# Cases the bad-input matrix (tests/unit/cli/test_bad_input_matrix.py, API_CASES) already covers with the same value
# and message are not repeated here: depth=0, shots=0, shots=2.5.
@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("n_qubits", 13, r"n_qubits=13 is out of range: n_qubits must be an integer from 2 to 12"),
        ("shots", -4, r"shots=-4 is out of range"),
        ("shots", "lots", r"shots='lots' is not valid"),
        ("model", "deep", r"unknown model 'deep': choose one of 'basic', 'hybrid'"),
        ("dataset", "cifar", r"unknown dataset 'cifar': choose one of 'digits', 'mnist'"),
        ("methods", ("ga", "forget"), r"unknown method 'forget': choose one of 'ga', 'ssd', 'rga', 'finetune'"),
        ("methods", ("ga", "ga"), r"repeats a name"),
        ("attacks", ("loss", "magic"), r"unknown attack 'magic'"),
        ("attack", "lira", r"attack='lira' must be one of the attacks run: mlp, loss"),
        ("forget", "random:1.2", r"forget fraction=1.2 is out of range: .*\(0.0, 1.0\)"),
        ("forget", "class:x", r"after 'class:' give an integer class label"),
        ("n_train", 5, r"n_train=5 is out of range: n_train must be an integer from 20 to 100000"),
        ("n_shadows", 0, r"n_shadows=0 is out of range: n_shadows must be an integer from 1 to 64"),
        ("seed", -1, r"seed=-1 is out of range"),
        ("epochs", 0, r"epochs=0 is out of range"),
        ("lr", 0.0, r"lr=0.0 is out of range"),
        ("unlearn_params", "head", r"unknown unlearn_params 'head': choose one of 'all', 'quantum', 'classical'"),
        ("method_options", {"ga": {"lr": -1}}, r"ga lr=-1 is out of range"),
        ("method_options", {"sgd": {}}, r"unknown method in method_options 'sgd'"),
        ("data_path", "/tmp/x", r"data_path='/tmp/x' is only used with dataset='mnist'"),
    ],
)
def test_config_validation_names_value_and_range(field, value, pattern):
    kwargs = {field: value}
    if field == "attack":
        kwargs["attacks"] = ("mlp", "loss")
    with pytest.raises(ValueError, match=pattern):
        ExperimentConfig(**kwargs)


def test_presets_and_round_trip():
    classroom = ExperimentConfig.from_preset("classroom")
    assert classroom == ExperimentConfig()
    assert (classroom.model, classroom.n_qubits, classroom.n_train, classroom.n_test) == ("hybrid", 6, 300, 700)
    paper = ExperimentConfig.from_preset("paper", shots=100)
    assert (paper.n_qubits, paper.n_train, paper.n_test, paper.shots) == (8, 1000, 500, 100)
    assert paper.training() == {"depth": 1, "epochs": 25, "lr": 0.1, "batch_size": 8}
    assert paper.method_options["ssd"]["alpha"] == 10.0
    assert set(PRESETS) == {"classroom", "paper", "leaderboard", "iris", "wine"}
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        ExperimentConfig.from_preset("huge")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['qbits'\]"):
        ExperimentConfig.from_preset("classroom", qbits=3)
    assert ExperimentConfig.from_dict(json.loads(json.dumps(paper.to_dict()))) == paper.resolved()
    assert ExperimentConfig(shots="exact").shots is None and ExperimentConfig(methods="ga").methods == ("ga",)


def test_cache_keys():
    base = ExperimentConfig()
    assert base.cache_key() == ExperimentConfig().cache_key() == base.resolved().cache_key()
    assert base.cache_key() != base.replace(shots=100).cache_key()
    # the original model does not depend on shots, methods or the forget set: sliders reuse it
    assert base.cache_key("original") == base.replace(shots=100, methods=("ga",), forget="class:3").cache_key("original")
    assert base.cache_key("original") != base.replace(depth=2).cache_key("original")
    # the attacks fitted against the original model: shared by every method, not by another shots setting
    assert base.cache_key("audit") == base.replace(methods=("ga",), unlearn_params="quantum", attack="loss").cache_key("audit")
    for change in ({"shots": 100}, {"attacks": ("loss",)}, {"forget": "class:3"}, {"depth": 2}, {"seed": 1}, {"n_shadows": 3}):
        assert base.cache_key("audit") != base.replace(**change).cache_key("audit"), change


def test_experiments_on_one_original_model_share_its_fitted_attacks(quick_result, monkeypatch):
    """Another method at the same shots replays the attacks fitted against the original model (no MLP is
    trained again), and every number is what a run without any cache gives."""
    from qmu_kit.leakage.attacks import PaperMLPAttack

    _, cache = quick_result
    fits = []
    fit = PaperMLPAttack.fit
    monkeypatch.setattr(PaperMLPAttack, "fit", lambda self, *args: fits.append(self) or fit(self, *args))
    other = ExperimentConfig(**{**QUICK, "methods": ("rga",)})
    shared = run_experiment(other, cache=cache)
    assert not shared.from_cache and fits == []
    fresh = run_experiment(other, cache=False)
    assert len(fits) == 2  # two folds, fitted when nothing is cached
    assert numbers(shared.to_dict()["models"]) == numbers(fresh.to_dict()["models"])
    # at other shots the attacks see other outputs: fitted again
    run_experiment(other.replace(shots=50), cache=cache)
    assert len(fits) == 4


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    cache = ResultCache(tmp_path_factory.mktemp("cache"))
    return run_experiment(ExperimentConfig(**QUICK), cache=cache), cache


def check_estimate(estimate: dict, n: int | None = None, where=None):
    """A JSON estimate: value inside its 95 % interval, within [0, 1], with its sample count."""
    assert set(estimate) >= {"value", "n", "ci95", "kind"}, where
    low, high = estimate["ci95"]
    assert 0.0 <= low <= estimate["value"] <= high <= 1.0, (where, estimate)
    assert estimate["n"] > 0 and (n is None or estimate["n"] == n), (where, estimate)


def test_result_json_contract(quick_result, tmp_path):
    result, _ = quick_result
    data = json.loads(result.to_json(tmp_path / "out" / "r.json").read_text())
    assert set(data) == {"schema", "config", "versions", "models"}
    assert set(data["models"]) == {"original", "retrained", "ga", "ssd"}
    assert data["schema"] == {"kind": "experiment", "version": 3} and data["config"]["seed"] == 0
    n_forget = len(result.models["original"].losses["train_forget"])
    for name, model in data["models"].items():
        assert set(model) == REQUIRED, name
        for key in ACCURACIES:
            check_estimate(model[key], len(model["losses"][key.replace("acc_", "")]), (name, key))
        assert set(model["headline"]) == HEADLINE
        check_estimate(model["headline"]["mia_success_forget"], n_forget, name)
        assert model["headline"]["mia_auc"]["kind"] == "auc" and 0 <= model["headline"]["mia_auc"]["p_value"] <= 1
        assert model["circuit_evaluations"] > 0 and model["seconds"] > 0
        assert set(model["attacks"]) == {"loss", "mlp"} and model["primary_attack"] == "mlp"
        for outcome in model["attacks"].values():
            overall = outcome["overall"]
            # ROC curves are stored once, in each comparison's metrics
            assert len(overall["fpr"]) == len(overall["tpr"]) > 1 and overall["fpr"][0] == 0 and overall["fpr"][-1] == 1
            tpr = overall["tpr_at_1pct_fpr"]
            assert tpr["lowest_measurable_fpr"] == pytest.approx(1 / overall["n_nonmembers"])
            assert tpr["at_zero_false_positives"] == (tpr["lowest_measurable_fpr"] > 0.01)
    assert data["models"]["ga"]["speedup_vs_retrain"] > 0
    retrained_seconds = data["models"]["retrained"]["seconds"]
    for name in ("ga", "ssd"):
        assert data["models"][name]["speedup_vs_retrain"] == pytest.approx(retrained_seconds / data["models"][name]["seconds"])
        assert data["models"][name]["details"]["seconds"] == pytest.approx(data["models"][name]["seconds"])
    assert data["models"]["retrained"]["speedup_vs_retrain"] == 1.0 and data["models"]["original"]["speedup_vs_retrain"] is None
    assert ExperimentResult.from_dict(data) == result
    assert "MIA-success" in result.summary() and list(result.table().index) == ["original", "retrained", "ga", "ssd"]
    # the fixed-width table's numbers are bare; its note says what they rest on and the widest interval
    rates = [e for m in result.models.values() for c in TABLE_COLUMNS if c in RATES and (e := getattr(m, c)).n]
    widest = max(max(e.value - e.ci95[0], e.ci95[1] - e.value) for e in rates)
    note = re.search(r"rates rest on n = (\d+)\.\.(\d+) samples, 95 % intervals at most \+/-(\d\.\d\d)", result.summary())
    assert note and float(note[3]) == pytest.approx(widest, abs=0.005) and int(note[1]) == min(e.n for e in rates)
    # the TPR@1% column says when it is the TPR at zero false positives (too few non-members for 1 %)
    at_zero = result.models["original"].primary.overall.tpr_at_1pct_fpr.at_zero_false_positives
    assert ("TPR@1%: TPR at zero false positives" in result.summary()) == at_zero
    models = {}
    for name, model in result.models.items():  # the same result with only 50 non-members: 1 % FPR unmeasurable
        outcome = model.primary
        tpr = dataclasses.replace(outcome.overall.tpr_at_1pct_fpr, at_zero_false_positives=True, lowest_measurable_fpr=0.02)
        outcome = dataclasses.replace(outcome, overall=dataclasses.replace(outcome.overall, tpr_at_1pct_fpr=tpr))
        models[name] = dataclasses.replace(model, attacks={**model.attacks, model.primary_attack: outcome})
    few = dataclasses.replace(result, models=models).summary()
    assert "(TPR@1%: TPR at zero false positives (target 1 % FPR, lowest measurable 2 %))" in few
    # the typed result: headline numbers are the primary attack's, read from its outcome
    ga = result.models["ga"]
    assert ga.mia_success_forget is ga.attacks["mlp"].mia_success_forget and ga.mia_auc is ga.attacks["mlp"].forget.auc
    assert result.table().loc["ga", "mia_auc"] == result.table(intervals=False).loc["ga", "mia_auc"] == ga.mia_auc.value
    assert result.table().loc["ga", "acc_train_forget_n"] == n_forget
    assert result.table().loc["ga", "mia_auc_low"] == ga.mia_auc.ci95[0] and "mia_auc_low" not in result.table(intervals=False)
    # one row per attack, each the numbers of that attack's outcome (not only the primary one's)
    attacks = result.attack_table("ga")
    assert list(attacks.index) == ["loss", "mlp"]
    for attack, outcome in ga.attacks.items():
        assert attacks.loc[attack, "MIA success (forget)"] == outcome.mia_success_forget.value
        assert attacks.loc[attack, "control (forget non-members)"] == outcome.flag_rate_forget_nonmembers.value
        assert attacks.loc[attack, "AUC forget"] == outcome.forget.auc.value
        assert attacks.loc[attack, "AUC overall"] == outcome.overall.auc.value
        assert attacks.loc[attack, "TPR@1%FPR overall"] == outcome.overall.tpr_at_1pct_fpr.tpr.value
        assert attacks.loc[attack, "TPR@0.1%FPR overall"] == outcome.overall.tpr_at_0_1pct_fpr.tpr.value
        assert attacks.loc[attack, "AUC forget_high"] == outcome.forget.auc.ci95[1]
        assert attacks.loc[attack, "AUC forget_n"] == outcome.forget.auc.n


def test_cached_replay_and_corrupt_entry(quick_result):
    result, cache = quick_result
    again = run_experiment(ExperimentConfig(**QUICK), cache=cache)
    assert again.from_cache and again == result
    path = cache.directory / "results" / f"{ExperimentConfig(**QUICK).cache_key()}.json"
    path.write_text(path.read_text()[:200])  # truncated, as after a crash of some other tool
    with pytest.warns(CacheWarning, match="corrupt cache entry"):
        recomputed = run_experiment(ExperimentConfig(**QUICK), cache=cache)
    assert not recomputed.from_cache
    assert recomputed.models["ga"].mia_auc.to_dict() == result.models["ga"].mia_auc.to_dict()
    assert list(recomputed.models) == list(result.models)
    assert numbers(recomputed.to_dict()["models"]) == numbers(result.to_dict()["models"])  # every number, timings aside
    assert run_experiment(ExperimentConfig(**QUICK), cache=cache).from_cache  # and it was repaired
    path.write_text(json.dumps({"schema": {"kind": "experiment", "version": 3}, "config": {}, "models": {}, "versions": {}}))
    with pytest.warns(CacheWarning, match="invalid cached result"):
        assert not run_experiment(ExperimentConfig(**QUICK), cache=cache).from_cache


def test_an_old_schema_entry_is_recomputed_not_misread(quick_result):
    """An entry of an older schema (here schema 1: plain floats, its version in ``versions``) under the
    result's key is reported and recomputed."""
    result, cache = quick_result
    old = result.to_dict()
    del old["schema"]
    old["versions"]["schema"] = 1
    for model in old["models"].values():
        for key in ACCURACIES:
            model[key] = model[key]["value"]
        model.update({k: v["value"] for k, v in model.pop("headline").items()})
    path = cache.directory / "results" / f"{ExperimentConfig(**QUICK).cache_key()}.json"
    path.write_text(json.dumps(old))
    with pytest.warns(CacheWarning, match="schema=None is not valid: ExperimentResult reads only schema"):
        recomputed = run_experiment(ExperimentConfig(**QUICK), cache=cache)
    assert not recomputed.from_cache
    assert numbers(recomputed.to_dict()["models"]) == numbers(result.to_dict()["models"])
    assert json.loads(path.read_text())["schema"] == {"kind": "experiment", "version": 3}  # overwritten with the current schema


def test_same_config_same_numbers_in_a_fresh_process(quick_result, tmp_path):
    result, _ = quick_result
    script = (
        "import json, sys; from qmu_kit.experiment import ExperimentConfig, run_experiment;"
        f"r = run_experiment(ExperimentConfig(**{QUICK!r}), cache=False);"
        "json.dump(r.to_dict()['models'], sys.stdout, sort_keys=True)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    fresh = json.loads(out)
    expected = result.to_dict()["models"]
    assert set(fresh) == set(expected) == {"original", "retrained", "ga", "ssd"}
    assert numbers(fresh) == numbers(expected)  # the whole JSON, attacks included, timings aside
    for name, model in fresh.items():
        for key in REQUIRED - TIMING - {"details"}:  # details hold wall-clock times (compared above without them)
            assert json.dumps(model[key], sort_keys=True) == json.dumps(expected[name][key], sort_keys=True), (name, key)


def test_default_lists_are_the_registries_read_live():
    from qmu_kit.leakage.attacks import ATTACKS, attack_names
    from qmu_kit.unlearning.methods import UNLEARNING_METHODS, method_names

    assert set(method_names()) == set(UNLEARNING_METHODS) - {"retrain"}
    assert attack_names() == tuple(ATTACKS)
    # the default runs the lessons' methods; the benchmark's others are requested by name
    assert ExperimentConfig().methods == method_names(lessons=True) and ExperimentConfig().attacks == attack_names()
    assert set(method_names()) - set(method_names(lessons=True)) and ExperimentConfig(methods=("scrub",)).methods == ("scrub",)
    assert ExperimentConfig(methods="all").methods == method_names(lessons=True)
