"""The notebook series: structure, parameters, claims, and reruns through papermill.

nbval executes every notebook at its defaults (``make test``) and compares the metrics it records with
the references (tests/notebook_tools.py). Here each notebook also runs once through papermill with
non-default parameters, and the numbers it records are checked; and at both presets every claim it
states must follow from its own numbers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from qmu_kit.report.notebook import read_metrics
from tests.notebook_tools import LEGACY_CHECK_MARK, NOTEBOOKS, claim_problems, notebook_paths, run_validation

ALL = notebook_paths()
SERIES = [p for p in ALL if p.parent == NOTEBOOKS]
SECTIONS = ["## Aims", "## Parameters", "## Background", "## Practice", "## Discussion", "## Exercises", "## References"]
#: Parameter names the notebooks may use: the CLI's, plus the notebook-specific ones (09's ``methods`` and
#: ``scenario`` are ``qmu-kit bench``'s ``--methods`` and ``--scenario``).
PARAMETER_NAMES = {"preset", "model", "depth", "shots", "method", "attack", "seed", "n_seeds", "n_queries", "models", "methods",
                   "scenario"}


def read(path: Path):
    return nbformat.read(path, as_version=4)


def test_the_series_is_complete():
    assert [p.stem for p in SERIES] == [
        "00_start_here", "01_qnn_classifiers", "02_membership_leakage", "03_quantum_unlearning",
        "03b_unlearning_in_depth", "04_shots_privacy_and_stability", "05_noisy_devices", "06_did_it_really_forget", "07_privacy_by_design",
        "08_bring_your_own_qnn", "09_which_unlearning_method",
    ]


def test_the_series_map_in_00_links_every_lesson_with_its_time_and_difficulty():
    """Notebook 00's map lists every lesson of the series, each linked, with a student time and a difficulty."""
    table = next(c.source for c in read(NOTEBOOKS / "00_start_here.ipynb").cells
                 if c.cell_type == "markdown" and "| notebook | the question it answers | student time | difficulty |" in c.source)
    rows = {match.group(1): match.group(2) for match in re.finditer(r"^\| .*?\(([0-9a-z_]+)\.ipynb\).*?\| (.*)$", table, re.M)}
    assert set(rows) | {"00_start_here"} == {p.stem for p in SERIES}, rows
    for name, rest in rows.items():
        assert re.search(r"\| \d+ min \| (introductory|intermediate|advanced) \|$", rest), (name, rest)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    for cell in read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.stem)
def test_sections_in_the_same_order(path):
    headings = [line.strip() for cell in read(path).cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    positions = [next((i for i, h in enumerate(headings) if h.startswith(section)), None) for section in SECTIONS]
    assert None not in positions, f"{path.name} lacks one of {SECTIONS}: has {headings}"
    assert positions == sorted(positions), f"{path.name}: sections out of order: {headings}"
    exercises = [c.source for c in read(path).cells if c.cell_type == "markdown" and "## Exercises" in c.source]
    assert "<details>" in exercises[0] and "Solution" in exercises[0], "exercises need revealable solutions"
    last = [c for c in read(path).cells if c.cell_type == "markdown"][-1].source
    assert last.startswith("## References"), f"{path.name}: the references must be the last cell"
    entries = re.findall(r"^\d+\. .*<https?://[^>]+>$", last, flags=re.MULTILINE)
    assert entries and len(entries) == len(re.findall(r"^\d+\. ", last, flags=re.MULTILINE)), \
        f"{path.name}: every reference needs a link"
    assert "arxiv.org/abs/2509.06086" in last, f"{path.name}: cite the paper the series follows"


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.stem)
def test_one_parameters_cell_of_literals_then_validation(path):
    cells = read(path).cells
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    tree = ast.parse(cells[tagged[0]].source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, "only plain assignments"
        ast.literal_eval(node.value)  # plain literals only
        names.append(node.targets[0].id)
    assert set(names) <= PARAMETER_NAMES, f"unexpected parameter names {set(names) - PARAMETER_NAMES}"
    validation = next(c for c in cells[tagged[0] + 1 :] if c.cell_type == "code")
    call = re.search(r"check_parameters\(globals\(\), (\[[^\]]*\])", validation.source)
    assert call and ast.literal_eval(call.group(1)) == names, "the next code cell must validate exactly these names"


#: Notebooks whose prose and numbers follow the claims rules (05's prose is converted on the devices branch).
CLAIMED = [p for p in SERIES if p.stem[:2] in ("00", "01", "02", "03", "04", "07", "08", "09")]


@pytest.mark.parametrize("path", CLAIMED, ids=lambda p: p.stem)
def test_no_exact_printed_numbers_are_compared(path):
    """Numbers are checked through recorded metrics with tolerances, never as printed text."""
    assert all(LEGACY_CHECK_MARK not in c.source for c in read(path).cells), f"{path.name}: remove {LEGACY_CHECK_MARK}"


@pytest.mark.parametrize("path", CLAIMED, ids=lambda p: p.stem)
def test_the_prose_quotes_no_measured_number(path):
    """A measured number in fixed prose is true at one preset only: sentences about numbers are
    generated from them (qmu_kit.report.claims.show), so the prose quotes none (no bold decimals)."""
    for cell in read(path).cells:
        if cell.cell_type == "markdown":
            quoted = re.findall(r"\*\*(\d*\.\d+)\*\*", cell.source)
            assert not quoted, f"{path.name} cell {cell.id}: the prose quotes {quoted}; generate the sentence with qmu_kit.report.claims"


def _value(metric):
    """A recorded number's value (measured numbers are ``{"value", "n", ...}``; claims, ``{"text", ...}``,
    stay as they are)."""
    return metric["value"] if isinstance(metric, dict) and "value" in metric else metric


def _check_00(m):
    assert abs(m["spread_100_shots"] - m["theory_100_shots"]) < 0.01


def _check_01(m):
    assert (m["model"], m["depth"]) == ("basic", 2)
    assert 0.3 < _value(m["test_accuracy"]) < 0.95 and _value(m["train_accuracy"]) > 0.3


def _check_02(m):
    assert (m["attack"], m["shots"]) == ("loss", 300)
    assert 0.5 < _value(m["auc_overall"]) < 0.9 and _value(m["test_accuracy"]) > 0.85
    assert 0 <= _value(m["control"]) <= 1 and 0 <= _value(m["mia_success_forget"]) <= 1


def _check_03(m):
    v = {key: _value(value) for key, value in m.items()}
    assert (v["method"], v["shots"]) == ("rga", 300)
    assert v["acc_train_forget"] <= 0.1 + v["retrained_acc_train_forget"]
    assert v["acc_test_retain"] >= v["original_acc_test_retain"] - 0.10
    assert v["mia_success_forget"] < v["original_mia_success_forget"] and v["speedup_vs_retrain"] is True


def _check_03b(m):
    v = {key: _value(value) for key, value in m.items()}
    assert v["shots"] == 300
    assert v["ssd_acc_train_forget"] < v["original_acc_train_forget"] and v["ssd_speedup_vs_retrain"] is True
    assert v["finetune_acc_test_retain"] >= v["original_acc_test_retain"] - 0.10  # the baseline keeps the retained classes
    assert v["retrained_acc_train_forget"] <= 0.1  # a forgotten class: the retrained model (almost) never predicts it


def _check_04(m):
    assert m["n_seeds"] == 2
    assert _value(m["loss_auc_exact"]) > 0.5 and _value(m["test_accuracy_10_shots"]) < _value(m["test_accuracy_exact"])


def _check_05(m):
    assert (m["shots"], m["n_queries"]) == (500, 60)
    assert _value(m["accuracy_fake"]) < _value(m["accuracy_noiseless"])
    assert m["logical_cnots"] < _value(m["device_cnots"])  # routing on the device's coupling map adds SWAPs


def _check_06(m):
    assert (m["method"], m["shots"], m["models"]) == ("rga", 100, 4)
    v = {key: _value(value) for key, value in m.items()}
    assert 0 <= v["none_forgetting_quality"] < v["retrain_forgetting_quality"] <= 1
    assert 0 <= v["forgetting_quality"] <= 1 and 0 <= v["streisand_auc"] <= 1 and v["relearn_steps"] >= 0


def _check_07(m):
    assert m["n_seeds"] == 2 and m["gradients_equal"] is True and m["audit_bound_holds"] is True and m["requery_shrinks"] is True
    assert _value(m["test_accuracy_eps1"]) < _value(m["test_accuracy_nonprivate"])  # the price of the guarantee
    assert 0 <= _value(m["loss_auc_eps1"]) <= 1 and m["lira_bound_holds"] is True  # LiRA with DP shadows, audited too
    # the audit's ceiling lies above epsilon 4, so the epsilon-1 and epsilon-4 rows (2 seeds x 2 attacks each) could fail
    assert m["audit_ceiling"] > 4 and m["audit_pairs_that_could_fail"] == 8


def _check_08(m):
    v = {key: _value(value) for key, value in m.items()}
    assert (v["method"], v["shots"], v["depth"]) == ("rga", None, 2)
    assert v["train_accuracy"] > v["test_accuracy"]  # the small training set is overfitted
    assert v["acc_train_forget"] <= 0.2 + v["retrained_acc_train_forget"]
    assert 0 <= v["auc_overall_loss"] <= 1 and 0 <= v["auc_overall_loss_100_shots"] <= 1


def _check_09(m):
    v = {key: _value(value) for key, value in m.items()}
    assert (v["model"], v["scenario"], v["n_seeds"]) == ("hybrid", "class:4", 2)
    assert {"neggrad_plus_avg_gap", "random_labels_avg_gap"} <= set(v) and "scrub_avg_gap" not in v  # the methods asked for, only
    assert all(0 <= v[f"{name}_avg_gap"] <= 1 for name in ("neggrad_plus", "random_labels"))
    assert v["retrained_ua"] <= 0.1  # a forgotten class: the retrained model (almost) never predicts it


RERUNS = {
    "00_start_here": ({"seed": 3}, _check_00),
    "01_qnn_classifiers": ({"model": "basic", "depth": 2}, _check_01),
    "02_membership_leakage": ({"shots": 300, "attack": "loss"}, _check_02),
    "03_quantum_unlearning": ({"method": "rga", "shots": 300}, _check_03),
    "03b_unlearning_in_depth": ({"shots": 300}, _check_03b),
    "04_shots_privacy_and_stability": ({"n_seeds": 2}, _check_04),
    "05_noisy_devices": ({"shots": 500, "n_queries": 60}, _check_05),
    "06_did_it_really_forget": ({"method": "rga", "shots": 100, "models": 4}, _check_06),
    "07_privacy_by_design": ({"n_seeds": 2}, _check_07),
    # exact: under shots every unlearning gradient is PennyLane's parameter shift circuit by circuit (minutes)
    "08_bring_your_own_qnn": ({"method": "rga", "depth": 2}, _check_08),
    # another pair of methods on the same originals and retrained models (the nbval pass cached them)
    "09_which_unlearning_method": ({"methods": "neggrad_plus,random_labels"}, _check_09),
}


@pytest.fixture
def notebook_cache(shared_cache_dir, monkeypatch):
    monkeypatch.setenv("QMU_KIT_CACHE", shared_cache_dir)
    return shared_cache_dir


def execute(name: str, parameters: dict, output: Path):
    import papermill

    return papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters, cwd=str(NOTEBOOKS),
        kernel_name="python3", progress_bar=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RERUNS))
def test_papermill_rerun_with_other_parameters(name, tmp_path, notebook_cache):
    parameters, check = RERUNS[name]
    executed = execute(name, parameters, tmp_path / f"{name}.ipynb")
    metrics = read_metrics(executed)
    assert metrics, "the notebook recorded no metrics"
    check(metrics)


#: Bad notebook parameters and what notebook 02's validation cell says about them.
BAD_PARAMETERS = [
    ({"shot": 100}, "unknown notebook parameter(s) shot: this notebook takes preset, model, depth, shots, attack, seed"),
    ({"shots": 0}, "shots=0 is out of range: shots must be 'exact' (None) or an integer from 1 to 1000000"),
    ({"shots": -5}, "shots=-5 is out of range"),
    ({"shots": 2.5}, "shots=2.5 is not valid"),
    ({"depth": 0}, "depth=0 is out of range"),
    ({"model": "quantum"}, "unknown model 'quantum'"),
    ({"attack": "guess"}, "unknown attack 'guess'"),
    ({"preset": "tiny"}, "unknown preset 'tiny'"),
]


def test_papermill_refuses_bad_parameters_at_the_validation_cell(tmp_path, notebook_cache):
    """End to end through papermill and a kernel, once (a kernel costs seconds; the other cases run the
    same two cells in-process below)."""
    import papermill

    parameters, message = BAD_PARAMETERS[0]
    output = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        execute("02_membership_leakage", parameters, output)
    assert message in str(info.value)
    executed = nbformat.read(output, as_version=4)
    failed = [c for c in executed.cells if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)]
    assert len(failed) == 1 and "check_parameters" in failed[0].source  # stopped at validation, nothing ran after


@pytest.mark.parametrize("parameters, message", BAD_PARAMETERS)
def test_the_validation_cell_names_each_bad_parameter(parameters, message):
    """Notebook 02's parameters cell, papermill's injected cell and its validation cell, run as papermill
    runs them (tests.notebook_tools.run_validation)."""
    with pytest.raises(ValueError) as info:
        run_validation("02_membership_leakage", parameters)
    assert message in str(info.value)


# --------------------------------------------------------------------------------------------------
# Claims: at every preset, what a notebook states follows from the numbers it recorded
# (tests.notebook_tools.claim_problems restates the rules independently of qmu_kit.report.claims). At the
# classroom preset the nbval pass checks them (its final cell); here the paper preset.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim, problem",
    [
        ({"rule": "auc_vs_chance", "verdict": "above", "text": "AUC 0.64",
          "estimates": {"auc": {"value": 0.64, "n": 60, "ci95": [0.49, 0.79], "p_value": 0.06}}}, "numbers say 'chance'"),
        ({"rule": "rates_overlap", "verdict": "same", "text": "0.93 vs 0.60",
          "estimates": {"rate": {"value": 0.93, "ci95": [0.79, 0.98]}, "other": {"value": 0.6, "ci95": [0.48, 0.71]}}}, "numbers say 'above'"),
        ({"rule": "paired_difference", "verdict": "decrease", "text": "-0.010",
          "estimates": {"difference": {"value": -0.01, "n": 5, "ci95": [-0.03, 0.01]}}}, "numbers say 'none'"),
        ({"rule": "all_reached", "verdict": "all", "text": "4 of 5",
          "estimates": {"values": [0, 0, 0.02, 0, 0], "target": 0.0}}, "numbers say 'some'"),
        ({"rule": "auc_vs_chance", "verdict": "chance", "text": "AUC 0.55",
          "estimates": {"auc": {"value": 0.64, "n": 60, "ci95": [0.49, 0.79], "p_value": 0.06}}}, "does not show its number 0.64"),
    ],
)
def test_the_claim_check_catches_a_claim_its_numbers_contradict(claim, problem):
    problems = claim_problems("x", claim)
    assert problems and problem in problems[0]


# At the paper preset, every claim is checked against its numbers in tests/notebooks/test_paper_preset.py (its fast
# variant runs each notebook on the embedded MNIST); the classroom preset's claims are checked in the nbval pass.



def test_the_claim_check_reads_a_claim_with_nothing_measured():
    """An empty sample stores NaN as None: the check follows the claim functions instead of crashing on it."""
    from qmu_kit.report.claims import auc_claim, rate_claim
    from qmu_kit.core.stats import auc, proportion

    unmeasured = auc_claim("the AUC", auc([], [0.4])).to_dict()
    assert claim_problems("x", unmeasured) == []
    assert "numbers say 'unmeasured'" in claim_problems("x", {**unmeasured, "verdict": "above"})[0]
    assert claim_problems("y", rate_claim("a", proportion(0, 0), "b", proportion(3, 10)).to_dict()) == []


@pytest.mark.parametrize("parameters, message", [
    ({"methods": "negrad"}, "unknown method 'negrad'"),
    ({"n_seeds": 1}, "n_seeds=1 is out of range: n_seeds must be an integer from 2 to 20"),
    ({"scenario": "rand:0.1"}, "unknown forget kind 'rand'"),
    ({"method": "ga"}, "unknown notebook parameter(s) method: this notebook takes preset, model, methods, scenario, n_seeds"),
])
def test_notebook_09_names_each_bad_parameter(parameters, message):
    with pytest.raises(ValueError) as info:
        run_validation("09_which_unlearning_method", parameters)
    assert message in str(info.value)
