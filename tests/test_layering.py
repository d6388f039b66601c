"""The package's shape: no import cycles, and no import running up the layers.

Layers, lowest first (a module may import its own layer and the layers below it; ``docs/ARCHITECTURE.md``):

    0 core         metrics/, representation/, the private top-level utilities (_arrays, _io, _npio, ...), compat
    1 data         data/
    2 evaluators   evaluators/
    3 protocol     protocol/
    4 products     diagnostics/, viz/, demo/, testing (the public test doubles)
    5 cli          cli/, __main__

Imports are read statically with ``ast`` from every ``.py`` file: module-level and function-level imports both
count (a lazy import is still a dependency); imports under ``if TYPE_CHECKING:`` do not. The package root
``motioneval/__init__.py`` is outside the layers: importing its metadata (``__version__``) is free, importing a
name it re-exports lazily counts as importing the module that defines the name. Dynamic imports (``importlib``)
are not seen.

Known violations are listed in ``ALLOWED_UPWARD`` and ``ALLOWED_CYCLES`` below, each with why it exists; the
consolidation step (issue 14) removes them. The test fails on any violation not listed, and on a listed one
that no longer exists (so the lists only shrink).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import motioneval

PACKAGE = Path(motioneval.__file__).resolve().parent
ROOT = "motioneval"
LAYERS = {"metrics": 0, "representation": 0, "data": 1, "evaluators": 2, "protocol": 3, "diagnostics": 4,
          "viz": 4, "demo": 4, "testing": 4, "cli": 5, "__main__": 5}
LAYER_NAMES = {0: "core", 1: "data", 2: "evaluators", 3: "protocol", 4: "diagnostics/viz/demo/testing", 5: "cli"}

# (importer, imported) pairs that run up the layers, allowed for now. Remove an entry with the violation.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
# strongly connected components (import cycles), allowed for now. Remove an entry with the cycle.
ALLOWED_CYCLES: dict[frozenset[str], str] = {}
# Not seen by a static reader: cli/main.py imports its subcommands by name with importlib (COMMANDS); no
# subcommand imports cli/main back (cli/fid.py's `python -m` block runs the package with runpy), so no cycle
# closes at run time either. protocol/distributed.py's `__main__` block (run as a script only) hands over to
# cli/_distributed.py by name, so `python -m motioneval.protocol.distributed` keeps working.


def _root_exports() -> dict[str, str]:
    """``motioneval/__init__.py``'s ``_EXPORTS`` (public name -> defining module), read without importing."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [ROOT, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of ``motioneval.x.y``; ``None`` for the package root."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    first = parts[1]
    if first in LAYERS:
        return LAYERS[first]
    if len(parts) == 2:  # a top-level module: _arrays, _io, _npio, _progress, compat
        return 0
    raise AssertionError(f"{module}: a new top-level package; give it a layer in tests/test_layering.py")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except the body of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def imported_modules(module: str, path: Path, known: set[str], exports: dict[str, str] | None = None) -> set[str]:
    """The ``motioneval`` modules that ``module`` imports (``from pkg import sub`` counts as ``pkg.sub``; a name
    the package root re-exports counts as its defining module)."""
    exports = _root_exports() if exports is None else exports
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        if node.level:
            base_parts = package.split(".")
            base_parts = base_parts[:len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            if f"{base}.{alias.name}" in known:  # a submodule
                out.add(f"{base}.{alias.name}")
            elif base == ROOT and alias.name in exports:  # a lazy re-export: a dependency on its module
                out.add(exports[alias.name])
            else:  # an attribute of `base` itself
                out.add(base)
    return {m for m in out if m == ROOT or m.startswith(ROOT + ".")} - {module}


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        deps = imported_modules(name, path, known)
        unknown = {d for d in deps if d not in known}
        assert not unknown, f"{name} imports modules that do not exist: {sorted(unknown)}"
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules (~100)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    bad = set()
    for src, deps in graph.items():
        for dst in deps:
            if dst == ROOT:  # the root itself holds metadata only (__version__); re-exports were resolved
                continue
            ls, ld = layer_of(src), layer_of(dst)
            if ls is not None and ld is not None and ld > ls:
                bad.add((src, dst))
    return bad


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def _fmt(edge: tuple[str, str]) -> str:
    src, dst = edge
    ls, ld = layer_of(src), layer_of(dst)
    return f"{src} ({LAYER_NAMES.get(ls, 'root')}) imports {dst} ({LAYER_NAMES.get(ld, 'package root')})"


def test_no_import_runs_up_the_layers(graph):
    new = sorted(upward_imports(graph) - set(ALLOWED_UPWARD))
    assert not new, ("imports that run up the layers (core <- data <- evaluators <- protocol <- "
                     "diagnostics/viz/demo <- cli):\n" + "\n".join(map(_fmt, new)))


def test_no_new_import_cycle(graph):
    new = [sorted(c) for c in cycles(graph) if c not in ALLOWED_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in new)


def test_the_allowlists_have_no_stale_entries(graph):
    stale_edges = sorted(set(ALLOWED_UPWARD) - upward_imports(graph))
    stale_cycles = [sorted(c) for c in set(ALLOWED_CYCLES) - set(cycles(graph))]
    assert not stale_edges and not stale_cycles, (
        "fixed violations are still allowlisted in tests/test_layering.py; remove them:\n"
        + "\n".join(map(str, stale_edges + stale_cycles)))


def test_the_numeric_core_imports_only_numpy_and_scipy():
    """metrics/ and representation/ import numpy/scipy and the standard library only (torch stays optional:
    a ``torch`` import inside a function is allowed where a function explicitly accepts tensors)."""
    import sys

    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for name, path in all_modules().items():
        if layer_of(name) != 0:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree):
            tops = ([a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import)
                    else [] if node.level else [(node.module or "").split(".")[0]])
            for top in tops:
                lazy = node.col_offset > 0
                if top in stdlib or top in {"numpy", "scipy", ROOT} or (top in {"torch", "tqdm"} and lazy):
                    continue
                offenders.append(f"{name}:{node.lineno} imports {top}")
    assert not offenders, "\n".join(offenders)


# ------------------------------------------------------------------------------------- the checker itself
def _toy_graph(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    mods = {".".join([ROOT, *Path(rel).with_suffix("").parts]).removesuffix(".__init__"): tmp_path / rel
            for rel in files}
    return {m: imported_modules(m, p, set(mods), {"evaluate": "motioneval.cli.x"}) for m, p in mods.items()}


def test_checker_sees_lazy_relative_and_from_imports_but_not_type_checking(tmp_path):
    g = _toy_graph(tmp_path, {
        "__init__.py": "",
        "metrics/__init__.py": "",
        "metrics/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..cli import x\n"
                        "def f():\n    from ..data import b\n",
        "data/__init__.py": "",
        "data/b.py": "from . import c\nimport motioneval.metrics.a\n",
        "data/c.py": "from .b import thing\nfrom motioneval import __version__\n",
        "data/d.py": "from .. import evaluate\n",
        "cli/__init__.py": "",
        "cli/x.py": "",
    })
    assert g["motioneval.metrics.a"] == {"motioneval.data.b"}
    assert g["motioneval.data.b"] == {"motioneval.data.c", "motioneval.metrics.a"}
    assert g["motioneval.data.c"] == {"motioneval.data.b", "motioneval"}
    assert g["motioneval.data.d"] == {"motioneval.cli.x"}
    assert upward_imports(g) == {("motioneval.metrics.a", "motioneval.data.b"), ("motioneval.data.d", "motioneval.cli.x")}
    assert set(cycles(g)) == {frozenset({"motioneval.metrics.a", "motioneval.data.b", "motioneval.data.c"})}
