"""The library's boundaries, read from its source: ``addressing/`` never imports ``flows`` or
``prefect`` (not at import time, not lazily inside a function), and its modules import each
other without cycles.

The source is read with ``ast``, so an import inside a function, a method or an ``if`` counts
as much as one at the top of a module; so does ``importlib.import_module("...")`` with a
literal name.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
LIBRARY = PROJECT / "addressing"
FORBIDDEN = ("flows", "prefect", "prefect_dask")


def module_names(package: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` under ``package`` (a package is its ``__init__``)."""
    out = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[int, str, str | None]]:
    """Every import in ``source`` as ``(line, imported module, imported name or None)``, wherever
    it stands. Relative imports are resolved against ``module``.

    >>> imports_of("def f():\\n    from flows.events import emit\\n", "addressing.cli")
    [(2, 'flows.events', 'emit')]
    >>> imports_of("", "addressing.cli")
    []
    """
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(node.lineno, target, a.name) for a in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _is_dynamic_import(node.func)):
            found.append((node.lineno, node.args[0].value, None))
    return sorted(found)


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}``; ``from pkg import name`` is an edge
    to ``pkg.name`` when that is a module, else to ``pkg``."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for _, target, imported in imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"):
            if imported is not None and f"{target}.{imported}" in modules:
                edges.add(f"{target}.{imported}")
            elif target in modules:
                edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted.

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    >>> cycles({})
    []
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def forbidden_imports(modules: dict[str, Path], root: Path = PROJECT) -> list[str]:
    """``file:line: imports X`` for each import of ``flows`` or ``prefect``."""
    bad = []
    for name, path in modules.items():
        for line, target, _ in imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"):
            if target.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(root)}:{line}: imports {target}")
    return bad


# --------------------------------------------------------------------------- the checkers themselves


@pytest.mark.parametrize("source, expected", [
    ("import prefect\n", ["prefect"]),
    ("from prefect.events import Event\n", ["prefect.events"]),
    ("def f():\n    from flows.events import emit\n", ["flows.events"]),
    ("class C:\n    def m(self):\n        import flows.common as c\n", ["flows.common"]),
    ("try:\n    import prefect_dask\nexcept ImportError:\n    pass\n", ["prefect_dask"]),
    ("import importlib\ndef f():\n    return importlib.import_module('prefect')\n", ["importlib", "prefect"]),
    ("def f():\n    return __import__('flows.cli')\n", ["flows.cli"]),
    ("from . import zones\n", ["addressing.risk"]),
    ("from ..errors import InputError\n", ["addressing.errors"]),
    ("", []),
])
def test_imports_are_found_wherever_they_stand(source, expected):
    assert [t for _, t, _ in imports_of(source, "addressing.risk.rules")] == expected


def test_a_lazy_import_of_flows_is_caught(tmp_path):
    pkg = tmp_path / "addressing"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "cmd.py").write_text("import json\n\n\ndef run():\n    from flows.events import emit\n")
    modules = module_names(pkg)
    assert set(modules) == {"addressing", "addressing.sub", "addressing.sub.cmd"}
    assert forbidden_imports(modules, tmp_path) == ["addressing/sub/cmd.py:5: imports flows.events"]


def test_a_cycle_through_a_lazy_import_and_a_package_is_caught(tmp_path):
    pkg = tmp_path / "addressing"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("def __getattr__(name):\n    from addressing.batch import clean\n    return clean\n")
    (pkg / "batch.py").write_text("from addressing import __version__\n")
    (pkg / "parallel.py").write_text("from addressing.errors import E\n")
    (pkg / "errors.py").write_text("")
    graph = import_graph(module_names(pkg))
    assert graph["addressing.parallel"] == {"addressing.errors"}
    assert cycles(graph) == [["addressing", "addressing.batch"]]


# --------------------------------------------------------------------------- the library


def test_addressing_never_imports_flows_or_prefect():
    modules = module_names(LIBRARY)
    assert "addressing.cli" in modules and len(modules) > 20
    assert forbidden_imports(modules) == []


def test_no_import_cycles_among_addressing_modules():
    graph = import_graph(module_names(LIBRARY))
    assert graph["addressing.cli"], "the graph sees the CLI's lazy imports"
    found = cycles(graph)
    assert found == [], "import cycles: " + "; ".join(
        ", ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in found)


@pytest.mark.slow
def test_importing_every_addressing_module_loads_no_prefect():
    """The runtime view of the same rule: no dependency of ours pulls Prefect in either."""
    code = ("import sys, pkgutil, importlib, addressing\n"
            "for m in pkgutil.walk_packages(addressing.__path__, 'addressing.'):\n"
            "    importlib.import_module(m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('prefect', 'flows')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
