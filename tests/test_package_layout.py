"""The package's layering, checked on its source: no import cycles, and no module outside a
method's (or format's) own package names it, so adding one touches only its own folder."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sparsebench.formats import available_formats
from sparsebench.methods import all_methods

PKG = Path(__file__).resolve().parents[1] / "src" / "sparsebench"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


MODULES = _modules()


def _module_level_imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports at module level (lazy imports in functions
    are how the package breaks would-be cycles, so they do not count)."""
    base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            pkg = base
            for _ in range(max(node.level - 1, 0)):
                pkg = pkg.rsplit(".", 1)[0]
            mod = (pkg + ("." + node.module if node.module else "")) if node.level else (node.module or "")
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        found |= {t for t in targets if t in MODULES and t != name}
    return found


def _related(a: str, b: str) -> bool:
    """A package and its own submodules import each other by design (``from . import x``)."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def test_no_import_cycles():
    graph = {m: {t for t in _module_level_imports(m, p) if not _related(m, t)} for m, p in MODULES.items()}
    # Tarjan's strongly connected components: any component of more than one module is a cycle
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"modules that import each other at module level: {cycles}"


def _names_used(path: Path) -> tuple[set[str], list[str]]:
    """Imported module paths and names; string constants (not docstrings). Plain identifiers are
    left out: "block" or "filter" is also an ordinary variable name."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    idents, strings = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.alias):
            idents.update(node.name.split("."))
        elif isinstance(node, ast.ImportFrom) and node.module:
            idents.update(node.module.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            strings.append(node.value)
    return idents, strings


def _naming(word: str, allowed) -> list[str]:
    pattern = re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(word)}(?![A-Za-z0-9_])")
    hits = []
    for name, path in MODULES.items():
        if any(name == a or name.startswith(a + ".") for a in allowed):
            continue
        idents, strings = _names_used(path)
        if word in idents or any(pattern.search(s) for s in strings):
            hits.append(name)
    return hits


# A peer implements one method on one format and says which (sparsebench.peers).
PEERS = "sparsebench.peers"


@pytest.mark.parametrize("method", sorted(all_methods()))
def test_no_module_outside_a_method_package_names_it(method):
    m = all_methods()[method]
    home = f"sparsebench.methods.{method}"
    for word in {m.name, m.suite} - {""}:
        assert not _naming(word, (home, PEERS)), f"{word!r} named outside {home}"


@pytest.mark.parametrize("fmt", available_formats())
def test_no_module_outside_formats_and_methods_names_a_format(fmt):
    # methods choose formats (MEST runs on all four, SWAT on two): they may name one
    allowed = (f"sparsebench.formats.{fmt}", "sparsebench.methods", PEERS)
    assert not _naming(fmt, allowed), f"format {fmt!r} named outside its package and the methods"


def test_every_method_and_format_is_found_by_walking_its_package():
    assert set(all_methods()) == {p.name for p in (PKG / "methods").iterdir()
                                  if (p / "__init__.py").is_file()}
    assert set(available_formats()) == {p.name for p in (PKG / "formats").iterdir()
                                        if (p / "__init__.py").is_file()}
