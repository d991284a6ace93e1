"""Serving the kit: the Voila apps (a kernel per visitor), the classroom pages (every slider stop
rendered ahead of class, served as plain files) and JupyterLab, all on 127.0.0.1 by default.

The app notebooks show one panel each with :func:`app_panel`; ``qmu-kit app`` serves them
(:func:`serve`), ``qmu-kit app --static`` the classroom pages (:func:`serve_static`), ``make lab`` the lab;
:func:`serve_directory` serves a folder of plain files (the classroom pages, the course site).
"""

from qmu_kit.apps.server import (
    APP_FIELDS,
    DEFAULT_HOST,
    DEFAULT_POOL_SIZE,
    DEFAULT_PORT,
    MAX_POOL_SIZE,
    PORT_FLAG,
    PortInUseError,
    apps_directory,
    check_port_free,
    check_server,
)
from qmu_kit.apps.static import (
    SiteBuild,
    build_site,
    directory_server,
    resume_site,
    serve_directory,
    serve_site,
    serve_static,
    static_apps,
)
from qmu_kit.apps.stops import privacy_stops, slider_stop_grids, warm_cache, warm_every_stop
from qmu_kit.apps.voila import app_panel, serve, voila_command

__all__ = [
    "APP_FIELDS", "DEFAULT_HOST", "DEFAULT_POOL_SIZE", "DEFAULT_PORT", "MAX_POOL_SIZE", "PORT_FLAG", "PortInUseError", "SiteBuild",
    "app_panel", "apps_directory", "build_site", "check_port_free", "check_server", "directory_server", "privacy_stops", "resume_site",
    "serve", "serve_directory", "serve_site", "serve_static", "slider_stop_grids",
    "static_apps", "voila_command", "warm_cache", "warm_every_stop",
]
