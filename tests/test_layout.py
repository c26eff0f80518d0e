"""The constructs/ folder extends the constructs library's namespace without shadowing it."""

from __future__ import annotations

import importlib
from pathlib import Path

import constructs
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
# Dotted names below constructs/: its top-level modules and those of its subpackages (settings, region, ...).
PROJECT_MODULES = sorted(
    ".".join(p.relative_to(ROOT / "constructs").with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "constructs").rglob("*.py")
)


def test_constructs_folder_is_not_a_package():
    # A package named `constructs` would hide the library aws-cdk-lib imports.
    assert not (ROOT / "constructs" / "__init__.py").exists()


def test_construct_is_the_library_class():
    library_dir = Path(constructs.__file__).resolve().parent
    assert library_dir != ROOT / "constructs"
    assert (library_dir / "_jsii").is_dir()
    assert Construct.__module__ == "constructs"
    assert str(ROOT / "constructs") in constructs.__path__


def test_project_modules_import_and_do_not_reuse_library_names():
    library_names = {p.stem for p in Path(constructs.__file__).resolve().parent.iterdir()}
    library_names |= set(constructs.__all__)
    assert PROJECT_MODULES, "constructs/ holds the project's construct modules"
    for name in PROJECT_MODULES:
        top = name.split(".")[0]
        assert top not in library_names, f"constructs/{top} reuses a name of the library"
        module = importlib.import_module(f"constructs.{name}")
        assert (ROOT / "constructs") in Path(module.__file__).resolve().parents


def test_project_constructs_are_constructs():
    from constructs.engines.blue_green_deployment import EcsBlueGreenDeployment
    from constructs.multi_region_release import MultiRegionBlueGreenRelease
    from constructs.pipeline.release_pipeline import ReleasePipeline
    from constructs.region.regional_service import RegionalEcsService

    for cls in (EcsBlueGreenDeployment, MultiRegionBlueGreenRelease, RegionalEcsService, ReleasePipeline):
        assert issubclass(cls, Construct)


def project_imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in it, type-only imports included)."""
    import ast

    modules = {}
    for folder in ("constructs", "tools", "stacks"):
        for path in (ROOT / folder).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != name}
        graph[name] = found
    return graph


def test_no_module_imports_one_that_imports_it_back():
    """Parts depend one way: a shared type lives where both sides can import it (no cycle, not even type-only)."""
    graph = project_imports()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path[path.index(name) :], name))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_each_subpackage_says_what_lives_there():
    for folder in ("constructs", "tools"):
        for package in sorted(p for p in (ROOT / folder).iterdir() if p.is_dir() and p.name != "__pycache__"):
            text = (package / "__init__.py").read_text()
            assert text.startswith('"""'), package
            assert len(text) > 80, package
