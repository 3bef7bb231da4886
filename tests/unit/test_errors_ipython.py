"""In IPython, alloy-data errors show as one line with what to do, unless asked in full.

Each test runs cells in a real IPython ``InteractiveShell``, in a child process (so that the
shell's hooks stay out of the test run) whose IPython directory is a temporary one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("IPython")

SHELL = textwrap.dedent(
    """
    import json, sys
    from traitlets.config import Config
    from IPython.core.interactiveshell import InteractiveShell

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = InteractiveShell.instance(config=config)
    for cell in json.loads(sys.argv[1]):
        shell.run_cell(cell)
        print("<<end of cell>>", flush=True)
    """
)


def shown(tmp_path: Path, *cells: str, full: bool = False) -> list[str]:
    """What IPython printed for each cell."""
    env = {k: v for k, v in os.environ.items() if k != "ALLOY_DATA_FULL_TRACEBACKS"}
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    if full:
        env["ALLOY_DATA_FULL_TRACEBACKS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", SHELL, json.dumps(list(cells))],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    return done.stdout.split("<<end of cell>>\n")[: len(cells)]


MISSING_KEY = "import alloy_data as ad\nad.AlloyClient(trust_env=False)"


def test_an_error_from_deep_inside_shows_as_one_line_with_what_to_do(tmp_path: Path) -> None:
    (output,) = shown(tmp_path, MISSING_KEY)
    lines = output.strip().splitlines()
    assert lines[0].startswith("ConfigurationError: ")
    assert "pass AlloyClient(api_key=...)" in lines[0]
    assert len(lines) == 2
    assert "ALLOY_DATA_FULL_TRACEBACKS=1" in lines[1]
    assert "Traceback" not in output
    assert "alloy_data" not in output  # no frame of the library's internals


def test_notes_added_to_an_error_show_under_it(tmp_path: Path) -> None:
    cell = textwrap.dedent(
        """
        import alloy_data as ad
        error = ad.NotFoundError(
            "credential 'c1' not found", status=404, hint="List them: client.credentials.list()"
        )
        error.add_note("120 records fetched before this are kept: pull.partial_arrow()")
        raise error
        """
    )
    (output,) = shown(tmp_path, cell)
    lines = output.strip().splitlines()
    assert lines[0] == (
        "NotFoundError: HTTP 404: credential 'c1' not found. List them: client.credentials.list()"
    )
    assert lines[1] == "120 records fetched before this are kept: pull.partial_arrow()"
    assert len(lines) == 3


def test_the_environment_variable_brings_the_full_traceback_back(tmp_path: Path) -> None:
    (output,) = shown(tmp_path, MISSING_KEY, full=True)
    assert "Traceback (most recent call last)" in output
    assert "alloy_data" in output  # the library's frames are there
    assert output.strip().splitlines()[-1].startswith("ConfigurationError: ")


def test_percent_tb_shows_the_last_error_in_full_once_asked(tmp_path: Path) -> None:
    short, _, full = shown(tmp_path, MISSING_KEY, "%env ALLOY_DATA_FULL_TRACEBACKS=1", "%tb")
    assert "Traceback" not in short
    assert "Traceback (most recent call last)" in full
    assert "ConfigurationError" in full


def test_other_errors_keep_their_usual_traceback(tmp_path: Path) -> None:
    (output,) = shown(tmp_path, "def f():\n    raise KeyError('x')\nf()")
    assert "Traceback (most recent call last)" in output
    assert "KeyError" in output
