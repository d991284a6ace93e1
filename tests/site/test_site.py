"""The course site (``make site``, ``docs/build_site.py``): built once here at a small scale (the lessons
rendered without executing them, a classroom site of one app with two stops), then walked in Debian's
Chromium: no request leaves the site, MathJax and the search work offline, and axe-core finds no serious
or critical violation on the landing page, a lesson and a classroom app page. The generated pages
(leaderboard, lessons, classroom links) are checked on their own too.

``make test`` installs Chromium with apt-get when it is missing; only where apt-get itself is
unavailable do the browser tests skip, loudly. Screenshots go to ``test-artifacts/site/``.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from tests.browser_tools import launch_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "site"
LOAD_TIMEOUT_MS = 60_000
#: The pages walked: the landing page, a lesson, a guide with mathematics, the search page.
LANDING, LESSON, GUIDE = "index.html", "lessons/00_start_here.html", "guides/differential-privacy.html"
SERIOUS = ("serious", "critical")


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_site = load_build_script()


# ---------------------------------------------------------------------------------------------------
# The generated pages, without Sphinx


def test_every_lesson_app_is_a_notebook_and_an_app():
    from qmu_kit.apps import static_apps

    assert set(build_site.LESSON_APPS) <= set(build_site.lesson_names())
    assert set(build_site.LESSON_APPS.values()) == set(static_apps())  # every app is beside a lesson


def test_leaderboard_is_generated_from_the_committed_bench_result_and_says_when_there_is_none(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    reports.mkdir()
    monkeypatch.setattr(build_site, "REPORTS", reports)
    (reports / "bench_classroom.json").write_text(json.dumps({"date": "2026-01-01", "levels": []}))
    assert "Not yet generated" in build_site.leaderboard_page(tmp_path / "staging")  # only leaderboard_*.json counts
    shutil.copy(ROOT / "reports" / "leaderboard_classroom.json", reports)
    page = build_site.leaderboard_page(tmp_path / "staging")
    assert "Not yet generated" not in page and "## `leaderboard_classroom`" in page
    assert "*Generated from `reports/leaderboard_classroom.json`.*" in page
    assert "#### class:" in page  # each scenario and model's leaderboard, one level below the file's heading
    assert re.search(r"\| \d\.\d\d \[\d\.\d\d, \d\.\d\d\] \(n=\d+\)", page), page  # value [low, high] (n=N) cells
    assert (tmp_path / "staging" / "results" / "leaderboard_classroom.png").read_bytes().startswith(b"\x89PNG")
    # its cost, from the benchmark's record of the same leaderboard, when there is one
    assert "**Cost**" not in page
    record = json.loads((ROOT / "reports" / "bench_leaderboard_classroom.json").read_text())
    shutil.copy(ROOT / "reports" / "bench_leaderboard_classroom.json", reports)
    page = build_site.leaderboard_page(tmp_path / "staging")
    assert f"took {record['cold']['wall_s'] / 60:.1f} min cold on {record['machine']['cores']} cores" in page
    assert f"{record['cold']['runs']:,} runs" in page and "against a budget of 45 min" in page
    assert "![A Pareto plot of unlearning methods" in page


def test_lesson_key_follows_the_notebook_and_the_kit(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_start_here.ipynb", notebooks)
    monkeypatch.setattr(build_site, "NOTEBOOKS", notebooks)
    key = build_site.lesson_key("00_start_here")
    assert build_site.lesson_key("00_start_here") == key
    (notebooks / "00_start_here.ipynb").write_text((notebooks / "00_start_here.ipynb").read_text() + " ")
    assert build_site.lesson_key("00_start_here") != key
    monkeypatch.setattr(build_site, "LESSON_CODE", ("core",))
    assert build_site.lesson_key("00_start_here") != key


def test_bad_input_is_one_line_naming_the_value(capsys):
    assert build_site.main(["--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "site: error: jobs=0 is out of range: jobs must be an integer from 1 to 64"
    assert build_site.main(["--serve", "--port", "70000"]) == 2
    assert "port=70000 is out of range" in capsys.readouterr().err


def test_write_if_changed_keeps_an_unchanged_file(tmp_path):
    path = tmp_path / "page.md"
    assert build_site.write_if_changed(path, "# A")
    before = path.stat().st_mtime_ns
    assert not build_site.write_if_changed(path, "# A")
    assert path.stat().st_mtime_ns == before
    assert build_site.write_if_changed(path, "# B") and path.read_text() == "# B"


# ---------------------------------------------------------------------------------------------------
# The built site


@pytest.fixture(scope="module")
def classroom_pages(tmp_path_factory):
    """A classroom site of the shot-noise app with two stops (what ``make classroom`` builds in full)."""
    from qmu_kit.apps import build_site as build_classroom_site

    directory = tmp_path_factory.mktemp("classroom") / "site"
    build = build_classroom_site(directory, apps=["shot_noise"], options={"shot_noise": {"expval": ["0", "0.5"]}},
                                 progress=False)
    assert not build.failed
    return directory


@pytest.fixture(scope="module")
def site(tmp_path_factory, classroom_pages):
    """The site as ``make site`` builds it, without executing the lessons."""
    base = tmp_path_factory.mktemp("site")
    out, work = base / "out", base / "work"
    command = [sys.executable, str(ROOT / "docs" / "build_site.py"), "--out", str(out), "--work", str(work),
               "--no-execute", "--classroom-dir", str(classroom_pages)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_every_page_is_built_with_the_version(site):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    landing = (site / LANDING).read_text()
    assert f"qmu-kit {version}" in landing
    assert f"Built from qmu-kit {version}" in (site / LESSON).read_text()  # every page's footer
    for guide in sorted((ROOT / "docs" / "guides").glob("*.md")):  # every guide, by name
        assert (site / "guides" / f"{guide.stem}.html").exists(), guide.name
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert (site / "lessons" / f"{notebook.stem}.html").exists(), notebook.name
    for page in ("results/reproduction.html", "results/leaderboard.html", "api/core.html", "changelog.html",
                 "search.html", "classroom/shot_noise/index.html", "_static/mathjax/tex-chtml.js"):
        assert (site / page).exists(), page
    assert "class=\"sig sig-object py\" id=\"qmu_kit.core.Estimate\"" in (site / "api" / "core.html").read_text()


def test_lessons_link_their_classroom_app(site):
    lesson = (site / LESSON).read_text()
    assert 'href="../classroom/shot_noise/index.html"' in lesson
    lesson_without_built_app = (site / "lessons" / "02_membership_leakage.html").read_text()
    assert "not built into this site" in lesson_without_built_app and "leakage" in lesson_without_built_app


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium(ARTIFACTS)


def open_recording(browser, url: str, path: str):
    """A page at ``url/path`` whose every request is recorded; requests leaving the site are refused."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []

    def route(r):
        requests.append(r.request.url)
        if r.request.url.startswith(url + "/") or r.request.url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(f"{url}/{path}", timeout=LOAD_TIMEOUT_MS, wait_until="networkidle")
    return page, requests


@pytest.mark.browser
@pytest.mark.parametrize("path", [LANDING, LESSON, GUIDE])
def test_pages_request_nothing_outside_the_site(browser, server, path):
    page, requests = open_recording(browser, server, path)
    try:
        page.screenshot(path=str(ARTIFACTS / (path.replace("/", "_") + ".png")), full_page=False)
        assert len(requests) > 3, requests  # the theme's styles, scripts and fonts are loaded, from the site
        outside = [url for url in requests if not url.startswith((server + "/", "data:", "blob:", "about:"))]
        assert outside == [], outside
        if path == GUIDE:  # its mathematics is typeset by the site's own MathJax
            page.wait_for_selector("mjx-container", timeout=LOAD_TIMEOUT_MS)
            assert any("/_static/mathjax/" in url for url in requests)
    finally:
        page.close()


@pytest.mark.browser
def test_search_works_offline(browser, server):
    page, requests = open_recording(browser, server, "search.html?q=unlearning")
    try:
        page.wait_for_selector("#search-results li", timeout=LOAD_TIMEOUT_MS)
        assert page.locator("#search-results li").count() >= 3
        assert all(url.startswith((server + "/", "data:", "blob:")) for url in requests), requests
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", [LANDING, LESSON, "classroom/shot_noise/index.html"])
def test_axe_finds_no_serious_violation(browser, server, path):
    from axe_playwright_python.sync_playwright import Axe

    page, _ = open_recording(browser, server, path)
    try:
        results = Axe().run(page)
        violations = [(v["id"], v["impact"], len(v["nodes"]), v["help"]) for v in results.response["violations"]]
        (ARTIFACTS / (path.replace("/", "_") + ".axe.json")).write_text(json.dumps(results.response["violations"], indent=1))
        assert results.response["testEngine"]["name"] == "axe-core"
        assert [v for v in violations if v[1] in SERIOUS] == [], violations
    finally:
        page.close()


def test_the_classroom_pages_build_in_a_process_of_their_own_beside_the_lessons(monkeypatch, tmp_path):
    """--classroom starts the pages' build (this script with --pages-only) before the lessons execute and
    waits for it before staging; a failed pages build stops the site, naming its exit status."""
    started, order = [], []

    class FakeProcess:
        def __init__(self, command, status):
            started.append(command)
            self.status = status

        def wait(self):
            order.append("pages done")
            return self.status

    monkeypatch.setattr(build_site.subprocess, "Popen", lambda command: FakeProcess(command, 0))
    monkeypatch.setattr(build_site, "classroom_directory", lambda: tmp_path)
    pages = build_site.ClassroomBuild(warm=True, jobs=2)
    assert started[0][1:] == [str(ROOT / "docs" / "build_site.py"), "--pages-only", "--jobs", "2", "--warm"]
    assert pages.finish() == tmp_path and pages.seconds >= 0
    monkeypatch.setattr(build_site.subprocess, "Popen", lambda command: FakeProcess(command, 3))
    with pytest.raises(SystemExit, match=r"building the classroom pages failed \(exit status 3\)"):
        build_site.ClassroomBuild(warm=False, jobs=1).finish()
    calls = []
    monkeypatch.setattr(build_site, "build_classroom", lambda warm, jobs: calls.append((warm, jobs)))
    assert build_site.main(["--pages-only", "--jobs", "2"]) == 0 and calls == [(False, 2)]
