import json
import subprocess
import sys
from pathlib import Path

import pytest

from qmu_kit.cli.commands import main

QUICK = ["--model", "basic", "--qubits", "4", "--depth", "1", "--n-train", "100", "--n-test", "100", "--epochs", "2",
         "--attacks", "loss", "--method", "ga", "--quiet"]


# Bad flags the bad-input matrix (tests/unit/cli/test_bad_input_matrix.py, CLI_CASES) checks with the same flag and
# message are not repeated here: --shots 0, --depth 0, --qubits beyond 12, --method delete, --model cnn,
# --preset huge, embedded MNIST sizes that leave no attacker population.
@pytest.mark.parametrize(
    "argv, flag, allowed",
    [
        (["run", "--shots", "-5"], "--shots", "1 to 1000000"),
        (["run", "--shots", "2.5"], "--shots", "'exact' or an integer"),
        (["run", "--shots", "many"], "--shots", "'exact' or an integer"),
        (["run", "--depth", "500"], "--depth", "from 1 to 50"),
        (["run", "--dataset", "cifar"], "--dataset", "'digits', 'mnist'"),
        (["run", "--forget", "random:2"], "--forget", "(0.0, 1.0)"),
        (["run", "--forget", "class"], "--forget", "'class:K'"),
        (["run", "--seed", "x"], "--seed", "integer from 0 to 4294967295"),
        (["run", "--dataset", "mnist", "--n-train", "3000"], "--n-train", "n_train <= 2150 with n_test = 700"),
        (["run", "--option", "ga.speed=3"], "--option", "unknown option 'speed' for method 'ga': allowed are lr, momentum"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, flag, allowed):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qmu-kit: error: ")
    assert flag in err and allowed in err
    assert "Traceback" not in err


def test_run_prints_a_table_and_writes_json(capsys, tmp_path):
    out_file = tmp_path / "result.json"
    assert main(["run", *QUICK, "--shots", "exact", "--json", str(out_file), "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "MIA-success" in out and "retrained" in out and "shots exact" in out
    data = json.loads(out_file.read_text())
    assert set(data) == {"schema", "config", "versions", "models"} and set(data["models"]) == {"original", "retrained", "ga"}
    assert main(["run", *QUICK, "--shots", "exact", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "(from cache)" in capsys.readouterr().out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "qmu-kit"
    done = subprocess.run([str(script), "run", "--shots", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("qmu-kit: error: argument --shots")


def test_flags_grid_and_notebook_parameters_share_the_config_rules():
    """One rule per field: the flag, the sweep grid, the notebook parameter and the config say the same."""
    from qmu_kit.core.validation import ConfigError
    from qmu_kit.cli.commands import build_parser
    from qmu_kit.cli.options import grid_item
    from qmu_kit.experiment.config import FIELDS, ExperimentConfig
    from qmu_kit.report.notebook import check_parameters

    run = next(a for a in build_parser()._actions if a.dest == "command").choices["run"]
    flags = {option for action in run._actions for option in action.option_strings}
    assert {spec.flag for spec in FIELDS.values() if spec.flag} <= flags
    for field, bad in (("depth", 0), ("n_shadows", 65), ("seed", -1), ("shots", 0)):
        with pytest.raises(ConfigError) as from_config:
            ExperimentConfig(**{field: bad})
        assert from_config.value.field == field
        with pytest.raises(ValueError) as from_grid:
            grid_item(f"{field}={bad}")
        assert str(from_grid.value) == str(from_config.value)
        assert main(["run", FIELDS[field].flag, str(bad)]) == 2
    with pytest.raises(ValueError) as from_notebook:
        check_parameters({"depth": 0}, ["depth"])
    assert str(from_notebook.value) == "depth=0 is out of range: depth must be an integer from 1 to 50"
    assert grid_item("methods=ga+rga,ssd") == ("methods", [("ga", "rga"), ("ssd",)])
    assert grid_item("retrain=true,false") == ("retrain", [True, False])


def test_version_flag_prints_the_installed_version(capsys):
    import qmu_kit

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"qmu-kit {qmu_kit.__version__}"
