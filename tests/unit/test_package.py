"""Package-wide rules: the public names, light imports, and one-way layers."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import alloy_data
from alloy_data import errors

PACKAGE = Path(alloy_data.__file__).parent

HEAVY_MODULES = ("pandas", "pyarrow", "ipywidgets", "tqdm", "dask", "distributed")
ROOT = PACKAGE.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the package in ``project`` with that project's pyproject.toml."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layer_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("pagination/_base.py", "from alloy_data.client import AlloyClient", "down the layers"),
        ("pull/_plan.py", "from alloy_data.client import AlloyClient", "down the layers"),
        ("frames/_page.py", "from alloy_data.http import Transport", "down the layers"),
        ("sandbox/store.py", "from alloy_data.models import User", "sandbox imports nothing"),
        ("export/_spool.py", "import ipywidgets", "Only the front ends"),
        ("client/_client.py", "import argparse", "Only the front ends"),
        ("http/_transport.py", "import socket", "requests alone"),
        ("http/_transport.py", "import ssl", "requests alone"),
        ("pull/_run.py", "import http.client", "requests alone"),
    ],
    ids=lambda value: str(value).split("/")[-1].split(" ")[-1],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    # The contracts are worth something only if they catch what they are about.
    shutil.copytree(PACKAGE, tmp_path / "alloy_data", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "alloy_data" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    broken = [text for text in result.stdout.splitlines() if text.endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], result.stdout


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


def test_every_error_class_is_drawn_in_the_tree_under_its_base() -> None:
    tree = (errors.__doc__ or "").split("Warnings:")[0]
    depth = {}
    for line in tree.splitlines():
        words = line.replace("─", " ").replace("│", " ").replace("├", " ").replace("└", " ")
        if words.strip():
            name = words.split()[0]
            depth[name] = len(words) - len(words.lstrip())
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.AlloyError):
            assert name in depth, f"{name} is not drawn in the errors module's tree"
            base = value.__mro__[1].__name__
            if value is not errors.AlloyError:
                assert depth[name] > depth[base], f"{name} is not drawn under {base}"


def test_a_closed_client_error_is_a_configuration_error() -> None:
    assert issubclass(errors.ClientClosedError, errors.ConfigurationError)


def test_import_is_light() -> None:
    # alloy_data.dask is the optional extra's module: importing it must not import Dask.
    code = (
        "import json, sys; import alloy_data; import alloy_data.dask; "
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


def _keyword_options(function: object, skip: int) -> list[tuple[str, object, object]]:
    parameters = list(inspect.signature(function).parameters.values())[skip:]  # type: ignore[arg-type]
    return [(p.name, p.default, p.annotation) for p in parameters]


def test_client_pull_takes_every_option_of_pull_by_name_in_the_options_order() -> None:
    from alloy_data.client import AlloyClient
    from alloy_data.options import PULL_OPTION_NAMES

    # (self, connector_id, action_id, credential_id, user_id, then the options)
    names = [name for name, _, _ in _keyword_options(AlloyClient.pull, 5)]
    assert names == list(PULL_OPTION_NAMES)
    assert inspect.signature(AlloyClient.pull).return_annotation == "Pull"
    documented = inspect.getdoc(AlloyClient.pull) or ""
    for name, _, _ in _keyword_options(AlloyClient.pull, 1):
        assert f"    {name}: " in documented, f"{name} is not described in the docstring"


def test_the_explorer_pulls_with_every_option_of_one_and_many_credentials() -> None:
    from alloy_data.client import AlloyClient
    from alloy_data.widgets import Explorer

    # The pickers set the connector, action and credentials; the rest is the same.
    single = dict((o[0], o) for o in _keyword_options(AlloyClient.pull, 5))
    many = dict((o[0], o) for o in _keyword_options(AlloyClient.pull_many, 4))
    assert dict((o[0], o) for o in _keyword_options(Explorer.pull, 1)) == {**single, **many}


@pytest.mark.parametrize(
    ("module", "qualified_name"),
    [
        ("alloy_data.client", "AlloyClient.pull"),
        ("alloy_data.connect", "connect"),
        ("alloy_data.export", "open_writer"),
        ("alloy_data.widgets", "Explorer.pull"),
    ],
)
def test_public_functions_take_no_catch_all_options(module: str, qualified_name: str) -> None:
    import importlib

    target: object = importlib.import_module(module)
    for attribute in qualified_name.split("."):
        target = getattr(target, attribute)
    kinds = {p.kind for p in inspect.signature(target).parameters.values()}  # type: ignore[arg-type]
    assert inspect.Parameter.VAR_KEYWORD not in kinds
