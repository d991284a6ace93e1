"""Serve the kit's apps with Voila: the notebooks' text, sliders and figures, without code.

``qmu-kit app`` (and ``make app``) first warms the cache for the apps' default settings, so the
first page load is instant, then starts Voila in tree mode on ``notebooks/apps``: the landing page at
``/`` links every app at ``/voila/render/<name>.ipynb``.

Safe defaults: Voila listens on 127.0.0.1 only (``--host`` changes that deliberately), shows no
tracebacks to the browser, and every visitor gets their own kernel. To reach the apps from another
machine, prefer an SSH tunnel (``ssh -L 8866:127.0.0.1:8866 you@server``) over ``--host 0.0.0.0``:
anyone who can reach the port can start kernels on your machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qmu_kit._validation import check_int

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866


def apps_directory() -> Path:
    """``notebooks/apps`` of the source tree the kit runs from (an editable install, as ``make`` sets up)."""
    candidate = Path(__file__).resolve().parents[1] / "notebooks" / "apps"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"the app notebooks are not at {candidate}: run the apps from a checkout of qmu-kit (make app)"
        )
    return candidate


def voila_command(directory: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """The Voila command line with the kit's safe settings."""
    check_int("port", port, 1, 65535)
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"host={host!r} is not valid: give an address such as 127.0.0.1")
    return [
        sys.executable, "-m", "voila", str(directory),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--port={port}",
        "--VoilaConfiguration.show_tracebacks=False",
    ]


def warm_cache(progress: bool = True) -> None:
    """Compute (or replay) what the apps show at their default settings (the classifier app's model is
    the leakage app's original model; the shot-noise app needs nothing)."""
    from qmu_kit.experiment import run_experiment
    from qmu_kit.widgets import LeakagePanel, UnlearningPanel

    for panel in (UnlearningPanel, LeakagePanel):
        run_experiment(panel.config_for(panel.default_values()), progress=progress)


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warm: bool = True) -> int:
    """Warm the cache, then run Voila until interrupted; returns Voila's exit status."""
    command = voila_command(apps_directory(), host, port)
    if warm:
        print("qmu-kit app: preparing the default results (about 20 s the first time, then cached)...", flush=True)
        warm_cache()
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"qmu-kit app: WARNING: listening on {host}: anyone who can reach this port can start kernels here", flush=True)
    print(f"qmu-kit app: serving on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    return subprocess.call(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
