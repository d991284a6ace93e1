"""Build the course site (``make site``) and serve it (``make classroom``).

The site is a Sphinx project whose hand-written pages live in ``docs/`` (``conf.py``, the landing page,
``guides/*.md``). This script stages them, with the pages made from the repository, into one source
directory and runs Sphinx on it:

- every notebook of ``notebooks/`` as a lesson page, **executed** at the classroom preset with the kit's
  own executor (:func:`qmu_kit.report.execute_notebooks`, each notebook at its own defaults). An executed
  lesson is kept with a key made of its source and the kit's code, so a rebuild executes only the
  lessons whose notebook or kit code changed (and the kit's result cache replays what they compute);
- the changelog, the reproduction report (from ``reports/reproduction.json``, else the committed
  ``reports/summary.md``), the leaderboard (from ``reports/leaderboard_*.json``, written by ``qmu-kit bench``),
  the classroom benchmarks (from ``reports/bench_classroom*.json``) and the API reference (autodoc over
  each subpackage's ``__init__``);
- the classroom pages (``make classroom`` builds them, :mod:`qmu_kit.apps.static`) copied into
  ``classroom/`` when built for today's code, each linked beside its lesson; otherwise the lesson says
  how to build them.

Staged files are written only when their text changes, and Sphinx keeps its environment between builds,
so a change to the prose rebuilds only the pages it touches.

Usage::

    python docs/build_site.py [--out build/site] [--work build/site-work] [--no-execute] [--jobs N]
    python docs/build_site.py --classroom [--warm] [--jobs N]    # with the classroom pages, built beside the lessons
    python docs/build_site.py --pages-only [--warm] [--jobs N]   # the classroom pages alone
    python docs/build_site.py --serve [--host 127.0.0.1] [--port 8866]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
DEFAULT_OUT = ROOT / "build" / "site"
DEFAULT_WORK = ROOT / "build" / "site-work"
#: The preset the lessons are executed at (what a student gets when opening a notebook).
PRESET = "classroom"
#: The classroom app beside each lesson (``notebooks/apps/<app>.ipynb``; tests check both sides exist).
LESSON_APPS = {
    "00_start_here": "shot_noise",
    "01_qnn_classifiers": "classifiers",
    "02_membership_leakage": "leakage",
    "03_quantum_unlearning": "unlearning",
    "04_shots_privacy_and_stability": "shot_noise",
    "07_privacy_by_design": "privacy",
}
#: The public faces documented in the API reference, in layer order.
API_PACKAGES = ("core", "qnn", "leakage", "unlearning", "plots", "experiment", "studies", "report", "exercises",
                "ui", "apps", "cli")
#: The kit code an executed lesson depends on: all but the servers and the command line.
LESSON_CODE = ("core", "qnn", "leakage", "unlearning", "plots", "experiment", "studies", "report", "exercises", "ui")
#: How to pick another port, for the message when the port is taken.
SITE_PORT_FLAG = "--port N (make classroom PORT=N)"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: The image outputs myst-nb renders as ``<img>`` (each gets its description as its ``alt``).
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
#: The ``alt`` of an image output that carries no description (an image the lesson loads, say).
UNDESCRIBED_IMAGE = "An image shown by the lesson's code, which gives it no description: the text around it says what it shows."
NOT_EXECUTED_NOTE = ("This page was built without executing the lessons (`--no-execute`): run `make site` "
                     "for the executed lesson with its figures.")


def sys_path() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def project_version() -> str:
    """The version in ``pyproject.toml`` (what the site says it was built from)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def write_if_changed(path: Path, data: str | bytes) -> bool:
    """Write ``data`` unless ``path`` already holds it (an unchanged file keeps its time, so Sphinx skips it)."""
    raw = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(raw)
    temporary.replace(path)
    return True


def sync_tree(source: Path, target: Path, skip: tuple[str, ...] = ()) -> set[Path]:
    """Mirror ``source``'s files into ``target`` (times kept; unchanged files untouched); the paths written."""
    kept = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or relative.parts[0] in skip or "__pycache__" in relative.parts:
            continue
        destination = target / relative
        kept.add(destination)
        if not destination.exists() or destination.read_bytes() != path.read_bytes():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    return kept


# ---------------------------------------------------------------------------------------------------
# Lessons


def lesson_names() -> list[str]:
    return sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))


def lesson_key(name: str) -> str:
    """What an executed lesson depends on: its notebook, the kit's code it runs and the preset."""
    from qmu_kit.core.fingerprint import source_fingerprint

    digest = hashlib.sha256((NOTEBOOKS / f"{name}.ipynb").read_bytes())
    digest.update(source_fingerprint(*LESSON_CODE).encode())
    digest.update(PRESET.encode())
    return digest.hexdigest()[:16]


def execute_lessons(work: Path, jobs: int) -> dict[str, float]:
    """Execute every lesson whose key changed into ``work/executed``; {name: seconds} of those executed."""
    executed = work / "executed"
    keys = {name: lesson_key(name) for name in lesson_names()}
    stale = [name for name, key in keys.items()
             if not (executed / "notebooks" / f"{name}.ipynb").exists()
             or not (executed / f"{name}.key").exists()
             or (executed / f"{name}.key").read_text() != key]
    if not stale:
        print("site: every lesson is executed for today's notebooks and code", flush=True)
        return {}
    from qmu_kit.report import execute_notebooks

    print(f"site: executing {len(stale)} lesson(s) at the {PRESET} preset on {jobs} process(es): "
          f"{', '.join(stale)}", flush=True)
    done = execute_notebooks(executed, PRESET, None, None, names=tuple(stale), progress=False, seed=None, n_jobs=jobs)
    for name in stale:  # the key from before the run: code changed during it executes again next time
        (executed / f"{name}.key").write_text(keys[name])
    return {name: seconds for name, (_metrics, _figures, seconds) in done.items()}


def classroom_note(name: str, classroom: dict | None) -> str | None:
    """The line beside a lesson that links its classroom app, or says how to build it."""
    app = LESSON_APPS.get(name)
    if app is None:
        return None
    if classroom is not None and app in classroom.get("apps", {}):
        title = classroom["apps"][app]["title"]
        return (f'**Classroom app:** <a href="../classroom/{app}/index.html">{html.escape(title)}</a> '
                "(every slider stop precomputed: a whole class can use it at once).")
    return (f"**Classroom app:** `{app}` (not built into this site: `make classroom` builds the classroom pages, "
            f"then serves this site with them; `make app` serves the live app).")


def widget_outputs(model_id: str | None, state: dict, seen: set | None = None) -> list:
    """The outputs captured by the output areas inside a widget (its saved state), in display order."""
    import nbformat

    seen = set() if seen is None else seen
    if model_id is None or model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    found = [nbformat.from_dict(output) for output in model.get("state", {}).get("outputs", [])
             if model.get("model_name") == "OutputModel"]
    for child in model.get("state", {}).get("children", []):
        found += widget_outputs(str(child).removeprefix("IPY_MODEL_"), state, seen)
    return found


def image_alt(output) -> str | None:
    """An output's image description (its metadata's ``alt``, which the kit's figures carry:
    :func:`qmu_kit.plots.figure_alt`), :data:`UNDESCRIBED_IMAGE` for an image without one, ``None`` when the
    output shows no image."""
    from qmu_kit.plots import ALT_METADATA

    for mime in IMAGE_MIMES:
        if mime in output.get("data", {}):
            alt = output.get("metadata", {}).get(mime, {}).get(ALT_METADATA)
            return " ".join(alt.split()) if isinstance(alt, str) and alt.strip() else UNDESCRIBED_IMAGE
    return None


def described_cells(cell) -> list:
    """A code cell as cells whose images each carry their own description where myst-nb reads it (the
    cell's ``mystnb: image: alt``: one per cell): cut before every image described otherwise than the one
    before it, the cuts showing their outputs without the code again (``remove-input``)."""
    import copy

    parts, alts = [[]], [None]
    for output in cell.outputs:
        alt = image_alt(output)
        if alt is not None and alts[-1] not in (None, alt):
            parts.append([])
            alts.append(None)
        parts[-1].append(output)
        alts[-1] = alt or alts[-1]
    cells = []
    for i, (outputs, alt) in enumerate(zip(parts, alts)):
        part = cell if i == 0 else copy.deepcopy(cell)
        part.outputs = outputs
        if i > 0:
            if "id" in part:
                part["id"] = f"{cell['id'][:56]}-part{i}"
            part.metadata["tags"] = sorted({*part.metadata.get("tags", []), "remove-input"})
        if alt is not None:
            mystnb = part.metadata.setdefault("mystnb", {})
            mystnb["image"] = {**mystnb.get("image", {}), "alt": alt}
        cells.append(part)
    return cells


def stage_lesson(name: str, work: Path, staging: Path, execute: bool, classroom: dict | None) -> dict:
    """The lesson page's notebook: executed (or the committed one), widget state removed, each image
    described (:func:`described_cells`), the app linked."""
    import nbformat

    source = work / "executed" / "notebooks" / f"{name}.ipynb" if execute else NOTEBOOKS / f"{name}.ipynb"
    from nbformat.v4.rwbase import rejoin_lines

    # nbformat 4, read without validating (the executor wrote it; validating every build costs seconds)
    notebook = rejoin_lines(nbformat.from_dict(json.loads(source.read_text(encoding="utf-8"))))
    # Widgets are live only in Jupyter and the classroom pages: their saved state would make the page load
    # the widget manager from outside the site. What their output areas captured (a panel's figure) stays.
    state = notebook.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [kept for output in cell.outputs for kept in
                            (widget_outputs(output["data"][WIDGET_MIME].get("model_id"), state)
                             if WIDGET_MIME in output.get("data", {}) else [output])]
    notebook.cells = [part for cell in notebook.cells
                      for part in (described_cells(cell) if cell.cell_type == "code" else [cell])]
    notes = [note for note in (classroom_note(name, classroom), None if execute else NOT_EXECUTED_NOTE) if note]
    if notes:  # after the title cell, so that the page opens with its title
        first = notebook.cells[0] if notebook.cells else None
        titled = first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# ")
        notebook.cells.insert(1 if titled else 0, nbformat.v4.new_markdown_cell("\n\n".join(notes)))
    title = next((line.lstrip("# ").strip() for cell in notebook.cells if cell.cell_type == "markdown"
                  for line in cell.source.splitlines() if line.startswith("# ")), name)
    write_if_changed(staging / "lessons" / f"{name}.ipynb", json.dumps(notebook, indent=1, sort_keys=True) + "\n")
    return {"name": name, "title": title}


def lessons_index(lessons: list[dict], classroom: dict | None) -> str:
    lines = ["# Lessons", "",
             "Every notebook of `notebooks/`, executed at the classroom preset with its figures. Open one in "
             "JupyterLab (`make lab`) to change its parameters and run it yourself.", "",
             "| lesson | notebook | classroom app |", "|---|---|---|"]
    for lesson in lessons:
        app = LESSON_APPS.get(lesson["name"])
        if app is None:
            cell = ""
        elif classroom is not None and app in classroom.get("apps", {}):
            cell = f'<a href="../classroom/{app}/index.html">{html.escape(classroom["apps"][app]["title"])}</a>'
        else:
            cell = f"`{app}` (not built)"
        lines.append(f"| [{lesson['title']}]({lesson['name']}.ipynb) | `{lesson['name']}` | {cell} |")
    lines += ["", "```{toctree}", ":hidden:", "", *[lesson["name"] for lesson in lessons], "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Pages generated from the committed results


def markdown_table(frame) -> list[str]:
    columns = [str(column) for column in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(value).replace("|", "\\|") for value in row) + " |")
    return lines


def reproduction_page(staging: Path) -> str:
    """The reproduction report: regenerated from ``reports/reproduction.json`` when present."""
    record = REPORTS / "reproduction.json"
    if record.exists():
        from qmu_kit.report import summary_markdown

        text = summary_markdown(json.loads(record.read_text()))
        origin = "Generated from `reports/reproduction.json` by `qmu_kit.report.summary_markdown`."
    elif (REPORTS / "summary.md").exists():
        text = (REPORTS / "summary.md").read_text()
        origin = ("`reports/reproduction.json` is not in this checkout (`make reproduce` writes it): this is the "
                  "committed `reports/summary.md`.")
    else:
        return "# Reproducing the paper\n\nNot yet generated: `make reproduce` writes `reports/reproduction.json`.\n"
    for figure in sorted((REPORTS / "figures").glob("*.png")):
        write_if_changed(staging / "results" / "figures" / figure.name, figure.read_bytes())
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip()
    return "\n".join(["# The reproduction report", "", f"**{title}**", "", f"*{origin}*", *lines[1:]]) + "\n"


def leaderboard_page(staging: Path) -> str:
    """The leaderboard: each ``reports/leaderboard_*.json`` (a :class:`~qmu_kit.studies.BenchResult`
    written by ``qmu-kit bench --json``) as its settings, its leaderboards and its Pareto plot."""
    lines = ["# Leaderboard", ""]
    paths = sorted(REPORTS.glob("leaderboard_*.json"))
    if not paths:
        return "\n".join(lines + ["Not yet generated: no `reports/leaderboard_*.json` (`qmu-kit bench --json "
                                  "reports/leaderboard_NAME.json` writes one).", ""])
    from qmu_kit.plots import pareto_figure, to_png
    from qmu_kit.studies import BenchResult

    for path in paths:
        result = BenchResult.from_json(path)
        figure = f"{path.stem}.png"
        write_if_changed(staging / "results" / figure, to_png(result.plot()))
        cost = REPORTS / f"bench_{path.name}"
        lines += [f"## `{path.stem}`", "", f"*Generated from `reports/{path.name}`.*", "",
                  *([leaderboard_cost(json.loads(cost.read_text()), cost.name), ""] if cost.exists() else []),
                  "```text", result.summary(), "```", "", f"![{pareto_figure.alt}]({figure})", "",
                  *(f"#{line}" if line.startswith("#") else line for line in result.leaderboards().splitlines()), ""]
    return "\n".join(lines)


def leaderboard_cost(record: dict, name: str) -> str:
    """The sentence on what a leaderboard cost, from its ``benchmarks/bench_leaderboard.py --record`` file."""
    cold, settings = record["cold"], record["settings"]
    verified = f", the many-model test at K = {settings['verify_models']}" if settings.get("verify_models") else ""
    return (f"**Cost** (`reports/{name}`, {record['date']}: `{record['command']}`): this leaderboard "
            f"({settings['methods']} methods, {len(settings['models'])} models, {len(settings['scenarios'])} scenarios, "
            f"{len(settings['tuning_seeds'])} tuning and {len(settings['evaluation_seeds'])} evaluation seeds, "
            f"{settings['budget']} candidates per method{verified}; {cold['runs']:,} runs) took "
            f"{cold['wall_s'] / 60:.1f} min cold on {record['machine']['cores']} cores with {settings['jobs']} worker processes "
            f"(load average {record['machine']['load_average_before']:.1f} before it; {cold['cpu_s_process_tree']:,.0f} CPU-s in all), "
            f"against a budget of {record['target_s'] / 60:.0f} min; replayed from the cache in {record['replay']['wall_s']:.1f} s. "
            f"One cold experiment at the same size took {record['reference_experiment']['wall_s']:.1f} s in the same run.")


#: The committed benchmark records of the classroom page (``results/classroom-benchmark``), in order, each
#: with what it measures. The lead records them on a quiet machine; the page shows whatever they hold.
CLASSROOM_BENCHMARKS = (
    ("bench_classroom.json", "Serving a class: the live apps and the classroom pages under 1, 10 and 30 visitors "
                             "(`benchmarks/bench_classroom.py`)."),
    ("bench_classroom_build.json", "Building the classroom pages, before and after the pages drew their own charts, "
                                   "and serving the site so built (`benchmarks/bench_classroom_build.py`)."),
    ("bench_site_build.json", "Preparing a class: the whole course site built cold "
                              "(`benchmarks/bench_classroom_build.py --site`)."),
)
#: The course site's goal: the whole site, lessons included, built cold on 2 cores within this many seconds.
SITE_BUILD_GOAL_S = 600
#: How the benchmarks name the two servers.
SERVER_LABELS = {"static": "classroom pages (`make classroom`)", "after": "live apps (`make app`)"}
#: The classroom's goals, checked against each record that measured them: (goal, what is compared, limit).
CLASSROOM_GOALS = (
    ("a single visitor has a usable app within 4 s", "single", 4.0),
    ("a class of 30 visitors all have a usable app within 15 s", "class", 15.0),
    ("the server and its kernels stay within 16 GB of memory (peak PSS)", "memory", 16.0),
    ("every slider stop is shown within 1 s of the move", "stops", 1.0),
)


def _s(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f} s"


def _gb(value: float) -> str:
    return f"{value:.2f} GB" if value < 1 else f"{value:.1f} GB"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _timing(row: dict) -> str:
    """A class size's time to usable: the median and the slowest visitor, or the timeout none beat
    (the benchmark records it as ``">240"``)."""
    if not row.get("usable") or isinstance(row.get("max_s"), str):
        return f"> {str(row['max_s']).lstrip('>')} s (timeout)" if isinstance(row.get("max_s"), str) else "none usable"
    if row["visitors"] == 1:
        return _s(row["median_s"])
    return f"{_s(row['median_s'])} / {_s(row['max_s'])}"


def _stop_times(section) -> list:
    """Every stop's seconds (``None``: not answered) of a list of stops, or ``None`` for a summary record."""
    return [stop.get("seconds") for stop in section] if isinstance(section, list) else None


def _within(times: list, limit: float) -> int:
    return sum(1 for t in times if t is not None and t <= limit)


def _stops_line(section, what: str) -> str:
    """One sentence for a pass through stops: how many were answered, within 1 s, their median and max."""
    import statistics

    if isinstance(section, dict):  # a summary: stops, answered, median and max seconds
        within = "every one within 1 s of the move" if section["max_s"] <= 1.0 else "not all within 1 s of the move"
        return (f"{what}: {section['answered']:,} of {section['static_stops']:,} answered, {within} "
                f"(median {_s(section['median_s'], 2)}, max {_s(section['max_s'], 2)}).")
    times = _stop_times(section)
    answered = [t for t in times if t is not None]
    if not answered:
        return f"{what}: none of {len(times):,} answered."
    return (f"{what}: {len(times):,} moves, {len(answered):,} answered, {_within(times, 1.0):,} of them within 1 s "
            f"(median {_s(statistics.median(answered), 2)}, max {_s(max(answered), 2)}).")


def _goal(record: dict, server: str, kind: str, limit: float) -> str | None:
    """Whether ``server`` met a goal in ``record`` (with the number that decides it), or None if not measured."""
    rows = [row for row in record.get("levels", []) if row.get("server") == server]
    if kind in ("single", "class"):
        size = 1 if kind == "single" else 30
        row = next((row for row in rows if row["visitors"] == size), None)
        if row is None:
            return None
        worst = row["median_s"] if size == 1 else row["max_s"]
        if row["usable"] == size and isinstance(worst, (int, float)):
            return f"{'met' if worst <= limit else 'not met'} ({_s(worst)}{'' if size == 1 else ', the slowest'})"
        return f"not met ({row['usable']} of {size} usable)"
    if kind == "memory":
        if not rows:
            return None
        peak = max(row["peak_pss_gb"] for row in rows)
        return f"{'met' if peak <= limit else 'not met'} (peak {_gb(peak)})"
    section = record.get("static_stops") if server == "static" else record.get("live_slider_stops")
    if not section:
        return None
    if isinstance(section, dict):
        met = section["answered"] == section["static_stops"] and section["max_s"] <= limit
        return f"{'met' if met else 'not met'} (max {_s(section['max_s'], 2)})"
    times = _stop_times(section)
    within = _within(times, limit)
    return f"{'met' if within == len(times) else 'not met'} ({within:,} of {len(times):,} within {limit:g} s)"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _site_build_lines(record: dict) -> list[str]:
    """A whole-site build record (``bench_classroom_build.py --site``): its totals, phases, lessons and goal.

    The goal is met when every recorded run of the same code (this one and ``other_runs_wall_s``) is under
    it by more than the runs differ among themselves; a run under it by less is "at the goal".
    """
    wall = record["wall_s"]
    lines = [f"The whole course site built cold from an empty cache (`make classroom`: every lesson executed beside "
             f"the classroom pages, Sphinx once the lessons are done) with {record['jobs']} processes on {record['cores']} cores: {_clock(wall)} "
             f"({_s(wall)}) wall time, {_s(record['cpu_s'])} CPU time of all its processes, {record['files']:,} files, "
             f"{_mb(record['bytes'])} (1-minute load average {record['load_average_1min']:.1f} at the end).", "",
             "| phase | wall time |", "|---|---|",
             *[f"| {phase} | {_s(seconds)} |" for phase, seconds in record["phases_s"].items()], "",
             "The classroom pages build beside the lessons and then beside Sphinx, so the phases' times overlap.", "",
             "| lesson | wall time (two at a time) |", "|---|---|",
             *[f"| {lesson} | {_s(seconds)} |" for lesson, seconds in record["each_lesson_s"].items()], ""]
    runs = [wall, *record.get("other_runs_wall_s", [])]
    if len(runs) > 1:
        lines += [f"Cold runs of the same code on this machine: {', '.join(_s(run) for run in runs)}.", ""]
    goal = f"the whole site, lessons included, builds cold within {SITE_BUILD_GOAL_S // 60} minutes on 2 cores"
    slowest, spread = max(runs), max(runs) - min(runs)
    if record["cores"] != 2:
        verdict = f"not measured (built on {record['cores']} cores)"
    elif slowest > SITE_BUILD_GOAL_S:
        verdict = f"not met (slowest run {_clock(slowest)})"
    elif len(runs) > 1 and slowest + spread <= SITE_BUILD_GOAL_S:
        verdict = f"met (slowest of {len(runs)} runs {_clock(slowest)})"
    elif len(runs) > 1:
        verdict = (f"at the goal, not safely under it (slowest of {len(runs)} runs {_clock(slowest)}, "
                   f"{SITE_BUILD_GOAL_S - slowest:.1f} s under; the runs differ by {spread:.1f} s)")
    else:
        verdict = f"met by one run ({_clock(slowest)}); how much runs vary is not recorded"
    return lines + [f"Goal: {goal}: {verdict}.", ""]


def benchmark_markdown(record: dict, source: str, level: int = 2) -> str:
    """A benchmark record (``reports/bench_classroom*.json``) as a section of the benchmark page: its date,
    machine and command, then each section it holds (a record without a section renders without it):
    the class sizes in Chromium, the plain HTTP clients, the passes through the stops, the site built,
    the builds timed, the requests that left 127.0.0.1, and the classroom goals it measured.

    Example:
        >>> print(benchmark_markdown({"date": "2026-01-02", "machine": "2 cores", "command": "bench --quick",
        ...                           "external_requests": []}, "bench.json"))
        ## `bench.json`
        <BLANKLINE>
        *Generated from `reports/bench.json`.* Recorded 2026-01-02 on: 2 cores.
        <BLANKLINE>
        Command: `bench --quick`
        <BLANKLINE>
        Requests to anything but 127.0.0.1: none.
        <BLANKLINE>
    """
    heading = "#" * level
    lines = [f"{heading} `{source}`", ""] if level == 2 else [f"{heading} {source}", ""]
    origin = f"*Generated from `reports/{source}`.* " if level == 2 else ""
    recorded = " ".join(part for part in (f"Recorded {record['date']}" if "date" in record else "",
                                          f"on: {record['machine']}" if "machine" in record else "") if part)
    if origin or recorded:
        lines += [(origin + (recorded + "." if recorded else "")).strip(), ""]
    commands = record.get("commands") or ([record["command"]] if "command" in record else [])
    if len(commands) == 1:
        lines += [f"Command: `{commands[0]}`", ""]
    elif commands:
        lines += ["Commands:", "", *[f"- `{command}`" for command in commands], ""]
    if "note" in record:
        lines += [f"Note: {record['note']}", ""]
    levels = [(row, "") for row in record.get("levels", [])]
    levels += [(row, ", the slider stops' run") for row in record.get("live_single_visitor_with_sliders", [])]
    if levels:
        lines += ["Visitors in Chromium opening their app at once (time to usable: from opening the page to the app's "
                  "numbers and \"ready\"):", "",
                  "| server | visitors | usable | time to usable, median / max | errors | peak PSS of server + kernels | "
                  "idle PSS | peak RSS | processes | median per app |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row, run in levels:
            per_app = ", ".join(f"{app} {_s(seconds)}" if seconds == seconds else f"{app} none"
                                for app, seconds in row.get("per_app_median_s", {}).items())
            lines.append(f"| {SERVER_LABELS.get(row['server'], row['server'])}{run} | {row['visitors']} | "
                         f"{row['usable']}/{row['visitors']} | {_timing(row)} | {row['errors']} | "
                         f"{_gb(row['peak_pss_gb'])} | {_gb(row['idle_pss_gb'])} | {_gb(row['peak_rss_gb'])} | "
                         f"{row['peak_processes']} | {per_app} |")
        lines.append("")
    if record.get("http_levels"):
        lines += ["The classroom pages' server alone, plain HTTP clients at once (each fetches an app page and its first "
                  "stop, then random stops):", "",
                  "| visitors | requests | first stop shown, median / max | request latency, median / 99th percentile / max |",
                  "|---|---|---|---|"]
        for row in record["http_levels"]:
            lines.append(f"| {row['visitors']} | {row['requests']:,} | {_s(row['usable_median_s'], 3)} / "
                         f"{_s(row['usable_max_s'], 3)} | {_ms(row['latency_median_s'])} / {_ms(row['latency_p99_s'])} / "
                         f"{_ms(row['latency_max_s'])} |")
        lines.append("")
    if record.get("static_stops"):
        lines += [_stops_line(record["static_stops"], "Every stop of the classroom pages, one visitor in Chromium"), ""]
    if record.get("live_slider_stops"):
        stops = record["live_slider_stops"]
        lines += [_stops_line(stops, "The live apps' slider stops with a warm cache, one visitor in Chromium"), "",
                  "| app | stop | seconds |", "|---|---|---|",
                  *[f"| {stop['app']} | {stop['stop']} | "
                    f"{'not answered' if stop['seconds'] is None else _s(stop['seconds'], 2)} |" for stop in stops], ""]
    if record.get("site_build"):
        build = record["site_build"]
        lines += [f"The classroom pages served: {sum(build['stops'].values()):,} stops "
                  f"({', '.join(f'{app} {n:,}' for app, n in build['stops'].items())}), {build['rendered_now']} rendered "
                  f"for the run, {build['failed']} failed ({_s(build['seconds'])} to check the site).", ""]
    if record.get("reduced_build"):
        reduced = record["reduced_build"]
        lines += [f"A reduced build of {sum(reduced['stops'].values()):,} stops "
                  f"({', '.join(f'{app} {n:,}' for app, n in reduced['stops'].items())}), each from an empty cache:", "",
                  "| build | wall time | CPU time | files | size | MLP audit fits |", "|---|---|---|---|---|---|"]
        for name in ("before", "after"):
            if name in reduced:
                row = reduced[name]
                lines.append(f"| {name} | {_s(row['wall_s'])} | {_s(row['cpu_s'])} | {row['files']:,} | {_mb(row['bytes'])} | "
                             f"{row['mlp_audit_fits']} |")
        lines.append("")
    if record.get("full_build_after"):
        full = record["full_build_after"]
        lines += [f"A full build of {full['stops_total']:,} stops ({', '.join(f'{app} {n:,}' for app, n in full['stops'].items())}"
                  f"; {full['failed']} failed) with {full['jobs']} processes on {full['cores']} cores: {_s(full['wall_s'])} wall "
                  f"time, {_s(full['cpu_s'])} CPU time, {full['files']:,} files, {_mb(full['bytes'])}, {full['mlp_audit_fits']} "
                  f"MLP audit fits (1-minute load average {full['load_average_1min']:.1f} at the end; machine: {full['machine']}). "
                  f"Command: `{full['command']}`.", ""]
        if full.get("before_for_comparison"):
            lines += [f"For comparison, before: {full['before_for_comparison']}.", ""]
    if record.get("site"):
        lines += _site_build_lines(record)
    if "external_requests" in record:
        outside = record["external_requests"]
        lines += [f"Requests to anything but 127.0.0.1: {'none' if not outside else ', '.join(map(str, outside))}.", ""]
    goals = [(goal, {server: _goal(record, server, kind, limit) for server in SERVER_LABELS})
             for goal, kind, limit in CLASSROOM_GOALS]
    goals = [(goal, verdicts) for goal, verdicts in goals if any(verdicts.values())]
    if goals:
        lines += ["The classroom's goals in this run:", "", "| goal | " + " | ".join(SERVER_LABELS.values()) + " |",
                  "|---|" + "---|" * len(SERVER_LABELS)]
        lines += [f"| {goal} | " + " | ".join(verdicts[server] or "not measured" for server in SERVER_LABELS) + " |"
                  for goal, verdicts in goals]
        lines.append("")
    if record.get("classroom_pages_after"):
        lines.append(benchmark_markdown(record["classroom_pages_after"], "The classroom pages of the reduced build, served",
                                        level + 1))
    return "\n".join(lines)


def classroom_benchmark_page() -> str:
    """The classroom benchmark page: each committed record of :data:`CLASSROOM_BENCHMARKS` as
    :func:`benchmark_markdown` renders it; one not in ``reports/`` is named as missing."""
    lines = ["# Classroom benchmarks", "",
             "Generated from the committed benchmark records in `reports/` when the site is built: each with the date, "
             "the machine and the command it was recorded with. The [classroom guide](../guides/classroom.md) says "
             "what is measured and how.", ""]
    for name, what in CLASSROOM_BENCHMARKS:
        path = REPORTS / name
        if not path.exists():
            lines += [f"## `{name}`", "", f"{what} Not recorded in this checkout.", ""]
            continue
        record = json.loads(path.read_text())
        section = benchmark_markdown(record, name).split("\n")
        lines += [*section[:2], what, "", *section[2:]]
    return "\n".join(lines)


def api_pages(staging: Path) -> None:
    lines = ["# API reference", "",
             "Each subpackage's `__init__` is its public face; the layers import only those above them.", "",
             "```{toctree}", ":maxdepth: 1", "", *API_PACKAGES, "```", ""]
    write_if_changed(staging / "api" / "index.md", "\n".join(lines))
    for package in API_PACKAGES:
        write_if_changed(staging / "api" / f"{package}.md", "\n".join([
            f"# `qmu_kit.{package}`", "", "```{eval-rst}", f".. automodule:: qmu_kit.{package}",
            "   :members:", "   :imported-members:", "```", ""]))


# ---------------------------------------------------------------------------------------------------
# The classroom pages


def classroom_directory() -> Path | None:
    """The classroom pages built for today's code (``make classroom``), or None."""
    from qmu_kit.apps.static import MANIFEST, default_site_directory

    directory = default_site_directory()
    return directory if (directory / MANIFEST).exists() else None


def copy_classroom(source: Path | None, out: Path) -> dict | None:
    """Put the classroom pages into ``out/classroom`` (hard links where possible); their manifest, or None."""
    target = out / "classroom"
    if source is None:
        return None
    manifest = json.loads((source / "manifest.json").read_text())
    if (target / "manifest.json").exists() and (target / "manifest.json").read_text() == (source / "manifest.json").read_text():
        return manifest
    shutil.rmtree(target, ignore_errors=True)

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)
    return manifest


# ---------------------------------------------------------------------------------------------------


def stage(staging: Path, work: Path, execute: bool, classroom: dict | None) -> None:
    kept = sync_tree(DOCS, staging, skip=("conf.py", "build_site.py", "_templates"))
    kept.add(staging / "changelog.md")
    write_if_changed(staging / "changelog.md", (ROOT / "CHANGELOG.md").read_text())
    lessons = [stage_lesson(name, work, staging, execute, classroom) for name in lesson_names()]
    write_if_changed(staging / "lessons" / "index.md", lessons_index(lessons, classroom))
    write_if_changed(staging / "results" / "reproduction.md", reproduction_page(staging))
    write_if_changed(staging / "results" / "leaderboard.md", leaderboard_page(staging))
    write_if_changed(staging / "results" / "classroom-benchmark.md", classroom_benchmark_page())
    api_pages(staging)
    generated = ("lessons", "results", "api")
    for path in list(staging.rglob("*")):  # a guide removed from docs/ leaves the site too
        relative = path.relative_to(staging)
        if path.is_file() and relative.parts[0] not in generated and path not in kept:
            path.unlink()


def linked_apps(manifest: dict | None) -> dict[str, str]:
    """What the staged pages take from a classroom manifest: each app's title, by name."""
    return {name: app["title"] for name, app in (manifest or {}).get("apps", {}).items()}


def build(out: Path = DEFAULT_OUT, work: Path = DEFAULT_WORK, execute: bool = True, jobs: int = 1,
          classroom: Path | None = None, pages: "ClassroomBuild | None" = None) -> dict:
    """Stage and build the site with the classroom pages in directory ``classroom`` (None: none), or
    with those ``pages`` is building meanwhile; returns the seconds of each phase and of each lesson executed.

    Pages still building are linked by the apps they will hold (:meth:`ClassroomBuild.planned`), so Sphinx
    runs while they finish; they are copied in when done (and the site staged again if their manifest
    names other apps or titles than planned).
    """
    seconds = {}
    start = time.perf_counter()
    if execute:
        seconds["each lesson"] = execute_lessons(work, jobs)
    seconds["lessons"] = time.perf_counter() - start
    manifest = pages.planned() if pages is not None else copy_classroom(classroom, out)
    seconds |= stage_and_render(out, work, execute, jobs, manifest)
    if pages is not None:
        built = copy_classroom(pages.finish(), out)
        seconds["classroom pages"] = pages.seconds
        if linked_apps(built) != linked_apps(manifest):
            print("site: the classroom pages hold other apps than planned: staging again", flush=True)
            seconds |= stage_and_render(out, work, execute, jobs, built)
    print(f"site: built {out}/index.html (lessons {seconds['lessons']:.1f} s, staging {seconds['stage']:.1f} s, "
          f"sphinx {seconds['sphinx']:.1f} s)", flush=True)
    return seconds


def stage_and_render(out: Path, work: Path, execute: bool, jobs: int, manifest: dict | None) -> dict:
    """Stage the sources linking the classroom apps of ``manifest`` and run Sphinx; the phases' seconds."""
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    stage(work / "src", work, execute, manifest)
    staged = time.perf_counter()
    status = build_main(["-b", "html", "-q", "-c", str(DOCS), "-d", str(work / "doctrees"), "-j", str(jobs),
                         str(work / "src"), str(out)])
    if status != 0:
        raise SystemExit(f"site: sphinx-build failed (exit status {status})")
    return {"stage": staged - start, "sphinx": time.perf_counter() - staged}


def build_classroom(warm: bool, jobs: int, directory: Path | None = None) -> None:
    """Build (or complete) the classroom pages for today's code, as ``qmu-kit app --static`` does before
    serving, into ``directory`` (default: the one named by today's code)."""
    sys_path()
    from qmu_kit.apps import build_site, warm_every_stop

    if warm:
        warm_every_stop(jobs)
    print(build_site(directory, n_jobs=jobs).table(), flush=True)


class ClassroomBuild:
    """The classroom pages building in a process of their own (``--pages-only``) while the lessons
    execute and Sphinx renders: each side has stretches where fewer tasks than cores are left, and the
    other fills them. Results both need come from the one cache, computed once (its locks) and written
    atomically."""

    def __init__(self, warm: bool, jobs: int):
        from qmu_kit.apps.static import default_site_directory

        self.start = time.perf_counter()
        self.seconds = None
        # Named by the code as the build starts: the code edited meanwhile still finds the pages built.
        self.directory = default_site_directory()
        command = [sys.executable, str(Path(__file__).resolve()), "--pages-only", "--jobs", str(jobs),
                   "--classroom-dir", str(self.directory)]
        self.process = subprocess.Popen(command + (["--warm"] if warm else []))

    @staticmethod
    def planned() -> dict:
        """The manifest's part the staged pages link (each app's title), known before the pages are built."""
        from qmu_kit.apps import static_apps

        return {"apps": {name: {"title": app.title} for name, app in static_apps().items()}}

    def finish(self) -> Path:
        """Wait for the pages; their directory (a failed build stops the site build, naming its exit status)."""
        status = self.process.wait()
        self.seconds = time.perf_counter() - self.start
        if status != 0:
            raise SystemExit(f"site: building the classroom pages failed (exit status {status})")
        from qmu_kit.apps.static import MANIFEST

        if not (self.directory / MANIFEST).exists():
            raise SystemExit(f"site: the classroom pages were built but {self.directory} holds no manifest")
        return self.directory


def serve(out: Path, host: str, port: int) -> None:
    """Serve the built site as plain files (the classroom pages' server: a class may connect at once)."""
    from qmu_kit.apps import check_server, serve_directory

    check_server(host, port)
    if not (out / "index.html").exists():
        raise SystemExit(f"site: {out} holds no built site: run make site first")
    serve_directory(out, host, port, what="the course site", port_flag=SITE_PORT_FLAG, name="qmu-kit site")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the built site (default build/site)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="staged sources, Sphinx's environment, executed lessons (default build/site-work)")
    parser.add_argument("--no-execute", action="store_true", help="render the committed notebooks without outputs")
    parser.add_argument("--no-classroom", action="store_true", help="leave the classroom pages out")
    parser.add_argument("--classroom-dir", type=Path,
                        help="the classroom pages to include (default: those built for today's code, if any); "
                             "with --pages-only, where to build them")
    parser.add_argument("--jobs", type=int, default=1, help="processes executing lessons and building pages")
    parser.add_argument("--classroom", action="store_true", help="build the classroom pages too (in a process of their own while the lessons execute)")
    parser.add_argument("--warm", action="store_true", help="with --classroom: compute every stop in parallel first")
    parser.add_argument("--pages-only", action="store_true",
                        help="build (or complete) the classroom pages only: what --classroom runs beside the lessons")
    parser.add_argument("--serve", action="store_true", help="serve the built site instead of building it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--timings", type=Path, help="write the phases' seconds to this JSON file")
    args = parser.parse_args(argv)
    sys_path()
    from qmu_kit.apps import PortInUseError

    try:
        return run(args)
    except (ValueError, PortInUseError) as error:  # a bad host, port or number of jobs; a taken port
        print(f"site: error: {error}", file=sys.stderr)
        return 2


def run(args) -> int:
    if not 1 <= args.jobs <= 64:
        raise ValueError(f"jobs={args.jobs} is out of range: jobs must be an integer from 1 to 64")
    if args.serve:
        serve(args.out, args.host, args.port)
        return 0
    if args.pages_only:
        build_classroom(args.warm, args.jobs, args.classroom_dir)
        return 0
    pages = None
    if args.classroom:
        from qmu_kit.apps import check_port_free, check_server

        check_server(args.host, args.port)  # the site is served there next: a taken port stops before building
        check_port_free(args.host, args.port, "the course site", SITE_PORT_FLAG)
        pages = ClassroomBuild(args.warm, args.jobs)
    classroom = None if args.no_classroom or pages is not None else args.classroom_dir or classroom_directory()
    seconds = build(args.out, args.work, not args.no_execute, args.jobs, classroom, pages)
    if args.timings:
        args.timings.write_text(json.dumps(seconds, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
