"""``qmu-kit reproduce`` end to end on a reduced scale (classroom preset, two notebooks, two seeds)."""

import os
import re

import pytest

import qmu_kit.reproduce
from qmu_kit.cli import main
from qmu_kit.metrics import mean_ci
from qmu_kit.reproduce import PAPER, fmt_mean_ci as fmt, per_seed, reproduce

SHARED_CACHE = os.environ.get("QMU_KIT_CACHE")


def test_mean_ci():
    assert mean_ci([0.5]) == (0.5, 0.0)
    mean, half = mean_ci([0.4, 0.6])
    assert mean == pytest.approx(0.5) and half == pytest.approx(12.706 * 0.1414 / 1.4142, rel=1e-3)


@pytest.mark.slow
def test_reproduce_writes_the_summary_with_figures(tmp_path, monkeypatch):
    if SHARED_CACHE:
        monkeypatch.setenv("QMU_KIT_CACHE", SHARED_CACHE)
    given = {}  # what reproduce hands write_summary: the measured numbers the cells are computed from
    write_summary = qmu_kit.reproduce.write_summary

    def spy(out, preset, runs, notebooks, seconds):
        given["runs"] = runs
        return write_summary(out, preset, runs, notebooks, seconds)

    monkeypatch.setattr(qmu_kit.reproduce, "write_summary", spy)
    summary = reproduce(tmp_path, preset="classroom", n_seeds=2, n_queries=20,
                        names=("00_start_here", "02_membership_leakage"), progress=False)
    text = summary.read_text()
    assert "| noiseless simulation, before unlearning | 90.2 % |" in text
    assert f"| noisy device, after unlearning (RGA) | {PAPER['hardware_after'] * 100:.1f} % |" in text
    assert "±" in text and "| retrained |" in text and "seeds 0, 1" in text
    # the kit's cells, recomputed from the same runs
    sweep, devices = given["runs"]["sweep"], given["runs"]["devices"]
    assert [r.config.seed for r in sweep.results] == [0, 1] and len(devices) == 2
    before = mean_ci([r.models["original"].mia_success_forget.value for r in sweep.results])
    after = mean_ci([r.models["rga"].mia_success_forget.value for r in sweep.results])
    assert f"| noiseless simulation, before unlearning | 90.2 % | {fmt(before)} |" in text
    values = [r.models["original"].mia_success_forget.value for r in sweep.results]
    assert f"| 90.2 % | {sum(values) / 2 * 100:.1f} ± " in text  # the mean over the two seeds, by hand
    assert f"| noiseless simulation, after unlearning (RGA) | 0.0 % | {fmt(after)} |" in text
    device_after = [d["models"]["rga"]["attacks"]["mlp"]["mia_success_forget"]["value"] for d in devices]
    assert f"| 3.7 % | {fmt(mean_ci(device_after))} ({per_seed(device_after)}) |" in text
    forget, retain = (mean_ci([r.models["retrained"].value(field) for r in sweep.results]) for field in ("acc_train_forget", "acc_test_retain"))
    assert f"| retrained | {fmt(forget)} | {fmt(retain)} | " in text
    assert "nan" not in text and not re.search(r"\bnan\b", text, re.IGNORECASE)  # every cell has a number
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == ["02_membership_leakage-1.png"] and "![02_membership_leakage](figures/02_membership_leakage-1.png)" in text
    assert (tmp_path / "notebooks" / "00_start_here.ipynb").exists()


def test_reproduce_bad_input(capsys, tmp_path):
    assert main(["reproduce", "--out", str(tmp_path), "--seeds", "0"]) == 2
    assert "seeds=0 is out of range" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['99_missing'\]"):
        reproduce(tmp_path, names=("99_missing",))
    assert not any(tmp_path.iterdir())  # refused before writing anything
