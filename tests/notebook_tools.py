"""Notebook test support: the recorded metrics of every notebook against references, with tolerances.

The notebooks are committed without outputs. Each records the numbers it states with
:func:`qmu_kit.report.notebook.record_metrics` (rates and AUCs with their sample counts) and its claims with
:func:`qmu_kit.report.claims.show`; the references, measured on the reference machine, live in
``tests/notebook_references/<name>.json``.

    python -m tests.notebook_tools update [NAME ...]   # execute the notebooks, store their metrics
    python -m tests.notebook_tools prepare DIR         # copies for nbval, each ending in the check

``make test`` runs ``prepare`` and then ``pytest --nbval-lax`` on the copies: nbval executes every
notebook top to bottom (any error fails) and compares no printed floats; the cell ``prepare`` appends
compares the metrics the kernel recorded with the reference, each within
:func:`qmu_kit.report.claims.tolerance` (a rate over ``n`` samples may move by ``max(2/n, 3 sd)`` on another
CPU), every claim must reach the reference's verdict (unless its numbers stayed within the tolerance),
and every claim must follow from its own numbers (:func:`claim_problems`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REFERENCES = Path(__file__).resolve().parent / "notebook_references"
#: nbval's exact-output marker: copies for nbval neutralize it, so no printed float is compared.
LEGACY_CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECK_CELL_ID = "qmu-kit-reference-check"


def notebook_paths() -> list[Path]:
    """Every notebook of the kit: the series and the apps."""
    return sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "apps").glob("*.ipynb"))


def notebook_name(notebook: Path) -> str:
    return notebook.relative_to(NOTEBOOKS).as_posix().replace("/", "__").removesuffix(".ipynb")


def reference_path(notebook: Path | str) -> Path:
    name = notebook if isinstance(notebook, str) else notebook_name(notebook)
    return REFERENCES / f"{name}.json"


def execute(path: Path, cwd: Path, parameters: dict | None = None) -> nbformat.NotebookNode:
    import papermill

    return papermill.execute_notebook(str(path), None, parameters=parameters or {}, cwd=str(cwd),
                                      kernel_name="python3", progress_bar=False)


def load_references(path: Path | str) -> dict:
    """The reference metrics of a notebook (``{}`` when it records none)."""
    target = reference_path(path)
    return json.loads(target.read_text())["metrics"] if target.exists() else {}


def update(names: list[str] | None = None) -> None:
    """Execute the notebooks (a fresh cache unless ``QMU_KIT_CACHE`` is set) and store the metrics they record as their references."""
    from qmu_kit.report.notebook import read_metrics

    REFERENCES.mkdir(exist_ok=True)
    # A fresh cache unless one is given: a cached replay is bit-identical to its cold run (same code
    # fingerprint), so reusing a cache only saves time.
    os.environ.setdefault("QMU_KIT_CACHE", tempfile.mkdtemp(prefix="qmu-references-"))
    for path in notebook_paths():
        if names and notebook_name(path) not in names:
            continue
        metrics = read_metrics(execute(path, path.parent))
        target = reference_path(path)
        if metrics:
            target.write_text(json.dumps({"metrics": metrics}, indent=1, sort_keys=True) + "\n")
        elif target.exists():
            target.unlink()
        print(f"{path.relative_to(ROOT)}: {len(metrics)} metric(s)")


def disagreements(reference: dict, recorded: dict) -> list[str]:
    """Every way ``recorded`` differs from ``reference`` beyond the tolerance (empty when they agree)."""
    from qmu_kit.report.claims import agrees

    problems = [f"{key}: recorded, but not in the reference (run python -m tests.notebook_tools update)"
                for key in sorted(set(recorded) - set(reference))]
    for key in sorted(reference):
        if key not in recorded:
            problems.append(f"{key}: in the reference, but the notebook did not record it")
            continue
        ok, why = agrees(reference[key], recorded[key])
        if not ok:
            problems.append(f"{key}: {why}")
    return problems


def claim_problems(name: str, claim: dict) -> list[str]:
    """Why a recorded claim disagrees with its own numbers (empty when it agrees)."""
    rule, verdict, numbers, text = claim["rule"], claim["verdict"], claim["estimates"], claim["text"]
    if rule in ("auc_vs_chance", "rates_overlap") and any(v.get("value") is None for v in numbers.values()):
        # nothing measured (NaN is stored as None): auc_claim says "unmeasured", rate_claim's intervals do not separate
        expected, shown = ("unmeasured" if rule == "auc_vs_chance" else "same"), "n/a" if rule == "rates_overlap" else "nan"
    elif rule == "auc_vs_chance":
        auc = numbers["auc"]
        low, high = auc["ci95"]
        significant = auc.get("p_value") is not None and auc["p_value"] < 0.05
        expected = "above" if low > 0.5 and significant else "below" if high < 0.5 and significant else "chance"
        shown = f"{auc['value']:.2f}"
    elif rule == "rates_overlap":
        a, b = numbers["rate"], numbers["other"]
        expected = "above" if a["ci95"][0] > b["ci95"][1] else "below" if a["ci95"][1] < b["ci95"][0] else "same"
        digits = 3 if max(abs(a["value"]), abs(b["value"])) < 0.1 else 2  # rate_claim's third decimal for small values
        shown = f"{a['value']:.{digits}f}"
    elif rule == "paired_difference":
        d = numbers["difference"]
        expected = ("unmeasured" if d["n"] < 2 else "increase" if d["ci95"][0] > 0 else "decrease" if d["ci95"][1] < 0 else "none")
        shown = f"{d['value']:+.3f}"
    elif rule == "tradeoff":
        down = {role: d["n"] >= 2 and d["ci95"][1] < 0 for role, d in numbers.items()}
        expected = {(True, True): "both", (True, False): "protection", (False, True): "cost", (False, False): "neither"}[
            (down["protection"], down["cost"])]
        shown = f"{numbers['protection']['value']:+.3f}"
    elif rule == "all_reached":
        hits = sum(v <= numbers["target"] + 1e-12 for v in numbers["values"])
        expected = "all" if hits == len(numbers["values"]) else "none" if hits == 0 else "some"
        shown = f"{hits} of {len(numbers['values'])}"
    else:
        return [f"{name}: unknown rule {rule!r}"]
    problems = []
    if verdict != expected:
        problems.append(f"{name}: states {verdict!r} but its numbers say {expected!r}: {text}")
    if shown not in text:
        problems.append(f"{name}: the sentence does not show its number {shown}: {text}")
    return problems


def check_recorded(name: str, recorded: dict | None = None) -> None:
    """Raise ``AssertionError`` when the metrics recorded in this kernel disagree with ``name``'s
    reference, or a claim it stated disagrees with its own numbers."""
    from qmu_kit.report.claims import recorded_claims
    from qmu_kit.report.notebook import RECORDED

    recorded = RECORDED if recorded is None else recorded
    problems = disagreements(load_references(name), recorded)
    problems += [problem for key, claim in recorded_claims(recorded).items() for problem in claim_problems(key, claim)]
    if problems:
        raise AssertionError(f"{name}: recorded metrics disagree with tests/notebook_references/{name}.json:\n- "
                             + "\n- ".join(problems))
    print(f"{name}: every recorded metric agrees with its reference")


def check_cell(name: str) -> nbformat.NotebookNode:
    source = (
        "# Added by tests/notebook_tools.py prepare (only in the copies nbval runs): the metrics this kernel\n"
        "# recorded against the reference, within qmu_kit.report.claims.tolerance.\n"
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        f"from tests.notebook_tools import check_recorded\ncheck_recorded({name!r})"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.id = CHECK_CELL_ID
    return cell


def prepare(destination: Path) -> list[Path]:
    """Write copies of every notebook for nbval: legacy exact-output marks neutralized, and a final
    cell comparing the recorded metrics with the reference (for notebooks that have one)."""
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code" and LEGACY_CHECK_MARK in cell.source:
                cell.source = cell.source.replace(LEGACY_CHECK_MARK, "# (numbers checked through recorded metrics)")
        if reference_path(path).exists():
            notebook.cells.append(check_cell(notebook_name(path)))
        target = destination / path.relative_to(NOTEBOOKS)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    return written


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update(sys.argv[2:] or None)
    elif command == "prepare" and len(sys.argv) == 3:
        for path in prepare(Path(sys.argv[2])):
            print(path)
    else:
        raise SystemExit("usage: python -m tests.notebook_tools update [NAME ...] | prepare DIR")


def run_validation(name: str, parameters: dict) -> dict:
    """Notebook ``name``'s parameters cell, papermill's injected cell with ``parameters`` and the
    validation cell after them, run in this process as papermill runs them (the injected names are
    found through IPython's input history ``In``); returns the namespace. A bad parameter raises the
    ValueError the notebook would show."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    first = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    parameters_cell, validation_cell = code[first].source, code[first + 1].source
    injected = "# Parameters\n" + "".join(f"{key} = {value!r}\n" for key, value in parameters.items())
    namespace = {"In": ["", parameters_cell, injected, validation_cell]}
    for source in (parameters_cell, injected, validation_cell):
        exec(source, namespace)
    return namespace
