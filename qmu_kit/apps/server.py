"""What every server of the kit shares: the default address, the port check, the app notebooks.

Servers bind to 127.0.0.1 unless told otherwise; :func:`check_port_free` stops before anything starts
when the port is taken, naming the port and how to choose another.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
from pathlib import Path

from qmu_kit.core.fields import FieldSpec
from qmu_kit.core.parallel import PARALLEL_FIELDS
from qmu_kit.core.validation import check_host, check_int

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866
PORT_FLAG = "--port N (make app PORT=N)"
#: Preheated kernels kept ready per app (each about 0.3 GB PSS once the kit is imported).
DEFAULT_POOL_SIZE = 2
MAX_POOL_SIZE = 64

#: The servers' settings (``qmu-kit app``, :func:`~qmu_kit.apps.voila.serve`, the classroom pages, the
#: lab): each rule, help text, flag and default in one place.
APP_FIELDS: dict[str, FieldSpec] = {
    "host": FieldSpec(check_host, f"address to listen on (default {DEFAULT_HOST})", "--host", "HOST", text=True, default=DEFAULT_HOST),
    "port": FieldSpec(lambda value: check_int("port", value, 1, 65535), f"port (1..65535, default {DEFAULT_PORT})", "--port", "PORT",
                      default=DEFAULT_PORT),
    "pool_size": FieldSpec(lambda value: check_int("pool_size", value, 0, MAX_POOL_SIZE),
                           f"preheated kernels kept ready per app (0..{MAX_POOL_SIZE}, default {DEFAULT_POOL_SIZE}; about 0.3 GB each)",
                           "--pool", "N", default=DEFAULT_POOL_SIZE),
    "n_jobs": dataclasses.replace(PARALLEL_FIELDS["n_jobs"], help="processes for --warm (default: one per core)"),
}


def check_server(host: str, port: int) -> None:
    """Validate an address to listen on by :data:`APP_FIELDS` (``ValueError`` naming the bad value).

    Example:
        >>> check_server("127.0.0.1", 8866)
    """
    APP_FIELDS["host"].validate(host)
    APP_FIELDS["port"].validate(port)


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
    candidate = Path(__file__).resolve().parents[2] / "notebooks" / "apps"
    if not candidate.is_dir():
        raise FileNotFoundError(
            f"the app notebooks are not at {candidate}: run the apps from a checkout of qmu-kit (make app)"
        )
    return candidate
