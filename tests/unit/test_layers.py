"""The package's architecture, checked: layers import only downward, no module cycle, no kit import
hidden inside a function, and the code fingerprint covers exactly the computing layers."""

from __future__ import annotations

import ast
from pathlib import Path

import qmu_kit
from qmu_kit.core import fingerprint

PACKAGE = Path(qmu_kit.__file__).resolve().parent
#: The layers, bottom first (the order of qmu_kit's docstring).
LAYERS = ("core", "qnn", "leakage", "unlearning", "plots", "experiment", "studies", "report", "exercises", "ui", "apps", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kit_imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported kit module, at top level?)`` for every ``qmu_kit`` import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qmu_kit"):
            for alias in node.names:  # ``from qmu_kit.core import stats`` imports the module qmu_kit.core.stats
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists()
                found.append((candidate if is_module else node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names if alias.name.startswith("qmu_kit")]
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_lives_in_a_layer():
    loose = [module_name(p) for p in SOURCES if p.parent == PACKAGE and p.name not in ("__init__.py", "_environment.py")]
    assert not loose, f"modules outside the layers: {loose}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(LAYERS)


def test_layers_import_only_downward_and_never_inside_functions():
    upward, hidden = [], []
    for path in SOURCES:
        me = module_name(path)
        for target, at_top in kit_imports(path):
            if layer(target) > layer(me):
                upward.append(f"{me} -> {target}")
            if not at_top:
                hidden.append(f"{me} -> {target}")
    assert not upward, f"imports that run back up a layer: {upward}"
    assert not hidden, f"kit imports inside functions (import at the top; a cycle means a piece is in the wrong layer): {hidden}"


def test_no_import_cycle_between_modules():
    graph = {module_name(p): {t for t, _ in kit_imports(p)} for p in SOURCES}
    # a package's __init__ imports its own modules (its public face): only module -> module edges count
    graph = {m: {t for t in targets if t in graph and not graph_is_parent(t, m)} for m, targets in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"


def graph_is_parent(target: str, module: str) -> bool:
    """``target`` is a package that ``module`` belongs to (importing it is importing one's own face)."""
    return module.startswith(target + ".")


def test_fingerprint_covers_exactly_the_computing_layers():
    files = set(fingerprint.computing_files())
    for path in SOURCES:
        top = path.relative_to(PACKAGE).parts[0]
        if top in fingerprint.COMPUTING_PACKAGES:
            assert path in files, path
        elif top in fingerprint.PRESENTATION_PACKAGES:
            assert path not in files, path
    assert set(fingerprint.COMPUTING_PACKAGES) | set(fingerprint.PRESENTATION_PACKAGES) == set(LAYERS)
    # presentation sits above the computing layers it shows, except the figures that results draw with
    assert all(layer(f"qmu_kit.{p}") > layer("qmu_kit.unlearning") for p in fingerprint.PRESENTATION_PACKAGES)


def test_computing_layers_never_import_the_interactive_ones():
    interactive = {"report", "exercises", "ui", "apps", "cli"}
    offending = [f"{module_name(p)} -> {t}" for p in SOURCES if layer(module_name(p)) >= 0
                 and LAYERS[layer(module_name(p))] in fingerprint.COMPUTING_PACKAGES
                 for t, _ in kit_imports(p) if layer(t) >= 0 and LAYERS[layer(t)] in interactive]
    assert not offending, offending
