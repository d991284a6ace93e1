"""The project's set-up files agree with each other (the pinned environment files: tests/test_binder.py)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def split_requirement(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*", text)
    return match.group(1).lower(), match.group(3).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return dict(split_requirement(r) for r in requirements)


def test_torch_is_pinned_to_the_cpu_build_in_one_place():
    assert pyproject_requirements()["torch"] == "==2.13.0"
    assert not re.search(r"torch==\d", (ROOT / "Makefile").read_text())  # make venv takes the version from the lock


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^CI=true make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert [line for line in first_block.splitlines() if line and not line.startswith("#")] == ["make app", "make test"]


def _recorded_estimates():
    """Every (value, low, high) the notebooks recorded (tests/notebook_references), claims' estimates included."""
    import json

    found = []

    def walk(node):
        if isinstance(node, dict):
            if "value" in node and isinstance(node.get("ci95"), list) and len(node["ci95"]) == 2:
                found.append((node["value"], *node["ci95"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for path in sorted((ROOT / "tests" / "notebook_references").glob("*.json")):
        walk(json.loads(path.read_text()))
    return found


def test_readme_measured_section_quotes_recorded_intervals():
    """Every "v [low, high]" the README's measured section states is a recorded estimate, to its printed digits."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Measured on the 2-core reference machine\n(.*?)^## ", readme, re.S | re.M).group(1)
    number = r"(\d+\.\d+)"
    quoted = re.findall(rf"{number} \[{number}, {number}\]", section)
    assert len(quoted) >= 10, quoted
    recorded = _recorded_estimates()
    for triple in quoted:
        # Rounded to the printed decimals: within half a unit of the last digit (plus float dust).
        slack = [0.5 * 10 ** -len(x.split(".")[1]) + 1e-9 for x in triple]
        wanted = [float(x) for x in triple]
        assert any(
            all(abs(r - w) <= s for r, w, s in zip(record, wanted, slack)) for record in recorded
        ), f"README states {triple[0]} [{triple[1]}, {triple[2]}], which no notebook recorded"
