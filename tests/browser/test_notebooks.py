"""Every example notebook, run top to bottom in JupyterLab (and one in Notebook 7) in Chromium.

Each must run without an error output, draw every widget it displays, and show no API key,
neither on the page nor in the notebook as saved.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser._jupyter import (
    DRAWN_WIDGETS,
    SECRET_PATTERNS,
    JupyterServer,
    cells,
    kernel_secrets,
    open_notebook,
    page_problems,
    run_all_cells,
    run_command,
    secrets_on_page,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))
RUN_TIMEOUT = 420

pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 120)


def _run_notebook(server: JupyterServer, page: Page, name: str) -> None:
    filename = f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / filename, server.root / filename)
    try:
        open_notebook(page, server, filename)
        run_all_cells(page, RUN_TIMEOUT)
        ran = cells(page)
        assert sum(cell["execution_count"] is not None for cell in ran) > 1
        problems = page_problems(page, ran)
        assert not problems, f"{name} in {server.frontend}: " + "; ".join(problems)
        if name == "02-explorer":
            assert page.locator(".alloy-explorer").is_visible()
            assert page.locator(DRAWN_WIDGETS).count() >= 4

        keys = kernel_secrets(page)
        assert keys, "the kernel held no API key: the check below would be empty"
        assert not secrets_on_page(page, keys)
        run_command(page, "docmanager:save")
        page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
        saved = (server.root / filename).read_text()
        assert '"output_type": "display_data"' in saved or '"output_type": "stream"' in saved
        for key in keys:
            assert key not in saved, f"{name}: the saved notebook holds an API key"
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(saved), f"{name}: the saved notebook matches {pattern}"
    finally:
        server.shutdown_kernels()


def test_every_notebook_is_run() -> None:
    assert len(NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_jupyterlab(lab: JupyterServer, page: Page, name: str) -> None:
    _run_notebook(lab, page, name)


def test_explorer_notebook_runs_in_notebook_7(notebook7: JupyterServer, page: Page) -> None:
    _run_notebook(notebook7, page, "02-explorer")
