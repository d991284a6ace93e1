"""``qmu-kit reproduce`` end to end on a reduced scale (classroom preset, two notebooks, two seeds)."""

import os

import pytest

from qmu_kit.cli import main
from qmu_kit.reproduce import PAPER, mean_ci, reproduce

SHARED_CACHE = os.environ.get("QMU_KIT_CACHE")


def test_mean_ci():
    assert mean_ci([0.5]) == (0.5, 0.0)
    mean, half = mean_ci([0.4, 0.6])
    assert mean == pytest.approx(0.5) and half == pytest.approx(12.706 * 0.1414 / 1.4142, rel=1e-3)


@pytest.mark.slow
def test_reproduce_writes_the_summary_with_figures(tmp_path, monkeypatch):
    if SHARED_CACHE:
        monkeypatch.setenv("QMU_KIT_CACHE", SHARED_CACHE)
    summary = reproduce(tmp_path, preset="classroom", n_seeds=2, n_queries=20,
                        names=("00_start_here", "02_membership_leakage"), progress=False)
    text = summary.read_text()
    assert "| noiseless simulation, before unlearning | 90.2 % |" in text
    assert f"| noisy device, after unlearning (RGA) | {PAPER['hardware_after'] * 100:.1f} % |" in text
    assert "±" in text and "| retrained |" in text and "seeds 0, 1" in text
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == ["02_membership_leakage-1.png"] and "![02_membership_leakage](figures/02_membership_leakage-1.png)" in text
    assert (tmp_path / "notebooks" / "00_start_here.ipynb").exists()


def test_reproduce_bad_input(capsys, tmp_path):
    assert main(["reproduce", "--out", str(tmp_path), "--seeds", "0"]) == 2
    assert "seeds=0 is out of range" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['99_missing'\]"):
        reproduce(tmp_path, names=("99_missing",))
    assert not any(tmp_path.iterdir())  # refused before writing anything
