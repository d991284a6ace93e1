"""A cold build of the classroom pages, or of the whole course site: from an empty cache, timed, with its size.

Builds the classroom pages (:func:`qmu_kit.apps.static.build_site`) in a child process with a new, empty
cache and records its wall time, the CPU time of the whole process tree (the build and its worker
processes, sampled every 0.5 s, so workers never reaped still count), the stops per app, the files and
bytes on disk. ``--reduced`` builds about an eighth of every app's stops (:data:`REDUCED`: each app's
controls kept to a few stops, in proportion, so the mix of training, attack fitting and writing stays
that of the full site); without it, every stop. On a machine shared with other work, compare two builds
run at the same time under the same load, and compare CPU seconds rather than wall seconds.

``--site`` builds the whole course site instead, as ``make classroom`` does (``docs/build_site.py
--classroom``: every lesson executed beside the classroom pages, then Sphinx while they finish), and
records the same with the seconds of each phase and of each lesson; the course site's goal is a cold
build within 10 minutes on 2 cores.

Usage::

    .venv/bin/python benchmarks/bench_classroom_build.py --reduced --jobs 2 --json build.json
    .venv/bin/python benchmarks/bench_classroom_build.py --site --jobs 2 --json site.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]

#: About an eighth of every app's stops (219 of the full site's 1,692).
REDUCED = {
    "classifiers": {"model": ["basic", "hybrid"], "depth": [1, 2]},
    "leakage": {"shots": ["10", "100", "1000", "10000", "exact"], "depth": [1, 2]},
    "privacy": {"epsilon": ["4"], "shots": ["10", "100", "1000", "10000", "exact"]},
    "shot_noise": {"shots": ["10", "100", "1000", "10000", "exact"],
                   "expval": ["-1", "-0.75", "-0.5", "-0.25", "0", "0.25", "0.5", "0.75", "1"]},
    "unlearning": {"shots": ["exact"]},
}

BUILD = """
import json, sys
from qmu_kit.apps.static import build_site
options = json.loads(sys.argv[2]) or None
site = build_site(sys.argv[1], n_jobs=int(sys.argv[3]), options=options, progress=False)
print(json.dumps({"stops": site.stops, "failed": len(site.failed)}))
"""


def processor() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_cold(command: list[str], cache: Path) -> tuple[float, float, str]:
    """Run ``command`` in a child process with the empty ``cache``; its wall and CPU seconds (the whole
    process tree) and its standard output."""
    env = {**os.environ, "QMU_KIT_CACHE": str(cache), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    root, cpu = psutil.Process(child.pid), {}
    while child.poll() is None:
        try:
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                    cpu[(process.pid, process.create_time())] = times.user + times.system
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        time.sleep(0.5)
    wall = time.monotonic() - start
    if child.returncode != 0:
        raise RuntimeError(f"the build failed (exit {child.returncode})")
    return wall, sum(cpu.values()), child.stdout.read()


def size(directory: Path) -> dict:
    files = [p for p in directory.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def measure(site: Path, cache: Path, options: dict | None, jobs: int) -> dict:
    """Build the classroom pages in ``site`` from the empty ``cache``; wall and CPU seconds, stops, size."""
    wall, cpu, out = run_cold([sys.executable, "-c", BUILD, str(site), json.dumps(options), str(jobs)], cache)
    built = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "stops": built["stops"],
            "stops_total": sum(built["stops"].values()), "failed": built["failed"], **size(site)}


def measure_site(scratch: Path, jobs: int) -> dict:
    """Build the whole course site in ``scratch`` from an empty cache there; wall and CPU seconds, the
    seconds of each phase and each lesson, size."""
    timings = scratch / "timings.json"
    wall, cpu, _ = run_cold([sys.executable, str(ROOT / "docs" / "build_site.py"), "--classroom", "--out", str(scratch / "site"),
                             "--work", str(scratch / "work"), "--jobs", str(jobs), "--timings", str(timings)], scratch / "cache")
    phases = json.loads(timings.read_text())
    lessons = phases.pop("each lesson")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "phases_s": {k: round(v, 1) for k, v in phases.items()},
            "each_lesson_s": {k: round(v, 1) for k, v in lessons.items()}, **size(scratch / "site")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--reduced", action="store_true", help="about an eighth of every app's stops (REDUCED)")
    scope.add_argument("--site", action="store_true", help="the whole course site: lessons, classroom pages, Sphinx")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes of the build (1..256)")
    parser.add_argument("--json", help="also write the record to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="classroom-build-") as scratch:
        if args.site:
            record = measure_site(Path(scratch), args.jobs)
        else:
            record = measure(Path(scratch) / "site", Path(scratch) / "cache", REDUCED if args.reduced else None, args.jobs)
    record.update(reduced=args.reduced, site=args.site, jobs=args.jobs, cores=os.cpu_count(),
                  load_average_1min=os.getloadavg()[0])
    record = {"date": datetime.date.today().isoformat(),
              "machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {processor()}",
              "command": " ".join(["benchmarks/bench_classroom_build.py", *sys.argv[1:]]), **record}
    print(json.dumps(record, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
