"""Fixtures for the browser tests: Jupyter servers on loopback, and headless Chromium.

Run them with ``make test-browser`` (``python -m pytest --browser tests/browser``).
``--screenshots DIR`` also saves the documentation's screenshots there (``make screenshots``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, sync_playwright

from tests.browser._jupyter import CONSOLE_ERRORS, JupyterServer

#: Debian's chromium; CHROMIUM names another build of Chromium.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1200, "height": 900}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="save the documentation's screenshots into DIR (make screenshots)",
    )


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``--screenshots DIR``, else a temporary directory."""
    chosen = request.config.getoption("--screenshots")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Headless Chromium, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: install Debian's (apt-get install chromium "
            "chromium-driver) or set CHROMIUM to a Chromium executable."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = JupyterServer("lab" if kind == "lab" else "notebook", tmp_path_factory.mktemp(kind))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab 4 on 127.0.0.1, serving a temporary directory."""
    yield from _server("lab", tmp_path_factory)


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Notebook 7 on 127.0.0.1, serving a temporary directory."""
    yield from _server("notebook", tmp_path_factory)


def _loopback_only(route: Route) -> None:
    # The page may reach the Jupyter server and nothing else: no fonts, news or telemetry.
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser tab; it reaches 127.0.0.1 only."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.route("**/*", _loopback_only)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"uncaught: {error.message} {error.stack}"))
    tab.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    CONSOLE_ERRORS[id(tab)] = errors
    try:
        yield tab
    finally:
        CONSOLE_ERRORS.pop(id(tab), None)
        context.close()
