"""A disk cache for experiment results and trained models, safe to share between processes.

* Keys are hashes of everything that determines the content (see ``ExperimentConfig.cache_key``).
* Writes are atomic: content goes to a temporary file in the same directory, then ``os.replace``
  puts it in place, so a reader never sees half a file and an interrupted write leaves nothing.
* A corrupt or truncated entry is reported (a :class:`CacheWarning`) and treated as missing, so the
  caller recomputes and overwrites it; it never crashes and never returns garbage.
* A cache directory that cannot be written is reported once and the kit carries on without caching.
* A model is computed once however many processes need it at once: :meth:`ResultCache.computing`
  holds a lock per key while one computes it; the others wait, then read what it stored.

The default location is the user cache directory (``platformdirs``), e.g. ``~/.cache/qmu-kit`` on
Linux; the environment variable ``QMU_KIT_CACHE`` or the ``directory`` argument overrides it.

Example:
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> cache.store_json("abc", {"x": 1}); cache.load_json("abc")
    {'x': 1}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock; two processes needing one model at once both compute it
    fcntl = None

import torch

ENV_VAR = "QMU_KIT_CACHE"


class CacheWarning(UserWarning):
    """A cache entry could not be read or written; the kit recomputes instead."""


def default_cache_dir() -> Path:
    """``$QMU_KIT_CACHE`` if set, else the platform's user cache directory for qmu-kit."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qmu-kit"))


def atomic_write(path: Path, write) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def resolve_cache(cache: "ResultCache | str | Path | bool | None") -> "ResultCache | None":
    """What a ``cache=`` argument means: ``True`` the default cache, ``False``/``None`` none, a directory
    (``str`` or ``Path``) a cache there, or the given :class:`ResultCache`.

    Example:
        >>> resolve_cache(False) is None, resolve_cache("/tmp/qmu-cache").directory.name
        (True, 'qmu-cache')
    """
    if cache is True:
        return ResultCache()
    if cache is False or cache is None:
        return None
    if isinstance(cache, (str, Path)):
        return ResultCache(cache)
    if isinstance(cache, ResultCache):
        return cache
    raise TypeError(f"cache={cache!r} is not valid: give True (the default cache), False (none), a directory "
                    f"or a ResultCache")


class ResultCache:
    """JSON results and torch model states stored under ``directory`` by key.

    Args:
        directory: where entries live (default :func:`default_cache_dir`).
    """

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self._write_failed = False

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"cache key {key!r} must be alphanumeric")
        return self.directory / kind / f"{key}{suffix}"

    def _report(self, path: Path, error: Exception) -> None:
        warnings.warn(f"ignoring corrupt cache entry {path} ({type(error).__name__}: {error}); recomputing", CacheWarning, stacklevel=3)

    def _store(self, path: Path, write) -> None:
        try:
            atomic_write(path, write)
        except OSError as error:
            if not self._write_failed:
                warnings.warn(f"cannot write to cache {self.directory} ({error}); continuing without caching", CacheWarning, stacklevel=3)
                self._write_failed = True

    def load_json(self, key: str) -> dict | None:
        """The stored result, or ``None`` when missing or unreadable (reported)."""
        path = self._path("results", key, ".json")
        try:
            with open(path, encoding="utf-8") as file:
                value = json.load(file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as error:
            self._report(path, error)
            return None
        if not isinstance(value, dict):
            self._report(path, TypeError(f"expected a JSON object, found {type(value).__name__}"))
            return None
        return value

    def store_json(self, key: str, value: dict) -> None:
        payload = json.dumps(value, allow_nan=True).encode()
        self._store(self._path("results", key, ".json"), lambda file: file.write(payload))

    def load_state(self, key: str) -> dict | None:
        """A stored model state (see ``QNNClassifier.to_state``), or ``None`` (reported if corrupt)."""
        path = self._path("models", key, ".pt")
        if not path.exists():
            return None
        try:
            return torch.load(path, weights_only=True)
        except Exception as error:  # truncated zip, unpickling error, ...
            self._report(path, error)
            return None

    def store_state(self, key: str, state: dict) -> None:
        self._store(self._path("models", key, ".pt"), lambda file: torch.save(state, file))

    @contextlib.contextmanager
    def computing(self, key: str):
        """Hold ``key``'s lock while computing its entry: another process computing the same key waits
        here until this one is done (then finds the entry stored). The lock is the operating system's
        (released if the process dies); a cache that cannot hold lock files computes without one.

        Example:
            >>> cache = ResultCache(tempfile.mkdtemp())
            >>> with cache.computing("abc"):
            ...     cache.store_json("abc", {"x": 1})
        """
        path = self._path("locks", key, ".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")
        except OSError:
            yield
            return
        with handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def clear(self) -> int:
        """Delete every entry; returns how many files were removed."""
        removed = 0
        for kind in ("results", "models", "locks"):
            for path in (self.directory / kind).glob("*"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
