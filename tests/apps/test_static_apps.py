"""The classroom pages (qmu_kit.apps.static): every stop computed ahead of class, one JSON file each (the
numbers table and the chart data the page draws), served as plain files."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import ipywidgets
import pytest

from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.apps.static import MANIFEST, build_site, control_stops, make_server, site_key, static_apps, stop_key

#: Four stops of the shot-noise app: two shots stops x two exact <Z> stops.
SHOT_NOISE = {"shot_noise": {"shots": ["10", "1000"], "expval": ["0", "0.5"]}}
TINY = ExperimentConfig(n_qubits=2, n_train=20, n_test=20, epochs=1, methods=(), retrain=False,
                        attacks=("loss", "confidence"), forget="class:1")


def test_every_app_notebook_is_a_static_app_showing_its_panel():
    from qmu_kit.apps.server import apps_directory
    from qmu_kit.ui.widgets import Panel

    apps = static_apps()
    assert sorted(apps) == sorted(path.stem for path in apps_directory().glob("*.ipynb"))
    for name, app in apps.items():
        notebook = (apps_directory() / f"{name}.ipynb").read_text()
        assert issubclass(app.panel, Panel) and f'app_panel(\\"{app.panel.__name__}\\")' in notebook
        assert app.title == json.loads(notebook)["metadata"]["qmu_kit"]["title"]


def test_a_full_site_holds_every_stop_of_every_control():
    """The shot-noise app (cheap to build a panel of): 8 shots stops x 41 exact <Z> stops, -1 to 1 by 0.05."""
    from qmu_kit.apps.static import _app_stops, _build_panel, _groups
    from qmu_kit.ui.widgets import SHOT_OPTIONS

    app = static_apps()["shot_noise"]
    stops, computed = _app_stops(_build_panel(app, None, None), "shot_noise", None)
    assert [label for label, _ in stops["shots"]] == list(SHOT_OPTIONS) and len(stops["expval"]) == 41
    assert sum(len(group) for group in _groups(stops, computed)) == 8 * 41


def test_control_stops_cover_every_option_of_each_kind_of_control():
    assert control_stops(ipywidgets.IntSlider(min=1, max=10)) == [(str(d), d) for d in range(1, 11)]
    floats = control_stops(ipywidgets.FloatSlider(min=-1, max=1, step=0.05))
    assert floats[0] == ("-1", -1.0) and floats[-1] == ("1", 1.0) and ("0.4", 0.4) in floats and ("0", 0.0) in floats
    assert control_stops(ipywidgets.Dropdown(options=[("Gradient ascent", "ga"), ("SSD", "ssd")])) == [
        ("Gradient ascent", "ga"), ("SSD", "ssd")]
    assert control_stops(ipywidgets.SelectionSlider(options=("10", "exact"))) == [("10", "10"), ("exact", "exact")]
    with pytest.raises(TypeError, match="Text has no list of stops"):
        control_stops(ipywidgets.Text())


def test_a_build_renders_each_stop_once_and_resumes(tmp_path):
    site = build_site(tmp_path / "site", apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    assert site.stops == {"shot_noise": 4} and site.rendered == 4 and not site.failed
    stops = sorted(p.name for p in (tmp_path / "site" / "shot_noise" / "stops").iterdir())
    assert stops == sorted(f"{a}-{b}.json" for a in range(2) for b in range(2))  # one file a stop, no image
    manifest = json.loads((tmp_path / "site" / MANIFEST).read_text())
    assert manifest["site"] == site_key(SHOT_NOISE) and manifest["apps"]["shot_noise"]["stops"] == 4
    # a rerun renders nothing; a lost stop (an interrupted build) is rendered again, alone
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "site" / "shot_noise" / "stops").iterdir()}
    assert build_site(tmp_path / "site", apps=["shot_noise"], options=SHOT_NOISE, progress=False).rendered == 0
    (tmp_path / "site" / "shot_noise" / "stops" / "1-0.json").unlink()
    again = build_site(tmp_path / "site", apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    assert again.rendered == 1
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "site" / "shot_noise" / "stops").iterdir()}
    assert {name for name in after if after[name] != before.get(name)} == {"1-0.json"}
    assert not [p for p in (tmp_path / "site").rglob("*.tmp")]


def stop_file(site: Path, app: str, key: str) -> dict:
    return json.loads((site / app / "stops" / f"{key}.json").read_text())


def test_a_stop_shows_what_the_live_panel_shows_at_those_settings(tmp_path):
    """A stop's file: the live panel's numbers table, and its figure's numbers (the histogram of the
    estimates in the figure's bins, the exact value, the spread) as chart data with a description."""
    import numpy as np

    from qmu_kit.plots.figures import shot_value_bins
    from qmu_kit.ui.widgets import ShotNoisePanel

    build_site(tmp_path, apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    live = ShotNoisePanel(expval=0.5, shots="1000")
    assert list(live.controls) == ["shots", "expval"]  # so the stop is (shots "1000", expval "0.5") = (1, 1)
    stop = stop_file(tmp_path, "shot_noise", stop_key((1, 1)))
    assert stop["numbers"] == live.numbers.value
    estimates, spread, sd = live.result
    (chart,) = stop["charts"]
    assert chart["marks"][0]["counts"] == np.histogram(estimates, bins=shot_value_bins(1000))[0].tolist()
    assert [mark["x"] for mark in chart["marks"][1:]] == [0.5, round(0.5 - sd, 6), round(0.5 + sd, 6)]
    assert chart["title"] == live.figure.ax.get_title() == f"2000 repeated measurements, 1000 shots: spread {spread:.3f}"
    assert f"theory {sd:.3f}" in chart["alt"] and chart["x"]["label"] == "estimated <Z>" and chart["y"]["label"] == "how often"
    # the page opens at the panel's defaults where they are stops (shots 100 is not one here: the first stop)
    page = (tmp_path / "shot_noise" / "index.html").read_text()
    assert 'data-stop="0-0"' in page
    assert stop_file(tmp_path, "shot_noise", "0-0")["numbers"] in page  # numbers inline, before any script


def test_a_site_of_other_settings_or_other_files_is_never_overwritten(tmp_path):
    build_site(tmp_path / "site", apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    files = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    other = {"shot_noise": {"shots": ["10"], "expval": ["0"]}}
    with pytest.raises(FileExistsError, match=f"holds the classroom site {site_key(SHOT_NOISE)}.*{site_key(other)}"):
        build_site(tmp_path / "site", apps=["shot_noise"], options=other, progress=False)
    assert files == {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a teacher's file")
    with pytest.raises(FileExistsError, match="not empty and holds no classroom site"):
        build_site(tmp_path / "mine", apps=["shot_noise"], options=other, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a teacher's file"
    assert site_key(SHOT_NOISE) != site_key(other) and site_key(SHOT_NOISE) == site_key(dict(SHOT_NOISE))


@pytest.mark.parametrize("kwargs, message", [
    ({"apps": ["quiz"]}, "unknown app 'quiz'.*'classifiers', 'leakage', 'privacy', 'shot_noise', 'unlearning'"),
    ({"apps": ["shot_noise"], "options": {"shot_noise": {"noise": ["1"]}}}, "control of the shot_noise app 'noise'.*'shots', 'expval'"),
    ({"apps": ["shot_noise"], "options": {"shot_noise": {"shots": ["20"]}}}, "stop of the shot_noise app's shots '20'.*'10', '30', '100', '300', '1000', '3000', '10000', 'exact'"),
    ({"apps": ["shot_noise"], "options": {"shot_noise": {"shots": []}}}, "no stops given for the shot_noise app's shots: choose from 10, 30"),
    ({"apps": ["shot_noise"], "options": {"quiz": {}}}, "'quiz'"),
    ({"apps": ["shot_noise"], "n_jobs": 0}, "n_jobs=0.*1 to 256"),
])
def test_bad_build_settings_name_the_value_and_what_is_allowed(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_site(tmp_path / "site", progress=False, **kwargs)
    assert not (tmp_path / "site").exists()


def test_a_stop_that_cannot_be_computed_is_reported_and_retried_next_build(tmp_path, monkeypatch):
    from qmu_kit.ui.widgets import ClassifierPanel

    original = ClassifierPanel._compute

    def fails_at_depth_2(self, values):
        if values["depth"] == 2:
            raise RuntimeError("simulated failure at depth 2")
        return original(self, values)

    monkeypatch.setattr(ClassifierPanel, "_compute", fails_at_depth_2)
    options = {"classifiers": {"model": ["hybrid"], "depth": [1, 2]}}
    settings = dict(apps=["classifiers"], options=options, bases={"classifiers": TINY}, progress=False)
    site = build_site(tmp_path, **settings)
    assert site.stops == {"classifiers": 2} and site.rendered == 1
    assert site.failed == [("classifiers", "0-1", "simulated failure at depth 2")]
    assert "simulated failure" in site.table() and not (tmp_path / "classifiers" / "stops" / "0-1.json").exists()
    assert "1 not precomputed" in (tmp_path / "index.html").read_text()
    monkeypatch.setattr(ClassifierPanel, "_compute", original)
    retried = build_site(tmp_path, **settings)
    assert retried.rendered == 1 and not retried.failed and (tmp_path / "classifiers" / "stops" / "0-1.json").exists()


def test_display_only_controls_are_computed_once_per_stop_and_parallel_builds_agree(tmp_path, monkeypatch):
    """The leakage app's attack control changes the view, not the experiment: one computation serves
    every attack; two worker processes write the same pages as one."""
    from qmu_kit.ui.widgets import LeakagePanel

    options = {"leakage": {"shots": ["exact"], "depth": ["1"], "model": ["hybrid"], "attack": ["loss", "confidence"]}}
    settings = dict(apps=["leakage"], options=options, bases={"leakage": TINY})
    calls = []
    original = LeakagePanel._compute
    monkeypatch.setattr(LeakagePanel, "_compute", lambda self, values: calls.append(values) or original(self, values))
    one = build_site(tmp_path / "one", progress=False, **settings)
    assert one.stops == {"leakage": 2} and one.rendered == 2
    assert len(calls) == 1  # one computation for both attacks; laying the page out computes nothing
    monkeypatch.undo()
    two = build_site(tmp_path / "two", n_jobs=2, progress=False, **settings)
    assert two.rendered == 2
    files = {p.relative_to(tmp_path / "one"): p.read_text() for p in (tmp_path / "one").rglob("*.*")}
    assert files == {p.relative_to(tmp_path / "two"): p.read_text() for p in (tmp_path / "two").rglob("*.*")}
    loss, confidence = (json.loads(files[Path("leakage/stops") / f"0-0-0-{i}.json"]) for i in range(2))
    assert "loss attack" in loss["numbers"] and "confidence attack" in confidence["numbers"]
    assert loss["charts"][0]["title"] == "ROC, loss attack: retain members vs non-members"
    assert loss["charts"][1] == confidence["charts"][1]  # the losses do not depend on the attack shown


def test_the_live_panel_redraws_a_display_only_move_without_computing(monkeypatch):
    from qmu_kit.ui.widgets import LeakagePanel

    panel = LeakagePanel(base=TINY, attack="loss")
    calls = []
    original = LeakagePanel._compute
    monkeypatch.setattr(LeakagePanel, "_compute", lambda self, values: calls.append(values) or original(self, values))
    panel.controls["attack"].value = "confidence"
    assert calls == [] and "confidence attack" in panel.numbers.value and "qmu-ready" in panel.status.value
    panel.controls["depth"].value = 2
    assert len(calls) == 1 and calls[0]["depth"] == 2


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:  # nobody listening (yet)
        return 0, ""


def test_the_server_serves_plain_pages_on_loopback_and_lists_no_directories(tmp_path):
    build_site(tmp_path, apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    server = make_server(tmp_path, port=0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        status, landing = _get(url + "/")
        assert status == 200 and re.search(r'<a href="shot_noise/">Shot noise</a>', landing) and "4 stops" in landing
        status, page = _get(url + "/shot_noise/")
        assert status == 200 and 'name="shots"' in page and "qmu-numbers" in page and "http" not in page.split("<body")[1]
        assert _get(url + "/shot_noise/stops/0-1.json")[0] == 200
        assert _get(url + "/shot_noise/stops/")[0] == 404  # no listing
        assert _get(url + "/shot_noise/stops/9-9.json")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_serving_needs_a_built_site_and_a_free_port(tmp_path):
    from qmu_kit.apps.server import PortInUseError

    with pytest.raises(FileNotFoundError, match="holds no classroom site: build one first"):
        make_server(tmp_path)
    build_site(tmp_path, apps=["shot_noise"], options={"shot_noise": {"shots": ["10"], "expval": ["0"]}}, progress=False)
    first = make_server(tmp_path, port=0)
    try:
        with pytest.raises(PortInUseError, match=f"port {first.server_address[1]}"):
            make_server(tmp_path, port=first.server_address[1])
    finally:
        first.server_close()


def test_serve_directory_serves_a_folder_on_loopback_and_refuses_a_taken_port(tmp_path, occupied_port, capsys):
    """The one server of plain files (the classroom pages and the course site): 127.0.0.1 by default,
    the listen backlog of a class, no listings, and a taken port refused with the message naming it."""
    from qmu_kit.apps import DEFAULT_HOST, PORT_FLAG, PortInUseError, directory_server, serve_directory

    (tmp_path / "page.html").write_text("<p>a lesson</p>")
    server = directory_server(tmp_path, port=0)
    assert DEFAULT_HOST == "127.0.0.1" and server.server_address[0] == "127.0.0.1" and server.request_queue_size == 128
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert _get(url + "/page.html") == (200, "<p>a lesson</p>")
        assert _get(url + "/")[0] == 404 and _get(url + "/missing.html")[0] == 404  # no listing
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(PortInUseError) as taken:
        serve_directory(tmp_path, port=occupied_port)
    assert str(taken.value) == (f"port {occupied_port} on 127.0.0.1 is already in use (another qmu-kit app or server still "
                                f"running?): stop that server or start the classroom pages on another port with {PORT_FLAG}")
    assert capsys.readouterr().out == ""  # refused before announcing an address
    with pytest.raises(PortInUseError, match=f"port {occupied_port} .*start the course site on another port with --port N"):
        directory_server(tmp_path, port=occupied_port, what="the course site", port_flag="--port N")
    with pytest.raises(FileNotFoundError, match="is not a directory: nothing to serve"):
        directory_server(tmp_path / "page.html", port=0)
    with pytest.raises(ValueError, match="port=70000"):
        directory_server(tmp_path, port=70000)


def test_the_course_site_is_served_by_the_public_server(tmp_path, occupied_port, capsys):
    """``docs/build_site.py --serve`` (``make classroom``) uses :func:`qmu_kit.apps.serve_directory`
    (no private import left in docs/): a taken port is one line naming it and the site's port flag."""
    import importlib.util

    source = (ROOT / "docs" / "build_site.py").read_text()
    assert "serve_directory(" in source and not re.search(r"import[^\n]*\b_[A-Za-z]", source)
    spec = importlib.util.spec_from_file_location("build_site_script", ROOT / "docs" / "build_site.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    (tmp_path / "index.html").write_text("<p>the site</p>")
    assert script.main(["--serve", "--out", str(tmp_path), "--port", str(occupied_port)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"site: error: port {occupied_port} on 127.0.0.1 is already in use (another qmu-kit app or server still running?): "
        f"stop that server or start the course site on another port with {script.SITE_PORT_FLAG}")


ROOT = Path(__file__).resolve().parents[2]


def test_qmu_kit_app_static_completes_a_given_site_and_serves_it_on_loopback(tmp_path):
    """`qmu-kit app --static --site DIR`: a site built for a lesson (here one app, four stops) is
    completed with its own stops (a lost stop is rendered again) and served on 127.0.0.1 until stopped."""
    import os
    import subprocess
    import sys
    import time

    from tests.apps.test_app_browser import free_port, listening_addresses

    build_site(tmp_path, apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    (tmp_path / "shot_noise" / "stops" / "0-1.json").unlink()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "qmu_kit.cli", "app", "--static", "--site", str(tmp_path), "--port",
                                str(port), "--jobs", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _get(f"http://127.0.0.1:{port}/")[0] != 200:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.3)
        status, page = _get(f"http://127.0.0.1:{port}/shot_noise/")
        assert status == 200 and "Shot noise" in page
        assert _get(f"http://127.0.0.1:{port}/shot_noise/stops/0-1.json")[0] == 200  # written again
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "1 stops rendered now, 3 from an earlier build" in output and f"http://127.0.0.1:{port}/" in output


def test_qmu_kit_app_static_on_a_taken_port_stops_before_building(tmp_path, capsys, occupied_port):
    from tests.cli_tools import usage_error

    message = usage_error(["app", "--static", "--site", str(tmp_path / "site"), "--port", str(occupied_port)], capsys)
    assert message.startswith(f"port {occupied_port} on 127.0.0.1 is already in use") and not (tmp_path / "site").exists()


def test_qmu_kit_app_static_refuses_a_site_directory_holding_other_files(tmp_path, capsys):
    from tests.cli_tools import usage_error
    from tests.apps.test_app_browser import free_port

    (tmp_path / "notes.txt").write_text("a teacher's file")
    message = usage_error(["app", "--static", "--site", str(tmp_path), "--port", str(free_port())], capsys)
    assert message.startswith(f"{tmp_path} is not empty and holds no classroom site")
    assert (tmp_path / "notes.txt").read_text() == "a teacher's file"


def test_thirty_plain_clients_at_once_all_get_their_pages(tmp_path):
    """The benchmark's load client against the server: a class of 30 at once, 5 moves each (loopback,
    bounded; numbers, not times, are checked: timing targets live in benchmarks/bench_classroom.py)."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_classroom import http_load
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    build_site(tmp_path, apps=["shot_noise"], options=SHOT_NOISE, progress=False)
    server = make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        row = http_load(f"http://127.0.0.1:{server.server_address[1]}", tmp_path, visitors=30, moves=5)
    finally:
        server.shutdown()
        server.server_close()
    assert row["visitors"] == 30 and row["requests"] == 30 * (1 + 5)
    assert 0 < row["latency_median_s"] <= row["latency_p99_s"] <= row["latency_max_s"]


def test_stops_sharing_a_costly_piece_compute_one_of_each_first():
    """The build's first phase computes one stop per setting of the panel's shared_by controls (the
    unlearning app's shots: the attacks fitted against the original model), the second phase the
    stops that reuse those pieces; a display-only control (the attack) never adds a computation."""
    from qmu_kit.apps.static import _groups, _phases
    from qmu_kit.ui.widgets import ShotNoisePanel, UnlearningPanel

    stops = {"method": [("GA", "ga"), ("SSD", "ssd"), ("RGA", "rga")], "shots": [("10", "10"), ("exact", "exact")],
             "attack": [("mlp", "mlp"), ("loss", "loss")]}
    groups = _groups(stops, ["method", "shots"])
    assert len(groups) == 6 and all(len(group) == 2 for group in groups)
    first, rest = _phases(UnlearningPanel, stops, groups)
    assert sorted(group[0][1] for group in first) == [0, 1] and len(first) + len(rest) == 6
    assert {group[0][1] for group in rest} == {0, 1}
    assert _phases(ShotNoisePanel, stops, groups) == [groups]  # nothing shared: one phase
