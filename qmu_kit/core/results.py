"""One protocol for every result the kit returns: JSON, a summary, a table and a figure.

Every result type (an experiment, an audit, a verification, a privacy run, a tuning, a device audit, a
sweep, a trend over shots, ...) is a :class:`Result`:

* ``to_dict()`` / ``from_dict(data)``: the JSON-ready form and back. Every ``to_dict`` carries the key
  ``"schema": {"kind": KIND, "version": VERSION}``; ``from_dict`` refuses any other (a
  ``ValueError``), so a cached result of an older shape is recomputed, never misread.
* ``to_json(path)`` / ``from_json(path)``: the same through a file, written atomically
  (:func:`~qmu_kit.core.cache.atomic_write`: a crash never leaves half a file).
* ``summary()``: a readable text (what the command line prints).
* ``table(intervals=True)``: a pandas DataFrame, one column per number. With ``intervals=True`` every
  column that is an :class:`~qmu_kit.core.stats.Estimate` is followed by ``<column>_n`` (its sample
  count), ``<column>_low`` and ``<column>_high`` (its 95 % interval); with ``intervals=False`` only the
  values remain. Cells are plain numbers, never strings: :func:`interval_strings` turns a table with
  intervals into ``value [low, high] (n=N)`` text for display.
* ``plot(ax=None)``: a matplotlib figure, scikit-learn Display style: drawn on ``ax`` when given (a
  figure of several panels draws its main panel there), else on a new figure; the figure is returned.

Example:
    >>> import pandas as pd
    >>> from qmu_kit.core.stats import proportion
    >>> frame = pd.DataFrame([interval_cells("accuracy", proportion(27, 30))], index=["original"])
    >>> list(frame.columns)
    ['accuracy', 'accuracy_n', 'accuracy_low', 'accuracy_high']
    >>> print(interval_strings(frame).loc["original", "accuracy"])
    0.90 [0.74, 0.97] (n=30)
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from qmu_kit.core.cache import atomic_write
from qmu_kit.core.stats import Estimate

#: Suffixes of the columns an estimated column brings with ``intervals=True``: count, interval ends.
INTERVAL_SUFFIXES = ("_n", "_low", "_high")


class Result(abc.ABC):
    """The protocol of every result type (see the module docstring for each method's contract).

    A subclass sets :attr:`KIND` (its name in the JSON) and :attr:`VERSION` (bumped whenever its JSON
    changes shape or meaning) and implements the five abstract methods; ``to_json``/``from_json`` and
    the schema check are shared.
    """

    KIND: ClassVar[str] = ""
    VERSION: ClassVar[int] = 0

    @classmethod
    def schema(cls) -> dict:
        """``{"kind": KIND, "version": VERSION}``: what every ``to_dict`` of this type carries as ``"schema"``."""
        return {"kind": cls.KIND, "version": cls.VERSION}

    @classmethod
    def check_schema(cls, data) -> None:
        """Refuse a dict of another kind or schema version.

        Raises:
            ValueError: ``data`` is not a mapping or its ``"schema"`` is not :meth:`schema`.
        """
        found = data.get("schema") if isinstance(data, Mapping) else None
        if found != cls.schema():
            raise ValueError(f"schema={found!r} is not valid: {cls.__name__} reads only schema {cls.schema()} "
                             "(an older result is recomputed, not misread)")

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """JSON-ready, with ``"schema": self.schema()``."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, data: Mapping) -> "Result":
        """The result :meth:`to_dict` wrote (after :meth:`check_schema`)."""

    @abc.abstractmethod
    def summary(self) -> str:
        """A readable text of the numbers that matter, with their intervals."""

    @abc.abstractmethod
    def table(self, intervals: bool = True):
        """The numbers as a pandas DataFrame (``intervals``: add ``_n``, ``_low``, ``_high`` columns)."""

    @abc.abstractmethod
    def plot(self, ax=None):
        """A matplotlib figure, drawn on ``ax`` or a new figure, returned."""

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` atomically; returns the path."""
        path = Path(path)
        payload = json.dumps(self.to_dict(), indent=1).encode()
        atomic_write(path, lambda file: file.write(payload))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> "Result":
        """Read a file :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def interval_cells(name: str, value, intervals: bool = True) -> dict:
    """The table cells of one number: ``{name: value}``, and for an
    :class:`~qmu_kit.core.stats.Estimate` with ``intervals`` also its count and interval ends.

    Example:
        >>> from qmu_kit.core.stats import proportion
        >>> interval_cells("acc", proportion(3, 4), intervals=False), interval_cells("seconds", 1.5)
        ({'acc': 0.75}, {'seconds': 1.5})
    """
    if not isinstance(value, Estimate):
        return {name: value}
    cells = {name: value.value}
    if intervals:
        cells.update({f"{name}_n": value.n, f"{name}_low": value.ci95[0], f"{name}_high": value.ci95[1]})
    return cells


def interval_strings(frame, digits: int = 2):
    """A table with intervals for display: each estimated column as ``value [low, high] (n=N)`` text
    (:meth:`~qmu_kit.core.stats.Estimate.format`), its ``_n``, ``_low`` and ``_high`` columns dropped.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"auc": [0.6], "auc_n": [50], "auc_low": [0.5], "auc_high": [0.7], "seeds": [3]})
        >>> interval_strings(frame).to_dict("records")
        [{'auc': '0.60 [0.50, 0.70] (n=50)', 'seeds': 3}]
    """
    import pandas as pd

    out = frame.copy()
    for column in frame.columns:
        parts = [f"{column}{suffix}" for suffix in INTERVAL_SUFFIXES]
        if not all(part in frame.columns for part in parts):
            continue
        # a row without this number (no count) shows an empty cell
        out[column] = ["" if pd.isna(n) else Estimate(float(value), int(n), (float(low), float(high))).format(digits)
                       for value, n, low, high in zip(frame[column], *(frame[part] for part in parts))]
        out = out.drop(columns=parts)
    return out


__all__ = ["INTERVAL_SUFFIXES", "Result", "interval_cells", "interval_strings"]
