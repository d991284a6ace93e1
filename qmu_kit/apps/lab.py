"""JupyterLab on the kit's notebooks (``make lab``), with the kit's environment as the kernel.

The same safe defaults as the apps: it listens on 127.0.0.1 unless told otherwise, stops with one line
when the port is taken (instead of JupyterLab's default of quietly moving to the next free port, where
nobody looks for it), keeps its login token, and fetches nothing from the internet (no news feed, no
update check, no PyPI extension manager).

"The kit's environment as the kernel": the notebooks ask for the kernel ``python3``. Jupyter looks kernels
up in the user's directories before the environment's, so a ``python3`` kernel someone installed in
``~/.local/share/jupyter`` (another Python, without the kit) would win. The server therefore gets a
private kernel directory, first on ``JUPYTER_PATH``, whose ``python3`` runs this interpreter with this
checkout first on ``sys.path``.

Example:
    >>> from pathlib import Path
    >>> command = lab_command(Path("notebooks"), port=8888)
    >>> "--ServerApp.ip=127.0.0.1" in command and "--ServerApp.port_retries=0" in command
    True
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from qmu_kit.apps.server import PortInUseError, check_port_free, check_server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8888
ROOT = Path(__file__).resolve().parents[2]
# The display name the committed notebooks already carry: saving a notebook does not rewrite its metadata.
KERNEL_DISPLAY_NAME = "Python 3 (ipykernel)"


def notebooks_directory() -> Path:
    """``notebooks/`` of the checkout the kit runs from."""
    candidate = ROOT / "notebooks"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"the notebooks are not at {candidate}: run JupyterLab from a checkout of qmu-kit (make lab)"
        )
    return candidate


def kernel_spec(root: Path = ROOT) -> dict:
    """The ``python3`` kernel: this interpreter, with the checkout's ``qmu_kit`` ahead of any installed copy."""
    path = os.pathsep.join([str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "env": {"PYTHONPATH": path},
        "metadata": {"debugger": True},
    }


def write_kernel_directory(base: Path, root: Path = ROOT) -> Path:
    """Write ``base/kernels/python3/kernel.json``; returns ``base`` (to put first on ``JUPYTER_PATH``)."""
    spec_dir = base / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(root), indent=1))
    return base


# JupyterLab's own offline switches stop the requests, not the toast that asks every new visitor
# whether to fetch news: "Never" answers it.
OFFLINE_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def write_settings_directory(base: Path) -> Path:
    """Write ``base/overrides.json``: the environment's JupyterLab setting overrides plus ``OFFLINE_SETTINGS``.

    Returns ``base``, for ``--LabApp.app_settings_dir`` (which replaces the environment's directory, hence the copy).
    """
    from jupyterlab.commands import get_app_dir

    existing = Path(get_app_dir()) / "settings" / "overrides.json"
    overrides = json.loads(existing.read_text()) if existing.exists() else {}
    for plugin, values in OFFLINE_SETTINGS.items():
        overrides[plugin] = {**overrides.get(plugin, {}), **values}
    base.mkdir(parents=True, exist_ok=True)
    (base / "overrides.json").write_text(json.dumps(overrides, indent=1))
    return base


def lab_command(
    directory: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    settings_directory: Path | None = None,
) -> list[str]:
    """The JupyterLab command line with the kit's settings (``settings_directory``: ``write_settings_directory``)."""
    check_server(host, port)
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={directory}",
        f"--ServerApp.ip={host}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # a taken port is an error, not a silent move (checked first, see serve)
        # Offline: no announcements feed, no update check, no extension search on PyPI.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if settings_directory is not None:
        command.append(f"--LabApp.app_settings_dir={settings_directory}")
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI machines often run as root, where JupyterLab otherwise refuses to start; it
        # still listens on 127.0.0.1 only and asks for its token.
        command.append("--allow-root")
    return command


def lab_environment(kernel_directory: Path) -> dict[str, str]:
    """The server's environment: the private kernel directory first on ``JUPYTER_PATH``."""
    paths = [str(kernel_directory)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    return {**os.environ, "JUPYTER_PATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1"}


def serve(
    directory: Path | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = True
) -> int:
    """Check the port, then run JupyterLab until interrupted; returns its exit status."""
    directory = notebooks_directory() if directory is None else Path(directory)
    lab_command(directory, host, port, open_browser)  # checks host and port before anything else
    check_port_free(host, port, "JupyterLab", "make lab LAB_PORT=N")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"qmu-kit lab: WARNING: listening on {host}: anyone who can reach this port and has the token"
            " can run code here",
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="qmu-kit-lab-") as private:
        environment = lab_environment(write_kernel_directory(Path(private)))
        command = lab_command(directory, host, port, open_browser, write_settings_directory(Path(private) / "settings"))
        print(
            f"qmu-kit lab: JupyterLab on {directory} at http://{host}:{port}/lab"
            " (the URL with its token follows; Ctrl-C stops)",
            flush=True,
        )
        process = subprocess.Popen(command, env=environment)
        # SIGTERM stops JupyterLab too (and so its kernels) instead of orphaning it.
        forward = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate()) if forward else None
        try:
            while True:
                try:
                    return process.wait()
                except KeyboardInterrupt:
                    continue  # JupyterLab got the same Ctrl-C and decides (it asks to confirm, a second one stops it)
        finally:
            if forward:
                signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qmu_kit.apps.lab", description="JupyterLab on the kit's notebooks")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", default=str(DEFAULT_PORT), help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--directory", type=Path, default=None, help="notebook directory (default: notebooks/)")
    args = parser.parse_args(argv)
    try:
        try:
            port = int(args.port)
        except ValueError:
            raise ValueError(f"port={args.port!r} is not a whole number: give one from 1 to 65535") from None
        return serve(args.directory, args.host, port, open_browser=not args.no_browser)
    except (ValueError, FileNotFoundError, PortInUseError) as error:
        print(f"qmu-kit: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
