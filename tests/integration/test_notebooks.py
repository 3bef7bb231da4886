"""The example notebooks run top to bottom on the embedded sandbox, and leak no secret."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = [
    "01-quickstart",
    "02-explorer",
    "03-pagination-and-export",
    "04-many-credentials",
    "05-incremental",
    "06-duckdb-and-polars",
    "07-local-store",
]
CELL_TIMEOUT = 300
SECRET_PATTERNS = [
    re.compile(r"sk_[A-Za-z0-9]"),  # sandbox and live keys, masked or not
    re.compile(r"Bearer\s"),
]

pytestmark = pytest.mark.slow


def _outputs_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        json.dumps(output, ensure_ascii=False)
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_every_notebook_is_tested() -> None:
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_without_errors_or_secrets(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_values = [
        value for key in ("ALLOY_API_KEY",) if (value := os.environ.get(key)) and len(value) > 3
    ]
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{name} failed:\n{error}")
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    text = _outputs_text(notebook)
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{name}: an output matches {pattern.pattern!r}"
    for value in secret_values:
        assert value not in text, f"{name}: an output contains ALLOY_API_KEY's value"


def _run_with(name: str, tmp_path: Path, extra_cells: list[str]) -> list[str]:
    """Run a notebook, then ``extra_cells`` after its last cell; return what each printed."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(code) for code in extra_cells]
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    return [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in notebook.cells[-len(extra_cells) :]
    ]


def test_the_explorer_still_works_after_its_notebook_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone who ran every cell scrolls up and clicks Preview: the notebook must not have
    # closed the client behind the widgets. Closing it, as its last cell explains, then says
    # so in the status line.
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    preview = "explorer.preview_button.click()\nprint(explorer.status.value)"
    again, closed = _run_with(
        "02-explorer",
        tmp_path,
        [f'explorer.connector.value = "zendesk"\n{preview}', f"client.close()\n{preview}"],
    )
    assert "Preview: the first page has" in again
    assert "Client closed" in closed and "ad.connect()" in closed
