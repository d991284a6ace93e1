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


# ---- the one text parser and the one list parser ------------------------------------------------

from qmu_kit.core.fields import FieldSpec, check_fields  # noqa: E402
from qmu_kit.core.validation import ConfigError, check_delta, check_names, parse_text  # noqa: E402


@pytest.mark.parametrize("text, value", [("300", 300), (" 7 ", 7), ("0.5", 0.5), ("1e3", 1000.0), ("-2", -2),
                                         ("true", True), ("False", False), ("exact", "exact"), ("class:4", "class:4")])
def test_parse_text_reads_numbers_and_booleans_and_leaves_the_rest(text, value):
    parsed = parse_text(text)
    assert parsed == value and type(parsed) is type(value)


ALLOWED = ("ga", "ssd", "rga")


@pytest.mark.parametrize("value, names", [("ga,rga", ("ga", "rga")), (" ssd ", ("ssd",)), (["rga", "ga"], ("rga", "ga")),
                                          ("", ()), ("none", ()), (("ga", ""), ("ga",)), ("all", ALLOWED)])
def test_check_names_reads_text_and_sequences(value, names):
    assert check_names("methods", value, ALLOWED, every=True) == names


def test_check_names_refuses_unknown_repeated_and_non_names():
    with pytest.raises(ValueError, match=r"^unknown method 'delete': choose one of 'ga', 'ssd', 'rga'$"):
        check_names("methods", "ga,delete", ALLOWED)
    with pytest.raises(ValueError, match=r"unknown method 'all': choose one of 'ga', 'ssd', 'rga'$"):
        check_names("methods", "all", ALLOWED)  # "all" only where every=True
    with pytest.raises(ValueError, match=r"choose one of 'ga', 'ssd', 'rga', or 'all' \(controls always run\)"):
        check_names("methods", ["x"], ALLOWED, every=True, reason="controls always run")
    with pytest.raises(ValueError, match=r"methods=\['ga', 'ga'\] repeats a name: list each of ga, ssd, rga at most once"):
        check_names("methods", "ga,ga", ALLOWED)
    with pytest.raises(ValueError, match=r"methods=5 is not valid"):
        check_names("methods", 5, ALLOWED)
    assert check_names("methods", ["retrain", "ga"], ALLOWED, ignore=("retrain",)) == ("ga",)


@pytest.mark.parametrize("value, n_train, message", [(0, None, "delta=0 is out of range"), (1.0, None, r"\(0.0, 1.0\)"),
                                                      ("0.1", None, "delta='0.1' is not valid"),
                                                      (0.01, 300, "delta must be below 1/n_train = 1/300")])
def test_one_delta_rule(value, n_train, message):
    assert check_delta(0.001, n_train=300) == 0.001
    with pytest.raises(ValueError, match=message):
        check_delta(value, n_train)


def test_field_spec_parses_text_and_check_fields_names_the_field():
    from dataclasses import dataclass

    models = FieldSpec(lambda value: check_int("models", value, 4, 256), "models per side", "--models", "K", default=16)
    names = FieldSpec(lambda value: check_names("methods", value, ALLOWED), "methods", names=True)
    assert models.parse(" 8 ") == 8 and models.flag_default() == 16
    assert names.parse("ga+rga", separator="+") == ("ga", "rga") and names.parse("ssd") == ("ssd",)
    assert FieldSpec(check_shots, "shots", text=True).parse("exact") is None
    assert FieldSpec(str, "path", nullable=True).parse("default") is None

    @dataclass(frozen=True)
    class Settings:
        models: int = 16

        def __post_init__(self):
            check_fields(self, {"models": models})

    assert Settings(8).models == 8
    with pytest.raises(ConfigError, match="models=3 is out of range: models must be an integer from 4 to 256") as info:
        Settings(3)
    assert info.value.field == "models"
