"""Helpers for the notebooks themselves: parameter validation, recorded metrics, numbers for display.

Every notebook starts with a cell tagged ``parameters`` (papermill's convention) holding plain
assignments, followed by a cell that calls :func:`check_parameters`. Papermill only *warns* about a
parameter the notebook does not declare (and injects it anyway); :func:`check_parameters` fails,
naming it and the declared ones, so a typo in a rerun never silently runs the defaults.

:func:`record_metrics` displays the numbers a notebook wants checked as one JSON output with its own
MIME type; :func:`read_metrics` reads them back from an executed notebook (the papermill tests and
``qmu-kit reproduce`` use it).

:func:`format_number`, :func:`format_speedup` and :func:`format_metrics` write numbers the same way in
the panels' tables, recorded metrics and ``qmu-kit reproduce``'s summary.

Example:
    >>> check_parameters({"shots": "300", "seed": 0}, ["shots", "seed"])
    {'shots': 300, 'seed': 0}
    >>> check_parameters({"In": ["", "# Parameters\\nshot = 5\\n"], "shots": 1}, ["shots"])
    Traceback (most recent call last):
    ...
    ValueError: unknown notebook parameter(s) shot: this notebook takes shots
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from qmu_kit.core.stats import Estimate
from qmu_kit.core.validation import MAX_QUERIES, MIN_QUERIES, check_choice, check_int
from qmu_kit.experiment.config import FIELDS, PRESETS, ExperimentConfig
from qmu_kit.studies.devices import DeviceAudit

METRICS_MIME = "application/vnd.qmu-kit.metrics+json"


def _validators() -> dict[str, Callable]:
    """A validator per notebook parameter: the config's own rule (:data:`qmu_kit.experiment.config.FIELDS`)
    where the parameter is a config field, plus the notebooks' own parameters."""

    validators = {name: spec.validate for name, spec in FIELDS.items() if not spec.names}
    validators.update(
        # a notebook shows one method in detail: one name of the methods field's choices
        method=lambda v: check_choice("method", v, FIELDS["methods"].choices()),
        preset=lambda v: check_choice("preset", v, PRESETS),
        n_seeds=lambda v: check_int("n_seeds", v, 1, 20),
        n_queries=lambda v: check_int("n_queries", v, MIN_QUERIES, MAX_QUERIES),
    )
    return validators


def injected_parameters(namespace: Mapping) -> list[str]:
    """Names papermill assigned in its injected cell(s) (they start with ``# Parameters``).

    Read from IPython's input history ``In``, so re-running cells in Jupyter never confuses it.
    """
    import ast

    names: list[str] = []
    for source in namespace.get("In", []) or []:
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.append(node.id)
    return names


def check_parameters(namespace: Mapping, declared: Iterable[str], extra: Mapping[str, Callable] | None = None) -> dict:
    """Validate a notebook's parameters and refuse undeclared ones.

    Args:
        namespace: the notebook's globals (``globals()``).
        declared: the names the parameters cell defines.
        extra: validators for notebook-specific parameters (name -> function returning the value).

    Returns:
        The validated values by name (e.g. ``shots="exact"`` becomes ``None``).

    Raises:
        ValueError: papermill set a name the notebook does not declare (a typo such as
            ``-p shot 100``), or a value is out of range; the message names it and what is allowed.
    """
    declared = list(declared)
    validators = {**_validators(), **(extra or {})}
    unknown = sorted(set(injected_parameters(namespace)) - set(declared))
    if unknown:
        raise ValueError(
            f"unknown notebook parameter(s) {', '.join(unknown)}: this notebook takes {', '.join(declared)}"
        )
    missing = [name for name in declared if name not in namespace]
    if missing:
        raise ValueError(f"the parameters cell must define {', '.join(missing)}")
    values = {}
    for name in declared:
        check = validators.get(name)
        values[name] = check(namespace[name]) if check else namespace[name]
    return values


def experiment_config(params: Mapping, **overrides):
    """The experiment a notebook's parameters describe: ``preset`` plus ``model``, ``depth``,
    ``shots``, ``seed`` and ``attack`` where given (other parameters are the notebook's own)."""

    fields = {name: params[name] for name in ("model", "depth", "shots", "seed", "attack") if name in params}
    return ExperimentConfig.from_preset(params.get("preset", "classroom"), **{**fields, **overrides})


def recordable(estimate: Estimate) -> dict:
    """An estimate as a recorded metric: its ``to_dict`` (``value``, ``n``, ``ci95``, ``kind``, ...).

    For an AUC the tolerance's ``n`` is the smaller group: DeLong's ``n`` counts both groups, so it
    is halved here for a balanced comparison.
    """
    out = estimate.to_dict()
    if estimate.kind == "auc":
        out["n"] = max(1, estimate.n // 2)
        out["n_total"] = estimate.n
    return out


#: Every metric recorded in this Python process (later records win): the executing kernel's copy,
#: which the notebook checks of ``make test`` compare with the references (tests/notebook_tools.py).
RECORDED: dict = {}


def _recordable(value):
    if isinstance(value, Estimate):
        return recordable(value)
    if isinstance(value, Mapping):
        return {key: _recordable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_recordable(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def metrics_bundle(metrics: Mapping) -> dict:
    """The display bundle that records ``metrics`` (also kept in :data:`RECORDED`)."""
    data = json.loads(json.dumps(_recordable(dict(metrics))))
    RECORDED.update(data)
    return {METRICS_MIME: data, "text/plain": format_metrics(data)}


def record_metrics(**metrics) -> None:
    """Display ``metrics`` as one output that tests and reports read back.

    A rate or AUC is recorded with its sample count, as an :class:`~qmu_kit.core.stats.Estimate` (from
    :func:`qmu_kit.report.claims.measure`) or :func:`qmu_kit.report.claims.measured`: the notebook checks compare it
    with the reference within :func:`qmu_kit.report.claims.tolerance`.
    """
    from IPython.display import display

    display(metrics_bundle(metrics), raw=True)


def format_metrics(metrics: Mapping) -> str:
    """``name = value, ...`` with floats to three decimals (how recorded metrics are shown); a
    measured number shows its value and ``n``, a claim its sentence.

    Example:
        >>> format_metrics({"auc": 0.61234, "n_seeds": 3, "acc": {"value": 0.9, "n": 30}})
        'auc = 0.612, n_seeds = 3, acc = 0.900 (n=30)'
    """
    def show(value):
        if isinstance(value, float):
            return f"{value:.3f}"
        if isinstance(value, Mapping) and "text" in value:
            return repr(value["text"])
        if isinstance(value, Mapping) and "value" in value and "n" in value:
            return "nan" if value["value"] is None else f"{value['value']:.3f} (n={value['n']})"
        return f"{value}"

    return ", ".join(f"{name} = {show(value)}" for name, value in metrics.items())


def format_number(value, digits: int = 2) -> str:
    """A number for a table: ``digits`` decimals, ``-`` for a missing one (``None`` or NaN).

    Example:
        >>> format_number(0.8765), format_number(None), format_number(float("nan"))
        ('0.88', '-', '-')
    """
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def format_speedup(value) -> str:
    """A speed-up over retraining such as ``12.3x``; ``-`` where there is none (the original model).

    Example:
        >>> format_speedup(12.34), format_speedup(None)
        ('12.3x', '-')
    """
    return "-" if value is None or value != value else f"{value:.1f}x"


def device_audit_table(audits: Mapping[str, DeviceAudit]):
    """One row per device of :func:`~qmu_kit.studies.devices.run_device_audit` results (``{name: audit}``):
    the original model's accuracies, the paper's metric and its control, and two attacks' AUCs (a pandas
    DataFrame of values)."""
    import pandas as pd

    rows = {}
    for name, audit in audits.items():
        mlp, loss = audit.outcome("original", "mlp"), audit.outcome("original", "loss")
        rows[name] = {
            "accuracy (members)": audit.original.accuracy_members.value,
            "accuracy (non-members)": audit.original.accuracy_nonmembers.value,
            "MIA success": mlp.mia_success_forget.value,
            "control": mlp.flag_rate_forget_nonmembers.value,
            "AUC (paper's attack)": mlp.overall.auc.value,
            "AUC (loss attack)": loss.overall.auc.value,
        }
    return pd.DataFrame(rows).T


def read_metrics(notebook: str | Path | Mapping) -> dict:
    """Every recorded metric of an executed notebook (later records win)."""
    if not isinstance(notebook, Mapping):
        notebook = json.loads(Path(notebook).read_text())
    found: dict = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if METRICS_MIME in data:
                found.update(data[METRICS_MIME])
    return found
