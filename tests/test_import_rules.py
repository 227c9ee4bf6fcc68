"""The package's import graph follows its architecture (docs/architecture.md):

- nothing in ``opencapbench`` imports ``synthpose`` (by statement or by ``importlib`` string),
  except the top-level command table ``opencapbench/cli.py`` that wires every command;
- the foundations ``geometry``, ``io``, ``keypoints`` and ``camera`` never import ``benchmark``,
  ``inference`` or ``pose``;
- no import cycle between modules, counting imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("opencapbench", "synthpose")
FOUNDATIONS = ("opencapbench.geometry", "opencapbench.io", "opencapbench.keypoints",
               "opencapbench.camera")  # fmt: skip
UPPER = ("opencapbench.benchmark", "opencapbench.inference", "opencapbench.pose")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = path
    return mods


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Project modules imported anywhere in the file (resolved to modules, not names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_opencapbench_never_imports_synthpose() -> None:
    offenders = {
        mod: sorted(t for t in targets if _within(t, ("synthpose",)))
        for mod, targets in _graph().items()
        if _within(mod, ("opencapbench",))
    }
    offenders = {m: t for m, t in offenders.items() if t}
    assert offenders == {}
    # importlib strings: only the command table may name synthpose modules
    for path in (REPO / "opencapbench").rglob("*.py"):
        if path == REPO / "opencapbench" / "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("synthpose."), f"{path}: {node.value!r}"


def test_foundations_never_import_the_upper_layers() -> None:
    bad = {
        mod: sorted(t for t in targets if _within(t, UPPER))
        for mod, targets in _graph().items()
        if _within(mod, FOUNDATIONS)
    }
    assert {m: t for m, t in bad.items() if t} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            # a package's __init__ importing its own submodules is not a cycle of modules
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    graph = _graph()
    # edges into a package's __init__ from its own submodules are how Python loads packages,
    # not a dependency of the module on its package's contents
    pruned = {
        mod: {
            t
            for t in targets
            if not (
                mod.startswith(t + ".") and (REPO / Path(*t.split(".")) / "__init__.py").is_file()
            )
        }
        for mod, targets in graph.items()
    }
    assert _cycles(pruned) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
