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
instead (:mod:`qmu_kit.apps.static`): every slider stop of every app rendered ahead of class and served
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

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from qmu_kit.apps.server import DEFAULT_HOST, DEFAULT_PORT, PORT_FLAG, apps_directory, check_port_free
from qmu_kit.apps.stops import warm_cache, warm_every_stop
from qmu_kit.core.parallel import workers
from qmu_kit.core.validation import check_choice, check_host, check_int
from qmu_kit.ui import widgets

#: Preheated kernels kept ready per app (each about 0.3 GB PSS once the kit is imported).
DEFAULT_POOL_SIZE = 2
MAX_POOL_SIZE = 64
#: A preheating kernel waits at most this long for its turn to warm up, then warms up anyway (a stuck
#: kernel must never hold up the class).
MAX_TURN_WAIT_S = 120.0
#: Where the kit's Voila template lives; Voila finds it through ``JUPYTER_PATH``.
JUPYTER_DATA = Path(__file__).resolve().parents[1] / "jupyter"
TEMPLATE = "qmu"
#: Lab extensions installed with the kit's dependencies that no app uses; Voila would send each to
#: every visitor's browser (plotly's, a dependency of cqlib, is 4.7 MB of JavaScript to fetch and parse).
UNUSED_LAB_EXTENSIONS = ("jupyterlab-plotly",)


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
        # Less JavaScript per page: extensions no app uses are never sent (benchmarks/bench_classroom.py
        # measures a visitor's time to a usable app).
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
    return max(1, workers() - 1)


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
    """The panel an app notebook shows (a class of :mod:`qmu_kit.ui.widgets`, built with its defaults),
    imported and computed in turn with the server's other preheating kernels (:func:`warm_up_turn`).

    Args:
        name: the panel class, e.g. ``"UnlearningPanel"``.

    Example:
        >>> app_panel("ShotNoisePanel")  # doctest: +SKIP
    """
    with warm_up_turn():

        panels = {panel.__name__: panel for panel in widgets.Panel.__subclasses__()}
        check_choice("panel", name, sorted(panels))
        return panels[name]()


def voila_environment(base: dict | None = None) -> dict:
    """The environment Voila runs in: ``base`` (default ``os.environ``) plus the kit's template path."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(JUPYTER_DATA), env.get("JUPYTER_PATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


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


