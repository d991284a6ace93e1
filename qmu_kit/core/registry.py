"""Registries of named building blocks (unlearning methods, attacks) that a student can extend.

A :class:`Registry` maps a name to a factory and remembers how figures and controls show it: a short
``label`` (legends, tables), a ``colour`` (every figure) and an optional longer ``description``
(dropdowns). The kit's configuration, command line, widgets, plots and sweeps read the registry
*when they need it*, never a copy taken at import, so an entry registered in a notebook is at once a
valid ``ExperimentConfig(methods=...)`` value, a CLI choice, a dropdown option and a table row.

One decorator, :meth:`Registry.register`, adds entries; :data:`qmu_kit.unlearning.methods.register` and
:data:`qmu_kit.leakage.attacks.register` are the two registries' decorators.

Example:
    >>> shapes = Registry("shape")
    >>> @shapes.register("square", label="Square", colour="#0072B2")
    ... class Square:
    ...     pass
    >>> list(shapes), shapes.label("square"), shapes.colour("square")
    (['square'], 'Square', '#0072B2')
    >>> _ = shapes.register("hexagon", lesson=False, scope="even-sided only")(Square)
    >>> shapes.names(), shapes.names(lessons=True), shapes.entry("hexagon").scope
    (('square', 'hexagon'), ('square',), 'even-sided only')
    >>> _ = shapes.register("circle", excludes={"grid": "a circle has no corners to snap"})(Square)
    >>> shapes.entry("circle").excludes
    {'grid': 'a circle has no corners to snap'}
    >>> shapes.register("Bad name!")(Square)
    Traceback (most recent call last):
    ...
    ValueError: shape name 'Bad name!' is not valid: use lower-case letters, digits and underscores, starting with a letter
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field

from qmu_kit.core.palette import CYCLE

#: Colours handed to entries registered without one (the kit's own entries name theirs): the palette's.
FALLBACK_COLOURS = CYCLE
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Entry:
    """One registered name: its factory and how it is shown."""

    name: str
    factory: Callable
    label: str
    colour: str
    description: str
    lesson: bool = True
    scope: str = ""
    excludes: Mapping[str, str] = field(default_factory=dict)


class Registry(MutableMapping):
    """Name -> factory, in registration order, with a label and colour per name.

    Args:
        kind: what the entries are (``"unlearning method"``, ``"attack"``): used in messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str | None = None, *, label: str | None = None, colour: str | None = None,
                 description: str | None = None, lesson: bool = True, scope: str = "",
                 excludes: Mapping[str, str] | None = None, replace: bool = False) -> Callable:
        """Decorator adding a class or function under ``name`` (default: its ``name`` attribute).

        Args:
            name: the registry name (lower-case letters, digits, underscores).
            label: short name for legends and tables (default: ``name``).
            colour: a matplotlib colour for every figure (default: one of :data:`FALLBACK_COLOURS`).
            description: longer text for dropdowns (default: ``label``).
            lesson: whether the lessons (notebooks, apps, classroom dropdowns) offer this entry;
                ``False`` for entries only a benchmark enumerates (:meth:`names` with ``lessons=True``
                leaves them out).
            scope: where the entry has no meaning or a restricted one (e.g. "the classical head
                only"), in words a benchmark table can show; empty when it applies everywhere.
            excludes: where the entry has no meaning at all: a context (a model such as ``"basic"``, a
                forget kind such as ``"random"``) -> the reason, which a benchmark shows in its row
                instead of numbers.
            replace: allow re-registering an existing name (re-running a notebook cell does).

        Raises:
            ValueError: the name is malformed, already taken (without ``replace``), or the colour is
                not a colour.
        """

        def decorator(factory):
            key = name if name is not None else getattr(factory, "name", None)
            if not isinstance(key, str) or not _NAME.match(key):
                raise ValueError(
                    f"{self.kind} name {key!r} is not valid: use lower-case letters, digits and underscores, starting with a letter"
                )
            if key in self._entries and not replace and self._entries[key].factory is not factory:
                raise ValueError(f"{self.kind} {key!r} is already registered: pick another name or pass replace=True")
            shown = colour if colour is not None else FALLBACK_COLOURS[len(self._entries) % len(FALLBACK_COLOURS)]
            from matplotlib.colors import is_color_like

            if not isinstance(lesson, bool):
                raise ValueError(f"lesson={lesson!r} for {self.kind} {key!r} is not valid: lesson must be True or False")
            reasons = dict(excludes or {})
            if not all(isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in reasons.items()):
                raise ValueError(f"excludes={excludes!r} for {self.kind} {key!r} is not valid: map each context name to a "
                                 "non-empty reason, e.g. {'basic': 'needs a classical feature extractor'}")
            if not is_color_like(shown):
                raise ValueError(f"colour={shown!r} for {self.kind} {key!r} is not a matplotlib colour (e.g. '#1f77b4' or 'teal')")
            if isinstance(factory, type) and getattr(factory, "name", None) != key:
                factory.name = key  # reports and results name the method by its registry name
            self._entries[key] = Entry(key, factory, label or key, shown, description or label or key, lesson, scope, reasons)
            return factory

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (e.g. a student's entry at the end of an exercise)."""
        del self._entries[name]

    def names(self, *, lessons: bool = False) -> tuple[str, ...]:
        """Every name in registration order, or with ``lessons=True`` only the lessons' entries."""
        return tuple(name for name, entry in self._entries.items() if entry.lesson or not lessons)

    def entry(self, name: str) -> Entry:
        return self._entries[name]

    def label(self, name: str) -> str:
        """The short label of ``name``; an unregistered name is its own label."""
        return self._entries[name].label if name in self._entries else name

    def colour(self, name: str, default: str = "0.3") -> str:
        return self._entries[name].colour if name in self._entries else default

    def description(self, name: str) -> str:
        return self._entries[name].description if name in self._entries else name

    def __getitem__(self, name: str) -> Callable:
        return self._entries[name].factory

    def __setitem__(self, name: str, factory: Callable) -> None:
        self.register(name, replace=True)(factory)

    def __delitem__(self, name: str) -> None:
        self.unregister(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"


__all__ = ["Entry", "FALLBACK_COLOURS", "Registry"]
