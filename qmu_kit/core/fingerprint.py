"""The code fingerprint: which source a cached number depends on.

The rule is a directory rule. Every Python file in the *computing* subpackages
(:data:`COMPUTING_PACKAGES`: ``core``, ``qnn``, ``leakage``, ``unlearning``, ``experiment``,
``studies``) can change a number, so all of them are hashed; the presentation layers (``plots``,
``report``, ``exercises``, ``ui``, ``apps``, ``cli``) only show numbers and never invalidate a cached result. A test
checks that no computing module imports a presentation module at its top level, so the rule cannot
drift from the code.

Code registered from outside the kit (a student's unlearning method, a test's attack) is hashed
separately by :func:`external_source`.

Example:
    >>> len(code_fingerprint())
    16
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from pathlib import Path

#: The subpackages whose code computes numbers (in layer order).
COMPUTING_PACKAGES = ("core", "qnn", "leakage", "unlearning", "experiment", "studies")

#: The subpackages that present numbers: editing them never invalidates a cached result.
PRESENTATION_PACKAGES = ("plots", "report", "exercises", "ui", "apps", "cli")

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def computing_files() -> list[Path]:
    """Every source file of :data:`COMPUTING_PACKAGES`, in a fixed order, plus the package root's ``__init__``."""
    files = [PACKAGE_ROOT / "__init__.py"]
    for package in COMPUTING_PACKAGES:
        files.extend(sorted((PACKAGE_ROOT / package).rglob("*.py")))
    return files


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the kit's computing code (:func:`computing_files`): cached results never outlive a change to it."""
    digest = hashlib.sha256()
    for path in computing_files():
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def source_fingerprint(*packages: str) -> str:
    """Hash of every source file of the named subpackages (the classroom pages' presentation code)."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((PACKAGE_ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def external_source(factory) -> str | None:
    """Hash of the source of ``factory`` and its base classes defined outside the kit; ``""`` when
    all of them are the kit's own, ``None`` when some source cannot be read (a class defined in a
    notebook cell)."""
    chain = [c for c in getattr(factory, "__mro__", (factory,)) if c is not object]
    outside = [c for c in chain if not (getattr(c, "__module__", "") or "").startswith("qmu_kit")]
    if not outside:
        return ""
    try:
        source = "".join(inspect.getsource(c) for c in outside)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]
