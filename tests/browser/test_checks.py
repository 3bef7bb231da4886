"""The checks the browser tests rely on catch what they are for, on a notebook made to fail."""

from __future__ import annotations

import nbformat
import pytest
from playwright.sync_api import Page

from tests.browser._jupyter import (
    WIDGET_ERROR,
    JupyterServer,
    cells,
    kernel_secrets,
    open_notebook,
    page_problems,
    run_all_cells,
    secrets_on_page,
)

BROKEN = [
    # A widget whose front-end code does not exist: ipywidgets cannot draw it.
    """\
import ipywidgets as widgets
import traitlets


class Undrawable(widgets.DOMWidget):
    _model_module = traitlets.Unicode("no-such-widget-module").tag(sync=True)
    _view_module = traitlets.Unicode("no-such-widget-module").tag(sync=True)
    _model_name = traitlets.Unicode("NoSuchModel").tag(sync=True)
    _view_name = traitlets.Unicode("NoSuchView").tag(sync=True)


Undrawable()""",
    # A key printed on the page.
    """\
from alloy_data.sandbox import Sandbox

sandbox = Sandbox(port=0)
print(sandbox.api_key)""",
    "1 / 0",
    "print('never run')",
]

pytestmark = pytest.mark.timeout(300)


def test_the_checks_catch_errors_undrawn_widgets_and_keys(lab: JupyterServer, page: Page) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in BROKEN])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, lab.root / "broken.ipynb")
    try:
        open_notebook(page, lab, "broken.ipynb")
        run_all_cells(page, 120)
        page.locator(WIDGET_ERROR).wait_for()
        problems = page_problems(page, cells(page))
        assert "cell 2 raised ZeroDivisionError: division by zero" in problems
        assert "cell 3 did not run" in problems
        assert "1 widget outputs, 0 drawn" in problems
        undrawn = [p for p in problems if p.startswith("a widget was not drawn: ")]
        assert len(undrawn) == 1
        assert "no-such-widget-module" in undrawn[0]
        logged = [p for p in problems if p.startswith("the browser logged ")]
        assert any("no-such-widget-module" in p for p in logged), problems
        keys = kernel_secrets(page)
        assert len(keys) == 1
        found = secrets_on_page(page, keys)
        assert f"a kernel's API key ({keys[0][:6]}...)" in found
    finally:
        lab.shutdown_kernels()
