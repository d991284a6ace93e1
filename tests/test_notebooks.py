"""The notebook series: structure, parameters, quoted numbers, and reruns through papermill.

nbval executes every notebook at its defaults (``make test``); here each notebook also runs once
through papermill with non-default parameters, and the numbers it records are checked.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from qmu_kit.notebook import read_metrics
from tests.notebook_tools import NOTEBOOKS, checked_cells, load_references, notebook_paths

ALL = notebook_paths()
SERIES = [p for p in ALL if p.parent == NOTEBOOKS]
SECTIONS = ["## Aims", "## Parameters", "## Background", "## Practice", "## Discussion", "## Exercises"]
#: Parameter names the notebooks may use: the CLI's, plus two notebook-specific ones.
PARAMETER_NAMES = {"preset", "model", "depth", "shots", "method", "attack", "seed", "n_seeds", "n_queries", "models"}
# Captured before the autouse fixture isolates each test: make test shares one cache between the
# nbval pass (defaults) and these reruns, so unchanged trained models are reused.
SHARED_CACHE = os.environ.get("QMU_KIT_CACHE")


def read(path: Path):
    return nbformat.read(path, as_version=4)


def test_the_series_is_complete():
    assert [p.stem for p in SERIES] == [
        "00_start_here", "01_qnn_classifiers", "02_membership_leakage", "03_quantum_unlearning",
        "04_shots_privacy_and_stability", "05_noisy_devices", "06_did_it_really_forget",
    ]


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


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_every_checked_cell_has_a_reference(path):
    references = load_references(path)
    assert {c.id for c in checked_cells(read(path))} == set(references)


def quoted_in(number: str, text: str) -> bool:
    """Whether ``number`` appears in ``text`` as a whole number, not as part of a longer one."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text) is not None


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.stem)
def test_numbers_in_the_prose_are_the_checked_outputs(path):
    """Every bold number in the text must appear in the output of a checked cell above it.

    Whole numbers only: 0.60 is not found inside 0.605 or 10.60, nor 63 inside 0.63 or 631.
    """
    references = load_references(path)
    seen = ""
    for cell in read(path).cells:
        if cell.cell_type == "code" and cell.id in references:
            seen += json.dumps(references[cell.id], ensure_ascii=False)  # "±0.60", not "\u00b10.60"
        elif cell.cell_type == "markdown":
            for number in re.findall(r"\*\*(\d+(?:\.\d+)?)\*\*", cell.source):
                assert quoted_in(number, seen), (
                    f"{path.name}: the text quotes {number}, which no checked output above shows"
                )


@pytest.mark.parametrize(
    "quoted, output, found",
    [("0.60", "auc 0.605", False), ("0.60", "auc 10.60", False), ("0.60", "auc 0.60\n", True), ("0.60", "[0.60, 1]", True),
     ("0.60", "0.50 ±0.60", True), ("63", "0.63", False), ("63", "631 gates", False), ("63", "depth 63,", True)],
)
def test_quoted_numbers_match_whole_numbers_only(quoted, output, found):
    seen = json.dumps([{"text": output}], ensure_ascii=False)
    assert quoted_in(quoted, seen) is found


def _check_00(m):
    assert abs(m["spread_100_shots"] - m["theory_100_shots"]) < 0.01


def _check_01(m):
    assert (m["model"], m["depth"]) == ("basic", 2)
    assert 0.3 < m["test_accuracy"] < 0.95 and m["train_accuracy"] > 0.3


def _check_02(m):
    assert (m["attack"], m["shots"]) == ("loss", 300)
    assert 0.5 < m["auc_overall"] < 0.9 and m["test_accuracy"] > 0.85
    assert 0 <= m["control"] <= 1 and 0 <= m["mia_success_forget"] <= 1


def _check_03(m):
    assert (m["method"], m["shots"]) == ("rga", 300)
    assert m["acc_train_forget"] <= 0.1 + m["retrained_acc_train_forget"]
    assert m["acc_test_retain"] >= m["original_acc_test_retain"] - 0.10
    assert m["mia_success_forget"] < m["original_mia_success_forget"] and m["speedup_vs_retrain"] > 1


def _check_04(m):
    assert m["n_seeds"] == 2
    assert m["loss_auc_exact"] > 0.5 and m["test_accuracy_10_shots"] < m["test_accuracy_exact"]


def _check_05(m):
    assert (m["shots"], m["n_queries"]) == (500, 60)
    assert m["accuracy_fake"] < m["accuracy_noiseless"]


def _check_06(m):
    assert (m["method"], m["shots"], m["models"]) == ("rga", 100, 4)
    assert 0 <= m["none_forgetting_quality"] < m["retrain_forgetting_quality"] <= 1
    assert 0 <= m["forgetting_quality"] <= 1 and 0 <= m["streisand_auc"] <= 1 and m["relearn_steps"] >= 0


RERUNS = {
    "00_start_here": ({"seed": 3}, _check_00),
    "01_qnn_classifiers": ({"model": "basic", "depth": 2}, _check_01),
    "02_membership_leakage": ({"shots": 300, "attack": "loss"}, _check_02),
    "03_quantum_unlearning": ({"method": "rga", "shots": 300}, _check_03),
    "04_shots_privacy_and_stability": ({"n_seeds": 2}, _check_04),
    "05_noisy_devices": ({"shots": 500, "n_queries": 60}, _check_05),
    "06_did_it_really_forget": ({"method": "rga", "shots": 100, "models": 4}, _check_06),
}


@pytest.fixture
def notebook_cache(tmp_path_factory, monkeypatch):
    directory = SHARED_CACHE or str(tmp_path_factory.getbasetemp() / "notebook-cache")
    monkeypatch.setenv("QMU_KIT_CACHE", directory)
    return directory


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


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"shot": 100}, "unknown notebook parameter(s) shot: this notebook takes preset, model, depth, shots, attack, seed"),
        ({"shots": 0}, "shots=0 is out of range: shots must be 'exact' (None) or an integer from 1 to 1000000"),
        ({"shots": -5}, "shots=-5 is out of range"),
        ({"shots": 2.5}, "shots=2.5 is not valid"),
        ({"depth": 0}, "depth=0 is out of range"),
        ({"model": "quantum"}, "unknown model 'quantum'"),
        ({"attack": "guess"}, "unknown attack 'guess'"),
        ({"preset": "tiny"}, "unknown preset 'tiny'"),
    ],
)
def test_papermill_refuses_bad_parameters_at_the_validation_cell(parameters, message, tmp_path, notebook_cache):
    import papermill

    output = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        execute("02_membership_leakage", parameters, output)
    assert message in str(info.value)
    executed = nbformat.read(output, as_version=4)
    failed = [c for c in executed.cells if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)]
    assert len(failed) == 1 and "check_parameters" in failed[0].source  # stopped at validation, nothing ran after
