"""Guards of the layout (docs/contracts.md, "Layout"), by static analysis: no bpy, no torch.

* `addon/core` is pure: it imports no bpy/mathutils/torch and nothing of the add-on outside core.
* The add-on never imports the backend (they only meet through the command line, JSON lines and
  the result directory).
* No import cycle among the add-on's modules. Imports inside functions count: a lazy
  `from . import x` is still a dependency, only hidden.
* The repository stands on its own: no code or doc refers to a file outside it (a sibling
  folder, an absolute path of one machine) or to a repository file that does not exist.

Each scanner is first run on a small made-up tree with a known violation, so a scanner that
finds nothing cannot pass by accident.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "dist", "build", "__pycache__", ".pytest_cache", ".ruff_cache", "out"}
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml"}

# Python modules the pure core must not import (top-level package names).
CORE_FORBIDDEN = {"bpy", "bpy_extras", "mathutils", "bmesh", "gpu", "torch", "backend"}


# ------------------------------------------------------------------ import graph

def module_name(path: Path, root: Path) -> str:
    """addon/core/rig_math.py -> addon.core.rig_math; addon/__init__.py -> addon."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(package: Path, root: Path) -> dict[str, Path]:
    """{dotted module name: file} of every .py file under `package`."""
    return {module_name(p, root): p for p in sorted(package.rglob("*.py")) if "__pycache__" not in p.parts}


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported dotted name, line) for every import statement in the file, at any depth
    (module level, inside functions, under `if`), relative imports resolved. For
    `from X import y` both X and X.y are listed when X.y is a module of `modules`."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    found.append((f"{target}.{alias.name}", node.lineno))
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """{module: modules of `modules` it imports}. Importing a package's submodule by name is an
    edge to that submodule only (its package is already being imported by the importer)."""
    graph = {}
    for name, path in modules.items():
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges = set()
        for target, _line in imports_of(path, name, modules):
            parts = target.split(".")
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c; the importer's own
            # packages are already being imported, so they add nothing
            edges |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - own_packages
        graph[name] = {t for t in edges if t in modules}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


# ------------------------------------------------------------------ references

_SIBLING = re.compile(r"\.\./+shared\b|\bshared/(?:design|videos)\b")
# Absolute paths of one machine (this project's work areas).
_ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|root)/")
# The team's design notes live beside the repository, never in it.
_OUTSIDE_NOTES = re.compile(r"\b(?:ARCHITECTURE\.md|TCMR_SPEC|BLENDER_NOTES|GROUNDING_NOTES)\b")
# A line that cites the official code by its repository names that repository's files.
_UPSTREAM = re.compile(r"\b(?:hongsukchoi|mkocabas|nkolot|vchoutas)/\w+|\bTCMR_RELEASE\b")
_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
_REPO_PATH = re.compile(r"(?<![\w./-])((?:docs|tests|backend|addon|scripts|benchmarks|\.ci)/[\w./-]*\w"
                        r"\.(?:md|py|sh|toml|json|png))\b")


def text_files(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel[:-1]):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or rel[:1] == (".ci",)):
            out.append(path)
    return out


def bad_references(path: Path, root: Path) -> list[str]:
    """'file:line: what' for each reference in `path` to something outside the repository or
    to a repository file that does not exist."""
    problems = []
    rel = path.relative_to(root)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{rel}:{number}"
        for pattern, what in ((_SIBLING, "a folder beside the repository"),
                              (_ABSOLUTE, "an absolute path of one machine"),
                              (_OUTSIDE_NOTES, "design notes outside the repository")):
            for match in pattern.finditer(line):
                problems.append(f"{where}: {match.group(0)!r} is {what}")
        linked = set()
        if path.suffix == ".md":
            for match in _MD_LINK.finditer(line):
                target = match.group(1).split("#", 1)[0]
                if not target or re.match(r"^[a-z]+:", target):
                    continue  # an anchor on the same page, or a web address
                linked.add(target)
                if not (path.parent / target).exists():
                    problems.append(f"{where}: link to missing file {target!r}")
        for match in [] if _UPSTREAM.search(line) else _REPO_PATH.finditer(line):
            named = match.group(1)
            if named not in linked and not (root / named).exists() and not (path.parent / named).exists():
                problems.append(f"{where}: {named!r} does not exist in the repository")
    return problems


# ------------------------------------------------------------------ the scanners find what they should

def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def test_scanner_sees_lazy_relative_imports_and_their_cycle(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "def later():\n    from . import c\n    return c\n",
        "pkg/c.py": "if True:\n    from .a import thing\n",
        "pkg/d.py": "from .core import pure\n",
        "pkg/core/__init__.py": "",
        "pkg/core/pure.py": "import numpy\nfrom ..a import x\n",
    })
    modules = package_modules(tmp_path / "pkg", tmp_path)
    graph = import_graph(modules)
    assert graph["pkg.b"] == {"pkg.c"}  # found inside a function
    assert graph["pkg.c"] == {"pkg.a"}  # found under an if
    assert graph["pkg.d"] == {"pkg.core", "pkg.core.pure"}
    assert graph["pkg.core.pure"] == {"pkg.a"}  # two dots climb out of core
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert find_cycles({"x": {"y"}, "y": set()}) == []


def test_scanner_sees_references_outside_the_repository(tmp_path):
    _write(tmp_path, {
        "docs/real.md": "fine\n",
        "README.md": "[ok](docs/real.md) [web](https://example.org) [gone](docs/gone.md)\n",
        "backend/x.py": '"""See ../shared/design/notes and TCMR_SPEC.md section 4."""\nP = "/work/clip.mp4"\n'
                        '# docs/real.md exists, docs/missing.md does not; ~/work/x and a/work/b are fine\n',
    })
    found = [p for f in text_files(tmp_path) for p in bad_references(f, tmp_path)]
    assert len(found) == 5, found
    text = "\n".join(found)
    for expected in ("README.md:1: link to missing file 'docs/gone.md'", "backend/x.py:1: '../shared'",
                     "backend/x.py:1: 'TCMR_SPEC'", "backend/x.py:2: '/work/'",
                     "backend/x.py:3: 'docs/missing.md' does not exist"):
        assert expected in text


# ------------------------------------------------------------------ the repository itself

ADDON_MODULES = package_modules(ROOT / "addon", ROOT)


def test_addon_modules_are_found():
    expected = {"addon", "addon.core", "addon.core.rig_math", "addon.retarget", "addon.anim_shim"}
    assert expected <= set(ADDON_MODULES)


def core_violations(modules: dict[str, Path], package: str, root: Path) -> list[str]:
    """Imports in `package`.core of a forbidden module or of the package outside its core."""
    core = f"{package}.core"
    problems = []
    for name, path in modules.items():
        if not (name == core or name.startswith(core + ".")):
            continue
        for target, line in imports_of(path, name, modules):
            top = target.split(".")[0]
            outside_core = top == package and not (target == core or target.startswith(core + "."))
            if top in CORE_FORBIDDEN or outside_core:
                problems.append(f"{path.relative_to(root)}:{line} imports {target}")
    return problems


def backend_imports(modules: dict[str, Path], root: Path) -> list[str]:
    """Every import of the `backend` package, static or through importlib/__import__."""
    problems = []
    for name, path in modules.items():
        for target, line in imports_of(path, name, modules):
            if target.split(".")[0] == "backend":
                problems.append(f"{path.relative_to(root)}:{line} imports {target}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == "backend"
                    and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module",
                                                                                     "__import__")):
                problems.append(f"{path.relative_to(root)}:{node.lineno} imports backend dynamically")
    return problems


def test_scanner_sees_impure_core_and_backend_imports(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/shell.py": "import importlib\nB = importlib.import_module('backend.cli')\n",
        "pkg/core/__init__.py": "",
        "pkg/core/fine.py": "import json\nimport numpy as np\nfrom . import other\n",
        "pkg/core/other.py": "def f():\n    from mathutils import Matrix\n    from .. import shell\n",
        "pkg/core/deep.py": "from backend.errors import Code\n",
    })
    modules = package_modules(tmp_path / "pkg", tmp_path)
    assert core_violations(modules, "pkg", tmp_path) == [
        "pkg/core/deep.py:1 imports backend.errors", "pkg/core/other.py:2 imports mathutils",
        "pkg/core/other.py:3 imports pkg", "pkg/core/other.py:3 imports pkg.shell"]
    assert backend_imports(modules, tmp_path) == ["pkg/core/deep.py:1 imports backend.errors",
                                                  "pkg/shell.py:2 imports backend dynamically"]


def test_addon_core_imports_no_blender_torch_or_shell_module():
    problems = core_violations(ADDON_MODULES, "addon", ROOT)
    assert not problems, "addon/core must stay pure (numpy + stdlib):\n" + "\n".join(problems)


def test_addon_never_imports_the_backend():
    problems = backend_imports(ADDON_MODULES, ROOT)
    assert not problems, "the add-on and the backend never import each other:\n" + "\n".join(problems)


def test_no_import_cycle_among_addon_modules():
    cycles = find_cycles(import_graph(ADDON_MODULES))
    assert not cycles, "import cycles (lazy imports inside functions count):\n" + "\n".join(
        " <-> ".join(group) for group in cycles)


@pytest.mark.parametrize("area", ["code", "docs"])
def test_nothing_refers_to_files_outside_the_repository(area):
    own = Path(__file__).resolve()
    files = [f for f in text_files(ROOT) if f.resolve() != own and (f.suffix == ".md") == (area == "docs")]
    assert len(files) > (3 if area == "docs" else 50)
    problems = [p for f in files for p in bad_references(f, ROOT)]
    assert not problems, "the repository must stand on its own:\n" + "\n".join(problems)
