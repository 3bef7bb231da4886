"""Shared fixtures for the whole suite, and the switches for the browser and field tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
BROWSER_TESTS = TESTS / "browser"
# Where the field tests (marker `field`) live; pyproject.toml's addopts leave them out.
FIELD_TESTS = TESTS / "integration"


@pytest.fixture(autouse=True, scope="session")
def _store_outside_the_home_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every client the suite makes (notebook kernels and child processes too, through the
    environment) keeps its local store of pulls in a temporary folder, never the user's."""
    folder = tmp_path_factory.mktemp("store")
    before = os.environ.get("ALLOY_DATA_STORE")
    os.environ["ALLOY_DATA_STORE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("ALLOY_DATA_STORE", None)
    else:
        os.environ["ALLOY_DATA_STORE"] = before


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--browser",
        action="store_true",
        default=False,
        help="run the browser tests in tests/browser (JupyterLab and Chromium: make test-browser)",
    )


def _asked_for(folder: Path, config: pytest.Config) -> bool:
    """Whether the run would have collected ``folder`` (`make test`, not one test file)."""
    asked = [Path(config.invocation_params.dir, arg.split("::")[0]) for arg in config.args]
    return any(folder.resolve().is_relative_to(path.resolve()) for path in asked)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path == BROWSER_TESTS and not config.getoption("--browser"):
        return True
    return None


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    # Decided here from the command line, not during collection: with pytest-xdist the
    # workers collect, and this runs in the process that reports.
    if not config.getoption("--browser") and _asked_for(BROWSER_TESTS, config):
        terminalreporter.write_line(
            "Browser tests (tests/browser) skipped: run `make test-browser` for them "
            "(JupyterLab and Notebook 7 in headless Chromium)."
        )
    if config.option.markexpr == "not field" and _asked_for(FIELD_TESTS, config):
        terminalreporter.write_line(
            "Field tests (marker `field`) left out: run `make test-field` for them "
            "(100,000-record incremental merges and fault-seeded pulls)."
        )
