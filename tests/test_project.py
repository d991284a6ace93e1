"""The project's set-up files agree with each other: pyproject.toml is the source of truth."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"playwright": "playwright-python"}
# installed from pip inside the conda environment (the CPU build of torch lives on PyTorch's index)
PIP_IN_CONDA = {"torch"}


def split_requirement(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*", text)
    return match.group(1).lower(), match.group(3).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return dict(split_requirement(r) for r in requirements)


def conda_requirements(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    environment = yaml.safe_load(path.read_text())
    assert environment["channels"] == ["conda-forge"]
    conda, pip = {}, {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip.update(split_requirement(line) for line in entry["pip"] if not line.startswith("-"))
        else:
            name, spec = split_requirement(entry)
            if name not in ("python", "pip"):
                conda[name] = spec.lstrip("=") if spec.startswith("=") and not spec.startswith("==") else spec
    return conda, pip


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    expected = pyproject_requirements()
    conda, pip = conda_requirements(ROOT / "environment.yml")
    from_conda = {name: spec for name, spec in expected.items() if name not in PIP_IN_CONDA}
    assert conda == {CONDA_NAMES.get(name, name): spec for name, spec in from_conda.items()}
    assert pip == {name: expected[name] for name in PIP_IN_CONDA}


def test_binder_uses_the_same_environment_and_installs_the_kit():
    binder = ROOT / "binder" / "environment.yml"
    assert binder.read_text() == (ROOT / "environment.yml").read_text()
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_torch_is_pinned_to_the_cpu_build_in_one_place():
    assert pyproject_requirements()["torch"] == "==2.13.0"
    assert "torch==" not in (ROOT / "Makefile").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^CI=true make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert [line for line in first_block.splitlines() if line and not line.startswith("#")] == ["make app", "make test"]
