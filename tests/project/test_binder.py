"""Binder and conda get what CI tests: requirements.lock, the files generated from it, and Binder's Dockerfile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from qmu_kit import _environment
from qmu_kit._environment import LOCK, check, read_lock, write

ROOT = Path(__file__).resolve().parents[2]


def copy_project(tmp_path: Path) -> Path:
    """A scratch checkout with the committed environment files (for tests that break them on purpose)."""
    root = tmp_path / "checkout"
    for relative in ["pyproject.toml", LOCK, *_environment.generated_files({}), "README.md"]:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, target)
    return root


def test_the_pinned_files_agree_with_pyproject_and_the_installed_environment():
    result = check(ROOT)
    assert result.ok, result.report()


def test_write_reproduces_the_committed_files_from_the_installed_environment(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(ROOT / "README.md", root / "README.md")
    write(root)
    for relative in _environment.generated_files({}):
        assert (root / relative).read_text() == (ROOT / relative).read_text(), relative


def test_check_names_every_difference_and_the_command_that_fixes_it(tmp_path):
    root = copy_project(tmp_path)
    lock = (root / LOCK).read_text()
    numpy = read_lock(lock)["numpy"]
    lock = lock.replace(f"numpy=={numpy}\n", "numpy==1.26.4\n")  # a stale pin, outside pyproject's range
    lock = re.sub(r"^tqdm==.*\n", "", lock, flags=re.M)  # a direct requirement missing
    lock += "left-pad==1.0.0\n"  # a pin nothing needs
    (root / LOCK).write_text(lock)
    (root / "binder" / "requirements.txt").write_text("numpy\n")  # edited by hand
    problems = "\n".join(check(root).problems)
    assert "pyproject.toml requires numpy<3,>=2.0 but requirements.lock pins numpy==1.26.4" in problems
    assert f"numpy {numpy} is installed but requirements.lock pins 1.26.4" in problems
    assert "pyproject.toml requires tqdm" in problems and "does not pin tqdm" in problems
    assert "requirements.lock pins left-pad==1.0.0 but nothing installed needs it" in problems
    assert "binder/requirements.txt differs" in problems
    assert "environment.yml differs" in problems  # generated from the (now different) lock
    assert "make lock" in check(root).report()

    completed = subprocess.run(
        [sys.executable, "-m", "qmu_kit._environment", "check", "--root", str(root)], capture_output=True, text=True
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().endswith("Regenerate it with: make lock")


def test_a_new_dependency_in_pyproject_is_reported_until_the_lock_is_regenerated(tmp_path):
    root = copy_project(tmp_path)
    pyproject = (root / "pyproject.toml").read_text()
    pyproject = pyproject.replace('"tqdm>=4.66,<5",', '"tqdm>=4.66,<5",\n    "no-such-package-qmu>=1",')
    (root / "pyproject.toml").write_text(pyproject)
    problems = check(root).problems
    assert any("no-such-package-qmu (required by qmu-kit) is not installed" in p for p in problems), problems
    assert any("requires no-such-package-qmu>=1 but requirements.lock does not pin" in p for p in problems)


def test_every_pyproject_requirement_and_the_cpu_torch_are_pinned():
    lock_text = (ROOT / LOCK).read_text()
    pins = read_lock(lock_text)
    for requirement in _environment.project_requirements(ROOT):
        assert requirement.specifier.contains(pins[requirement.name.lower()], prereleases=True), requirement
    assert pins["torch"] == "2.13.0"
    assert not any(name.startswith("nvidia-") for name in pins)  # the CPU build: no CUDA libraries
    # make venv installs that torch alone from PyTorch's CPU index, the index Binder's and conda's files name
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^TORCH_INDEX \?= {re.escape(_environment.EXTRA_INDEX)}$", makefile, re.M)
    assert "--no-deps --extra-index-url $(TORCH_INDEX) $$(grep '^torch==' requirements.lock)" in makefile
    assert "--extra-index-url" not in lock_text  # every other package comes from the default index only
    for generated in ("binder/requirements.txt", "environment.yml"):
        assert f"--extra-index-url {_environment.EXTRA_INDEX}" in (ROOT / generated).read_text()


def test_binder_builds_with_pip_from_the_pinned_file_and_installs_the_kit():
    binder = ROOT / "binder"
    # repo2docker prefers a conda environment.yml (and Pipfile, setup.py, ...) over requirements.txt
    assert sorted(p.name for p in binder.iterdir()) == ["postBuild", "requirements.txt", "runtime.txt"]
    assert read_lock((binder / "requirements.txt").read_text()) == read_lock((ROOT / LOCK).read_text())
    post_build = binder / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert re.search(r"^pip install --no-deps -e \.$", post_build.read_text(), re.M)
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    runtime = (binder / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info[0]}.{sys.version_info[1]}"
    assert runtime.removeprefix("python-") in SpecifierSet(requires_python)


def test_conda_environment_is_python_and_pip_from_conda_forge_then_the_pinned_list():
    import yaml

    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    *conda, pip_section = environment["dependencies"]
    assert conda == [f"python={_environment.PYTHON}", "pip"]
    assert pip_section["pip"][0] == f"--extra-index-url {_environment.EXTRA_INDEX}"
    assert read_lock("\n".join(pip_section["pip"])) == read_lock((ROOT / LOCK).read_text())


# Runs repo2docker in-process with every non-loopback connection refused: proof that --no-build needs no network.
OFFLINE_REPO2DOCKER = """
import socket, sys
def refuse(sock, address, *rest):
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
        raise OSError(f"network access attempted: {address!r}")
    return ORIGINAL[refuse.name](sock, address, *rest)
ORIGINAL = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex}
def guard(name):
    def guarded(sock, address, *rest):
        refuse.name = name
        return refuse(sock, address, *rest)
    return guarded
socket.socket.connect, socket.socket.connect_ex = guard("connect"), guard("connect_ex")
from repo2docker.__main__ import main
sys.argv = ["jupyter-repo2docker", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def dockerfile():
    completed = subprocess.run(
        [sys.executable, "-c", OFFLINE_REPO2DOCKER, "--no-build", "--debug",
         "--user-id", "1000", "--user-name", "jovyan", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "network access attempted" not in completed.stderr
    return completed.stdout, completed.stderr


def test_repo2docker_writes_a_dockerfile_that_installs_the_pinned_file_and_the_kit(dockerfile):
    text, log = dockerfile
    assert "FROM " in text and "Building conda environment for python=3.11" in log
    assert re.search(r"^COPY .*src/binder/requirements\.txt \$\{REPO_DIR\}/binder/requirements\.txt$", text, re.M)
    install = r'^RUN \$\{KERNEL_PYTHON_PREFIX\}/bin/pip install --no-cache-dir -r "binder/requirements\.txt"$'
    assert re.search(install, text, re.M)
    assert re.search(r"^RUN \./binder/postBuild$", text, re.M)
    # neither of the repository's conda files is used (only repo2docker's own base environment)
    assert "environment.yml" not in text


def test_the_binder_image_serves_jupyterlab_and_voila(dockerfile):
    import importlib.metadata as metadata

    text, _ = dockerfile
    assert re.search(r'^CMD \["jupyter", ', text, re.M)  # a Jupyter server; Binder opens lab/ or voila/ on it
    pins = read_lock((ROOT / "binder" / "requirements.txt").read_text())
    for name in ("jupyterlab", "voila"):
        assert pins[name] == metadata.version(name)
        # pip installing them enables their server extensions: the /lab and /voila URLs the badges open
        files = [str(f) for f in metadata.distribution(name).files]
        assert any(f.endswith(f"jupyter_server_config.d/{name}.json") for f in files), name


BADGE = re.compile(r"https://mybinder\.org/v2/gh/([^/\s)]+/[^/\s)]+)/([^?\s)]+)\?urlpath=([^\s)]+)")


def test_every_binder_badge_uses_the_one_repository_line_and_opens_an_existing_path():
    repository = _environment.binder_repository(ROOT)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+", repository)
    files = [ROOT / "README.md", *sorted((ROOT / "notebooks").rglob("*.ipynb"))]
    badges = [(path, match) for path in files for match in BADGE.finditer(path.read_text())]
    assert len(badges) >= 2
    for path, match in badges:
        assert match.group(1) == repository, f"{path.name}: {match.group(0)}"
        target = re.sub(r"^(lab/tree|voila/tree|voila/render)/", "", match.group(3))
        assert (ROOT / target).exists(), f"{path.name}: {match.group(0)} opens a missing {target}"


def test_write_points_the_badges_at_the_repository_line(tmp_path):
    root = copy_project(tmp_path)
    readme = (root / "README.md").read_text()
    repository = _environment.binder_repository(root)
    readme = readme.replace(f"Binder repository: `{repository}`", "Binder repository: `someone/fork`")
    (root / "README.md").write_text(readme)
    assert any("README.md: a Binder badge" in p for p in check(root).problems)
    write(root)
    assert all(match.group(1) == "someone/fork" for match in BADGE.finditer((root / "README.md").read_text()))
    assert check(root).ok, check(root).report()
