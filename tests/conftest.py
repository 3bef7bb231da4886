"""Shared fixtures for the whole suite, and the switch for the browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

BROWSER_TESTS = Path(__file__).parent / "browser"
_skipped = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--browser",
        action="store_true",
        default=False,
        help="run the browser tests in tests/browser (JupyterLab and Chromium: make test-browser)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path == BROWSER_TESTS and not config.getoption("--browser"):
        # Said only when a run would have collected them (`make test`, not one test file).
        asked = [Path(config.invocation_params.dir, arg.split("::")[0]) for arg in config.args]
        if any(BROWSER_TESTS.resolve().is_relative_to(path.resolve()) for path in asked):
            config.stash[_skipped] = True
        return True
    return None


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if config.stash.get(_skipped, False):
        terminalreporter.write_line(
            "Browser tests (tests/browser) skipped: run `make test-browser` for them "
            "(JupyterLab and Notebook 7 in headless Chromium)."
        )
