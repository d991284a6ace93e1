"""Notebook test support: reference outputs for nbval, kept outside the (stripped) notebooks.

The notebooks are committed without outputs. The few cells whose numbers the prose quotes start with
``# NBVAL_CHECK_OUTPUT``; their expected outputs live in ``tests/notebook_references/<name>.json``.

    python -m tests.notebook_tools update          # execute every notebook, store the references
    python -m tests.notebook_tools prepare DIR     # copies with references injected, for nbval

``make test`` runs ``prepare`` and then ``pytest --nbval-lax`` on the copies, so nbval executes every
notebook top to bottom and compares exactly the quoted cells.
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
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def notebook_paths() -> list[Path]:
    """Every notebook of the kit: the series and the apps."""
    return sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "apps").glob("*.ipynb"))


def reference_path(notebook: Path) -> Path:
    return REFERENCES / f"{notebook.relative_to(NOTEBOOKS).as_posix().replace('/', '__').removesuffix('.ipynb')}.json"


def checked_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.lstrip().startswith(CHECK_MARK)]


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def update() -> None:
    """Execute every notebook (fresh cache) and store the outputs of its checked cells."""
    REFERENCES.mkdir(exist_ok=True)
    os.environ["QMU_KIT_CACHE"] = tempfile.mkdtemp(prefix="qmu-references-")
    for path in notebook_paths():
        executed = execute(path, path.parent)
        references = {cell.id: cell.outputs for cell in checked_cells(executed)}
        target = reference_path(path)
        if references:
            target.write_text(json.dumps(references, indent=1, sort_keys=True) + "\n")
        elif target.exists():
            target.unlink()
        print(f"{path.relative_to(ROOT)}: {len(references)} checked cell(s)")


def load_references(path: Path) -> dict:
    target = reference_path(path)
    return json.loads(target.read_text()) if target.exists() else {}


def prepare(destination: Path) -> list[Path]:
    """Write copies of every notebook with the reference outputs in their checked cells."""
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        references = load_references(path)
        for cell in checked_cells(notebook):
            if cell.id not in references:
                raise SystemExit(f"{path}: checked cell {cell.id} has no reference output; run python -m tests.notebook_tools update")
            cell.outputs = [nbformat.from_dict(output) for output in references[cell.id]]
            cell.execution_count = 1  # nbval treats a cell with outputs but no count as broken
        target = destination / path.relative_to(NOTEBOOKS)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    return written


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update()
    elif command == "prepare" and len(sys.argv) == 3:
        for path in prepare(Path(sys.argv[2])):
            print(path)
    else:
        raise SystemExit("usage: python -m tests.notebook_tools update | prepare DIR")
