"""``make lab``: JupyterLab on the notebooks, localhost only, offline, with the kit's environment as the kernel.

The browser test drives Debian's Chromium (``make chromium``) with playwright, on loopback only, and runs
the first cells of notebook 00 in a scratch copy (JupyterLab autosaves: the committed notebook stays clean).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qmu_kit.apps.lab import DEFAULT_PORT, kernel_spec, lab_command, write_kernel_directory, write_settings_directory
from tests.apps.test_app_browser import free_port, listening_addresses
from tests.browser_tools import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def run_lab(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qmu_kit.apps.lab", "--no-browser", *args], capture_output=True, text=True, timeout=timeout,
        env=env, cwd=ROOT,
    )


def test_a_taken_port_stops_lab_with_one_line_before_starting_anything():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        completed = run_lab("--port", str(port))
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"qmu-kit: error: port {port} on 127.0.0.1 is already in use")
    assert "make lab LAB_PORT=N" in completed.stderr
    assert "LAB_PORT" in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    assert time.monotonic() - started < 30  # refused up front, JupyterLab never started


@pytest.mark.parametrize(
    "port, message",
    [
        ("70000", "port=70000 is out of range: port must be an integer from 1 to 65535"),
        ("http", "port='http' is not a whole number"),
    ],
)
def test_a_bad_port_is_one_line_naming_the_allowed_range(port, message):
    completed = run_lab("--port", port)
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"qmu-kit: error: {message}") and len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr


def test_lab_command_is_local_offline_and_never_moves_to_another_port():
    command = lab_command(ROOT / "notebooks")
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in command and f"--ServerApp.port={DEFAULT_PORT}" in command
    assert "--ServerApp.port_retries=0" in command
    assert {"--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"} <= set(command)
    assert not any("token" in part.lower() for part in command)  # the login token stays on
    with pytest.raises(ValueError, match="host='' is not valid"):
        lab_command(ROOT / "notebooks", host="")


def test_the_kernel_is_this_interpreter_with_this_checkout_first(tmp_path):
    spec = json.loads((write_kernel_directory(tmp_path) / "kernels" / "python3" / "kernel.json").read_text())
    assert spec == kernel_spec()
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert spec["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    # the display name the committed notebooks carry, so saving one in JupyterLab does not rewrite its metadata
    notebook = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    assert spec["display_name"] == notebook["metadata"]["kernelspec"]["display_name"]


def test_the_settings_answer_the_news_question_and_keep_the_environments_overrides(tmp_path, monkeypatch):
    import jupyterlab.commands

    app_dir = tmp_path / "app"
    (app_dir / "settings").mkdir(parents=True)
    theirs = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
              "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True}}
    (app_dir / "settings" / "overrides.json").write_text(json.dumps(theirs))
    monkeypatch.setattr(jupyterlab.commands, "get_app_dir", lambda: str(app_dir))
    written = json.loads((write_settings_directory(tmp_path / "private") / "overrides.json").read_text())
    assert written == {
        "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
        "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True, "fetchNews": "false",
                                                        "checkForUpdates": False},
    }
    command = lab_command(ROOT / "notebooks", settings_directory=tmp_path / "private")
    assert f"--LabApp.app_settings_dir={tmp_path / 'private'}" in command


def test_make_lab_runs_the_lab_module_on_localhost():
    completed = subprocess.run(["make", "-n", "-C", str(ROOT), "lab"], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    assert f"-m qmu_kit.apps.lab --host 127.0.0.1 --port {DEFAULT_PORT}" in completed.stdout


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """``python -m qmu_kit.apps.lab`` (what ``make lab`` runs) on a scratch copy of notebook 00, with a decoy
    ``python3`` kernel in the user's Jupyter directory that the kit's kernel must override."""
    base = tmp_path_factory.mktemp("lab")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_start_here.ipynb", notebooks)
    decoy = base / "data" / "kernels" / "python3"
    decoy.mkdir(parents=True)
    decoy_spec = {"argv": ["/bin/false", "{connection_file}"], "display_name": "decoy", "language": "python"}
    (decoy / "kernel.json").write_text(json.dumps(decoy_spec))
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "QMU_KIT_CACHE": str(base / "cache"),
    }
    port = free_port()
    log = open(base / "lab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "qmu_kit.apps.lab", "--no-browser", "--port", str(port), "--directory", str(notebooks)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early: {(base / 'lab.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError("JupyterLab did not start within 120 s") from None
            time.sleep(0.5)
    yield url, port, token, notebooks
    process.terminate()  # the wrapper forwards it: JupyterLab and its kernels stop too
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.browser
def test_lab_listens_on_localhost_only_with_the_kits_kernel_and_a_token(lab_server):
    url, port, token, _ = lab_server
    assert listening_addresses(port) == {"127.0.0.1"}
    specs = get_json(f"{url}/api/kernelspecs?token={token}")
    assert specs["kernelspecs"]["python3"]["spec"]["argv"][0] == sys.executable  # not the decoy in the user's directory
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/api/kernelspecs", timeout=10)
    assert refused.value.code == 403


@pytest.mark.slow
@pytest.mark.browser
def test_a_notebook_opens_in_jupyterlab_and_its_first_cells_run_offline(lab_server):
    if CHROMIUM is None:
        if shutil.which("apt-get") is None:
            pytest.skip("!!! BROWSER TESTS SKIPPED: Chromium is missing and apt-get is unavailable to install it !!!")
        pytest.fail(
            "Chromium is missing although apt-get is available: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    url, _, token, notebooks = lab_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside = []

    def loopback_only(route):
        host = route.request.url.split("/")[2].split(":")[0] if "://" in route.request.url else ""
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.route("**/*", loopback_only)
            page.goto(f"{url}/lab/tree/00_start_here.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            # the kernel has started and connected (the status bar reads "Python 3 (ipykernel) | Idle")
            page.wait_for_function("() => document.body.innerText.includes('(ipykernel) | Idle')", timeout=180_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")  # command mode: Shift+Enter runs the cell and selects the next
            for _ in range(17):  # cells 0-16: the primer, the prediction, the shot-noise panel and the measured spread
                page.keyboard.press("Shift+Enter")
            spread_cell = page.locator(".jp-CodeCell:has(.jp-OutputArea-output:has-text('each spread by'))")
            spread_cell.wait_for(timeout=180_000)
            page.wait_for_function("() => document.body.innerText.includes('(ipykernel) | Idle')", timeout=180_000)
            page.screenshot(path=str(ARTIFACTS / "lab-00-first-cells.png"), full_page=True)
            # its seven code cells ran in order, without an error, and this is the seventh: the reveal after the
            # prediction (nobody clicked, so it says so) with the measured spread beside the formula's
            assert spread_cell.locator(".jp-InputArea-prompt").inner_text().strip() == "[7]:"
            output = spread_cell.locator(".jp-OutputArea-output[data-mime-type='text/html']").inner_text()
            assert "No prediction was recorded" in output, output
            assert re.search(r"each spread by 0\.\d{3} around 0\.4 \(the formula: 0\.092\)", output), output
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
            assert "Traceback" not in page.inner_text(".jp-Notebook")
            assert page.locator(".jp-OutputArea-output .widget-slider").count() >= 1  # the shot-noise panel rendered
            assert "official Jupyter news" not in page.inner_text("body")  # no news question for every visitor
        finally:
            browser.close()
    assert outside == []  # nothing requested beyond 127.0.0.1
    sessions = get_json(f"{url}/api/sessions?token={token}")
    assert [s["kernel"]["name"] for s in sessions] == ["python3"]
