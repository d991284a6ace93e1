"""What every result type of the kit offers: JSON through one atomic writer, a text summary, a table.

A result type (an experiment's, a verification's, a tuning run's, ...) subclasses :class:`Result`
and provides ``to_dict`` / ``from_dict`` (JSON-ready, NaN as ``None``), ``summary() -> str`` and
``table(...) -> pandas.DataFrame``; it inherits :meth:`Result.to_json` (written atomically: a crash
never leaves half a file) and :meth:`Result.from_json`. Figures live in :mod:`qmu_kit.plots`; a result
draws itself with them through its ``plot`` method.

Example:
    >>> import dataclasses, tempfile
    >>> @dataclasses.dataclass
    ... class Count(Result):
    ...     n: int
    ...     def to_dict(self): return {"n": self.n}
    ...     @classmethod
    ...     def from_dict(cls, data): return cls(data["n"])
    ...     def summary(self): return f"n = {self.n}"
    ...     def table(self, intervals=True): return None
    >>> path = Count(3).to_json(tempfile.mkdtemp() + "/count.json")
    >>> Count.from_json(path)
    Count(n=3)
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from pathlib import Path

from qmu_kit.core.cache import atomic_write


class Result(abc.ABC):
    """The protocol of the kit's result types (see the module docstring)."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """Everything the result holds, JSON-ready."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, data: Mapping) -> "Result":
        """Read what :meth:`to_dict` wrote (a result of another schema raises ``ValueError``)."""

    @abc.abstractmethod
    def summary(self) -> str:
        """A few readable lines: what was measured and what it shows."""

    @abc.abstractmethod
    def table(self, *args, **kwargs):
        """The numbers as a :class:`pandas.DataFrame`."""

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON, atomically; returns the path."""
        path = Path(path)
        payload = json.dumps(self.to_dict(), indent=1).encode()
        atomic_write(path, lambda file: file.write(payload))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> "Result":
        """Read a file :meth:`to_json` wrote."""
        return cls.from_dict(json.loads(Path(path).read_text()))


__all__ = ["Result"]
