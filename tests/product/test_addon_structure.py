"""The add-on's shape: no import cycle and no hidden (function-level) imports between its
modules, one list of the modules that register classes (each registers only its own),
operators call functions rather than the add-on's own operators, and no `backend` import."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

ADDON = Path(__file__).resolve().parents[2] / "addon"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ADDON.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _trees() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(ADDON.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level else []
    prefix = ".".join([*base, *(node.module.split(".") if node.module else [])])
    return [prefix, *(f"{prefix}.{a.name}" for a in node.names)]


def _imports(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Add-on module -> the add-on modules it imports (anywhere in the file)."""
    graph = {}
    for name, tree in trees.items():
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                deps |= {d for d in _resolve(name, node, name.count(".") == 0 or name.endswith("core"))
                         if d in trees and d != name}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in trees}
        graph[name] = deps
    return graph


def test_no_import_cycle_between_addon_modules():
    graph = _imports(_trees())
    assert "addon.preferences" in graph["addon.ops_process"]  # the parser sees the imports
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for dep in sorted(graph[node] - {"addon"}):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join([*path, node, dep])
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_no_function_level_imports_of_addon_modules():
    hidden = []
    for name, tree in _trees().items():
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.level and name != "addon":
                    hidden.append(f"{name}.{func.name}")
    assert hidden == []


def test_addon_code_never_imports_backend_nor_calls_its_own_operators():
    calls = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m == "backend" or m.startswith("backend.") for m in mods), name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                chain = ast.unparse(node.func)
                if chain.startswith("bpy.ops.tcmr."):
                    calls.append((name, chain))
    # the one exception: the job engine reports an error from a timer (only operators report)
    assert calls == [("addon.jobs", "bpy.ops.tcmr.job_report")]


def _bpy_classes(bpy, module) -> set:
    kinds = (bpy.types.Operator, bpy.types.Panel, bpy.types.PropertyGroup, bpy.types.AddonPreferences,
             bpy.types.UIList, bpy.types.Menu)
    return {c for _, c in inspect.getmembers(module, inspect.isclass)
            if c.__module__ == module.__name__ and issubclass(c, kinds)}


def test_each_listed_module_registers_exactly_its_own_classes(bpy_module):
    import addon

    bpy = bpy_module
    modules = [importlib.import_module(f"addon.{n}") for n in addon._MODULE_NAMES]
    owned = {m.__name__: _bpy_classes(bpy, m) for m in modules}
    everywhere = set().union(*(_bpy_classes(bpy, importlib.import_module(n)) for n in _trees()))
    assert everywhere == set().union(*owned.values())  # no class outside the list's modules
    assert all(c.is_registered for c in everywhere)
    for module in (m for m in modules if m.__name__ in ("addon.preferences", "addon.ops_prefs")):
        module.unregister()
        try:
            gone = {c for c in everywhere if not c.is_registered}
            assert gone == owned[module.__name__], module.__name__
        finally:
            module.register()
