import pytest

from qmu_kit.core.validation import (
    MAX_QUBITS,
    MAX_SHOTS,
    check_choice,
    check_depth,
    check_float,
    check_int,
    check_qubits,
    check_shots,
)


@pytest.mark.parametrize("value", [None, "exact", "EXACT", " inf "])
def test_exact_shots_spellings(value):
    assert check_shots(value) is None


@pytest.mark.parametrize("value, expected", [(1, 1), (1000, 1000), ("300", 300), (MAX_SHOTS, MAX_SHOTS)])
def test_valid_shots(value, expected):
    assert check_shots(value) == expected


@pytest.mark.parametrize("value", [0, -5, 2.5, 100.0, "abc", "1e3", True, MAX_SHOTS + 1, [10]])
def test_bad_shots_name_value_and_range(value):
    with pytest.raises(ValueError) as info:
        check_shots(value)
    message = str(info.value)
    assert f"shots={value!r}" in message
    assert f"1 to {MAX_SHOTS}" in message and "exact" in message


@pytest.mark.parametrize("value", [0, -1, 1.0, MAX_QUBITS + 1, 40, "6"])
def test_bad_qubits_explain_memory(value):
    with pytest.raises(ValueError, match=rf"n_qubits={value!r}.*2 to {MAX_QUBITS}.*memory"):
        check_qubits(value)


@pytest.mark.parametrize("value", [0, -3, 51, 2.0])
def test_bad_depth(value):
    with pytest.raises(ValueError, match=rf"depth={value!r}.*from 1 to 50"):
        check_depth(value)


def test_check_int_and_float_ranges():
    assert check_int("seed", 0, 0) == 0
    with pytest.raises(ValueError, match="seed=-1 is out of range: seed must be an integer >= 0"):
        check_int("seed", -1, 0)
    with pytest.raises(ValueError, match=r"^seed=-1 is out of range: seed must be an integer >= 0 \(seeds are counts\)$"):
        check_int("seed", -1, 0, reason="seeds are counts")
    with pytest.raises(ValueError, match=r"^seed=1.5 is not valid: seed must be an integer >= 0 \(seeds are counts\)$"):
        check_int("seed", 1.5, 0, reason="seeds are counts")
    assert check_float("lr", 0.1, 0.0, low_inclusive=False) == 0.1
    with pytest.raises(ValueError, match=r"lr=0.0 is out of range: lr must be a number in \(0.0, inf\)"):
        check_float("lr", 0.0, 0.0, low_inclusive=False)
    with pytest.raises(ValueError, match=r"nan"):
        check_float("lr", float("nan"), 0.0)


def test_check_choice_lists_allowed_values():
    with pytest.raises(ValueError, match=r"unknown model 'quantum': choose one of 'basic', 'hybrid'"):
        check_choice("model", "quantum", ("basic", "hybrid"))
