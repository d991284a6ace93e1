"""The numeric checks that replace exact printed outputs: tolerances, references, claims, thread counts.

``make test`` checks each notebook's recorded metrics against ``tests/notebook_references`` within
:func:`qmu_kit.report.claims.tolerance`; these tests check that machinery itself, and that the kit's numbers
stay within that tolerance when only the number of torch threads changes (what another CPU's
different reduction order does to the last bits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from qmu_kit.report.claims import agrees, approximately, auc_claim, auc_from_roc, measured, rate_claim, tolerance
from qmu_kit.core.stats import auc, proportion
from tests.notebook_tools import CHECK_CELL_ID, LEGACY_CHECK_MARK, ROOT, disagreements, load_references, notebook_paths, prepare


def test_the_tolerance_is_two_samples_or_three_standard_deviations():
    assert tolerance(0.0, 30) == pytest.approx(2 / 30)  # at 0 the sd vanishes: two samples' worth
    assert tolerance(0.5, 700) == pytest.approx(3 * (0.25 / 700) ** 0.5)
    with pytest.raises(ValueError, match="n=0 is out of range"):
        tolerance(0.5, 0)
    with pytest.raises(ValueError, match="n=None is not valid"):
        tolerance(0.5, None)
    with pytest.raises(ValueError, match=r"relative=1 is out of range: relative must be a number in \(0, 1\)"):
        approximately(289, 1, "routing")


@pytest.mark.parametrize(
    "reference, actual, ok",
    [
        (measured(0.90, 700), measured(0.92, 700), True),     # 0.02 < 3 sd = 0.034
        (measured(0.90, 700), measured(0.95, 700), False),
        (measured(0.67, 30), measured(0.33, 30), False),      # SSD's knife edge is not hidden by the tolerance
        ("loss", "loss", True), (300, 301, False), (None, None, True),
        (0.123456, 0.1234561, True), (0.1234, 0.1235, False),  # floats without a count: arithmetic only
        (approximately(289, 0.1, "routing"), approximately(285, 0.1, "routing"), True),
        (approximately(289, 0.1, "routing"), 250, False),
    ],
)
def test_agreement_with_a_reference(reference, actual, ok):
    assert agrees(reference, actual)[0] is ok


def test_a_flipped_verdict_passes_only_when_its_numbers_stayed_within_tolerance():
    edge = auc_claim("AUC", auc([0.9, 0.8, 0.7, 0.4, 0.6, 0.65], [0.1, 0.5, 0.3, 0.2, 0.62, 0.55])).to_dict()
    flipped = {**edge, "verdict": "below" if edge["verdict"] != "below" else "above"}
    assert agrees(edge, flipped)[0]  # same numbers: the rule's edge, not a different result
    moved = {**flipped, "estimates": {"auc": {**edge["estimates"]["auc"], "value": edge["estimates"]["auc"]["value"] + 0.5}}}
    assert not agrees(edge, moved)[0]


def test_disagreements_name_missing_extra_and_moved_metrics():
    reference = {"a": measured(0.9, 100), "b": "x"}
    assert disagreements(reference, {"a": measured(0.91, 100), "b": "x"}) == []
    problems = disagreements(reference, {"a": measured(0.5, 100), "c": 1})
    assert any(p.startswith("a: ") for p in problems) and any("b: in the reference" in p for p in problems)
    assert any("c: recorded, but not in the reference" in p for p in problems)


def test_auc_from_a_stored_roc_curve_matches_the_scores():
    from sklearn.metrics import roc_curve

    import numpy as np

    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0.3, 1, 40).round(1), rng.normal(0, 1, 35).round(1)  # rounded: ties
    fpr, tpr, _ = roc_curve(np.r_[np.ones(40), np.zeros(35)], np.r_[members, nonmembers])
    rebuilt, direct = auc_from_roc({"fpr": fpr.tolist(), "tpr": tpr.tolist()}, 40, 35), auc(members, nonmembers)
    assert rebuilt.value == pytest.approx(direct.value, abs=1e-9)
    assert rebuilt.ci95 == pytest.approx(direct.ci95, abs=0.01) and rebuilt.p_value == pytest.approx(direct.p_value, abs=0.02)
    # results store the curve rounded (metrics.ROC_DECIMALS): the counts it gives back are the same
    from qmu_kit.leakage.metrics import ROC_DECIMALS

    stored = {"fpr": [round(v, ROC_DECIMALS) for v in fpr], "tpr": [round(v, ROC_DECIMALS) for v in tpr]}
    assert auc_from_roc(stored, 40, 35) == rebuilt


def test_rates_claim_follows_the_intervals():
    assert rate_claim("a", proportion(28, 30), "b", proportion(42, 70)).verdict == "above"
    assert rate_claim("a", proportion(16, 30), "b", proportion(42, 70)).verdict == "same"


def test_prepared_copies_compare_no_printed_numbers_and_end_in_the_reference_check(tmp_path):
    for path in prepare(tmp_path):
        notebook = nbformat.read(path, as_version=4)
        assert all(LEGACY_CHECK_MARK not in cell.source for cell in notebook.cells)
        name = path.relative_to(tmp_path).as_posix().replace("/", "__").removesuffix(".ipynb")
        has_check = notebook.cells[-1].get("id") == CHECK_CELL_ID
        assert has_check == bool(load_references(name)), path


def test_every_series_notebook_that_records_metrics_has_a_reference():
    # 05 joins once its records carry sample counts (devices branch): a strict reference of its bare
    # floats would fail on another CPU, the very failure these checks replace.
    for path in notebook_paths():
        records = any("record_metrics(" in cell.source or "show(" in cell.source
                      for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        if records and path.parent.name == "notebooks" and not path.stem.startswith("05"):
            assert load_references(path), f"{path.name} records metrics but has no reference: python -m tests.notebook_tools update"


_THREADS_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(int(sys.argv[1]))
from qmu_kit.report.claims import measure, recordable
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment
# The classroom experiment, shortened: 10 epochs, GA only, no LiRA shadows (every stage still runs).
result = run_experiment(ExperimentConfig.from_preset("classroom", epochs=10, methods=("ga",), attacks=("mlp", "loss")), cache=False)
numbers = {f"{model}.{name}": recordable(measure(result, model, name)) for model in result.models
           for name in ("acc_train_forget", "acc_test_forget", "acc_test_retain", "mia_success_forget", "mia_auc_overall")}
# the thread count after the run: nothing in the kit may have reset it, or both runs used the same
print(json.dumps({"threads": torch.get_num_threads(), "numbers": numbers}))
"""


@pytest.mark.slow
def test_numbers_agree_across_torch_thread_counts(tmp_path):
    """The (shortened) classroom experiment with 1 and with 2 torch threads: every number within the tolerance.

    Both runs and any differences are written to test-artifacts/threads.json for the record.
    """
    # PASSIVE: torch's OpenMP threads sleep instead of spinning while they wait for work, so the 2-thread run
    # does not burn the core the other test worker needs (the numbers do not change; not timed on its own).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    runs = {}
    for threads in (1, 2):
        done = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, str(threads)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["threads"] == threads, f"asked for {threads} torch thread(s), the run used {out['threads']}"
        runs[threads] = out["numbers"]
    assert len(runs[1]) == 3 * 5, sorted(runs[1])  # original, retrained, ga: five numbers each (none compared is no check)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    differing = {key: (runs[1][key]["value"], runs[2][key]["value"]) for key in runs[1] if runs[1][key]["value"] != runs[2][key]["value"]}
    (artifacts / "threads.json").write_text(json.dumps({"1": runs[1], "2": runs[2], "differing": differing}, indent=1))
    assert disagreements(runs[1], runs[2]) == []
