"""Classroom pages: every slider stop of every app, computed ahead of class and served as plain files.

The live apps (:mod:`qmu_kit.apps.voila`) give every visitor a Python kernel. That suits one learner or a
few; on two cores a class of 30 opening the apps together waits minutes, because each kernel imports
the kit and computes for its own visitor. The classroom pages need no kernel at all:
:func:`build_site` asks each app's panel (the same :mod:`qmu_kit.ui.widgets` code, so the same numbers
table) for its result at every stop of its controls and writes one small JSON file per stop: the
numbers table and the figure's content as chart data (:mod:`qmu_kit.ui.charts`). Each app's page draws
the charts itself, as SVG, with a small script of its own (no library); :func:`serve_site` serves the
files on 127.0.0.1 with Python's own threaded HTTP server (:func:`serve_directory`, which serves the
course site too). Moving a control fetches one small file;
nothing is computed while the class runs, and nothing is loaded from the internet.

The stops are the apps' own: every option of every control (the shots slider's 8 stops, depth 1-10,
every registered method and attack, exact <Z> in steps of 0.05, ...). Stops that differ only in what
is drawn (the attack shown) share one computation; stops that share a costly piece (a trained model,
the attacks fitted against it: the panel's ``shared_by`` controls) compute it once, from the cache
(:mod:`qmu_kit.core.cache`), where the live apps and the lessons find it too. ``qmu-kit app --static
--warm --jobs 2`` computes every stop in the best order before writing. A stop whose computation fails
is reported by the build and shown on its page as "not precomputed", never as a broken page.

The pages are keyboard-operable (native sliders, radio buttons and selections, each with its label,
and a visible focus), and every chart is an image with an accessible name and a description generated
from its numbers. Colours come from the registries (:mod:`qmu_kit.ui.charts`).

A site lives in a directory named by everything it shows (the kit's computing code, the pages' own
code, each app's stops and base settings): change any of them and the next build starts a new site
beside the old one, never over it. A build is resumable: each stop is written atomically, and a rerun
writes only the stops that are missing.

Example::

    from qmu_kit.apps.static import build_site, serve_site
    site = build_site(apps=["shot_noise"])   # seconds: the shot-noise app trains nothing
    print(site.table())
    serve_site(site.directory)               # http://127.0.0.1:8866/ until Ctrl-C
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import http.server
import inspect
import io
import itertools
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from qmu_kit.apps.server import DEFAULT_HOST, DEFAULT_PORT, PORT_FLAG, apps_directory, check_port_free, check_server
from qmu_kit.apps.stops import warm_every_stop
from qmu_kit.core.cache import atomic_write, default_cache_dir
from qmu_kit.core.fingerprint import code_fingerprint, source_fingerprint
from qmu_kit.core.parallel import check_jobs, parallel_map
from qmu_kit.core.validation import check_choice
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.ui import widgets

#: How an app notebook names its panel: ``app_panel("UnlearningPanel")`` (see :func:`qmu_kit.apps.voila.app_panel`).
APP_PANEL_CALL = re.compile(r"""app_panel\(\s*["'](\w+)["']\s*\)""")
MANIFEST = "manifest.json"
#: The subpackages whose code writes each stop's numbers and chart data: a change to any of them is a new site
#: (the computing code is covered by :func:`~qmu_kit.core.fingerprint.code_fingerprint`; the app and
#: landing pages themselves are written again by every build).
PRESENTATION_PACKAGES = ("ui", "plots", "report")


@dataclass(frozen=True)
class StaticApp:
    """One app of ``notebooks/apps``: its notebook's name, its title and the panel it shows."""

    name: str
    title: str
    panel: type


def static_apps() -> dict[str, StaticApp]:
    """Every app notebook that shows a panel (``app_panel("...")`` in a code cell), by notebook name.

    Example:
        >>> sorted(static_apps())
        ['classifiers', 'leakage', 'privacy', 'shot_noise', 'unlearning']
    """

    panels = {panel.__name__: panel for panel in widgets.Panel.__subclasses__()}
    found = {}
    for path in sorted(apps_directory().glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
        match = APP_PANEL_CALL.search(code)
        if match is None:
            continue
        panel = panels[check_choice(f"the panel of {path.name}", match.group(1), sorted(panels))]
        title = notebook["metadata"].get("qmu_kit", {}).get("title") or panel.title
        found[path.stem] = StaticApp(path.stem, title, panel)
    return found


def control_stops(control) -> list[tuple[str, object]]:
    """Every stop of an ipywidgets control, as ``(label, value)`` pairs in the control's order.

    Sliders of integers stop at every integer, sliders of floats at every step (rounded to the step's
    decimals), selection controls (dropdowns, toggle buttons, selection sliders) at every option.

    Example:
        >>> import ipywidgets as widgets
        >>> control_stops(widgets.IntSlider(min=1, max=3))
        [('1', 1), ('2', 2), ('3', 3)]
    """
    import ipywidgets as widgets

    if isinstance(control, widgets.IntSlider):
        return [(str(v), v) for v in range(control.min, control.max + 1, control.step)]
    if isinstance(control, widgets.FloatSlider):
        count = round((control.max - control.min) / control.step)
        decimals = max(0, -int(f"{control.step:e}".split("e")[1]))
        values = [round(control.min + i * control.step, decimals) + 0.0 for i in range(count + 1)]
        return [(f"{v:g}", v) for v in values]
    if hasattr(control, "_options_labels"):
        return list(zip(control._options_labels, control._options_values))
    raise TypeError(f"a {type(control).__name__} has no list of stops: give the panel sliders or selections")


def _control_kind(control) -> str:
    import ipywidgets as widgets

    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider)):
        return "slider"
    if isinstance(control, widgets.ToggleButtons):
        return "buttons"
    return "select"


def _build_panel(app: StaticApp, base, cache):
    """The app's panel at its default settings, with ``base`` and ``cache`` where its ``__init__`` takes
    them, laid out only: the build computes each stop as a task, none in the process that lays pages out."""
    accepted = inspect.signature(app.panel.__init__).parameters
    kwargs = {name: value for name, value in (("base", base), ("cache", cache)) if name in accepted and value is not None}
    # Outside a notebook, the panel's progress area writes terminal escape codes to stdout: not wanted here.
    with contextlib.redirect_stdout(io.StringIO()):
        return app.panel.laid_out(**kwargs)


def _restrict(app: str, stops: dict[str, list], options: dict[str, list] | None) -> dict[str, list]:
    """The stops of each control, kept to ``options[control]`` where given (each a stop's value, as the
    panel takes it, or its label); bad names say what is allowed."""
    options = dict(options or {})
    for name in options:
        check_choice(f"control of the {app} app", name, list(stops))
    restricted = {}
    for name, pairs in stops.items():
        if name not in options:
            restricted[name] = pairs
            continue
        wanted = {str(stop) for stop in options[name]}
        if not wanted:
            raise ValueError(f"no stops given for the {app} app's {name}: choose from {', '.join(str(v) for _, v in pairs)}")
        for stop in wanted - {str(value) for _, value in pairs} - {label for label, _ in pairs}:
            check_choice(f"stop of the {app} app's {name}", stop, [str(value) for _, value in pairs])
        restricted[name] = [(label, value) for label, value in pairs if str(value) in wanted or label in wanted]
    return restricted


def stop_key(indices) -> str:
    """A stop's file name: the index of each control's stop, in the panel's control order ("2-0-7")."""
    return "-".join(str(i) for i in indices)


@dataclass
class SiteBuild:
    """What a :func:`build_site` call did.

    Attributes:
        directory: the site (serve it with :func:`serve_site`).
        stops: stops per app in the site.
        rendered: stops rendered by this call (the rest were there from an earlier build).
        failed: ``(app, stop, message)`` for each stop that could not be computed.
        seconds: wall time of the build.
    """

    directory: Path
    stops: dict[str, int] = field(default_factory=dict)
    rendered: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> str:
        lines = [f"classroom pages in {self.directory} ({self.seconds:.1f} s; {self.rendered} stops rendered now, "
                 f"{sum(self.stops.values()) - self.rendered - len(self.failed)} from an earlier build)",
                 "| app | stops | failed |", "|---|---|---|"]
        for app, count in self.stops.items():
            lines.append(f"| {app} | {count} | {sum(1 for a, _, _ in self.failed if a == app)} |")
        lines += [f"failed: {app} stop {stop}: {message}" for app, stop, message in self.failed[:5]]
        return "\n".join(lines)


def _config_record(value):
    return value.to_dict() if hasattr(value, "to_dict") else value


def site_key(options: dict | None = None, bases: dict | None = None) -> str:
    """The name of the site these stops and base settings give with today's code (16 hex digits)."""
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(source_fingerprint(*PRESENTATION_PACKAGES).encode())
    settings = {"options": options or {}, "bases": {app: _config_record(b) for app, b in (bases or {}).items()}}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def default_site_directory(options: dict | None = None, bases: dict | None = None) -> Path:
    """``<cache>/static-apps/<site key>``: next to the results the pages show."""

    return default_cache_dir() / "static-apps" / site_key(options, bases)


def _write(path: Path, data: bytes | str) -> None:

    payload = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write(path, lambda handle: handle.write(payload))


def _app_stops(panel, app: str, options) -> tuple[dict[str, list], list[str]]:
    stops = _restrict(app, {name: control_stops(control) for name, control in panel.controls.items()}, options)
    return stops, [name for name in stops if name not in panel.display_only]


def _groups(stops: dict[str, list], computed: list[str]) -> list[list[tuple[int, ...]]]:
    """Every stop's indices, grouped by the computation it needs (stops differing only in display-only controls)."""
    names = list(stops)
    groups: dict[tuple, list] = {}
    for indices in itertools.product(*(range(len(stops[name])) for name in names)):
        groups.setdefault(tuple(i for name, i in zip(names, indices) if name in computed), []).append(indices)
    return list(groups.values())


#: Panels built in this process, by app and settings: a worker of the build reuses its panel for every task.
_PANELS: dict[tuple, object] = {}


def _panel_for(app: StaticApp, base, cache, fresh: bool = False):
    """This process's panel of ``app`` at these settings (``fresh``: built again, as each build does
    in the calling process)."""
    key = (app.name, json.dumps(_config_record(base), sort_keys=True, default=str), repr(cache))
    if fresh or key not in _PANELS:
        _PANELS[key] = _build_panel(app, base, cache)
    return _PANELS[key]


def stop_record(panel, result, values) -> dict:
    """What a stop's file holds: the panel's numbers table (HTML, exactly the live panel's) and its
    figure's content as chart data (:mod:`qmu_kit.ui.charts`)."""
    return {"numbers": panel._numbers(result, values), "charts": panel._charts(result, values)}


def _render_groups(app: StaticApp, groups, directory: Path, options, base, cache) -> tuple[int, list]:
    """Write every missing stop of ``groups`` into ``directory/<app>/stops`` (with this process's panel
    of the app); returns (written, failures)."""

    panel = _panel_for(app, base, cache)
    stops, _ = _app_stops(panel, app.name, options)
    names = list(stops)
    target = directory / app.name / "stops"
    rendered, failures = 0, []
    for group in groups:
        missing = [indices for indices in group if not (target / f"{stop_key(indices)}.json").exists()]
        if not missing:
            continue
        first = missing[0]
        values = panel.values_at({name: stops[name][i][1] for name, i in zip(names, first)})
        try:
            result = panel._compute(values)
        except Exception as error:  # reported by the build; the page says "not precomputed"
            failures += [(app.name, stop_key(indices), str(error)) for indices in missing]
            continue
        for indices in missing:
            values = panel.values_at({name: stops[name][i][1] for name, i in zip(names, indices)})
            try:
                record = stop_record(panel, result, values)
            except Exception as error:
                failures.append((app.name, stop_key(indices), str(error)))
                continue
            _write(target / f"{stop_key(indices)}.json", json.dumps(record, separators=(",", ":"), allow_nan=False))
            rendered += 1
    return rendered, failures


def _phases(panel, stops: dict[str, list], groups: list) -> list[list]:
    """The groups in two phases: one group per setting of the panel's ``shared_by`` controls (each
    computes a piece the others reuse), then the rest; without such controls, one phase."""
    names = list(stops)
    shared = [names.index(name) for name in getattr(panel, "shared_by", ()) if name in names]
    if not shared:
        return [groups]
    first, rest, seen = [], [], set()
    for group in groups:
        key = tuple(group[0][i] for i in shared)
        (rest if key in seen else first).append(group)
        seen.add(key)
    return [first, rest]


def check_site_directory(directory: str | Path) -> None:
    """Refuse a directory that holds files but no site: a build never writes among someone else's files.

    Raises:
        FileExistsError: naming the directory.
    """
    directory = Path(directory).expanduser()
    if not (directory / MANIFEST).exists() and directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty and holds no classroom site: choose an empty or new directory")


def build_site(directory: str | Path | None = None, *, apps: list[str] | None = None,
               options: dict[str, dict[str, list]] | None = None, bases: dict | None = None,
               cache=True, n_jobs: int = 1, progress: bool = True) -> SiteBuild:
    """Render every stop of the apps' controls into a static site (resumable; see the module docstring).

    Args:
        directory: where the site goes (default :func:`default_site_directory`). A directory that holds
            a site of other code or settings is refused, never overwritten.
        apps: which apps (default: all of :func:`static_apps`).
        options: per app, per control, the stop labels to keep, e.g.
            ``{"leakage": {"depth": [1, 2], "model": ["hybrid"]}}`` (values as the panel takes them, or
            their labels; default: every stop).
        bases: per app, the ``base`` settings of its panel (default: the panel's own, the classroom preset).
        cache: the result cache the panels read and fill (``True``: the default one).
        n_jobs: worker processes rendering at once (1 to :data:`~qmu_kit.core.parallel.MAX_JOBS`).
        progress: print a line per app.

    Returns:
        A :class:`SiteBuild`; its ``failed`` lists the stops that could not be computed.

    Example:
        >>> site = build_site(apps=["shot_noise"], options={"shot_noise": {"expval": ["0", "0.5"]}},
        ...                   progress=False)  # doctest: +SKIP
        >>> site.stops  # doctest: +SKIP
        {'shot_noise': 16}
    """
    start = time.monotonic()
    known = static_apps()
    chosen = list(known) if apps is None else [check_choice("app", name, list(known)) for name in apps]
    options, bases = dict(options or {}), dict(bases or {})
    for name in list(options) + list(bases):
        check_choice("app (in options or bases)", name, list(known))
    n_jobs = check_jobs(n_jobs)
    key = site_key(options, bases)
    directory = Path(directory).expanduser() if directory is not None else default_site_directory(options, bases)
    check_site_directory(directory)
    manifest_path = directory / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is not None and manifest.get("site") != key:
        raise FileExistsError(
            f"{directory} holds the classroom site {manifest.get('site')} (other code or settings than this build's {key}): "
            "choose another directory (the default one is named by the site), or delete that one yourself")
    manifest = manifest or {"site": key, "apps": {}, "options": options,
                            "bases": {app: _config_record(base) for app, base in bases.items()}}
    build = SiteBuild(directory)
    plans = {}
    for name in chosen:
        panel = _panel_for(known[name], bases.get(name), cache, fresh=True)
        stops, computed = _app_stops(panel, name, options.get(name))
        groups = _groups(stops, computed)
        plans[name] = (panel, stops, groups, _phases(panel, stops, groups))
    # Every app's computations in two rounds of one pool, a task per computation handed to whichever
    # worker is free (each keeps its own panels): first the pieces others reuse (the longest, so first)
    # and the computations that reuse nothing, then those that reuse a piece of the first round.
    shared, independent, reusing = [], [], []
    for name in chosen:
        phases = plans[name][3]
        if len(phases) == 2:
            shared += [(name, group) for group in phases[0]]
            reusing += [(name, group) for group in phases[1]]
        else:
            independent += [(name, group) for group in phases[0]]
    for tasks in (shared + independent, reusing):
        tasks = [(known[name], [group], directory, options.get(name), bases.get(name), cache) for name, group in tasks]
        for rendered, failures in parallel_map(_render_groups, tasks, n_jobs=n_jobs):
            build.rendered += rendered
            build.failed += failures
    for name in chosen:
        app = known[name]
        panel, stops, groups, _ = plans[name]
        build.stops[name] = sum(len(group) for group in groups)
        first = _first_stop(panel, stops, panel.values())
        record = directory / name / "stops" / f"{stop_key(first)}.json"
        _write(directory / name / "index.html",
               app_page(app, panel, stops, first, json.loads(record.read_text(encoding="utf-8")) if record.exists() else None))
        manifest["apps"][name] = {"title": app.title, "stops": build.stops[name],
                                  "failed": sum(1 for a, _, _ in build.failed if a == name)}
        _write(manifest_path, json.dumps(manifest, indent=1))
        if progress:
            print(f"qmu-kit static pages: {name}: {build.stops[name]} stops", file=sys.stderr, flush=True)
    _write(directory / "index.html", landing_page(manifest))
    build.seconds = time.monotonic() - start
    return build


def resume_site(directory: str | Path, *, n_jobs: int = 1, progress: bool = True) -> SiteBuild:
    """Build again what an existing site holds (its apps, stops and base settings, from its manifest):
    renders only what is missing, e.g. after an interrupted build.

    Raises:
        FileNotFoundError: ``directory`` holds no site.
    """

    path = Path(directory).expanduser() / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path.parent} holds no classroom site: build one first (qmu-kit app --static)")
    manifest = json.loads(path.read_text())
    bases = {app: ExperimentConfig.from_dict(record) for app, record in manifest.get("bases", {}).items()}
    return build_site(directory, apps=sorted(manifest["apps"]), options=manifest.get("options"), bases=bases,
                      n_jobs=n_jobs, progress=progress)


def _first_stop(panel, stops: dict[str, list], defaults: dict) -> tuple[int, ...]:
    """The stop a page opens at: the panel's defaults where they are stops of the site, else each control's first."""
    indices = []
    for name, pairs in stops.items():
        values = [panel.values_at({name: value})[name] for _, value in pairs]
        indices.append(values.index(defaults[name]) if defaults[name] in values else 0)
    return tuple(indices)


PAGE_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:16px 24px;color:#222}
h1{font-size:22px;margin:4px 0 8px} .qmu-note{color:#555;font-size:13px;margin:0 0 12px}
a{color:#0b57a4}
.qmu-controls{display:flex;flex-wrap:wrap;gap:10px 28px;margin:8px 0;align-items:center}
.qmu-control{display:flex;align-items:center;gap:8px;font-size:14px;border:0;padding:0;margin:0}
.qmu-control legend{float:left;margin-right:8px;padding:0}
.qmu-control output{min-width:3.5em;font-variant-numeric:tabular-nums}
.qmu-control input[type=range]{width:180px}
.qmu-buttons label{border:1px solid #767676;padding:3px 9px;border-radius:3px;cursor:pointer;position:relative}
.qmu-buttons input{position:absolute;opacity:0;width:1px;height:1px}
.qmu-buttons input:checked+span{font-weight:600}
.qmu-buttons label:has(input:checked){background:#dce8f7;border-color:#0b57a4}
input:focus-visible,select:focus-visible,a:focus-visible,.qmu-buttons label:has(input:focus-visible){outline:3px solid #0b57a4;outline-offset:2px}
#qmu-charts{display:flex;flex-wrap:wrap;gap:8px 16px;max-width:1160px}
.qmu-figure{margin:0;flex:1 1 520px;max-width:580px} .qmu-chart{width:100%;height:auto;font-size:11px}
.qmu-chart text{fill:#222} .qmu-chart .qmu-chart-title{font-size:13px} .qmu-chart .qmu-bar-label{font-size:9px}
.qmu-error{color:#b00}
"""

NOT_PRECOMPUTED = "This stop was not precomputed (the build reports why); the live app (qmu-kit app) computes it."

#: The page's only script (find the stop the controls point at, fetch its file, draw its charts as SVG).
PAGE_SCRIPT = (Path(__file__).with_name("classroom.js")).read_text(encoding="utf-8")


def _script_json(value) -> str:
    """``value`` as JSON safe inside a ``<script>`` element (no ``</`` that would end it)."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _control_html(name: str, control, pairs: list, index: int) -> str:
    """A native control bound to its visible label: a range slider (its value read out, also to screen
    readers), radio buttons in a fieldset or a selection; all operable with the keyboard."""
    label = html.escape(control.description or name)
    kind = _control_kind(control)
    if kind == "buttons":
        return f'<fieldset class="qmu-control qmu-buttons"><legend>{label}</legend>' + "".join(
            f'<label><input type="radio" name="{name}" value="{i}"{" checked" if i == index else ""}>'
            f"<span>{html.escape(text)}</span></label>" for i, (text, _) in enumerate(pairs)) + "</fieldset>"
    if kind == "slider":
        widget = (f'<input type="range" id="qmu-{name}" name="{name}" min="0" max="{len(pairs) - 1}" step="1" value="{index}" '
                  f'aria-valuetext="{html.escape(pairs[index][0])}"><output id="out-{name}" for="qmu-{name}">'
                  f"{html.escape(pairs[index][0])}</output>")
    else:
        widget = f'<select id="qmu-{name}" name="{name}">' + "".join(
            f'<option value="{i}"{" selected" if i == index else ""}>{html.escape(text)}</option>'
            for i, (text, _) in enumerate(pairs)) + "</select>"
    return f'<div class="qmu-control"><label for="qmu-{name}">{label}</label>{widget}</div>'


def app_page(app: StaticApp, panel, stops: dict[str, list], first: tuple[int, ...], record: dict | None) -> str:
    """An app's page: its controls over the site's stops, opened at ``first`` with that stop's numbers
    inline (so the page reads before its script runs, and to a plain HTTP client) and its chart data
    (drawn by the script); ``record`` ``None``: that stop was not precomputed."""
    key = stop_key(first)
    controls = "".join(_control_html(name, panel.controls[name], pairs, i) for (name, pairs), i in zip(stops.items(), first))
    labels = {name: [label for label, _ in pairs] for name, pairs in stops.items()}
    if record is None:
        status, numbers, data = f'<span class="qmu-error">{NOT_PRECOMPUTED}</span>', "", ""
    else:
        status, numbers = '<span class="qmu-ready">ready</span>', record["numbers"]
        data = f'<script type="application/json" id="qmu-first">{_script_json(record)}</script>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(app.title)}</title><link rel="icon" href="data:,"><style>{PAGE_STYLE}</style></head>
<body data-stop="{key}">
<p class="qmu-note"><a href="../">all apps</a> &middot; a precomputed classroom page: every stop of these controls
was computed ahead of class (the live app, qmu-kit app, computes any setting).</p>
<main>
<h1>{html.escape(app.title)}</h1>
<div class="qmu-controls">{controls}</div>
<div id="qmu-status" role="status" aria-live="polite">{status}</div>
<div id="qmu-charts"></div>
<div id="qmu-numbers">{numbers}</div>
</main>
<script type="application/json" id="qmu-stops">{_script_json(labels)}</script>{data}
<script>const NOT_PRECOMPUTED = {json.dumps(NOT_PRECOMPUTED)};
{PAGE_SCRIPT}</script>
</body></html>
"""


def landing_page(manifest: dict) -> str:
    """The site's front page: a plain link to every app built, with its number of stops."""
    items = "".join(
        f'<li><a href="{html.escape(name)}/">{html.escape(info["title"])}</a> <span class="qmu-note">'
        f'({info["stops"]} stops{", " + str(info["failed"]) + " not precomputed" if info["failed"] else ""})</span></li>'
        for name, info in sorted(manifest["apps"].items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>qmu-kit apps (classroom pages)</title><link rel="icon" href="data:,"><style>{PAGE_STYLE}</style></head>
<body><main><h1>qmu-kit apps</h1>
<p class="qmu-note">Precomputed classroom pages: every slider stop was computed ahead of class, so any number of
visitors can move the controls at once without a kernel each.</p>
<ul>{items}</ul></main></body></html>
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Plain files, no directory listings, one short log line per error only (30 visitors' requests would flood it)."""

    def list_directory(self, path):
        self.send_error(404, "No listing here")
        return None

    def log_request(self, code="-", size="-"):
        if str(getattr(code, "value", code)).startswith(("4", "5")):
            super().log_request(code, size)


class DirectoryServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server of one directory's files: a thread per connection, no directory listings;
    a class connecting at once is queued, not refused. Build it with :func:`directory_server`."""

    # The standard library's listen backlog of 5 drops the connections of a class clicking together:
    # a dropped request waits for the client's SYN retry.
    request_queue_size = 128
    daemon_threads = True


def directory_server(directory: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                     what: str = "the classroom pages", port_flag: str = PORT_FLAG) -> DirectoryServer:
    """A :class:`DirectoryServer` of ``directory`` on ``host:port`` (127.0.0.1 by default: only this
    machine; port 0: any free port), bound but not yet serving (call ``serve_forever``).

    Args:
        what: what is served, for the message when the port is taken.
        port_flag: how to choose another port, for that message.

    Raises:
        FileNotFoundError: ``directory`` is not a directory.
        PortInUseError: the port is taken (the message names it, ``what`` and ``port_flag``).
        ValueError: a bad host or a port outside 0-65535.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     server = directory_server(folder, port=0)
        ...     server.server_address[0], server.request_queue_size
        ...     server.server_close()
        ('127.0.0.1', 128)
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory: nothing to serve")
    check_port_free(host, port, what, port_flag)
    return DirectoryServer((host, port), functools.partial(_Handler, directory=str(directory)))


def serve_directory(directory: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                    what: str = "the classroom pages", port_flag: str = PORT_FLAG, name: str = "qmu-kit static pages") -> None:
    """Serve ``directory``'s files as they are (:func:`directory_server`) until interrupted: what
    ``qmu-kit app --static`` serves the classroom pages with, and ``make classroom`` the course site.

    Prints the address (and a warning when listening beyond this machine), each line starting with
    ``name``. Raises as :func:`directory_server` does, before serving anything.
    """
    server = directory_server(directory, host, port, what=what, port_flag=port_flag)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{name}: WARNING: listening on {host}: anyone who can reach this port can read these pages", flush=True)
    print(f"{name}: serving {directory} on http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def make_server(directory: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> DirectoryServer:
    """A server of a built classroom site (:func:`directory_server`; not yet serving: call ``serve_forever``).

    Raises:
        FileNotFoundError: ``directory`` holds no built site.
        PortInUseError: the port is taken.
    """
    _check_built(directory)
    return directory_server(directory, host, port)


def _check_built(directory: str | Path) -> None:
    directory = Path(directory).expanduser()
    if not (directory / MANIFEST).exists():
        raise FileNotFoundError(f"{directory} holds no classroom site: build one first (qmu-kit app --static)")


def serve_site(directory: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve a built site until interrupted (127.0.0.1 by default: only this machine)."""
    _check_built(directory)
    serve_directory(directory, host, port)


def serve_static(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, warm_all: bool = False, n_jobs: int = 1,
                 site: str | Path | None = None) -> int:
    """Build the classroom pages (:mod:`qmu_kit.apps.static`: every slider stop of every app, written
    once; resumable) and serve them as plain files until interrupted. Returns 0.

    With ``warm_all``, every stop is computed first in parallel (:func:`warm_every_stop`); otherwise the
    build computes whatever the cache lacks itself. A ``site`` directory that holds a site already is
    completed and served with its own apps and stops (see :func:`qmu_kit.apps.static.resume_site`).

    Raises:
        PortInUseError: the port is taken (checked before building and again before serving).
        ValueError: a bad host, port or number of processes.
    """

    check_server(host, port)
    check_port_free(host, port, "the classroom pages", PORT_FLAG)
    if site is not None:
        check_site_directory(site)
    if warm_all:
        print(f"qmu-kit app --static: computing every slider stop ({n_jobs} processes; resumable)...", flush=True)
        warm_every_stop(n_jobs)
    print(f"qmu-kit app --static: writing every slider stop not written yet ({n_jobs} processes; the first build "
          "computes the stops the cache lacks too; resumable)...", flush=True)
    existing = site is not None and (Path(site).expanduser() / MANIFEST).exists()
    # A site given by directory keeps its own apps and stops (e.g. built for a lesson with build_site).
    build = resume_site(site, n_jobs=n_jobs) if existing else build_site(site, n_jobs=n_jobs)
    print(build.table(), flush=True)
    serve_site(build.directory, host, port)
    return 0
