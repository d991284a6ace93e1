"""The project's set-up files agree with each other (the pinned environment files: tests/project/test_binder.py)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def _estimates_in(paths) -> list[tuple[float, float, float]]:
    """Every (value, low, high) stored in these JSON files (any ``{"value", "ci95": [low, high]}``)."""
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

    for path in paths:
        walk(json.loads(Path(path).read_text()))
    return found


def _recorded_estimates():
    """Every (value, low, high) the notebooks recorded (tests/notebook_references), claims' estimates included."""
    return _estimates_in(sorted((ROOT / "tests" / "notebook_references").glob("*.json")))


def _assert_quoted_estimates_are_stored(section: str, stored, where: str, at_least: int) -> None:
    """Each "v [low, high]" in ``section`` is one of ``stored``, to its printed digits."""
    number = r"(-?\d+\.\d+)"
    quoted = re.findall(rf"{number} \[{number}, {number}\]", section)
    assert len(quoted) >= at_least, quoted
    for triple in quoted:
        # Rounded to the printed decimals: within half a unit of the last digit (plus float dust).
        slack = [0.5 * 10 ** -len(x.split(".")[1]) + 1e-9 for x in triple]
        wanted = [float(x) for x in triple]
        assert any(
            all(abs(r - w) <= s for r, w, s in zip(record, wanted, slack)) for record in stored
        ), f"the text states {triple[0]} [{triple[1]}, {triple[2]}], which {where} does not hold"


GUIDES = ROOT / "docs" / "guides"


def test_measured_guide_quotes_recorded_intervals():
    """Every "v [low, high]" the measured guide states is a recorded estimate, to its printed digits."""
    section = (GUIDES / "measured.md").read_text()
    _assert_quoted_estimates_are_stored(section, _recorded_estimates(), "no notebook reference", at_least=10)


def test_tuning_table_is_the_committed_tuning_run():
    """The tuned defaults' table (the reproduction guide) quotes ``reports/tuning_classroom.json`` (``qmu-kit tune --json``), read
    back through :class:`~qmu_kit.studies.tuning.TuningResult`, every interval to its printed digits; the
    knobs it chose are the tuned defaults the kit ships."""
    from qmu_kit.studies.tuning import TuningResult
    from qmu_kit.unlearning.tuned_defaults import TUNED_DEFAULTS

    guide = (GUIDES / "reproducing-the-paper.md").read_text()
    section = re.search(r"^The tuned defaults .*?^The published settings", guide, re.S | re.M).group(0)
    result = TuningResult.from_json(ROOT / "reports" / "tuning_classroom.json")
    table = result.table()
    stored = [(row[name], row[f"{name}_low"], row[f"{name}_high"]) for _, row in table.iterrows()
              for name in ("forget acc", "MIA success", "retain test acc", "distance to retrained")]
    _assert_quoted_estimates_are_stored(section, stored, "reports/tuning_classroom.json", at_least=6)
    assert {method: dict(knobs) for method, knobs in result.chosen.items()} == TUNED_DEFAULTS


def test_verification_numbers_are_the_committed_verify_runs():
    """The verification guide's table and prose quote ``reports/verify_classroom_k16*.json`` (the
    ``qmu-kit verify --json`` output of the runs it names), every interval to its printed digits."""
    section = (GUIDES / "verification.md").read_text()
    reports = sorted((ROOT / "reports").glob("verify_classroom_k16*.json"))
    assert len(reports) == 2, reports  # exact readout and 1000 shots
    _assert_quoted_estimates_are_stored(section, _estimates_in(reports), "no reports/verify_classroom_k16*.json",
                                        at_least=30)

def _project_version(root: Path) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def test_changelog_newest_entry_is_the_pyproject_version():
    """A version bump comes with its changelog entry: the first ``## X.Y.Z`` of CHANGELOG.md is pyproject's."""
    entries = re.findall(r"^## (\S+)\s*$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert entries, "CHANGELOG.md has no '## X.Y.Z' entry"
    assert entries[0] == _project_version(ROOT), (entries[0], _project_version(ROOT))
    assert len(entries) == len(set(entries)), entries  # one entry per release


def test_version_is_the_installed_metadata_of_its_checkout():
    """``qmu_kit.__version__`` is the installed distribution's version, which is the ``pyproject.toml``
    version of the checkout it was installed from (a stale install after a version bump fails here)."""
    import json
    import urllib.parse
    from importlib.metadata import distributions

    import qmu_kit

    # The editable install's record (setuptools also leaves a qmu_kit.egg-info in the checkout, which a
    # checkout on sys.path shows first; it has no direct_url.json)
    installed = next(d for d in distributions(name="qmu-kit") if d.read_text("direct_url.json"))
    assert qmu_kit.__version__ == installed.version
    source = json.loads(installed.read_text("direct_url.json"))["url"]
    checkout = Path(urllib.parse.unquote(urllib.parse.urlparse(source).path))
    assert installed.version == _project_version(checkout), (checkout, installed.version)
