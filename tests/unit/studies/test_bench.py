"""The unlearning benchmark: every method tuned with the same budget, a leaderboard per scenario and
model with intervals, scope rows, class and random forgetting, JSON, the Pareto plot, and bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qmu_kit.cli.commands import main  # noqa: E402
from qmu_kit.core.cache import ResultCache  # noqa: E402
from qmu_kit.core.results import INTERVAL_SUFFIXES  # noqa: E402
from qmu_kit.core.stats import proportion  # noqa: E402
from qmu_kit.experiment import ExperimentConfig  # noqa: E402
from qmu_kit.plots import pareto_front  # noqa: E402
from qmu_kit.studies import bench as B  # noqa: E402
from qmu_kit.studies.tuning import PUBLISHED  # noqa: E402
from qmu_kit.unlearning import UNLEARNING_METHODS, FineTune, method_names, register  # noqa: E402

#: The tiny fixture: 2 qubits, 40 members and 40 non-members, one training epoch.
TINY = dict(n_qubits=2, n_train=40, n_test=40, epochs=1)
SCENARIOS = ("class:4", "random:0.2")
ATTACKS = ("loss", "confidence")
#: A method only the tests register: it has no meaning on the basic QNN (its entry says why).
TOY = "toy_hybrid_only"
TOY_REASON = "needs the hybrid QNN's classical front end"
#: cf_k at k=3 reaches past the basic QNN's two parameter layers: it runs on the hybrid only.
CF_K_GRID = {"cf_k": {"k": [3], "epochs": [1]}}


class ToyHybridOnly(FineTune):
    """Fine-tuning under another name (a class in a file, so the cache can fingerprint its code)."""


class ToyClassOnly(FineTune):
    """Fine-tuning that claims to need a whole class."""


@pytest.fixture(scope="module")
def toy():
    register(TOY, label="toy", excludes={"basic": TOY_REASON}, scope="fine-tuning, for the tests", lesson=False, replace=True)(ToyHybridOnly)
    yield TOY
    UNLEARNING_METHODS.unregister(TOY)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="module")
def result(toy, cache_dir):
    base = ExperimentConfig.from_preset("classroom", **TINY)
    return B.run_bench(base, methods=f"ga,cf_k,{toy}", scenarios=SCENARIOS, models=("basic", "hybrid"), tuning_seeds=[1000],
                   evaluation_seeds=[0, 1], budget=1, grid=CF_K_GRID, attacks=ATTACKS, cache=ResultCache(cache_dir))


def test_every_method_gets_the_same_budget_of_candidates_from_its_own_grid(result):
    assert result.budget == 1 and {len(c) for c in result.candidates.values()} == {1}
    for pick in result.chosen:
        tried = [r for r in result.runs if r["phase"] == "tuning" and r["scenario"] == pick["scenario"]
                 and r["model"] == pick["model"] and r["method"] == pick["method"]]
        assert pick["tried"] == result.budget and len(tried) == result.budget * len(result.tuning_seeds)
        assert all(r["options"] in result.candidates[pick["method"]] for r in tried)
    # tuned knobs come from the tuning seeds only; evaluation uses the disjoint seeds
    assert {r["seed"] for r in result.runs if r["phase"] == "tuning"} == {1000}
    assert {r["seed"] for r in result.runs if r["phase"] == "evaluation"} == {0, 1}


def test_the_draw_is_the_same_budget_for_every_method_and_independent_of_the_others():
    grids = B.bench_grid(method_names())
    budget = B.check_budget(3, grids)
    draws = {name: B.budget_candidates(name, grids[name], budget) for name in grids}
    assert {len(d) for d in draws.values()} == {3}
    assert all(len({json.dumps(c, sort_keys=True) for c in d}) == 3 for d in draws.values())  # without replacement
    assert B.budget_candidates("scrub", grids["scrub"], 3) == draws["scrub"]
    assert B.budget_candidates("rga", grids["rga"], 3) == [{"lr": v} for v in grids["rga"]["lr"]]  # the whole grid
    # a covering draw: with a budget as large as a knob's values, every value is tried (CF-k's k = 1..3,
    # so a model with two parameter layers still has candidates to run)
    for name, grid in grids.items():
        for knob, values in grid.items():
            tried = {json.dumps(c[knob]) for c in draws[name]}
            assert len(tried) == min(len(values), budget), (name, knob, tried)


def test_published_settings_are_reported_beside_the_tuned_ones(result):
    table = result.table(scenario="class:4", model="hybrid")
    ga = table[table["method"] == "ga"]
    assert set(ga["settings"]) == {"tuned", "published"}
    assert ga[ga["settings"] == "published"]["options"].iloc[0] == PUBLISHED["ga"]


def test_the_table_has_every_metric_with_its_count_and_interval(result):
    table = result.table()
    for column in (*B.METRIC_COLUMNS[:5], *(f"AUC {a}" for a in ATTACKS), "seconds", "circuit evaluations"):
        for suffix in ("", *INTERVAL_SUFFIXES):
            assert f"{column}{suffix}" in table.columns
        ran = table[table[f"{column}_n"] > 0]
        assert len(ran) > 0
        assert (ran[f"{column}_n"] == 2).all()  # two evaluation seeds
        assert ((ran[f"{column}_low"] <= ran[column] + 1e-12) & (ran[column] <= ran[f"{column}_high"] + 1e-12)).all()
    # exact readout: no shots, shown as missing rather than zero
    assert table["shots"].isna().all()
    plain = result.table(intervals=False)
    assert not any(str(c).endswith(INTERVAL_SUFFIXES) for c in plain.columns)
    # the retrained model is its own reference: no gap to itself; the original's gap is measured
    references = table[table["settings"] == "reference"]
    assert set(references["method"]) == {"original", "retrained"}
    assert (references[references["method"] == "retrained"]["avg gap"] == 0).all()


def test_a_method_without_meaning_for_a_model_is_a_row_with_the_reason(result, toy):
    table = result.table()
    rows = table[table["method"] == toy]
    basic, hybrid = rows[rows["model"] == "basic"], rows[rows["model"] == "hybrid"]
    assert len(basic) == len(SCENARIOS) and (basic["settings"] == "excluded").all()
    assert (basic["note"] == TOY_REASON).all() and basic["avg gap"].isna().all()
    assert (hybrid["settings"] == "tuned").all() and hybrid["avg gap"].notna().all()
    assert (rows["scope"] == "fine-tuning, for the tests").all()
    # a candidate the model cannot run is counted as tried, and its error is the row's note
    cf_k = table[table["method"] == "cf_k"]
    on_basic = cf_k[cf_k["model"] == "basic"]
    assert (on_basic["candidates"] == 1).all() and (on_basic["valid"] == 0).all() and on_basic["avg gap"].isna().all()
    assert on_basic["note"].str.contains("no candidate could run on the basic QNN: cf_k k=3 is out of range").all()
    assert cf_k[cf_k["model"] == "hybrid"]["avg gap"].notna().all()
    assert "cf_k" in result.summary() and TOY_REASON in result.summary()


def test_class_and_random_forgetting_forget_the_sets_the_data_defines(result):
    for scenario in SCENARIOS:
        table = result.table(scenario=scenario, model="hybrid")
        assert set(table["scenario"]) == {scenario}
        forgotten = ExperimentConfig.from_preset("classroom", **TINY, model="hybrid", forget=scenario, seed=0).load_data().forget_train
        runs = [r for r in result.runs if r["phase"] == "baseline" and r["scenario"] == scenario and r["model"] == "hybrid" and r["seed"] == 0]
        assert runs[0]["measures"]["retrained"]["acc_train_forget"]["n"] == int(forgotten.sum())
    random_forget = ExperimentConfig.from_preset("classroom", **TINY, forget="random:0.2").load_data()
    assert int(random_forget.forget_train.sum()) == 8 and len(set(random_forget.y_train[random_forget.forget_train])) > 1
    with pytest.raises(ValueError, match="scenario='class:9' is not in this benchmark"):
        result.table(scenario="class:9")


def test_json_round_trip_and_markdown_leaderboards(result, tmp_path):
    path = result.to_json(tmp_path / "bench.json")
    again = B.BenchResult.from_json(path)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(result.to_dict(), sort_keys=True)
    pd.testing.assert_frame_equal(again.table(), result.table())
    board = result.leaderboard("class:4", "hybrid")
    assert board.startswith("### class:4, hybrid QNN") and "| method" in board and "(n=2)" in board
    assert "1 candidates per method" in board
    text = result.leaderboards()
    assert all(f"### {s}, {m} QNN" in text for s in SCENARIOS for m in ("basic", "hybrid")) and "### Grids" in text


def test_pareto_plot_draws_every_tuned_method(result):
    figure = result.plot()
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and ax.has_data()
    labels = ax.get_legend_handles_labels()[1]
    assert "GA" in labels and "toy" in labels and any(label.startswith("front: class:4, hybrid") for label in labels)
    plt.close(figure)
    own, ax = plt.subplots()
    assert result.plot(ax=ax, scenario="random:0.2", model="basic") is own and ax.has_data()
    plt.close(own)
    # the front keeps the points no other point beats on both cost and gap
    assert pareto_front([10, 20, 30, 40], [0.3, 0.4, 0.1, 0.2]) == [0, 2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(methods="ga,forget"), "unknown method 'forget'"),
    (dict(methods="ga", budget=0), r"budget=0 is out of range: budget must be an integer from 1 to 6 \(ga's grid has 6 candidates"),
    (dict(methods="ga,rga", budget=4), r"budget=4 is out of range: .* \(rga's grid has 3 candidates; every method gets the same number\)"),
    (dict(methods="ga", grid={"ga": {"rate": [0.1]}}), "unknown option 'rate' for method 'ga'"),
    (dict(methods="ga", grid={"ga": {"lr": [-1.0]}}), r"ga lr=-1.0 is out of range"),
    (dict(methods="ga", grid={"ssd": {"alpha": [10.0]}}), r"grid names method\(s\) \['ssd'\] that the benchmark does not run"),
    (dict(methods="ga", scenarios=["class:12"]), "class 12"),
    (dict(methods="ga", scenarios=["delete:1"]), "unknown forget kind 'delete'"),
    (dict(methods="ga", scenarios=["random:0.2", "random:0.20"]), "repeats a scenario"),
    (dict(methods="ga", tuning_seeds=[0], evaluation_seeds=[0]), r"tuning and evaluation seeds must be disjoint: both contain \[0\]"),
    (dict(methods="ga", models=["quantum"]), "unknown model 'quantum'"),
    (dict(methods="ga", attacks=["oracle"]), "unknown attack 'oracle'"),
    (dict(methods="ga", verify_models=2), "models=2 is out of range"),
    (dict(methods="ga", retain_tolerance=2.0), "retain_tolerance=2.0 is out of range"),
    (dict(methods="ga", scheduler="localhost"), "scheduler"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        B.run_bench(ExperimentConfig.from_preset("classroom", **TINY), cache=False, **kwargs)


def test_a_scenario_without_the_data_a_method_needs_is_refused():
    # every digit is a member or a non-member: no held-out samples to estimate the retrained forget accuracy
    full = ExperimentConfig.from_preset("classroom", n_qubits=2, n_train=1000, n_test=797, epochs=1)
    with pytest.raises(ValueError, match=r"scenario='random:0.1' needs held-out samples"):
        B.run_bench(full, methods="ga", scenarios=["random:0.1"], models=["hybrid"], cache=False)
    # a method named explicitly whose entry excludes the forget kind
    register("toy_class_only", excludes={"random": "its class-removal step needs a whole class"}, lesson=False)(ToyClassOnly)
    try:
        with pytest.raises(ValueError, match=r"method 'toy_class_only' cannot run scenario 'random:0.2': its class-removal step"):
            B.run_bench(ExperimentConfig.from_preset("classroom", **TINY), methods="toy_class_only", scenarios=["random:0.2"], cache=False)
    finally:
        UNLEARNING_METHODS.unregister("toy_class_only")


def test_the_gap_to_retraining_is_the_mean_of_four_absolute_differences():
    def measures(ua, ra, ta, success):
        return {"acc_train_forget": proportion(*ua).to_dict(), "acc_train_retain": proportion(*ra).to_dict(),
                "acc_test_retain": proportion(*ta).to_dict(), "mia_success_forget": proportion(*success).to_dict()}

    unlearned, retrained = measures((3, 10), (9, 10), (8, 10), (6, 10)), measures((0, 10), (9, 10), (7, 10), (2, 10))
    assert math.isclose(B.gap_to_retraining(unlearned, retrained), (0.3 + 0.0 + 0.1 + 0.4) / 4)


def test_under_shots_the_cost_columns_count_the_shots(tmp_path):
    base = ExperimentConfig.from_preset("classroom", **TINY, shots=50)
    table = B.run_bench(base, methods="finetune", scenarios=["class:4"], models=["hybrid"], tuning_seeds=[1000], evaluation_seeds=[0],
                        budget=1, attacks=ATTACKS, cache=ResultCache(tmp_path)).table()
    tuned = table[table["settings"] == "tuned"].iloc[0]
    assert tuned["circuit evaluations"] > 0 and tuned["shots"] == 50 * tuned["circuit evaluations"]
    assert tuned["shots_n"] == 1


def test_many_model_verification_is_an_option_at_tiny_size(tmp_path):
    base = ExperimentConfig.from_preset("classroom", **TINY)
    result = B.run_bench(base, methods="finetune", scenarios=["class:4"], models=["hybrid"], tuning_seeds=[1000],
                     evaluation_seeds=[0], budget=1, attacks=ATTACKS, verify_models=4, cache=ResultCache(tmp_path))
    table = result.table()
    for column in B.VERIFY_COLUMNS:
        assert column in table.columns and (table[f"{column}_n"] > 0).all()
    verified = B.VerifyResult.from_dict(result.verification[0]["result"])
    assert verified.config.models == 4 and verified.config.experiment.method_options["finetune"] == result.chosen[0]["options"]
    assert (table["retrain control FQ"] == verified.methods["retrain"].forgetting_quality.value).all()
    assert "forgetting quality" in result.leaderboard("class:4", "hybrid")


def test_cli_bench_replays_and_writes_json_and_markdown(result, toy, cache_dir, tmp_path, capsys):
    argv = ["bench", "--qubits", "2", "--n-train", "40", "--n-test", "40", "--epochs", "1", "--methods", f"ga,cf_k,{toy}",
            "--scenario", "class:4", "--scenario", "random:0.2", "--models", "basic,hybrid", "--tuning-seeds", "1000",
            "--seeds", "0,1", "--budget", "1", "--grid", "cf_k.k=3", "--grid", "cf_k.epochs=1", "--attacks", "loss,confidence",
            "--cache-dir", str(cache_dir), "--jobs", "1", "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "class:4, hybrid QNN" in out and "wrote" in out
    replayed = B.BenchResult.from_json(tmp_path / "b.json")
    pd.testing.assert_frame_equal(replayed.table(), result.table())  # every run replayed from the cache
    assert (tmp_path / "b.md").read_text().startswith("## Unlearning leaderboard")


@pytest.mark.parametrize("argv, message", [
    (["--budget", "0"], "argument --budget: budget=0 is out of range"),
    (["--methods", "forget"], "argument --methods: unknown method 'forget'"),
    (["--scenario", "class:x"], "argument --scenario: forget='class:x' is not valid"),
    (["--scenario", "random:1.5"], "argument --scenario: forget fraction=1.5 is out of range"),
    (["--grid", "ga.rate=1"], "argument --grid: unknown option 'rate' for method 'ga'"),
    (["--grid", "ga.lr=-1"], "argument --grid: ga lr=-1 is out of range"),
    (["--option", "ga.lr=0.1"], "argument --option: the benchmark tunes every knob itself"),
    (["--seeds", "1000", "--tuning-seeds", "1000"], "tuning and evaluation seeds must be disjoint"),
    (["--methods", "ga,rga", "--budget", "4"], r"argument --budget: budget=4 is out of range: budget must be an integer from 1 to 3"),
    (["--models", "quantum"], "argument --models: unknown model 'quantum'"),
    (["--jobs", "0"], "argument --jobs"),
    (["--verify-models", "2"], "argument --verify-models"),
])
def test_cli_bench_bad_input(argv, message, capsys):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qmu-kit: error:")
    assert re.search(message, err), err


# --------------------------------------------------------------------------------------------------
# The committed leaderboards (reports/leaderboard_*.json and the markdown rendered from each)
# --------------------------------------------------------------------------------------------------

REPORTS = Path(__file__).resolve().parents[3] / "reports"
COMMITTED = sorted(REPORTS.glob("leaderboard_*.json"))


def test_the_classroom_leaderboard_is_committed():
    """The classroom leaderboard is the whole field at the leaderboard preset: every registered method,
    both QNNs, class and random forgetting, 5 evaluation seeds, the many-model test at K = 16, every
    method with a candidate it could run on every model; its cost is recorded from the same run."""
    from qmu_kit.experiment import ExperimentConfig

    assert REPORTS / "leaderboard_classroom.json" in COMMITTED
    data = json.loads((REPORTS / "leaderboard_classroom.json").read_text())
    expected = ExperimentConfig.from_preset("leaderboard").to_dict()
    assert all(data["config"][key] == expected[key] for key in ("dataset", "n_qubits", "n_train", "n_test", "epochs", "shots"))
    kit_methods = {n for n in method_names() if UNLEARNING_METHODS.entry(n).factory.__module__.startswith("qmu_kit.")}
    assert set(data["methods"]) == kit_methods and set(data["models"]) == {"basic", "hybrid"}  # tests register toys
    assert {s.split(":")[0] for s in data["scenarios"]} == {"class", "random"}
    assert data["evaluation_seeds"] == [0, 1, 2, 3, 4] and data["budget"] == B.BUDGET
    assert {(v["scenario"], v["model"]) for v in data["verification"]} == {(s, m) for s in data["scenarios"] for m in data["models"]}
    assert all(v["result"]["config"]["models"] == 16 for v in data["verification"])
    assert all(pick["options"] is not None for pick in data["chosen"]), [p["note"] for p in data["chosen"] if p["note"]]
    record = json.loads((REPORTS / "bench_leaderboard_classroom.json").read_text())
    settings = record["settings"]
    assert (settings["preset"], settings["evaluation_seeds"], settings["tuning_seeds"], settings["budget"], settings["verify_models"]) == (
        "leaderboard", data["evaluation_seeds"], data["tuning_seeds"], data["budget"], 16)
    assert record["cold"]["runs"] == len(data["runs"])


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_a_committed_leaderboard_is_its_json_rendered(path):
    """The markdown is what BenchResult renders from the committed JSON, and both state the settings
    the numbers depend on."""
    result = B.BenchResult.from_json(path)
    markdown = path.with_suffix(".md").read_text(encoding="utf-8")
    assert markdown == result.leaderboards(), f"regenerate {path.with_suffix('.md').name} from {path.name} (BenchResult.leaderboards)"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("dataset", "n_qubits", "n_train", "n_test", "epochs", "shots", "depth", "lr", "batch_size"):
        assert key in data["config"], f"{path.name} does not state the experiment's {key}"
    assert data["methods"] and data["scenarios"] and data["models"] and data["tuning_seeds"] and data["evaluation_seeds"]
    assert not set(data["tuning_seeds"]) & set(data["evaluation_seeds"])
    assert data["budget"] >= 1 and set(data["grids"]) == set(data["methods"]) and data["date"] and data["versions"]
    assert all(len(data["candidates"][m]) == data["budget"] for m in data["methods"])  # tuned alike: one budget for all
    assert result.size() in markdown and f"{data['budget']} candidates per method" in markdown
    # every scenario and model has its table, and every evaluated method its rows on every evaluation seed
    for scenario in data["scenarios"]:
        for model in data["models"]:
            assert f"### {scenario}, {model} QNN" in markdown
            rows = result.rows(scenario, model)
            assert {r["method"] for r in rows} >= {"original", "retrained", *data["methods"]}
            for row in rows:
                if row["settings"] in ("tuned", "published") and row["avg gap"] is not None:
                    assert row["avg gap"].n == len(data["evaluation_seeds"]) and 0 <= row["avg gap"].value <= 1


def test_ranked_lists_the_tuned_methods_that_ran_closest_to_retraining_first():
    result = B.BenchResult.from_json(REPORTS / "leaderboard_classroom.json")
    for scenario in result.scenarios:
        for model in result.models:
            ranked = result.ranked(scenario, model)
            gaps = [row["avg gap"].value for row in ranked]
            assert gaps == sorted(gaps) and {row["settings"] for row in ranked} == {"tuned"}
            ran = [r for r in result.rows(scenario, model) if r["settings"] == "tuned" and r["avg gap"] is not None]
            assert sorted(r["method"] for r in ranked) == sorted(r["method"] for r in ran) and len(ran) == len(result.methods)
