"""A classroom on one server: the real Voila server driven by Chromium, loopback only, bounded.

For each server configuration (``before``: Voila as ``qmu-kit app`` started it before the classroom
work, one fresh kernel per visitor and Voila's own landing page; ``after``: the kit's template and a
pool of preheated kernels; ``static``: ``qmu-kit app --static``, the classroom pages, every slider
stop computed ahead of class into a small JSON file the page draws its charts from, served as plain
files, no kernel) and each class size, the benchmark starts a fresh server, waits until it is
idle, opens that many visitors at once (separate browser contexts, the apps in turn) and records:

* time to usable: from opening the page to the app's numbers table and its "ready" status;
* errors: a visitor not usable within ``--timeout`` seconds, or an error shown in the page;
* peak memory of the server and all its kernels (sum of PSS, sampled every 0.5 s; RSS alongside).

Every visitor's browser context and empty tab is opened first, untimed; then all open their app at
once (a class clicking the link together). The browsers run on the server's cores here, which a real
classroom's would not: so for ``static`` the same class sizes are also run as plain HTTP clients
(threads fetching the page, its first stop's file, then ``--http-moves`` random stops), which
measures the server alone.

Then, with one visitor on the ``after`` server, every stop of the unlearning app's method and
shots controls and of the leakage app's shots slider (at the classroom preset, depth 1, hybrid model)
is visited once: time from the move to the new numbers, after warming exactly those stops. With
``static``, one visitor visits every stop of every app of the site: time from setting the controls to
that stop's numbers and charts shown.

The ``static`` server serves the site in ``--site`` (built first if it holds none, with every stop,
from the cache in ``--cache``: run ``qmu-kit app --static --warm`` with that cache once beforehand, or
the build computes every stop itself, for hours).

Every request the browser makes to anything but 127.0.0.1 is blocked and counted (the apps must
work offline). Counts and times are bounded: at most ``max(--visitors)`` contexts, ``--timeout``
seconds each. On a shared 2-core machine a full run (1, 10, 30 visitors, both servers) takes
20-40 minutes; run it once, not in a loop.

Usage::

    .venv/bin/python benchmarks/bench_classroom.py --visitors 1,10,30 --pool 8 --json bench-classroom.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qmu_kit.apps import apps_directory  # noqa: E402
from qmu_kit.apps.voila import voila_command, voila_environment
from qmu_kit.core.parallel import workers  # noqa: E402

APPS = ("unlearning", "leakage", "classifiers", "shot_noise")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def before_command(port: int) -> list[str]:
    """``qmu-kit app``'s Voila command line before the classroom work (as in git history)."""
    return [sys.executable, "-m", "voila", str(apps_directory()), "--no-browser", "--Voila.ip=127.0.0.1",
            f"--port={port}", "--VoilaConfiguration.show_tracebacks=False"]


class MemorySampler(threading.Thread):
    """Peak of the summed PSS (and RSS) of a process and all its descendants."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_pss = self.peak_rss = 0
        self.peak_processes = 0
        self._done = threading.Event()

    def sample(self) -> tuple[int, int, int]:
        pss = rss = count = 0
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return 0, 0, 0
        for process in processes:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            pss, rss, count = pss + info.pss, rss + info.rss, count + 1
        return pss, rss, count

    def run(self) -> None:
        while not self._done.is_set():
            pss, rss, count = self.sample()
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, count)
            self._done.wait(0.5)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)


_PROCESSES: dict[int, psutil.Process] = {}  # kept, so cpu_percent measures since the previous call
_SERVERS: list[subprocess.Popen] = []


def _process(pid: int) -> psutil.Process:
    return _PROCESSES.setdefault(pid, psutil.Process(pid))


def kernels(pid: int) -> list[psutil.Process]:
    try:
        found = []
        for child in psutil.Process(pid).children(recursive=True):
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(_process(child.pid))
        return found
    except psutil.Error:
        return []


def _memory(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _stop_all() -> None:
    for process in _SERVERS:
        if process.poll() is None:
            stop_server(process)


def static_command(port: int, site: str) -> list[str]:
    """``qmu-kit app --static`` on a built site (it renders any stop the site lacks, then serves)."""
    return [sys.executable, "-m", "qmu_kit.cli.commands", "app", "--static", "--site", site, "--host", "127.0.0.1",
            "--port", str(port), "--jobs", "1"]


def start_server(kind: str, pool: int, cache_dir: str, log_dir: Path, site: str | None = None):
    port = free_port()
    env = voila_environment({**os.environ, "QMU_KIT_CACHE": cache_dir, "OMP_NUM_THREADS": "1"})
    if kind == "static":
        command = static_command(port, site)
    else:
        command = before_command(port) if kind == "before" else voila_command(apps_directory(), "127.0.0.1", port, pool)
    log = open(log_dir / f"server-{kind}-{port}.log", "wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    _SERVERS.append(process)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} server did not start; see {log.name}")
            time.sleep(0.3)
    expected = pool * len(APPS) if kind == "after" else 0
    # Ready for class: the pool is full and its kernels have finished their notebooks (CPU idle).
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        running = kernels(process.pid)
        # Idle CPU alone misleads on a loaded machine (a starving kernel uses little CPU): the kit is
        # imported (>= 0.3 GB each) and then the kernels go quiet.
        loaded = all(_memory(p) >= 0.3e9 for p in running)
        if len(running) >= expected and loaded:
            for p in running + [_process(process.pid)]:
                p.cpu_percent(interval=None)  # starts the measurement
            time.sleep(3)
            busy = sum(p.cpu_percent(interval=None) for p in kernels(process.pid) + [_process(process.pid)])
            if busy < 20:
                break
        else:
            time.sleep(1)
    return process, url


def stop_server(process) -> None:
    """Voila shuts its kernels down on SIGTERM; any kernel left after that is ended too."""
    children = []
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        pass
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in children:
        try:
            child.wait(timeout=10)
        except psutil.TimeoutExpired:
            child.kill()
        except psutil.Error:
            pass


class External:
    """Counts (and blocks) every request to a host other than 127.0.0.1."""

    def __init__(self):
        self.urls: list[str] = []

    async def route(self, route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1",) or route.request.url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            self.urls.append(route.request.url)
            await route.abort()


def app_url(url: str, app: str, kind: str) -> str:
    return f"{url}/{app}/" if kind == "static" else f"{url}/voila/render/{app}.ipynb"


async def new_visitor(browser, external: External):
    """A visitor's own browser context and empty tab (a student's browser, open before the link is clicked)."""
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    await context.route("**/*", external.route)
    return context, await context.new_page()


async def open_visitor(page, url: str, app: str, timeout_s: float, kind: str = "after") -> dict:
    """Open the app in the visitor's tab; time from the click to the app's numbers and "ready"."""
    start = time.monotonic()
    outcome = {"app": app, "seconds": None, "error": None}
    try:
        await page.goto(app_url(url, app, kind), timeout=timeout_s * 1000, wait_until="commit")
        await page.wait_for_selector("table.qmu-numbers", timeout=max(1.0, timeout_s - (time.monotonic() - start)) * 1000)
        await page.wait_for_selector(".qmu-ready", timeout=max(1.0, timeout_s - (time.monotonic() - start)) * 1000)
        outcome["seconds"] = time.monotonic() - start
        body = await page.inner_text("body")
        if "There was an error" in body or "Could not compute" in body:
            outcome["error"] = "error shown in the page"
    except Exception as error:  # a timeout or a broken page: counted, not raised
        outcome["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
    return outcome


async def class_size(browser, url: str, visitors: int, timeout_s: float, external: External, kind: str,
                     site: str | None = None) -> list[dict]:
    offered = APPS
    if kind == "static":  # the apps the site holds (a site built for a lesson may hold fewer)
        built = json.loads((Path(site) / "manifest.json").read_text())["apps"]
        offered = [app for app in APPS if app in built]
    apps = [offered[i % len(offered)] for i in range(visitors)]
    # Every visitor's browser is open first (not timed), then all click their link at once: the
    # moment a class opens the apps together.
    tabs = [await new_visitor(browser, external) for _ in apps]
    outcomes = await asyncio.gather(*(open_visitor(page, url, app, timeout_s, kind) for (_, page), app in zip(tabs, apps)))
    for context, _ in tabs:
        await context.close()
    return outcomes


def http_load(url: str, site: Path, visitors: int, moves: int, seed: int = 0) -> dict:
    """The static server alone, without browsers: ``visitors`` plain HTTP clients at once, each fetching
    an app page and its first stop's file, then ``moves`` stops (each one file: numbers and chart data) at random.
    Returns time to the first stop per visitor and the latency of every request."""
    import random
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    manifest = json.loads((site / "manifest.json").read_text())
    apps = sorted(manifest["apps"])
    keys = {app: sorted(p.stem for p in (site / app / "stops").glob("*.json")) for app in apps}
    barrier = threading.Barrier(visitors)

    def fetch(path, latencies):
        start = time.monotonic()
        with urllib.request.urlopen(url + path, timeout=60) as response:
            response.read()
        latencies.append(time.monotonic() - start)

    def visitor(i):
        rng = random.Random(seed + i)
        app, latencies = apps[i % len(apps)], []
        page = urllib.request.urlopen(f"{url}/{app}/", timeout=60)
        barrier.wait()
        start = time.monotonic()
        first = page.read().decode()
        first_key = first.split('data-stop="', 1)[1].split('"', 1)[0]
        fetch(f"/{app}/stops/{first_key}.json", latencies)
        usable = time.monotonic() - start
        for _ in range(moves):
            key = rng.choice(keys[app])
            fetch(f"/{app}/stops/{key}.json", latencies)
        return usable, latencies

    with ThreadPoolExecutor(visitors) as pool:
        outcomes = list(pool.map(visitor, range(visitors)))
    usable = [u for u, _ in outcomes]
    latencies = sorted(t for _, ts in outcomes for t in ts)
    return {"visitors": visitors, "moves_each": moves, "requests": len(latencies),
            "usable_median_s": statistics.median(usable), "usable_max_s": max(usable),
            "latency_median_s": statistics.median(latencies), "latency_p99_s": latencies[int(0.99 * (len(latencies) - 1))],
            "latency_max_s": latencies[-1]}


def summary(outcomes: list[dict], timeout_s: float) -> dict:
    times = [o["seconds"] for o in outcomes if o["seconds"] is not None]
    errors = [o["error"] for o in outcomes if o["error"]]
    return {
        "visitors": len(outcomes),
        "usable": len(times),
        "median_s": statistics.median(times) if times else None,
        "max_s": max(times) if len(times) == len(outcomes) else f">{timeout_s:g}",
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
    }


def visited_stops(methods: list[str], n_shots: int) -> tuple[list[str], list[str]]:
    """The methods and shots stops the slider pass visits: shots from "exact" down, ``n_shots`` of them."""
    from qmu_kit.ui import SHOT_OPTIONS

    return methods, list(reversed(SHOT_OPTIONS[:-1]))[:n_shots]


async def slider_stops(browser, url: str, external: External, timeout_s: float, methods: list[str], n_shots: int) -> list[dict]:
    """The unlearning app's method x shots stops and the leakage app's shots stops, one visitor."""
    from qmu_kit.unlearning import UNLEARNING_METHODS

    methods, shot_stops = visited_stops(methods, n_shots)

    records = []
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    await context.route("**/*", external.route)

    async def move(page, app, stop, action):
        before = await page.inner_text("table.qmu-numbers")
        start = time.monotonic()
        await action()
        try:
            await page.wait_for_function(
                "b => document.querySelector('table.qmu-numbers').innerText !== b"
                " && document.querySelector('.qmu-ready') !== null", arg=before, timeout=timeout_s * 1000)
            records.append({"app": app, "stop": stop, "seconds": time.monotonic() - start})
        except Exception as error:
            records.append({"app": app, "stop": stop, "seconds": None, "error": type(error).__name__})

    for app, app_methods in (("unlearning", methods), ("leakage", [None])):
        page = await context.new_page()
        await page.goto(f"{url}/voila/render/{app}.ipynb", timeout=timeout_s * 1000)
        await page.wait_for_selector(".qmu-ready", timeout=timeout_s * 1000)
        handle = page.locator(".noUi-handle").first  # the shots slider; it starts at "exact" (its last stop)
        for method in app_methods:
            if method is not None and method != "ga":
                await move(page, app, f"method={method} shots=exact",
                           lambda m=method: page.select_option("select >> nth=0", label=UNLEARNING_METHODS.description(m)))
            for shots in shot_stops:  # exact -> 10000 -> ..., one key press each
                await handle.focus()
                await move(page, app, f"method={method} shots={shots}", lambda: page.keyboard.press("ArrowLeft"))
            await handle.focus()
            await page.keyboard.press("End")  # back to exact (already measured)
            await page.wait_for_selector(".qmu-ready", timeout=timeout_s * 1000)
        await page.close()
    await context.close()
    return records


async def static_stops(browser, url: str, site: Path, external: External, timeout_s: float) -> list[dict]:
    """Every stop of every app of the site, one visitor: set the app's controls to the stop (as a move
    of the sliders does) and time until that stop's numbers and charts are shown."""
    import itertools

    manifest = json.loads((site / "manifest.json").read_text())
    records = []
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    await context.route("**/*", external.route)
    for app in sorted(manifest["apps"]):
        page = await context.new_page()
        await page.goto(f"{url}/{app}/", timeout=timeout_s * 1000)
        await page.wait_for_selector(".qmu-ready", timeout=timeout_s * 1000)
        stops = await page.evaluate("JSON.parse(document.getElementById('qmu-stops').textContent)")
        for indices in itertools.product(*(range(len(labels)) for labels in stops.values())):
            key = "-".join(map(str, indices))
            start = time.monotonic()
            await page.evaluate("""([names, indices]) => {
                names.forEach((name, i) => {
                  const radio = document.querySelector(`[name="${name}"][value="${indices[i]}"]`);
                  if (radio && radio.type === 'radio') radio.checked = true;
                  else document.querySelector(`[name="${name}"]`).value = String(indices[i]);
                });
                show();
            }""", [list(stops), list(indices)])
            try:
                await page.wait_for_selector(f"body[data-stop='{key}'] #qmu-status .qmu-ready", timeout=timeout_s * 1000)
                records.append({"app": app, "stop": key, "seconds": time.monotonic() - start})
            except Exception as error:
                records.append({"app": app, "stop": key, "seconds": None, "error": type(error).__name__})
        await page.close()
    await context.close()
    return records


def ensure_site(site: str) -> dict:
    """Build (or complete) the full classroom site from the cache; returns what the build did."""
    from qmu_kit.apps.static import MANIFEST, build_site, resume_site

    start = time.monotonic()
    jobs = min(2, workers())
    build = resume_site(site, n_jobs=jobs, progress=False) if (Path(site) / MANIFEST).exists() else build_site(site, n_jobs=jobs, progress=False)
    return {"site": site, "stops": build.stops, "rendered_now": build.rendered, "failed": len(build.failed),
            "seconds": time.monotonic() - start}


def warm_stops(methods: list[str], n_shots: int) -> None:
    """Compute exactly the stops :func:`slider_stops` visits (what ``qmu-kit app --warm`` does for all)."""
    from qmu_kit.experiment import run_experiment
    from qmu_kit.ui import LeakagePanel, UnlearningPanel
    from qmu_kit.core import check_shots

    methods, shot_stops = visited_stops(methods, n_shots)
    for method in methods:
        for shots in ["exact", *shot_stops]:
            values = {**UnlearningPanel.default_values(), "method": method, "shots": check_shots(shots)}
            run_experiment(UnlearningPanel.config_for(values))
    for shots in ["exact", *shot_stops]:
        run_experiment(LeakagePanel.config_for({**LeakagePanel.default_values(), "shots": check_shots(shots)}))


async def main_async(args) -> dict:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("bench_classroom: Chromium is missing (make chromium)")
    log_dir = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    results = {"pool": args.pool, "timeout_s": args.timeout, "levels": [], "slider_stops": [], "external_requests": []}
    external = External()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for kind in args.configs:
            for visitors in args.visitors:
                process, url = start_server(kind, args.pool, args.cache, log_dir, args.site)
                sampler = MemorySampler(process.pid)
                idle_pss, idle_rss, _ = sampler.sample()
                sampler.start()
                try:
                    outcomes = await class_size(browser, url, visitors, args.timeout, external, kind, args.site)
                    await asyncio.sleep(3)  # the pool refills after handing out kernels: part of the peak
                finally:
                    sampler.stop()
                    server_alive = process.poll() is None
                    stop_server(process)
                row = {"server": kind, **summary(outcomes, args.timeout), "idle_pss_gb": idle_pss / 1e9,
                       "peak_pss_gb": sampler.peak_pss / 1e9, "peak_rss_gb": sampler.peak_rss / 1e9,
                       "peak_processes": sampler.peak_processes, "server_alive": server_alive,
                       "per_app_median_s": {app: statistics.median([o["seconds"] for o in outcomes if o["app"] == app and o["seconds"]] or [float("nan")])
                                            for app in APPS if any(o["app"] == app for o in outcomes)}}
                results["levels"].append(row)
                print(json.dumps(row), flush=True)
        if "static" in args.configs:  # the server alone: plain HTTP clients, no browser on the same cores
            process, url = start_server("static", 0, args.cache, log_dir, args.site)
            try:
                for visitors in args.visitors:
                    row = await asyncio.to_thread(http_load, url, Path(args.site), visitors, args.http_moves)
                    results.setdefault("http_levels", []).append(row)
                    print(json.dumps(row), flush=True)
            finally:
                stop_server(process)
        if args.sliders and "static" in args.configs:
            process, url = start_server("static", 0, args.cache, log_dir, args.site)
            try:
                records = await static_stops(browser, url, Path(args.site), external, args.timeout)
            finally:
                stop_server(process)
            results["static_stops"] = records
            times = [r["seconds"] for r in records if r["seconds"] is not None]
            print(json.dumps({"static_stops": len(records), "answered": len(times),
                              "median_s": statistics.median(times) if times else None,
                              "max_s": max(times) if times else None}), flush=True)
        if args.sliders and "after" in args.configs:
            print("warming the slider stops the benchmark visits...", flush=True)
            start = time.monotonic()
            warm_stops(args.methods, args.shots_stops)
            results["warm_seconds"] = time.monotonic() - start
            process, url = start_server("after", 0, args.cache, log_dir)  # one visitor: no pool needed
            try:
                results["slider_stops"] = await slider_stops(browser, url, external, args.timeout, args.methods, args.shots_stops)
            finally:
                stop_server(process)
            times = [r["seconds"] for r in results["slider_stops"] if r["seconds"] is not None]
            print(json.dumps({"slider_stops": len(results["slider_stops"]), "answered": len(times),
                              "median_s": statistics.median(times) if times else None,
                              "max_s": max(times) if times else None}), flush=True)
        await browser.close()
    results["external_requests"] = sorted(set(external.urls))
    return results


def table(results: dict) -> str:
    lines = ["| server | visitors | usable | median s | max s | errors | peak PSS GB | peak RSS GB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["levels"]:
        median = "-" if r["median_s"] is None else f"{r['median_s']:.1f}"
        worst = r["max_s"] if isinstance(r["max_s"], str) else f"{r['max_s']:.1f}"
        lines.append(f"| {r['server']} | {r['visitors']} | {r['usable']} | {median} | {worst} | {r['errors']} | "
                     f"{r['peak_pss_gb']:.1f} | {r['peak_rss_gb']:.1f} |")
    stops = [r["seconds"] for r in results["slider_stops"] if r["seconds"] is not None]
    if results["slider_stops"]:
        lines.append(f"\nslider stops (warm cache): {len(stops)}/{len(results['slider_stops'])} answered, "
                     f"median {statistics.median(stops):.2f} s, max {max(stops):.2f} s")
    if results.get("http_levels"):
        lines.append("\nstatic server alone (plain HTTP clients at once: page and first stop, then random stops):")
        lines.append("| visitors | requests | first stop median / max s | request latency median / p99 / max s |")
        lines.append("|---|---|---|---|")
        for r in results["http_levels"]:
            lines.append(f"| {r['visitors']} | {r['requests']} | {r['usable_median_s']:.3f} / {r['usable_max_s']:.3f} | "
                         f"{r['latency_median_s']:.4f} / {r['latency_p99_s']:.4f} / {r['latency_max_s']:.4f} |")
    if results.get("static_stops"):
        static = [r["seconds"] for r in results["static_stops"] if r["seconds"] is not None]
        within = sum(1 for t in static if t <= 1.0)
        lines.append(f"\nstatic pages, every stop of every app: {len(static)}/{len(results['static_stops'])} answered, "
                     f"{within} within 1 s, median {statistics.median(static):.3f} s, max {max(static):.3f} s")
    lines.append(f"requests to anything but 127.0.0.1 (blocked): {len(results['external_requests'])} "
                 f"{results['external_requests'][:5]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", default="1,10,30", help="class sizes, comma-separated (each at most 40)")
    parser.add_argument("--configs", default="before,after,static", help="servers to measure: before, after, static")
    parser.add_argument("--http-moves", type=int, default=20, help="stops each plain HTTP client visits (static server, 1..200)")
    parser.add_argument("--site", help="the static server's site (default: a new directory; built from --cache)")
    parser.add_argument("--pool", type=int, default=8, help="preheated kernels per app for the 'after' server")
    parser.add_argument("--timeout", type=float, default=240, help="seconds a visitor may wait before it counts as an error")
    parser.add_argument("--methods", default="ga,ssd,rga,finetune", help="unlearning methods whose stops are visited")
    parser.add_argument("--shots-stops", type=int, default=7, help="shots stops visited below 'exact' (7: all of them)")
    parser.add_argument("--no-sliders", dest="sliders", action="store_false", help="skip the slider-stop pass")
    parser.add_argument("--cache", default=os.environ.get("QMU_KIT_CACHE") or tempfile.mkdtemp(prefix="bench-cache-"))
    parser.add_argument("--json", help="also write every number to this file")
    args = parser.parse_args()
    args.visitors = [int(v) for v in args.visitors.split(",")]
    args.configs = [c for c in args.configs.split(",") if c]
    args.methods = [m for m in args.methods.split(",") if m]
    if not 1 <= args.http_moves <= 200:
        parser.error(f"--http-moves {args.http_moves} is out of range: 1..200")
    if any(not 1 <= v <= 40 for v in args.visitors) or not set(args.configs) <= {"before", "after", "static"} or not 0 <= args.pool <= 16:
        parser.error("visitors must be 1..40 each, configs before/after/static, pool 0..16")
    os.environ["QMU_KIT_CACHE"] = args.cache
    import atexit
    import signal

    atexit.register(_stop_all)  # an interrupted benchmark leaves no server or kernel behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from qmu_kit.apps import warm_cache

    warm_cache(progress=False)  # what `qmu-kit app` does before serving, in both configurations
    site_build = None
    if "static" in args.configs:
        args.site = args.site or tempfile.mkdtemp(prefix="bench-site-")
        print(f"building the classroom site in {args.site} (from the cache in {args.cache})...", flush=True)
        site_build = ensure_site(args.site)
        print(json.dumps(site_build), flush=True)
    results = asyncio.run(main_async(args))
    results["site_build"] = site_build
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
