"""Serve the kit's apps with Voila: the notebooks' text, sliders and figures, without code.

``qmu-kit app`` (and ``make app``) first warms the cache for the apps' default settings, so the
first page load is instant, then starts Voila in tree mode on ``notebooks/apps``: the landing page at
``/`` is plain HTML with a real link to every app at ``/voila/render/<name>.ipynb``.

For a classroom, Voila keeps a pool of preheated kernels per app (``pool_size``): each has already
imported the kit and run the app's notebook, so a visitor gets a usable page at once; a visitor beyond
the pool waits for the next kernel the pool is starting (Voila hands out the pending one), on a page
that says why it waits. Voila replaces each kernel it hands out at once; the app notebooks warm up in
turn (:func:`warm_up_turn`), so a class's refills take one core, not the cores its pages need. The pages
load nothing from the internet: the kit's Voila template (``qmu_kit/jupyter/voila/templates/qmu``)
drops Voila's CDN icon font and serves a static landing page.

For a whole class at once, ``qmu-kit app --static`` (``make classroom``) serves the classroom pages
instead (:mod:`qmu_kit.static_apps`): every slider stop of every app rendered ahead of class and served
as plain files, so no visitor needs a kernel (:func:`serve_static`).

If the port is taken, :func:`check_port_free` stops before anything starts, naming the port and
what to do; Voila itself is told not to wander to another port, so the printed address is the one
that answers.

Safe defaults: Voila listens on 127.0.0.1 only (``--host`` changes that deliberately), shows no
tracebacks to the browser, and every visitor gets their own kernel. To reach the apps from another
machine, prefer an SSH tunnel (``ssh -L 8866:127.0.0.1:8866 you@server``) over ``--host 0.0.0.0``:
anyone who can reach the port can start kernels on your machine.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qmu_kit._validation import check_choice, check_host, check_int

if TYPE_CHECKING:  # for annotations only: importing the experiment here would slow the server's start
    from qmu_kit.experiment import ExperimentConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
#: Preheated kernels kept ready per app (each about 0.3 GB PSS once the kit is imported).
DEFAULT_POOL_SIZE = 2
MAX_POOL_SIZE = 64
#: A preheating kernel waits at most this long for its turn to warm up, then warms up anyway (a stuck
#: kernel must never hold up the class).
MAX_TURN_WAIT_S = 120.0
#: Where the kit's Voila template lives; Voila finds it through ``JUPYTER_PATH``.
JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter"
TEMPLATE = "qmu"
#: Lab extensions installed with the kit's dependencies that no app uses; Voila would send each to
#: every visitor's browser (plotly's, a dependency of cqlib, is 4.7 MB of JavaScript to fetch and parse).
UNUSED_LAB_EXTENSIONS = ("jupyterlab-plotly",)
PORT_FLAG = "--port N (make app PORT=N)"


class PortInUseError(OSError):
    """The port asked for is already taken: the message names it and what to do."""


def check_port_free(host: str, port: int, what: str = "the server", flag: str = "--port N") -> None:
    """Raise :class:`PortInUseError` if ``host:port`` cannot be listened on because it is taken.

    Binds (and releases) a socket with ``SO_REUSEADDR`` as Tornado does, so a port left in TIME_WAIT
    by yesterday's server counts as free and only a live listener counts as taken. Shared by
    ``qmu-kit app``, ``make lab`` and anything else that prints an address before serving it.

    Args:
        host: the address to listen on, e.g. ``127.0.0.1``.
        port: the TCP port, 1-65535.
        what: what is being started, for the message.
        flag: how to choose another port, for the message.

    Example:
        >>> check_port_free("127.0.0.1", 0)  # port 0: any free port, never taken
    """
    check_int("port", port, 0, 65535)
    try:
        # Every address the name stands for (localhost: IPv4 and IPv6), as Tornado listens on all.
        families = {info[4][:2]: info[0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as error:
        raise ValueError(f"host={host!r} is not valid ({error.strerror}): give an address such as 127.0.0.1") from None
    for address, family in sorted(families.items()):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise PortInUseError(
                        f"port {port} on {host} is already in use (another qmu-kit app or server still running?): "
                        f"stop that server or start {what} on another port with {flag}",
                    ) from None
                if error.errno == errno.EADDRNOTAVAIL:
                    raise ValueError(f"host={host!r} is not an address of this machine: give one such as 127.0.0.1") from None
                raise


def apps_directory() -> Path:
    """``notebooks/apps`` of the source tree the kit runs from (an editable install, as ``make`` sets up)."""
    candidate = Path(__file__).resolve().parents[1] / "notebooks" / "apps"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"the app notebooks are not at {candidate}: run the apps from a checkout of qmu-kit (make app)"
        )
    return candidate


def voila_command(directory: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                  pool_size: int = DEFAULT_POOL_SIZE) -> list[str]:
    """The Voila command line with the kit's safe settings; run it with :func:`voila_environment`.

    Args:
        directory: the notebooks to serve (tree mode).
        host: the address to listen on (127.0.0.1 unless you mean otherwise).
        port: the TCP port; Voila does not try others (``port_retries=0``).
        pool_size: preheated kernels kept ready per app, 0-64 (0: a kernel starts per visitor).

    Example:
        >>> "--VoilaConfiguration.preheat_kernel=False" in voila_command(Path("notebooks/apps"), pool_size=0)
        True
    """
    check_int("port", port, 1, 65535)
    check_int("pool_size", pool_size, 0, MAX_POOL_SIZE)
    check_host(host)
    return [
        sys.executable, "-m", "voila", str(directory),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={port}",
        # Never wander to the next free port: the address printed must be the one that answers.
        "--Voila.port_retries=0",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--VoilaConfiguration.template={TEMPLATE}",
        # The Jinja landing page (real links, no JavaScript-built list).
        "--VoilaConfiguration.classic_tree=True",
        # Less JavaScript per page: a warm single visitor's time to a usable app was 3.4 and 3.5 s
        # without plotly's extension, 4.4 and 3.6 s with it (benchmarks/bench_classroom.py, pool 2).
        f"--VoilaConfiguration.extension_denylist={json.dumps(list(UNUSED_LAB_EXTENSIONS))}",
        f"--VoilaConfiguration.default_pool_size={pool_size}",
        # A preheated kernel sent to a visitor is replaced at once, not after Voila's default 1 s.
        "--VoilaKernelManager.fill_delay=0",
        f"--VoilaConfiguration.preheat_kernel={pool_size > 0}",
        # Kernels talk to the server over Unix sockets, not TCP ports: dozens of kernels starting at once
        # (a preheated pool) raced for the same free port ("Address already in use" in a kernel's
        # heartbeat), and 10 visitors at once then got no page at all (benchmarks/bench_classroom.py).
        # Windows has no Unix sockets: TCP there.
        *(["--KernelManager.transport=ipc"] if os.name != "nt" else []),
    ]


def warm_up_slots() -> int:
    """How many of a server's preheating kernels warm up at once: all cores but one, at least one.

    The core left over serves the visitors' pages (Voila's server is one process) while the pool refills.
    """
    # The cores this process may run on (a container's share), not the host's count.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


@contextmanager
def warm_up_turn(slots: int | None = None, max_wait_s: float = MAX_TURN_WAIT_S, directory: Path | None = None):
    """Run the block (an app's imports and first computation) in turn with the server's other preheating kernels.

    Voila replaces every pooled kernel a visitor takes at once: ten students opening apps together
    start ten kernels that import torch and compute on the same two cores as the pages those students
    are waiting for. Inside a Voila preheat kernel (``VOILA_PREHEAT=True``) this block waits for one of
    ``slots`` turns (file locks shared by the server's kernels, released when the block ends or the
    kernel dies), so the pool refills a few kernels at a time. Anywhere else (JupyterLab, nbval, a
    kernel started per visitor, Windows) it does nothing. After ``max_wait_s`` it runs anyway.

    Args:
        slots: kernels warming up at once (default :func:`warm_up_slots`).
        max_wait_s: the longest wait for a turn, in seconds.
        directory: where the lock files live (default: the temporary directory).

    Example:
        >>> with warm_up_turn():  # not a preheat kernel here: runs at once
        ...     answer = 6 * 7
    """
    if os.environ.get("VOILA_PREHEAT") != "True" or os.name == "nt":
        yield
        return
    import fcntl

    slots = warm_up_slots() if slots is None else slots
    # One set of turns per server (its port), per user.
    server = os.environ.get("VOILA_APP_PORT", "0")
    root = Path(directory or tempfile.gettempdir())
    handles = [open(root / f"qmu-kit-warm-up-{os.getuid()}-{server}-{slot}.lock", "a") for slot in range(slots)]
    held = None
    deadline = time.monotonic() + max_wait_s
    try:
        while held is None and time.monotonic() < deadline:
            for handle in handles:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                held = handle
                break
            else:
                time.sleep(0.05)
        yield
    finally:
        if held is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
        for handle in handles:
            handle.close()


def app_panel(name: str):
    """The panel an app notebook shows (a class of :mod:`qmu_kit.widgets`, built with its defaults),
    imported and computed in turn with the server's other preheating kernels (:func:`warm_up_turn`).

    Args:
        name: the panel class, e.g. ``"UnlearningPanel"``.

    Example:
        >>> app_panel("ShotNoisePanel")  # doctest: +SKIP
    """
    with warm_up_turn():
        from qmu_kit import widgets

        panels = {panel.__name__: panel for panel in widgets.Panel.__subclasses__()}
        check_choice("panel", name, sorted(panels))
        return panels[name]()


def voila_environment(base: dict | None = None) -> dict:
    """The environment Voila runs in: ``base`` (default ``os.environ``) plus the kit's template path."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(JUPYTER_DATA), env.get("JUPYTER_PATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def warm_cache(progress: bool = True) -> None:
    """Compute (or replay) what the apps show at their default settings (the classifier app's model is
    the leakage app's original model; the shot-noise app needs nothing; the privacy app's is one DP-SGD run)."""
    from qmu_kit.experiment import run_experiment
    from qmu_kit.privacy import run_private
    from qmu_kit.widgets import LeakagePanel, PrivacyPanel, UnlearningPanel

    for panel in (UnlearningPanel, LeakagePanel):
        run_experiment(panel.config_for(panel.default_values()), progress=progress)
    run_private(*PrivacyPanel.config_for(PrivacyPanel.default_values()))


def slider_stop_grids() -> list[tuple[ExperimentConfig, dict]]:
    """Every setting the apps can ask for, as ``(base, grid)`` sweeps at the classroom preset.

    The unlearning app: method x shots x parameters; the leakage app: shots x depth x model (its
    original models are also what the classifier app shows); the shot-noise app computes nothing.
    The attack selector changes no computation (every attack runs in each experiment).
    """
    from qmu_kit.data import MODELS
    from qmu_kit.experiment import METHODS
    from qmu_kit.unlearning import PARAMETER_GROUPS
    from qmu_kit.widgets import SHOT_OPTIONS, LeakagePanel, UnlearningPanel, depth_slider
    from qmu_kit._validation import check_shots

    shots = [check_shots(stop) for stop in SHOT_OPTIONS]
    slider = depth_slider()
    depths = list(range(slider.min, slider.max + 1))
    return [
        (LeakagePanel.config_for(LeakagePanel.default_values()), {"model": list(MODELS), "depth": depths, "shots": shots}),
        (UnlearningPanel.config_for(UnlearningPanel.default_values()),
         {"methods": [(method,) for method in METHODS], "unlearn_params": list(PARAMETER_GROUPS), "shots": shots}),
    ]


def privacy_stops() -> list[tuple[ExperimentConfig, object]]:
    """Every setting the privacy app can ask for, as the ``(config, PrivacySpec)`` of
    :meth:`PrivacyPanel.config_for <qmu_kit.widgets.PrivacyPanel.config_for>`: epsilon x shots, exact
    shots first for each budget (the model each budget trains is then cached for its shots stops)."""
    from qmu_kit._validation import check_shots
    from qmu_kit.widgets import EPSILON_OPTIONS, SHOT_OPTIONS, PrivacyPanel

    shots = sorted((check_shots(stop) for stop in SHOT_OPTIONS), key=lambda s: s is not None)  # exact first
    defaults = PrivacyPanel.default_values()
    return [PrivacyPanel.config_for({**defaults, "epsilon": epsilon, "shots": s}) for epsilon in EPSILON_OPTIONS for s in shots]


def warm_every_stop(n_jobs: int = 1, progress: bool = True) -> int:
    """Compute every slider stop of every app ahead of class (the unlearning and leakage apps' sweeps,
    whose original models the classifier app shows, and the privacy app's budgets x shots); returns how
    many settings are cached.

    Resumable (finished settings are cached as they complete; an interrupted warm-up continues
    where it stopped) and parallel (``n_jobs`` worker processes). Exact expectations come first,
    so the trained models every shots stop reuses exist before the stops fan out.

    Example:
        >>> warm_every_stop(n_jobs=2)  # doctest: +SKIP
    """
    from qmu_kit.sweep import run_sweep

    def sweep(base, grid):
        return run_sweep(base, grid, n_jobs=n_jobs, progress=progress, max_hours=float("inf")).results

    grids = slider_stop_grids()
    for base, grid in grids:
        sweep(base, {**grid, "shots": [None]})
    warmed = sum(len(sweep(base, grid)) for base, grid in grids)
    # The privacy app: one DP-SGD model per budget (exact stops first, in parallel over budgets), then
    # its shots stops, which reuse it.
    from joblib import Parallel, delayed

    from qmu_kit.privacy import run_private

    stops = privacy_stops()
    exact = [stop for stop in stops if stop[0].shots is None]
    for group in (exact, [stop for stop in stops if stop[0].shots is not None]):
        Parallel(n_jobs=n_jobs)(delayed(run_private)(config, spec) for config, spec in group)
        if progress:
            print(f"qmu-kit app --warm: {len(group)} privacy-app settings ready", file=sys.stderr)
    return warmed + len(stops)


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warm: bool = True,
          pool_size: int = DEFAULT_POOL_SIZE, warm_all: bool = False, n_jobs: int = 1) -> int:
    """Check the port, warm the cache, then run Voila until interrupted; returns Voila's exit status.

    Raises:
        PortInUseError: the port is taken (checked before the cache is warmed, and again just before
            Voila starts).
        ValueError: a bad host, port or pool size.

    With ``warm_all``, every slider stop is computed first (:func:`warm_every_stop`, ``n_jobs``
    processes), so every move in class replays from the cache.
    """
    command = voila_command(apps_directory(), host, port, pool_size)
    check_port_free(host, port, "the apps", PORT_FLAG)
    if warm:
        print("qmu-kit app: preparing the default results (about a minute the first time, then cached)...", flush=True)
        warm_cache()
    if warm_all:
        print(f"qmu-kit app: computing every slider stop ahead of class ({n_jobs} processes; resumable: "
              "Ctrl-C and run again to continue)...", flush=True)
        warm_every_stop(n_jobs)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"qmu-kit app: WARNING: listening on {host}: anyone who can reach this port can start kernels here", flush=True)
    check_port_free(host, port, "the apps", PORT_FLAG)  # warming took a while: still free?
    print(f"qmu-kit app: serving on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    return subprocess.call(command, env=voila_environment())


def serve_static(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warm_all: bool = False, n_jobs: int = 1,
                 site: str | Path | None = None) -> int:
    """Build the classroom pages (:mod:`qmu_kit.static_apps`: every slider stop of every app, rendered
    once; resumable) and serve them as plain files until interrupted. Returns 0.

    With ``warm_all``, every stop is computed first in parallel (:func:`warm_every_stop`); otherwise the
    build computes whatever the cache lacks itself. A ``site`` directory that holds a site already is
    completed and served with its own apps and stops (see :func:`qmu_kit.static_apps.resume_site`).

    Raises:
        PortInUseError: the port is taken (checked before building and again before serving).
        ValueError: a bad host, port or number of processes.
    """
    from qmu_kit.static_apps import MANIFEST, build_site, check_site_directory, resume_site, serve_site

    check_host(host)
    check_port_free(host, port, "the classroom pages", PORT_FLAG)
    if site is not None:
        check_site_directory(site)
    if warm_all:
        print(f"qmu-kit app --static: computing every slider stop ({n_jobs} processes; resumable)...", flush=True)
        warm_every_stop(n_jobs)
    # Measured on 2026-11-26 (2-core machine): rendering the 1,692 stops took 1,515 CPU-s; computing them
    # into an empty cache about 1,500 s of one core more.
    print(f"qmu-kit app --static: rendering every slider stop not rendered yet ({n_jobs} processes; about 25 CPU-minutes "
          "for all of them, and as much again to compute the stops the cache lacks; resumable)...", flush=True)
    existing = site is not None and (Path(site).expanduser() / MANIFEST).exists()
    # A site given by directory keeps its own apps and stops (e.g. built for a lesson with build_site).
    build = resume_site(site, n_jobs=n_jobs) if existing else build_site(site, n_jobs=n_jobs)
    print(build.table(), flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"qmu-kit app: WARNING: listening on {host}: anyone who can reach this port can read these pages", flush=True)
    serve_site(build.directory, host, port)
    return 0
