"""Every docstring example in the kit runs and shows what it says (Google-style ``Example:`` sections).

One test per module, so a failing example names its module. Examples that need a trained model or a
server are marked ``# doctest: +SKIP`` where they stand; every module with examples must run at least one.
"""

import doctest
import importlib
import pkgutil

import pytest

import qmu_kit

MODULES = sorted(info.name for info in pkgutil.walk_packages(qmu_kit.__path__, "qmu_kit.")
                 if not info.ispkg and not info.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.setenv("QMU_KIT_CACHE", str(tmp_path))  # an example that computes never touches a real cache
    monkeypatch.chdir(tmp_path)  # nor writes into the checkout
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


def test_the_examples_cover_the_kit():
    """Most modules carry a runnable example; this pins the count so examples are not silently dropped."""
    with_examples = [name for name in MODULES
                     if any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name), name))]
    assert len(with_examples) >= len(MODULES) // 2, with_examples
