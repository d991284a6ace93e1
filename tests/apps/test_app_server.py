"""The classroom server without a browser: the taken-port message (issue 17), the plain-HTML landing
page, the cache shared by many kernels (concurrent writers, full disk, read-only directory)."""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from qmu_kit.apps.server import DEFAULT_HOST, PortInUseError, apps_directory, check_port_free
from qmu_kit.apps.voila import JUPYTER_DATA, voila_command, voila_environment, app_panel, warm_up_turn
from qmu_kit.core.cache import CacheWarning, ResultCache
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import run_experiment

ROOT = Path(__file__).resolve().parents[2]


def test_check_port_free_names_the_port_and_what_to_do(occupied_port):
    with pytest.raises(PortInUseError, match=rf"port {occupied_port} on 127.0.0.1 is already in use.*--port N"):
        check_port_free("127.0.0.1", occupied_port)
    with socket.socket() as sock:  # a port nobody listens on is free
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    check_port_free("127.0.0.1", free)
    with pytest.raises(ValueError, match="port=70000 is out of range"):
        check_port_free("127.0.0.1", 70000)


def test_app_on_a_taken_port_stops_with_one_line_and_no_traceback(occupied_port):
    result = subprocess.run(
        [sys.executable, "-m", "qmu_kit.cli", "app", "--port", str(occupied_port)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # nothing announced, nothing warmed: the check comes first
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"qmu-kit: error: port {occupied_port} on 127.0.0.1 is already in use")
    assert "make app PORT=N" in lines[0]


def test_app_rejects_a_bad_pool_size(capsys):
    from qmu_kit.cli.commands import main

    assert main(["app", "--pool", "65"]) == 2
    assert "pool_size=65 is out of range" in capsys.readouterr().err


def test_voila_never_wanders_to_another_port_and_uses_the_offline_template():
    command = voila_command(apps_directory(), pool_size=3)
    assert "--Voila.port_retries=0" in command and f"--Voila.ip={DEFAULT_HOST}" in command
    assert "--VoilaConfiguration.default_pool_size=3" in command and "--VoilaConfiguration.preheat_kernel=True" in command
    assert "--VoilaConfiguration.preheat_kernel=False" in voila_command(apps_directory(), pool_size=0)
    # Unix sockets for the kernels (a pool starting over TCP raced for ports; the browser tests serve through it)
    assert ("--KernelManager.transport=ipc" in command) == (os.name != "nt")
    for host in ("", "127.0.0.1 --allow-root"):  # one argument, one address: nothing smuggled into Voila's command line
        with pytest.raises(ValueError, match=r"host=.* is not valid: give an address such as 127.0.0.1"):
            voila_command(apps_directory(), host=host)
    assert voila_environment({"JUPYTER_PATH": "/elsewhere"})["JUPYTER_PATH"].split(":") == [str(JUPYTER_DATA), "/elsewhere"]
    template = JUPYTER_DATA / "voila" / "templates" / "qmu"
    for page in template.glob("*.html"):  # the landing and error pages load nothing from the internet
        assert not re.search(r"(src|href)=\"https?://", page.read_text()), page


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_landing_page_is_plain_html_with_a_link_to_every_app_and_nothing_external(tmp_path):
    port = _free_port()
    command = voila_command(apps_directory(), "127.0.0.1", port, pool_size=0)  # no kernels: the landing page only
    process = subprocess.Popen(command, env=voila_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, page = time.monotonic() + 120, None
        while page is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
            except OSError:
                assert process.poll() is None, "voila exited"
                time.sleep(0.3)
        assert page is not None, "voila did not answer within 120 s"
        links = re.findall(r'<a class="qmu-app" href="([^"]+)">([^<]+)</a>', page)
        apps = sorted(p.name for p in apps_directory().glob("*.ipynb"))
        assert [name for _, name in links] == apps
        assert [href for href, _ in links] == [f"/voila/render/{name}" for name in apps]
        assert not re.search(r"(src|href)=\"https?://", page)
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- the cache every kernel shares -------------------------------------------------------------------

def _hammer(directory: str, key: str, marker: int, rounds: int) -> None:
    cache = ResultCache(directory)
    payload = {"writer": marker, "data": [marker] * 50_000}  # ~150 kB: a write takes a while
    for _ in range(rounds):
        cache.store_json(key, payload)
        cache.store_state(key, {"writer": marker, "weights": [float(marker)] * 20_000})


def test_two_processes_writing_the_same_entry_never_corrupt_it(tmp_path):
    context = multiprocessing.get_context("fork")  # no second import of torch: the writers start at once
    writers = [context.Process(target=_hammer, args=(str(tmp_path), "shared", marker, 15)) for marker in (1, 2)]
    for writer in writers:
        writer.start()
    cache, seen = ResultCache(tmp_path), set()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a torn or half-written entry would warn: fail instead
        while any(w.is_alive() for w in writers) or not seen:
            value = cache.load_json("shared")
            if value is not None:
                assert value["data"] == [value["writer"]] * 50_000
                seen.add(value["writer"])
            state = cache.load_state("shared")
            if state is not None:
                seen.add(state["writer"])
                assert state["weights"] == [float(state["writer"])] * 20_000
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert seen <= {1, 2} and seen
    # no temporary files are left behind
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["shared.json", "shared.pt"]


TINY = ExperimentConfig(n_qubits=2, n_train=20, n_test=20, epochs=1, methods=(), retrain=False,
                        attacks=("loss",), forget="class:1")


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS], ids=["full disk", "read-only"])
def test_an_unwritable_cache_degrades_to_computing_without_caching_with_one_message(tmp_path, monkeypatch, failure):
    import qmu_kit.core.cache as cache_module

    def refuse(path, write):
        raise OSError(failure, "simulated", str(path))

    monkeypatch.setattr(cache_module, "atomic_write", refuse)
    cache = ResultCache(tmp_path / "cache")
    reference = run_experiment(TINY, cache=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_experiment(TINY, cache=cache)
        second = run_experiment(TINY, cache=cache)
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1 and "continuing without caching" in messages[0] and str(tmp_path / "cache") in messages[0]
    assert not first.from_cache and not second.from_cache
    for result in (first, second):  # the same numbers as without any cache (timings aside)
        assert result.models["original"].losses == reference.models["original"].losses
        auc = result.models["original"].attacks["loss"].overall.auc.value
        assert auc == pytest.approx(reference.models["original"].attacks["loss"].overall.auc.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json"))


# --- qmu-kit app --warm: every slider stop ahead of class -------------------------------------------

def test_the_warm_up_covers_every_setting_the_apps_can_ask_for():
    from qmu_kit.apps.stops import slider_stop_grids
    from qmu_kit.experiment.sweep import expand_grid
    from qmu_kit.ui.widgets import SHOT_OPTIONS, LeakagePanel, UnlearningPanel
    from qmu_kit.core.validation import check_shots

    configs = {config.cache_key("result") for base, grid in slider_stop_grids() for config in expand_grid(base, grid)}
    assert len(configs) == 2 * 10 * 8 + 4 * 3 * 8  # leakage: model x depth x shots; unlearning: method x params x shots
    for shots in SHOT_OPTIONS:
        for depth in (1, 10):
            values = {**LeakagePanel.default_values(), "shots": check_shots(shots), "depth": depth, "model": "basic"}
            assert LeakagePanel.config_for(values).cache_key("result") in configs
        for method in ("ga", "finetune"):
            values = {**UnlearningPanel.default_values(), "shots": check_shots(shots), "method": method, "params": "quantum"}
            assert UnlearningPanel.config_for(values).cache_key("result") in configs


def test_the_warm_up_covers_every_privacy_app_setting_training_each_budget_once(monkeypatch):
    from qmu_kit.core.validation import check_shots
    from qmu_kit.apps.stops import privacy_stops
    from qmu_kit.ui import widgets
    from qmu_kit.studies.privacy import privacy_cache_key
    from qmu_kit.ui.widgets import EPSILON_OPTIONS, SHOT_OPTIONS, PrivacyPanel

    stops = privacy_stops()
    results = {privacy_cache_key(config, spec) for config, spec in stops}
    models = {privacy_cache_key(config, spec, "model") for config, spec in stops}
    assert len(results) == len(EPSILON_OPTIONS) * len(SHOT_OPTIONS) and len(models) == len(EPSILON_OPTIONS)
    asked = []  # what the panel itself computes at each stop, caught where it calls run_private
    monkeypatch.setattr(widgets, "run_private", lambda config, spec, cache=True: asked.append((config, spec)) or None)
    panel = PrivacyPanel()
    asked.clear()  # the panel's first, default computation
    for epsilon in EPSILON_OPTIONS:
        for shots in SHOT_OPTIONS:
            panel._compute({**PrivacyPanel.default_values(), "epsilon": epsilon, "shots": check_shots(shots)})
    assert len(asked) == len(results) and {privacy_cache_key(config, spec) for config, spec in asked} == results
    first = {spec.epsilon: config.shots for config, spec in reversed(stops)}
    assert set(first.values()) == {None}  # each budget's exact stop comes first: it trains the model


def test_the_warm_up_is_resumable(tmp_path, monkeypatch):
    import qmu_kit.apps.stops as app

    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path))
    from qmu_kit.studies.privacy import PrivacySpec, privacy_config, run_private

    monkeypatch.setattr(app, "slider_stop_grids", lambda: [(TINY, {"shots": [None, 10, 100]})])
    tiny_private = privacy_config(model="basic", n_qubits=2, n_train=20, n_test=20, epochs=1, attacks=("loss",))
    private_stops = [(tiny_private.replace(shots=s), PrivacySpec(epsilon=float("inf"))) for s in (None, 10)]
    monkeypatch.setattr(app, "privacy_stops", lambda: private_stops)
    cache = ResultCache(tmp_path)
    run_experiment(TINY.replace(shots=10), cache=cache)  # an interrupted warm-up got this far
    assert app.warm_every_stop(n_jobs=1, progress=False) == 3 + 2
    assert all(run_experiment(TINY.replace(shots=s), cache=cache).from_cache for s in (None, 10, 100))
    assert all(run_private(config, spec, cache=cache).from_cache for config, spec in private_stops)


def test_the_port_check_names_what_is_started_and_how_to_move_it(occupied_port):
    with pytest.raises(PortInUseError) as caught:
        check_port_free("127.0.0.1", occupied_port, "JupyterLab", "make lab LAB_PORT=N")
    assert str(caught.value) == (f"port {occupied_port} on 127.0.0.1 is already in use (another qmu-kit "
                                 "app or server still running?): stop that server or start JupyterLab on another port "
                                 "with make lab LAB_PORT=N")
    check_port_free("127.0.0.1", 0)  # port 0: any free port, never taken


def test_voila_command_is_safe_by_default():  # noqa: D103  (moved from test_app_browser: it needs no browser)
    command = voila_command(Path("notebooks/apps"))
    assert "--Voila.ip=127.0.0.1" in command and "--VoilaConfiguration.show_tracebacks=False" in command
    assert command[:3] == [sys.executable, "-m", "voila"]
    with pytest.raises(ValueError, match="port=70000 is out of range"):
        voila_command(Path("x"), port=70000)


@pytest.fixture
def preheat_kernel(monkeypatch, tmp_path):
    """The environment Voila gives a preheated kernel of one server."""
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("VOILA_APP_PORT", "40123")
    return tmp_path


class _Kernels:
    """``n`` threads standing in for kernels (each opens its own lock files) that take a turn and hold it
    until released; counts how many are inside at once, without relying on timing."""

    def __init__(self, n: int, **turn):
        self.inside = self.most = self.done = 0
        self.count = threading.Condition()
        self.release = threading.Event()
        self.threads = [threading.Thread(target=self._kernel, kwargs=turn) for _ in range(n)]
        for thread in self.threads:
            thread.start()

    def _kernel(self, **turn):
        with warm_up_turn(**turn):
            with self.count:
                self.inside += 1
                self.most = max(self.most, self.inside)
                self.count.notify_all()
            self.release.wait(timeout=60)
            with self.count:
                self.inside -= 1
        with self.count:
            self.done += 1
            self.count.notify_all()

    def wait_until(self, predicate, timeout: float = 30) -> bool:
        with self.count:
            return self.count.wait_for(predicate, timeout=timeout)

    def finish(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.mark.skipif(os.name == "nt", reason="no file locks on Windows: the turn is a no-op there")
@pytest.mark.parametrize("slots", [1, 2])
def test_preheating_kernels_warm_up_at_most_slots_at_a_time(preheat_kernel, slots):
    kernels = _Kernels(4, slots=slots, directory=preheat_kernel)
    try:
        assert kernels.wait_until(lambda: kernels.inside == slots)  # as many as there are turns get in...
        time.sleep(0.5)  # ...and the others, polling every 0.05 s, had their chances to get in too
        assert kernels.most == slots
    finally:
        kernels.finish()
    assert kernels.done == 4 and kernels.most == slots  # every kernel had its turn, never more at once


def test_outside_a_preheat_kernel_the_turn_never_waits(monkeypatch, tmp_path):
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)  # JupyterLab, nbval, a kernel per visitor
    kernels = _Kernels(3, slots=1, directory=tmp_path)
    try:
        assert kernels.wait_until(lambda: kernels.inside == 3)  # all three inside at once
    finally:
        kernels.finish()


@pytest.mark.skipif(os.name == "nt", reason="no file locks on Windows: the turn is a no-op there")
def test_a_stuck_kernel_never_holds_up_the_class(preheat_kernel):
    release = threading.Event()

    def stuck():
        with warm_up_turn(slots=1, directory=preheat_kernel):
            release.wait(timeout=30)

    holder = threading.Thread(target=stuck)
    holder.start()
    time.sleep(0.2)
    start = time.monotonic()
    with warm_up_turn(slots=1, max_wait_s=0.5, directory=preheat_kernel):
        waited = time.monotonic() - start
    release.set()
    holder.join()
    assert 0.5 <= waited < 20  # gave up after max_wait_s, long before the stuck kernel (30 s)


@pytest.mark.skipif(os.name == "nt", reason="no file locks on Windows: the turn is a no-op there")
def test_a_failing_warm_up_gives_its_turn_back(preheat_kernel):
    with pytest.raises(RuntimeError):
        with warm_up_turn(slots=1, directory=preheat_kernel):
            raise RuntimeError("the app failed to build")
    start = time.monotonic()
    with warm_up_turn(slots=1, max_wait_s=30, directory=preheat_kernel):
        assert time.monotonic() - start < 10  # the turn was free: not the 30 s wait


@pytest.mark.skipif(os.name == "nt", reason="no file locks on Windows: the turn is a no-op there")
def test_a_kernel_that_dies_mid_warm_up_gives_its_turn_back(preheat_kernel):
    code = ("import os, time; from pathlib import Path; from qmu_kit.apps.voila import warm_up_turn\n"
            f"with warm_up_turn(slots=1, directory=Path({str(preheat_kernel)!r})):\n"
            "    print('warming', flush=True); time.sleep(60)")
    kernel = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert kernel.stdout.readline().strip() == "warming"
        kernel.kill()  # out of memory, a crash
        kernel.wait(timeout=10)
        start = time.monotonic()
        with warm_up_turn(slots=1, max_wait_s=30, directory=preheat_kernel):
            assert time.monotonic() - start < 10  # the dead kernel's turn was free: not the 30 s wait
    finally:
        kernel.kill()


def test_every_app_notebook_shows_a_panel_through_app_panel():
    """The app notebooks hold no mechanism of their own: one call each, to a panel that exists."""
    import json

    from qmu_kit.ui import widgets

    for path in sorted(apps_directory().glob("*.ipynb")):
        code = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        name = re.fullmatch(r'from qmu_kit\.apps import app_panel\n\napp_panel\("(\w+)"\)', code[0]).group(1)
        assert len(code) == 1 and issubclass(getattr(widgets, name), widgets.Panel), path.name


def test_app_panel_builds_the_named_panel_and_names_the_choices_for_a_bad_one(monkeypatch):
    from qmu_kit.ui.widgets import ShotNoisePanel

    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    assert isinstance(app_panel("ShotNoisePanel"), ShotNoisePanel)
    with pytest.raises(ValueError, match=r"unknown panel 'SlidersPanel': choose one of .*'UnlearningPanel'"):
        app_panel("SlidersPanel")
