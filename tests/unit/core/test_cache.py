import warnings

import pytest
import torch

from qmu_kit.core.cache import CacheWarning, ResultCache, atomic_write, default_cache_dir
from qmu_kit.qnn.training import QNNClassifier


def test_default_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("QMU_KIT_CACHE")
    assert "qmu-kit" in str(default_cache_dir())


def test_json_round_trip_and_no_temporary_files(tmp_path):
    cache = ResultCache(tmp_path)
    assert cache.load_json("abc123") is None
    cache.store_json("abc123", {"a": [1, 2], "b": float("nan")})
    loaded = cache.load_json("abc123")
    assert loaded["a"] == [1, 2] and loaded["b"] != loaded["b"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["abc123.json"]
    with pytest.raises(ValueError, match="alphanumeric"):
        cache.load_json("../../etc/passwd")


@pytest.mark.parametrize("content", [b'{"models": {"orig', b"\x00\x01garbage", b"[1, 2, 3]", b""])
def test_corrupt_json_is_reported_and_treated_as_missing(tmp_path, content):
    cache = ResultCache(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "deadbeef.json").write_bytes(content)
    with pytest.warns(CacheWarning, match="corrupt cache entry .*deadbeef.json"):
        assert cache.load_json("deadbeef") is None


def test_model_state_round_trip_and_truncation(tmp_path):
    import numpy as np

    x, y = np.random.default_rng(0).random((30, 8)), np.arange(30) % 3
    model = QNNClassifier("basic", 3, 1, epochs=1).fit(x, y)
    cache = ResultCache(tmp_path)
    cache.store_state("m1", model.to_state())
    restored = QNNClassifier.from_state(cache.load_state("m1"))
    assert np.array_equal(restored.predict_proba(x), model.predict_proba(x))
    assert restored.history_ == model.history_ and restored.circuit_evaluations_ == model.circuit_evaluations_
    path = tmp_path / "models" / "m1.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CacheWarning, match="corrupt cache entry"):
        assert cache.load_state("m1") is None


def test_interrupted_write_leaves_the_old_entry(tmp_path):
    cache = ResultCache(tmp_path)
    cache.store_json("k1", {"v": 1})

    def boom(file):
        file.write(b'{"v": 2')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "results" / "k1.json", boom)
    assert cache.load_json("k1") == {"v": 1}
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["k1.json"]


def test_unwritable_directory_warns_once_and_carries_on(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = ResultCache(blocker / "cache")  # cannot be created, whoever runs the test (root included)
    with pytest.warns(CacheWarning, match="cannot write to cache"):
        cache.store_json("k", {"v": 1})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.store_json("k2", {"v": 2})  # reported once only
        cache.store_state("k3", {"x": torch.zeros(1)})
    assert [w for w in caught if issubclass(w.category, CacheWarning)] == []
    assert cache.load_json("k") is None and cache.load_json("k2") is None and cache.load_state("k3") is None


def test_unwritable_cache_as_root_too(tmp_path, monkeypatch):
    """Root ignores permission bits, so simulate the failing write itself."""
    cache = ResultCache(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr("qmu_kit.core.cache.tempfile.mkstemp", refuse)
    with pytest.warns(CacheWarning, match="cannot write to cache .*Read-only file system"):
        cache.store_json("k", {"v": 1})
    assert cache.load_json("k") is None


def test_clear(tmp_path):
    cache = ResultCache(tmp_path)
    cache.store_json("a", {})
    cache.store_state("b", {"x": torch.zeros(1)})
    assert cache.load_json("a") == {} and cache.load_state("b") is not None
    assert cache.clear() == 2 and cache.load_json("a") is None
    assert cache.load_state("b") is None
    assert not list((tmp_path / "results").iterdir()) and not list((tmp_path / "models").iterdir())


def test_a_cache_argument_is_a_flag_a_directory_or_a_cache(tmp_path):
    from qmu_kit.core.cache import resolve_cache

    assert resolve_cache(False) is None and resolve_cache(None) is None
    assert resolve_cache(str(tmp_path)).directory == tmp_path and resolve_cache(tmp_path).directory == tmp_path
    given = ResultCache(tmp_path)
    assert resolve_cache(given) is given
    with pytest.raises(TypeError, match=r"cache=3 is not valid: give True \(the default cache\), False \(none\), a directory or a ResultCache"):
        resolve_cache(3)


def _fit_once_per_process(directory, log, barrier):
    """One of several processes needing the same model at once (module level: spawned processes import it)."""
    import time

    from qmu_kit.experiment.pipeline import get_or_fit

    def fit():
        with open(log, "a") as file:
            file.write("fit\n")
        time.sleep(1.0)  # long enough for every other process to arrive while this one computes
        return {"weights": torch.arange(3.0)}

    barrier.wait()
    model = get_or_fit(ResultCache(directory), "samekey", fit, save=lambda m: m, load=lambda state: state)
    return model["weights"].tolist()


def test_processes_needing_one_model_at_once_fit_it_once(tmp_path):
    """The second and third process wait for the first one's model instead of training it again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(3)
    log = tmp_path / "fits.log"
    with ProcessPoolExecutor(3, mp_context=context) as pool:
        results = [pool.submit(_fit_once_per_process, str(tmp_path / "cache"), str(log), barrier) for _ in range(3)]
        weights = [future.result(timeout=120) for future in results]
    assert weights == [[0.0, 1.0, 2.0]] * 3
    assert log.read_text() == "fit\n"


def test_a_failed_fit_releases_the_lock_and_stores_nothing(tmp_path):
    from qmu_kit.experiment.pipeline import get_or_fit

    cache = ResultCache(tmp_path)

    def broken():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        get_or_fit(cache, "k1", broken, save=lambda m: m, load=lambda state: state)
    assert cache.load_state("k1") is None
    assert get_or_fit(cache, "k1", lambda: {"w": torch.ones(1)}, save=lambda m: m, load=lambda s: s)["w"].item() == 1.0
