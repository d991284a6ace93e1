"""Sweeps: grids, refusals, the three execution paths (serial, joblib, Dask), and resuming."""

import json
import re

import pytest

from tests.unit.experiment.test_experiment import numbers as model_numbers
import yaml

from qmu_kit.core.cache import ResultCache
from qmu_kit.cli.commands import main
from qmu_kit.experiment.config import ExperimentConfig
from qmu_kit.experiment.pipeline import cached_result
from qmu_kit.experiment.sweep import CRASH_ENV, SweepError, estimate_seconds, expand_grid, run_sweep

BASE = ExperimentConfig(model="basic", n_qubits=3, depth=1, n_train=60, n_test=60, epochs=2,
                        attacks=("loss",), attack="loss", methods=("ga",))
GRID = {"shots": [50, None], "seed": [0, 1]}


def numbers(result):
    """Everything but wall-clock times, as comparable JSON (one rule with test_experiment's)."""
    return model_numbers(result.to_dict()["models"])


@pytest.fixture(scope="module")
def serial():
    return run_sweep(BASE, GRID, cache=False)


def test_grid_expansion_and_refusals():
    configs = expand_grid(BASE, {"depth": [1, 2], "seed": [0, 1, 2]})
    assert [(c.depth, c.seed) for c in configs] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    with pytest.raises(ValueError, match="the sweep grid is empty"):
        expand_grid(BASE, {})
    with pytest.raises(ValueError, match=r"unknown sweep field\(s\) \['qubits'\]"):
        expand_grid(BASE, {"qubits": [2]})
    with pytest.raises(ValueError, match="sweep field 'seed' needs a non-empty list of values"):
        expand_grid(BASE, {"seed": []})
    with pytest.raises(ValueError, match="the sweep grid has 10000 runs, more than the 5000 allowed"):
        expand_grid(BASE, {"seed": list(range(100)), "depth": list(range(1, 51)) * 2})
    with pytest.raises(ValueError, match="shots=0 is out of range"):
        expand_grid(BASE, {"shots": [0]})


def test_grids_too_large_for_the_machine_are_refused_with_the_estimate():
    paper = ExperimentConfig.from_preset("paper")
    assert estimate_seconds(paper) > estimate_seconds(BASE)
    estimate = 40 * estimate_seconds(paper) / 3600
    with pytest.raises(ValueError, match=rf"the sweep would take about {estimate:.1f} CPU-hours for 40 uncached runs .* max_hours=0.01"):
        run_sweep(paper, {"seed": list(range(40))}, cache=False, max_hours=0.01)
    # the library refuses what the command line refuses (not only the CLI's flag types)
    for bad, kind in ((0, "out of range"), (-1.0, "out of range"), (float("nan"), "not valid")):
        with pytest.raises(ValueError, match=rf"max_hours={bad!r} is {kind}: max_hours must be a number in \(0.0, inf\)"):
            run_sweep(BASE, GRID, cache=False, max_hours=bad)
    with pytest.raises(ValueError, match=r"n_jobs=0 is out of range: n_jobs must be an integer from 1 to 256"):
        run_sweep(BASE, GRID, cache=False, n_jobs=0)


def test_table_csv_and_json(serial, tmp_path):
    table = serial.table()
    assert len(table) == 4 * 3 and set(table.model_name) == {"original", "retrained", "ga"}
    assert set(table.shots) == {50, "exact"} and {"seed", "mia_auc", "acc_test_retain"} <= set(table.columns)
    csv = serial.to_csv(tmp_path / "sweep.csv").read_text().splitlines()
    assert csv[0].startswith("shots,seed,model_name") and len(csv) == 13
    data = json.loads(serial.to_json(tmp_path / "sweep.json").read_text())
    assert data["grid"] == {"shots": [50, None], "seed": [0, 1]} and len(data["runs"]) == 4


def test_joblib_gives_the_serial_numbers(serial, tmp_path):
    parallel = run_sweep(BASE, GRID, n_jobs=2, cache=ResultCache(tmp_path))
    assert [numbers(r) for r in parallel.results] == [numbers(r) for r in serial.results]


def test_dask_local_cluster_gives_the_serial_numbers(serial):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        distributed = run_sweep(BASE, GRID, scheduler=cluster.scheduler_address, cache=False)
    assert [numbers(r) for r in distributed.results] == [numbers(r) for r in serial.results]


def fresh_workers():
    """joblib reuses its worker processes; new ones see the current environment."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def test_a_dead_worker_loses_nothing_and_the_sweep_resumes(serial, tmp_path, monkeypatch):
    import re

    from qmu_kit.experiment.pipeline import run_experiment

    cache = ResultCache(tmp_path)
    configs = expand_grid(BASE, GRID)  # (50, 0), (50, 1), (exact, 0), (exact, 1)
    # One seed-1 run finished before (in-process runs ignore the crash hook), so the sweep's last run is the
    # only one that kills its worker: that worker first finishes (and caches) one of the other two runs.
    run_experiment(configs[1], cache=cache)
    monkeypatch.setenv(CRASH_ENV, "1")  # every worker given seed 1 dies abruptly
    fresh_workers()
    with pytest.raises(SweepError, match=r"stopped after \d of 4 runs .* cached under .*: run the same sweep again to resume") as info:
        run_sweep(BASE, GRID, n_jobs=2, cache=cache)
    fresh_workers()  # no worker of the broken sweep is still writing
    reported = int(re.search(r"stopped after (\d) of 4", str(info.value)).group(1))
    finished = len(list((tmp_path / "results").glob("*.json")))
    assert 2 <= reported <= finished < 4  # the pre-run one and at least one a worker finished; the crashed one is not
    cached_before = [cached_result(c, cache) is not None for c in configs]
    assert sum(cached_before) == finished and cached_before[1] and not cached_before[3]
    monkeypatch.delenv(CRASH_ENV)
    fresh_workers()
    resumed = run_sweep(BASE, GRID, n_jobs=2, cache=cache)
    assert sum(r.from_cache for r in resumed.results) == finished
    assert [r.from_cache for r in resumed.results] == cached_before
    assert [numbers(r) for r in resumed.results] == [numbers(r) for r in serial.results]
    assert len(list((tmp_path / "results").glob("*.json"))) == 4
    assert not list(tmp_path.rglob("*.tmp"))  # no half-written files


def test_cli_sweep_from_flags_and_file(tmp_path, capsys):
    common = ["--model", "basic", "--qubits", "3", "--depth", "1", "--n-train", "60", "--n-test", "60", "--epochs", "2",
              "--attacks", "loss", "--method", "ga", "--jobs", "1", "--quiet", "--cache-dir", str(tmp_path / "c")]
    assert main(["sweep", *common, "--grid", "shots=50,exact", "--csv", str(tmp_path / "a.csv")]) == 0
    out = capsys.readouterr().out
    assert "2 runs over shots (2)" in out and (tmp_path / "a.csv").exists()
    # every rate printed carries its interval and sample count: 2 runs x 3 models x 4 columns
    assert len(re.findall(r"\d\.\d\d \[\d\.\d\d, \d\.\d\d\] \(n=\d+\)", out)) == 2 * 3 * 4
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({"preset": "classroom", "base": {"methods": ["ga"]}, "grid": {"seed": [0, 1]}}))
    assert main(["sweep", *common, "--file", str(sweep_file), "--csv", str(tmp_path / "b.csv"), "--json", str(tmp_path / "b.json")]) == 0
    assert len(json.loads((tmp_path / "b.json").read_text())["runs"]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep"], "argument --grid: the sweep grid is empty"),
        (["sweep", "--grid", "shots=0"], "argument --grid: shots=0 is out of range"),
        (["sweep", "--grid", "colour=red"], "argument --grid: unknown sweep field 'colour'"),
        (["sweep", "--grid", "seed="], "lists no values"),
        (["sweep", "--grid", "n_train=1500", "--grid", "n_test=500"], "n_train + n_test = 2000 is out of range: the digits data has 1797 samples"),
        (["sweep", "--grid", "seed=0,1", "--preset", "paper", "--max-hours", "0.001"], "argument --grid: the sweep would take about"),
        (["sweep", "--grid", "seed=0", "--max-hours", "-1"], "max_hours=-1 is out of range: max_hours must be a number in (0.0, inf)"),
        (["sweep", "--grid", "seed=0", "--max-hours", "nan"], "max_hours=nan is not valid: max_hours must be a number in (0.0, inf)"),
        (["sweep", "--grid", "seed=0", "--max-hours", "soon"], "max_hours='soon' is not valid"),
        (["sweep", "--file", "/no/such.yaml"], "argument --file: no such file: /no/such.yaml"),
    ],
)
def test_cli_sweep_bad_input(argv, message, capsys, tmp_path):
    assert main([*argv, "--no-cache", "--csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.csv").exists()  # nothing half-written


def test_cli_sweep_file_errors_name_the_file(tmp_path, capsys):
    """A bad grid or base value that came from the sweep file is reported against --file, not --grid."""
    for content, message in [({"grid": {"seed": []}}, "argument --file: sweep field 'seed' needs a non-empty list"),
                             ({"grid": {"shots": [0]}}, "argument --file: shots=0 is out of range"),
                             ({"base": {"depth": 0}, "grid": {"seed": [0]}}, "argument --file: depth=0 is out of range")]:
        sweep_file = tmp_path / "sweep.yaml"
        sweep_file.write_text(yaml.safe_dump(content))
        assert main(["sweep", "--file", str(sweep_file), "--no-cache", "--csv", str(tmp_path / "x.csv")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
