"""The documentation site builds with --strict, and its pages stay in step with the code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_builds_strict(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs)] if mkdocs.exists() else [sys.executable, "-m", "mkdocs"]
    result = subprocess.run(
        [*command, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "api" / "index.html").is_file()
    api_page = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "AlloyClient" in api_page and "to_dataframe" in api_page
    shutil.rmtree(tmp_path / "site")


def test_every_guide_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").rglob("*.md")):
        relative = page.relative_to(ROOT / "docs").as_posix()
        assert relative in config, f"{relative} is not in mkdocs.yml's nav"


def test_environment_variables_are_documented():
    reference = (ROOT / "docs" / "reference" / "environment.md").read_text(encoding="utf-8")
    for name in (
        "ALLOY_API_KEY",
        "ALLOY_BASE_URL",
        "ALLOY_API_VERSION",
        "ALLOY_USER_ID",
        "ALLOY_DATA_CACHE_DIR",
    ):
        assert name in reference
