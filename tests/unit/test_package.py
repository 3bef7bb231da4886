"""Package-wide rules: the public names, light imports, and one-way layers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import alloy_data
from alloy_data import errors

PACKAGE = Path(alloy_data.__file__).parent

# Each module may import only the alloy_data modules listed for it (design.md section 2).
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "models": {"errors"},
    "config": {"errors"},
    "_http": {"config", "errors", "_json"},
    "_json": set(),
    "pagination": {"models", "errors"},
    "frames": {"models", "errors"},
    "export": {"frames", "errors"},
    "progress": {"errors"},
    "client": {"config", "errors", "models", "_http", "pull"},
    "_background": set(),
    "_collector": set(),
    "_concurrency": {"errors", "models", "pagination", "_pagination_records"},
    "pull": {
        "errors",
        "models",
        "pagination",
        "frames",
        "export",
        "progress",
        "client",
        "_background",
        "_collector",
        "_concurrency",
        "_json",
        "_pagination_records",
        "__version__",
    },
    "widgets": {"client", "frames", "export", "progress", "pull", "errors", "models"},
    "connect": {"client", "sandbox"},
}
HEAVY_MODULES = ("pandas", "pyarrow", "ipywidgets", "tqdm")


def _alloy_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "alloy_data" and len(parts) > 1:
                found.add(parts[1])
    return found


def _module_files(module: str) -> list[Path]:
    """The module's own file plus its private helper files (`_<module>_*.py`)."""
    own = PACKAGE / f"{module}.py"
    helpers = sorted(PACKAGE.glob(f"_{module.lstrip('_')}_*.py"))
    return [p for p in [own, *helpers] if p.exists()]


@pytest.mark.parametrize("module", sorted(ALLOWED_IMPORTS))
def test_module_imports_only_lower_layers(module: str) -> None:
    files = _module_files(module)
    if not files:
        pytest.fail(f"alloy_data/{module}.py is missing")
    helper_names = {p.stem for p in files}
    allowed = ALLOWED_IMPORTS[module] | helper_names | {"__version__"}
    for path in files:
        bad = _alloy_imports(path) - allowed
        assert not bad, f"{path.name} imports {sorted(bad)}; it may import {sorted(allowed)}"


def test_sandbox_imports_nothing_else_from_the_package() -> None:
    sandbox_dir = PACKAGE / "sandbox"
    files = sorted(sandbox_dir.rglob("*.py"))
    assert files, "alloy_data/sandbox has no modules"
    for path in files:
        bad = _alloy_imports(path) - {"sandbox"}
        assert not bad, f"sandbox/{path.name} imports alloy_data.{sorted(bad)}"


def test_all_is_sorted_and_complete() -> None:
    names = alloy_data.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(alloy_data, name), name


def test_every_error_class_is_exported() -> None:
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, (errors.AlloyError, Warning))
        and value.__module__ == errors.__name__
    }
    assert error_classes <= set(alloy_data.__all__)


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.ConfigurationError, errors.AlloyError)


def test_import_is_light() -> None:
    code = (
        "import json, sys; import alloy_data; "
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []


def test_environment_yml_lists_the_runtime_dependencies() -> None:
    root = PACKAGE.parent
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    runtime = tomllib.loads(pyproject)["project"]["dependencies"]
    environment = (root / "environment.yml").read_text(encoding="utf-8")
    listed = {
        line.strip()[2:].strip()
        for line in environment.splitlines()
        if line.strip().startswith("- ") and not line.strip().startswith("- -")
    }
    assert set(runtime) <= listed, sorted(set(runtime) - listed)
    assert any(item.startswith("jupyterlab") for item in listed)
    assert any(item.startswith("ipykernel") for item in listed)
