"""The package's layering, read from its source with ``ast``: no import cycles, no module importing a
later stage, a torch-free ``spec``, and a facade whose names are declared in one table and load on
first use, so that a path that runs no network imports no torch.

Stages: 0 the top-level modules, then ``STAGES``; the public facade (``__init__``, ``__main__``)
comes after all of them, so no module of the package may import it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

PACKAGE = "smartframes"
STAGES = {"io": 1, "data": 2, "features": 3, "selection": 4, "evaluation": 5, "scale": 6, "cli": 7}
FACADE = {PACKAGE, f"{PACKAGE}.__main__"}
FACADE_STAGE = max(STAGES.values()) + 1


def _package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    return Path(next(iter(spec.submodule_search_locations)))


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, whether it is a package's ``__init__``)."""
    root = _package_dir()
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(module: str, source: str | None = None) -> set[str]:
    """The modules of the package that ``module`` imports by name, at any depth of its code."""
    path, is_package = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                while name not in MODULES and "." in name:
                    name = name.rsplit(".", 1)[0]
                found.add(name)
    found.discard(module)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _stage(module: str) -> int:
    if module in FACADE:
        return FACADE_STAGE
    parts = module.split(".")
    if len(parts) == 2 and not MODULES[module][1]:
        return 0
    if parts[1] not in STAGES:
        raise KeyError(f"{module}: sub-package {parts[1]!r} has no stage in test_structure.STAGES")
    return STAGES[parts[1]]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_reads_every_kind_of_import():
    source = ("import numpy\nfrom .video import probe\nimport smartframes.spec as spec\n"
              "def later():\n    from ..features import store\n    from .. import errors, __version__\n"
              "    from smartframes.selection.methods import top_n\n")
    assert _imports(f"{PACKAGE}.io.decoder", source) == {
        f"{PACKAGE}.io.video", f"{PACKAGE}.spec", f"{PACKAGE}.features.store", f"{PACKAGE}.errors", PACKAGE,
        f"{PACKAGE}.selection.methods"}
    assert _imports(f"{PACKAGE}.io", "from . import video\nfrom .files import atomic_write\n") == {
        f"{PACKAGE}.io.video", f"{PACKAGE}.io.files"}


def _shortest_cycle(component: list[str]) -> list[str]:
    start, inside = component[0], set(component)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(GRAPH[path[-1]] & inside):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append(path + [nxt])
    return component


def test_no_import_cycles():
    cycles = [" -> ".join(_shortest_cycle(c)) for c in _cycles(GRAPH)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_imports_a_later_stage():
    later = [f"{m} (stage {_stage(m)}) imports {t} (stage {_stage(t)})"
             for m in sorted(GRAPH) for t in sorted(GRAPH[m]) if _stage(t) > _stage(m)]
    assert not later, "\n".join(later)


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += GRAPH[m]
    return seen


def _third_party(module: str) -> set[str]:
    path, _ = MODULES[module]
    tops = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def test_the_configurations_import_no_torch():
    """spec and selection.config, which the command line declares its options from."""
    closure = _closure(f"{PACKAGE}.spec") | _closure(f"{PACKAGE}.selection.config")
    heavy = {m: sorted(_third_party(m) & {"torch", "torchvision"}) for m in sorted(closure)}
    assert not {m: t for m, t in heavy.items() if t}


def test_the_facade_declares_every_name_where_it_is_defined():
    """The facade's table is a literal (readable without importing anything) naming, for each public
    name, the module that defines it, not one that imports it from elsewhere."""
    path, _ = MODULES[PACKAGE]
    tree = ast.parse(path.read_text())
    (table,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "_HOMES"]
    homes = ast.literal_eval(table)
    package = importlib.import_module(PACKAGE)
    declared = [name for names in homes.values() for name in names]
    assert sorted(declared) == sorted(set(declared)) == package.__all__
    misplaced = []
    for module, names in homes.items():
        source = ast.parse(MODULES[f"{PACKAGE}.{module}"][0].read_text())
        defined = {n.name for n in source.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        defined |= {t.id for n in source.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                    for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        misplaced += [f"{module}.{name}" for name in names if name not in defined]
    assert not misplaced, misplaced
    assert all(getattr(package, name) is not None for name in package.__all__)


def test_every_module_has_a_known_stage():
    unknown = []
    for module in sorted(MODULES):
        try:
            _stage(module)
        except KeyError as e:
            unknown.append(str(e))
    assert not unknown, unknown
