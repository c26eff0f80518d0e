"""The constructs/ folder extends the constructs library's namespace without shadowing it."""

from __future__ import annotations

import importlib
from pathlib import Path

import constructs
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
PROJECT_MODULES = sorted(p.stem for p in (ROOT / "constructs").glob("*.py"))


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
        assert name not in library_names, f"constructs/{name}.py reuses a name of the library"
        module = importlib.import_module(f"constructs.{name}")
        assert Path(module.__file__).resolve().parent == ROOT / "constructs"


def test_project_constructs_are_constructs():
    from constructs.blue_green_deployment import EcsBlueGreenDeployment
    from constructs.multi_region_release import MultiRegionBlueGreenRelease
    from constructs.regional_service import RegionalEcsService
    from constructs.release_pipeline import ReleasePipeline

    for cls in (EcsBlueGreenDeployment, MultiRegionBlueGreenRelease, RegionalEcsService, ReleasePipeline):
        assert issubclass(cls, Construct)
