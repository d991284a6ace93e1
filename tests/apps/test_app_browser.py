"""The Voila apps in a real browser: Debian's Chromium driven by playwright.

``make test`` installs Chromium with apt-get when it is missing. Only where apt-get itself is
unavailable do these tests skip, loudly; anywhere else a missing browser is a failure.
Screenshots are saved under ``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from qmu_kit.apps.voila import UNUSED_LAB_EXTENSIONS, voila_command, voila_environment
from qmu_kit.apps.server import apps_directory
from tests.browser_tools import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LOAD_TIMEOUT_MS = 180_000
START_TIMEOUT_S = 300  # a loaded 2-core machine starting the preheated kernels


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (read from /proc, no traffic)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                if width == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


def start_voila(directory: Path, cache_dir: str, pool_size: int = 1):
    """Voila as ``qmu-kit app`` runs it (the kit's template, preheated kernels), with a small pool.

    Its log goes to a file (a pipe nobody reads would fill up and stall the server)."""
    import tempfile

    port = free_port()
    env = voila_environment({**os.environ, "QMU_KIT_CACHE": cache_dir})
    log = tempfile.NamedTemporaryFile(prefix="voila-", suffix=".log", delete=False)
    process = subprocess.Popen(voila_command(directory, "127.0.0.1", port, pool_size), env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited early: {Path(log.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/", timeout=10) as response:
                if response.status == 200:
                    return process, url, port
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"voila did not start within {START_TIMEOUT_S} s: {Path(log.name).read_text()[-2000:]}")


def stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium(ARTIFACTS)


@pytest.fixture(scope="module")
def server(warm_apps):
    process, url, port = start_voila(apps_directory(), warm_apps)  # warmed as `qmu-kit app` does before serving
    yield url, port
    stop(process)


def open_app(browser, url: str, name: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    page.goto(f"{url}/voila/render/{name}.ipynb", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("table.qmu-numbers", timeout=LOAD_TIMEOUT_MS)
    return page


def wait_ready(page) -> None:
    page.wait_for_selector(".qmu-ready", timeout=LOAD_TIMEOUT_MS)


def numbers(page) -> str:
    return page.inner_text("table.qmu-numbers")


def figure_png(page) -> bytes:
    return page.locator(".widget-image").first.screenshot()


def test_server_listens_on_localhost_only(server):
    _, port = server
    assert listening_addresses(port) == {"127.0.0.1"}


class OutsideRequests:
    """Blocks and records every request the browser makes to anything but 127.0.0.1."""

    def __init__(self, context):
        self.urls = []
        self.local = []  # what the page asked the kit's server for
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urllib.parse.urlparse(url).hostname == "127.0.0.1":
            self.local.append(url)
            route.continue_()
        else:
            self.urls.append(url)
            route.abort()


def test_landing_page_links_every_app_and_nothing_leaves_localhost(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_navigation_timeout(LOAD_TIMEOUT_MS)  # an app page arrives once its kernel has run it
    outside = OutsideRequests(context)
    page = context.new_page()
    page.goto(url + "/")
    names = {a.inner_text().strip() for a in page.query_selector_all("a.qmu-app")}
    assert names == {p.name for p in apps_directory().glob("*.ipynb")}
    page.screenshot(path=str(ARTIFACTS / "landing.png"))
    page.click("a.qmu-app:has-text('leakage.ipynb')")  # a real link, same tab
    page.wait_for_selector("table.qmu-numbers", timeout=LOAD_TIMEOUT_MS)
    assert page.url.split("?")[0] == f"{url}/voila/render/leakage.ipynb"
    page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)
    assert "def " not in page.inner_text("body") and "import" not in page.inner_text("body")  # no code cells
    page.screenshot(path=str(ARTIFACTS / "leakage.png"), full_page=True)
    context.close()
    assert outside.urls == []  # offline: no font, script or icon from the internet
    # the lab extensions no app uses are not sent (plotly's is installed: the widget manager's is sent)
    assert any("@jupyter-widgets" in u for u in outside.local)
    assert not [u for u in outside.local if any(name in u for name in UNUSED_LAB_EXTENSIONS)]


def test_a_crashed_kernel_costs_one_reload_not_the_server(browser, tmp_path):
    """A kernel killed (out of memory, a crash) while a visitor uses it: the server keeps serving and
    a reload gives the visitor a fresh, working kernel."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    code = (
        "import os, signal, ipywidgets as w\n"
        "pid = w.Label(str(os.getpid()), _dom_classes=['kernel-pid'])\n"
        "crash = w.Button(description='crash')\n"
        "crash.on_click(lambda _: os.kill(os.getpid(), signal.SIGKILL))\n"
        "echo = w.IntText(0, _dom_classes=['echo-in']); out = w.Label('', _dom_classes=['echo-out'])\n"
        "echo.observe(lambda c: setattr(out, 'value', f'got {c.new}'), 'value')\n"
        "w.VBox([pid, crash, echo, out])"
    )
    notebook = new_notebook(cells=[new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "crash.ipynb")
    process, url, _ = start_voila(tmp_path, str(tmp_path / "cache"), pool_size=1)
    try:
        page = browser.new_page()
        page.goto(url + "/voila/render/crash.ipynb", timeout=LOAD_TIMEOUT_MS)
        first_pid = int(page.locator(".kernel-pid").inner_text(timeout=LOAD_TIMEOUT_MS))
        page.click("text=crash")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(first_pid):
            time.sleep(0.2)
        assert not _alive(first_pid)
        with urllib.request.urlopen(url + "/", timeout=30) as response:  # the server is fine
            assert response.status == 200
        page.reload(timeout=LOAD_TIMEOUT_MS)
        second_pid = int(page.locator(".kernel-pid").inner_text(timeout=LOAD_TIMEOUT_MS))
        assert second_pid != first_pid and _alive(second_pid)
        page.fill(".echo-in input", "7")
        page.keyboard.press("Enter")
        page.wait_for_selector(".echo-out:has-text('got 7')", timeout=60_000)  # the new kernel answers
        assert process.poll() is None
        page.close()
    finally:
        stop(process)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_shots_slider_and_method_change_the_numbers_and_figure(browser, server):
    url, _ = server
    page = open_app(browser, url, "unlearning")
    wait_ready(page)
    page.screenshot(path=str(ARTIFACTS / "unlearning-initial.png"), full_page=True)
    first_numbers, first_figure = numbers(page), figure_png(page)
    assert "GA" in first_numbers

    handle = page.locator(".noUi-handle").first  # the shots slider: from exact to its first stop, 10 shots
    handle.focus()
    page.keyboard.press("Home")
    page.wait_for_function("b => document.querySelector('table.qmu-numbers').innerText !== b", arg=first_numbers, timeout=LOAD_TIMEOUT_MS)
    wait_ready(page)
    assert page.inner_text(".widget-readout") == "10"
    shots_numbers, shots_figure = numbers(page), figure_png(page)
    assert shots_numbers != first_numbers and shots_figure != first_figure
    page.screenshot(path=str(ARTIFACTS / "unlearning-10-shots.png"), full_page=True)

    page.select_option("select >> nth=0", label="RGA: relative gradient ascent")
    page.wait_for_selector("tr.qmu-model-rga", timeout=LOAD_TIMEOUT_MS)
    wait_ready(page)
    method_numbers = numbers(page)
    assert "RGA" in method_numbers and "GA\t" not in method_numbers.replace("RGA", "")
    assert figure_png(page) != shots_figure
    page.screenshot(path=str(ARTIFACTS / "unlearning-rga.png"), full_page=True)
    page.close()


def test_two_sessions_each_get_their_own_results(browser, server):
    url, _ = server
    context_a, context_b = browser.new_context(viewport={"width": 1300, "height": 1100}), browser.new_context(viewport={"width": 1300, "height": 1100})
    page_a, page_b = context_a.new_page(), context_b.new_page()
    for page in (page_a, page_b):  # both sessions open before either changes anything
        page.goto(f"{url}/voila/render/unlearning.ipynb", timeout=LOAD_TIMEOUT_MS)
    for page in (page_a, page_b):
        page.wait_for_selector("table.qmu-numbers", timeout=LOAD_TIMEOUT_MS)
        wait_ready(page)
    page_a.select_option("select >> nth=0", label="SSD: selective synaptic dampening")
    page_b.select_option("select >> nth=0", label="RGA: relative gradient ascent")
    page_a.wait_for_selector("tr.qmu-model-ssd", timeout=LOAD_TIMEOUT_MS)
    page_b.wait_for_selector("tr.qmu-model-rga", timeout=LOAD_TIMEOUT_MS)
    wait_ready(page_a)
    wait_ready(page_b)
    a, b = numbers(page_a), numbers(page_b)
    assert "SSD" in a and "RGA" not in a
    assert "RGA" in b and "SSD" not in b
    page_a.screenshot(path=str(ARTIFACTS / "session-a-ssd.png"), full_page=True)
    page_b.screenshot(path=str(ARTIFACTS / "session-b-rga.png"), full_page=True)
    # the same method in a fresh session gives the same numbers (the results are seeded)
    page_c = open_app(browser, url, "unlearning")
    wait_ready(page_c)
    page_c.select_option("select >> nth=0", label="RGA: relative gradient ascent")
    page_c.wait_for_selector("tr.qmu-model-rga", timeout=LOAD_TIMEOUT_MS)
    wait_ready(page_c)
    assert numbers(page_c) == b
    for context in (context_a, context_b):
        context.close()
    page_c.close()


def test_visitors_beyond_the_ready_kernels_wait_with_a_message_then_get_a_working_app(browser, server):
    """Three students open the same app at once; the server keeps one kernel ready per app, so two wait
    for fresh kernels (which warm up in turn): each page says why it waits, then works."""
    url, _ = server
    contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(3)]
    pages = [context.new_page() for context in contexts]
    # all three before any is usable
    responses = [page.goto(f"{url}/voila/render/shot_noise.ipynb", timeout=LOAD_TIMEOUT_MS, wait_until="commit")
                 for page in pages]
    for page, response in zip(pages, responses):
        page.wait_for_selector("table.qmu-numbers", timeout=LOAD_TIMEOUT_MS)
        wait_ready(page)
        # The page came with the waiting message under the spinner, which Voila removes once the app runs.
        assert "keep this tab open" in response.text()
        assert page.locator("#loading").count() == 0
        assert "Could not compute" not in page.inner_text("body")
    for context in contexts:
        context.close()


def test_no_tracebacks_reach_the_browser(browser, tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(cells=[new_code_cell("raise ValueError('secret detail from /home/someone')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    process, url, _ = start_voila(tmp_path, str(tmp_path / "cache"))
    try:
        page = browser.new_page()
        response = page.goto(url + "/voila/render/broken.ipynb", timeout=LOAD_TIMEOUT_MS)
        assert response is not None and response.status == 200  # the page itself is served, not a server error
        page.wait_for_load_state("networkidle", timeout=60_000)
        # the cell ran and failed, and Voila (show_tracebacks=False) shows its generic notice in place of the error
        page.get_by_text("There was an error when executing cell").first.wait_for(timeout=60_000)
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "error-page.png"))
        assert "There was an error when executing cell [1]" in text
        assert "Traceback" not in text and "secret detail" not in text and "ValueError" not in text
        page.close()
    finally:
        stop(process)


# --- the classroom pages (qmu-kit app --static): plain files, no kernel -------------------------------

def test_classroom_pages_answer_every_move_from_files_and_stay_offline(browser, tmp_path):
    """A visitor of the static pages: the landing page's link, the page at its first stop with its chart
    drawn (an image named and described from the stop's numbers), the keyboard alone (tab to a slider,
    arrow keys) moving to other stops whose numbers and chart are that stop's file, a stop missing from
    the build (a message, no chart); nothing requested from outside 127.0.0.1."""
    import json
    import threading

    from qmu_kit.apps.static import NOT_PRECOMPUTED, build_site, make_server

    options = {"shot_noise": {"shots": ["10", "100", "1000"], "expval": ["0", "0.5"]}}
    build_site(tmp_path, apps=["shot_noise"], options=options, progress=False)
    (tmp_path / "shot_noise" / "stops" / "2-1.json").unlink()  # as if that stop had failed to compute
    server = make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    outside = OutsideRequests(context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    stop_file = lambda key: json.loads((tmp_path / "shot_noise" / "stops" / f"{key}.json").read_text())  # noqa: E731
    shown = lambda: page.inner_html("#qmu-numbers").replace("<tbody>", "").replace("</tbody>", "")  # noqa: E731 (as parsed)

    def chart_shows(key: str) -> None:
        """The page's chart is the stop's: an SVG image whose name and description are the stop's
        title and generated alt text, with a bar per occupied bin and the exact value's line."""
        (chart,) = stop_file(key)["charts"]
        svg = page.locator("#qmu-charts svg[role=img]")
        assert svg.count() == 1
        labelled = svg.get_attribute("aria-labelledby").split()
        assert [page.locator(f"[id='{i}']").text_content() for i in labelled] == [chart["title"], chart["alt"]]
        bars = sum(1 for count in chart["marks"][0]["counts"] if count > 0)
        assert svg.locator("rect[fill-opacity]").count() == bars > 0
        assert "exact <Z> = " in svg.text_content() and "estimated <Z>" in svg.text_content()

    try:
        page.goto(url + "/")
        page.click("a:has-text('Shot noise')")
        page.wait_for_selector(".qmu-ready")
        # opened at the panel's own defaults where they are stops: shots 100 (exact <Z> 0.4 is not one: 0)
        assert page.get_attribute("body", "data-stop") == "1-0"
        assert shown() == stop_file("1-0")["numbers"]
        chart_shows("1-0")
        # every control has its label (the accessible name is the control's description)
        for name, label in (("shots", "shots"), ("expval", "exact <Z>")):
            assert page.get_by_label(label, exact=True).get_attribute("name") == name
        # the keyboard alone: Tab from the page's start reaches the shots slider, with a visible focus
        page.locator("body").focus()
        for _ in range(5):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "shots":
                break
        assert page.evaluate("document.activeElement.name") == "shots"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
        page.keyboard.press("ArrowLeft")  # shots 100 -> 10
        page.wait_for_selector("body[data-stop='0-0'] .qmu-ready")
        assert page.inner_text("#out-shots") == "10" and shown() == stop_file("0-0")["numbers"]
        assert page.get_attribute("input[name=shots]", "aria-valuetext") == "10"
        chart_shows("0-0")
        page.keyboard.press("End")  # -> 1000
        page.wait_for_selector("body[data-stop='2-0'] .qmu-ready")
        assert shown() == stop_file("2-0")["numbers"]
        chart_shows("2-0")
        page.keyboard.press("Tab")  # on to the exact <Z> slider
        assert page.evaluate("document.activeElement.name") == "expval"
        page.keyboard.press("ArrowRight")  # exact <Z> 0 -> 0.5: the stop whose file is missing
        page.wait_for_selector(".qmu-error")
        assert NOT_PRECOMPUTED in page.inner_text("#qmu-status") and page.inner_html("#qmu-numbers") == ""
        assert page.locator("#qmu-charts svg").count() == 0
        page.keyboard.press("ArrowLeft")  # back: works again
        page.wait_for_selector("body[data-stop='2-0'] .qmu-ready")
        chart_shows("2-0")
        page.screenshot(path=str(ARTIFACTS / "static-shot-noise.png"), full_page=True)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert outside.urls == [] and errors == []


def test_classroom_unlearning_page_draws_its_bars_and_rocs_from_the_stops_numbers(browser, tmp_path):
    """The unlearning app's page: the before/after bars (one per model and measure, each with its
    interval and n in its tooltip) and the forget-set ROC of each model, redrawn for another attack."""
    import json
    import threading

    from qmu_kit.apps.static import build_site, make_server
    from qmu_kit.experiment.config import ExperimentConfig

    base = ExperimentConfig(n_qubits=2, n_train=20, n_test=20, epochs=1, attacks=("loss", "confidence"), forget="class:1")
    options = {"unlearning": {"method": ["ga"], "shots": ["exact"], "params": ["all"], "attack": ["loss", "confidence"]}}
    build_site(tmp_path, apps=["unlearning"], options=options, bases={"unlearning": base}, progress=False)
    server = make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    outside = OutsideRequests(context)
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/unlearning/")
        page.wait_for_selector("#qmu-charts svg[role=img] >> nth=1")
        bars, roc = json.loads((tmp_path / "unlearning" / "stops" / "0-0-0-0.json").read_text())["charts"]
        tooltips = page.locator("#qmu-charts svg >> nth=0").locator("rect > title").all_text_contents()
        assert tooltips == [f"{series['label']}: {text}" for series in bars["series"] for text in series["text"]]
        assert len(tooltips) == 3 * 5 and all("(n=" in t and "[" in t for t in tooltips)
        # each hatched series' bars and legend swatch are filled with its pattern, defined once in the chart
        hatched = page.locator("#qmu-charts svg >> nth=0").evaluate("""svg => {
            const patterns = Object.fromEntries([...svg.querySelectorAll('defs > pattern')].map(
                p => [p.id, p.querySelector('path').getAttribute('d')]));
            const layers = [...svg.querySelectorAll('rect.qmu-hatch')].map(r => ({hatch: r.dataset.hatch,
                fill: getComputedStyle(r).fill, id: r.getAttribute('fill').slice(5, -1),
                under: r.previousElementSibling.getAttribute('fill')}));
            return {patterns, layers};
        }""")
        wanted = {series["hatch"]: series for series in bars["series"] if series["hatch"]}
        assert len(hatched["patterns"]) == len(wanted) == len(bars["patterns"]) == 2
        for hatch, series in wanted.items():
            layers = [layer for layer in hatched["layers"] if layer["hatch"] == hatch]
            assert len(layers) == 5 + 1  # a bar per measure and the legend swatch
            assert {hatched["patterns"][layer["id"]] for layer in layers} == {bars["patterns"][hatch]["path"]}
            assert all(layer["fill"] == f'url("#{layer["id"]}")' and layer["under"] == series["colour"] for layer in layers)
        assert len(hatched["layers"]) == 2 * (5 + 1)  # the original model's plain bars carry no pattern
        assert roc["title"] in page.locator("#qmu-charts svg >> nth=1").text_content()
        page.select_option("select[name=attack]", label="confidence")
        page.wait_for_selector("body[data-stop='0-0-0-1'] .qmu-ready")
        other = json.loads((tmp_path / "unlearning" / "stops" / "0-0-0-1.json").read_text())["charts"][1]
        assert page.locator("#qmu-charts svg >> nth=1").locator("desc").text_content() == other["alt"] != roc["alt"]
        page.screenshot(path=str(ARTIFACTS / "static-unlearning.png"), full_page=True)
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert outside.urls == []
