"""Helpers for the notebooks themselves: parameter validation and recorded metrics.

Every notebook starts with a cell tagged ``parameters`` (papermill's convention) holding plain
assignments, followed by a cell that calls :func:`check_parameters`. Papermill only *warns* about a
parameter the notebook does not declare (and injects it anyway); :func:`check_parameters` fails,
naming it and the declared ones, so a typo in a rerun never silently runs the defaults.

:func:`record_metrics` displays the numbers a notebook wants checked as one JSON output with its own
MIME type; :func:`read_metrics` reads them back from an executed notebook (the papermill tests and
``qmu-kit reproduce`` use it).

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

from qmu_kit._validation import check_choice, check_depth, check_int, check_shots

METRICS_MIME = "application/vnd.qmu-kit.metrics+json"


def _validators() -> dict[str, Callable]:
    from qmu_kit.data import MODELS
    from qmu_kit.experiment import ATTACK_NAMES, METHODS, PRESETS

    return {
        "shots": check_shots,
        "depth": check_depth,
        "seed": lambda v: check_int("seed", v, 0, 2**32 - 1),
        "model": lambda v: check_choice("model", v, MODELS),
        "method": lambda v: check_choice("method", v, METHODS),
        "preset": lambda v: check_choice("preset", v, PRESETS),
        "attack": lambda v: check_choice("attack", v, ATTACK_NAMES),
        "n_seeds": lambda v: check_int("n_seeds", v, 1, 20),
        "n_queries": lambda v: check_int("n_queries", v, 20, 2000),
        "forget_class": lambda v: check_int("forget_class", v, 0, 9),
    }


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
    from qmu_kit.experiment import ExperimentConfig

    fields = {name: params[name] for name in ("model", "depth", "shots", "seed", "attack") if name in params}
    if "attack" in fields:
        fields["attacks"] = ("mlp", "loss", "confidence", "entropy", "lira")
    return ExperimentConfig.from_preset(params.get("preset", "classroom"), **{**fields, **overrides})


def record_metrics(**metrics) -> None:
    """Display ``metrics`` (JSON-serializable) as one output that tests and reports read back."""
    from IPython.display import display

    data = json.loads(json.dumps(metrics))
    display({METRICS_MIME: data, "text/plain": ", ".join(f"{k} = {_short(v)}" for k, v in data.items())}, raw=True)


def _short(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


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
