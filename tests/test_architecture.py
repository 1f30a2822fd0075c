"""Guards on the layers, the engine/GUI split and start-up cost (docs/ARCHITECTURE.md, "Import rules").

Every module's imports are read with ``ast`` (function-level lazy imports included), so
a rule holds for the code that runs, not only for the top of each file.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "deepfake_gui"
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")

# Layers, lowest first: an import only ever points to its own layer or a lower one.
LAYERS: dict[str, int] = {
    "": 0,  # deepfake_gui/__init__.py (the version)
    "core": 0,
    "media": 1,
    "encoders": 2, "launder": 2, "provenance": 2, "cases": 2,
    "probes": 3, "analysis": 3,
    "engine": 4,
    "report": 5, "cluster": 5,
    "gui": 6, "cli": 6,
}
# What each package may import from the project, where that is narrower than the layer order.
ALLOWED: dict[str, set[str]] = {
    # estimators only (scikit-learn style) and bundle I/O: no decoding, extraction, laundering or jobs
    "probes": {"", "core", "analysis", "probes"},
    # pure functions; the laundering conditions' names and descriptions are data
    "analysis": {"", "core", "analysis", "launder.conditions"},
    # the GUI drives the engine and renders what it yields (plus the case database and reports)
    "gui": {"", "core", "cases", "engine", "report", "gui"},
}
DECODING_LIBRARIES = ("PIL", "av", "cv2", "soundfile", "torchaudio", "librosa", "open_clip", "transformers")
FILE_IO_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob",
                 "scandir", "walk", "listdir", "unlink", "mkdir"}
BUNDLE_IO = {"probes.bundle"}  # the one probes module that reads and writes files (JSON + safetensors)
# The GUI's models (state and rules of its big widgets, napari-style): plain Python, tested without a display.
MODELS = "gui.models"
MODELS_ALLOWED = {"", "core", "cases", "engine", "report", "gui.models"}  # what gui may use, less Qt


@dataclass(frozen=True)
class Import:
    source: str  # importing module, relative to the package ("engine.scan"; "" for the package itself)
    target: str  # imported module, relative to the package, or the full name of a third-party module
    line: int
    lazy: bool  # inside a function
    type_only: bool  # under ``if TYPE_CHECKING:`` (never runs)
    internal: bool  # a deepfake_gui module

    def __str__(self) -> str:
        where = " (lazy)" if self.lazy else ""
        return f"deepfake_gui.{self.source or '__init__'}:{self.line} imports {self.target}{where}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str) -> str:
    """The layer key of a module: its top package ("engine", "cli"), "" for the package itself."""
    return module.split(".")[0]


def iter_imports(root: Path = PACKAGE) -> Iterator[Import]:
    """Every import statement of every module under ``root`` (a package directory)."""
    yield from _all_imports(root)


@functools.cache
def _all_imports(root: Path) -> tuple[Import, ...]:  # parsed once per test session
    known = {module_name(p, root) for p in root.rglob("*.py")}
    found: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += _imports_of(tree, source, path.name == "__init__.py", root.name, known)
    return tuple(found)


def _imports_of(tree: ast.AST, source: str, is_package: bool, top: str, known: set[str]) -> Iterator[Import]:
    def visit(node: ast.AST, lazy: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit_one(stmt, child_lazy, True)
                for stmt in child.orelse:
                    yield from visit_one(stmt, child_lazy, type_only)
                continue
            yield from visit_one(child, child_lazy, type_only)

    def visit_one(node: ast.AST, lazy: bool, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _make(alias.name, node.lineno, lazy, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, source, is_package, top)
            if base:
                yield _make(base, node.lineno, lazy, type_only)
                for alias in node.names:  # ``from deepfake_gui.engine import walk`` imports a module
                    candidate = f"{base}.{alias.name}"
                    if candidate.startswith(top + ".") and candidate[len(top) + 1:] in known:
                        yield _make(candidate, node.lineno, lazy, type_only)
        yield from visit(node, lazy, type_only)

    def _make(name: str, line: int, lazy: bool, type_only: bool) -> Import:
        internal = name == top or name.startswith(top + ".")
        target = name[len(top) + 1:] if internal else name
        return Import(source, target, line, lazy, type_only, internal)

    yield from visit(tree, False, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(node: ast.ImportFrom, source: str, is_package: bool, top: str) -> str | None:
    if node.level == 0:
        return node.module
    parts = [top, *source.split(".")] if source else [top]
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _allowed(target: str, allowed: set[str]) -> bool:
    return any(target == a or target.startswith(a + ".") or (a == "" and target == "") for a in allowed) or (
        package_of(target) in allowed)


def layer_violations(root: Path = PACKAGE) -> list[str]:
    """Imports that point up the layers."""
    out = []
    for imp in iter_imports(root):
        if not imp.internal:
            continue
        src, dst = package_of(imp.source), package_of(imp.target)
        if dst not in LAYERS or src not in LAYERS:
            out.append(f"{imp}: package {dst or src!r} has no layer (add it to LAYERS)")
        elif LAYERS[dst] > LAYERS[src]:
            out.append(f"{imp}: layer {src} ({LAYERS[src]}) must not import {dst} ({LAYERS[dst]})")
    return out


def narrow_violations(root: Path = PACKAGE) -> list[str]:
    """Imports outside what ``ALLOWED`` lets probes, analysis and the GUI use."""
    out = []
    for imp in iter_imports(root):
        package = package_of(imp.source)
        if package not in ALLOWED:
            continue
        if imp.internal and not _allowed(imp.target, ALLOWED[package]):
            out.append(f"{imp}: {package} may only import {sorted(ALLOWED[package])} from the project")
        elif not imp.internal and package in ("probes", "analysis") and imp.target.split(".")[0] in DECODING_LIBRARIES:
            out.append(f"{imp}: {package} must not decode files ({imp.target.split('.')[0]})")
    return out


def models_violations(root: Path = PACKAGE) -> list[str]:
    """Imports that would bring Qt into ``gui.models``: a Qt module, or a project module outside core/engine/models."""
    out = []
    for imp in iter_imports(root):
        if imp.source != MODELS and not imp.source.startswith(MODELS + "."):
            continue
        if imp.internal and not _allowed(imp.target, MODELS_ALLOWED):
            out.append(f"{imp}: {MODELS} may only import {sorted(MODELS_ALLOWED)} from the project")
        elif not imp.internal and imp.target.split(".")[0] in QT_MODULES:
            out.append(f"{imp}: {MODELS} is Qt-free")
    return out


def file_io_calls(root: Path = PACKAGE, packages: tuple[str, ...] = ("probes", "analysis")) -> list[str]:
    """Calls that read, write or list files in packages that must not (probes' bundle module excepted)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if package_of(module) not in packages or module in BUNDLE_IO:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in FILE_IO_CALLS:
                out.append(f"deepfake_gui.{module}:{node.lineno} calls {name}(): {package_of(module)} does no file I/O")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def module_cycles(package: str, root: Path = PACKAGE) -> list[list[str]]:
    """Import cycles between the modules of one package (lazy imports count; TYPE_CHECKING ones never run)."""
    modules = {module_name(p, root) for p in (root / package).rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for imp in iter_imports(root):
        if imp.internal and not imp.type_only and imp.source in modules and imp.target in modules \
                and imp.target != imp.source and imp.target != package:
            edges[imp.source].add(imp.target)
    return cycles(edges)


def package_cycles(root: Path = PACKAGE) -> list[list[str]]:
    """Import cycles between packages (the layer order leaves only those within one layer possible)."""
    edges: dict[str, set[str]] = {}
    for imp in iter_imports(root):
        src, dst = package_of(imp.source), package_of(imp.target)
        if imp.internal and not imp.type_only and src != dst and src and dst:
            edges.setdefault(src, set()).add(dst)
    return cycles(edges)


PACKAGES = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


# ------------------------------------------------------------------------------ the rules
def test_every_package_has_a_layer() -> None:
    assert set(PACKAGES) | {"cli", ""} == set(LAYERS)


def test_imports_only_point_down_the_layers() -> None:
    assert layer_violations() == []


def test_probes_analysis_and_gui_import_only_what_their_layer_allows() -> None:
    assert narrow_violations() == []


def test_gui_models_import_no_qt() -> None:
    assert models_violations() == []


def test_gui_models_load_without_qt() -> None:
    """What the import rule promises, at run time: every model imports, and no Qt module is loaded."""
    models = sorted(module_name(p, PACKAGE.parent) for p in (PACKAGE / "gui" / "models").glob("*.py"))
    loaded = _modules_after("; ".join(f"import {m}" for m in models))
    assert {m for m in loaded if m.split(".")[0] in QT_MODULES} == set()
    assert set(models) <= loaded


def test_probes_and_analysis_do_no_file_io() -> None:
    assert file_io_calls() == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles_between_the_modules_of(package: str) -> None:
    assert module_cycles(package) == []


def test_no_import_cycles_between_packages() -> None:
    assert package_cycles() == []


def test_the_cli_reaches_the_gui_through_one_lazy_import() -> None:
    to_gui = [imp for imp in iter_imports() if package_of(imp.source) == "cli" and package_of(imp.target) == "gui"]
    assert len({(imp.source, imp.line) for imp in to_gui}) == 1 and all(imp.lazy for imp in to_gui)
    assert {imp.source for imp in to_gui} == {"cli.gui"}  # in `cmd_gui`


def test_command_line_code_lives_only_in_cli() -> None:
    """One parser, built from cli/'s command modules: no other package parses arguments (argparse)."""
    offenders = [str(imp) for imp in iter_imports()
                 if package_of(imp.source) != "cli" and imp.target.split(".")[0] == "argparse"]
    assert offenders == []


# ------------------------------------------------------------------ the guards see what they guard
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "deepfake_gui"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


def test_the_guards_see_lazy_relative_and_module_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "probes/bad.py": "def f():\n    from deepfake_gui.engine.scan import scan_job\n",
        "probes/rel.py": "from ..media import probe\n",
        "analysis/mod.py": "from deepfake_gui.engine import walk\n",
        "engine/walk.py": "", "engine/scan.py": "", "media/probe.py": "",
    })
    found = layer_violations(root)
    assert any("probes.bad:2 imports engine.scan (lazy)" in v for v in found)
    assert any("analysis.mod:1 imports engine.walk" in v for v in found)
    assert any("probes.rel:1 imports media" in v for v in narrow_violations(root))


def test_the_guards_see_cycles_and_file_io(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "engine/a.py": "import deepfake_gui.engine.b\n",
        "engine/b.py": "def f():\n    from deepfake_gui.engine import a\n",
        "engine/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from deepfake_gui.engine import a\n",
        "analysis/io.py": "from pathlib import Path\ndef f(p):\n    return Path(p).read_text()\n",
    })
    assert module_cycles("engine", root) == [["engine.a", "engine.b"]]
    assert file_io_calls(root) == ["deepfake_gui.analysis.io:3 calls read_text(): analysis does no file I/O"]


def test_the_guard_sees_qt_reaching_the_gui_models(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "gui/models/bad.py": "from deepfake_gui.gui.worker import EngineThread\n"
                             "def f():\n    import pyqtgraph\n",
        "gui/models/good.py": "from deepfake_gui.engine.explore import EmbeddingSet\n"
                              "from deepfake_gui.gui.models import common\n",
        "gui/models/common.py": "", "gui/worker.py": "", "engine/explore.py": "",
    })
    found = models_violations(root)
    assert len(found) == 2
    assert any("gui.models.bad:1 imports gui.worker" in v for v in found)
    assert any("gui.models.bad:3 imports pyqtgraph (lazy)" in v and "Qt-free" in v for v in found)


def test_only_gui_package_imports_qt() -> None:
    offenders = [str(imp) for imp in iter_imports()
                 if package_of(imp.source) != "gui" and imp.target.split(".")[0] in QT_MODULES]
    assert offenders == []


def test_the_guard_sees_a_qt_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"bad.py": "def f():\n    from PySide6.QtWidgets import QWidget\n"})
    assert "PySide6.QtWidgets" in {imp.target for imp in iter_imports(root)}


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_cli_import_does_not_import_torch_or_qt() -> None:
    loaded = _modules_after("import deepfake_gui.cli")
    heavy = {m for m in loaded if m.split(".")[0] in ("torch", "transformers", "open_clip", "PySide6", "av", "cv2")}
    assert heavy == set()


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom deepfake_gui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'PySide6' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"
