"""A catalogue of bad inputs: wrong arguments to ``client.pull(...)`` and output paths that
cannot be written, each refused with a typed error that says what to do, losing nothing."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.sandbox import Sandbox, serve


class Unprintable:
    def __repr__(self) -> str:
        return "Unprintable()"


def _self_containing() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


# argument, the wrong value, words the message must hold
WRONG_ARGUMENTS: dict[str, tuple[str, Any, str]] = {
    "connector_id-none": ("connector_id", None, "connector_id must be a non-empty string"),
    "connector_id-number": ("connector_id", 5, "connector_id must be a non-empty string"),
    "connector_id-bytes": ("connector_id", b"shopify", "connector_id must be a non-empty string"),
    "connector_id-blank": ("connector_id", "  ", "connector_id must be a non-empty string"),
    "action_id-none": ("action_id", None, "action_id must be a non-empty string"),
    "action_id-list": ("action_id", ["list-orders"], "action_id must be a non-empty string"),
    "action_id-empty": ("action_id", "", "action_id must be a non-empty string"),
    "credential_id-none": ("credential_id", None, "credential_id must be a non-empty string"),
    "credential_id-number": ("credential_id", 42, "credential_id must be a non-empty string"),
    "credential_id-dict": ("credential_id", {"id": "x"}, "credential_id must be a non-empty"),
    "user_id-number": ("user_id", 7, "user_id must be a non-empty string"),
    "user_id-empty": ("user_id", "", "user_id must be a non-empty string"),
    "parameters-list": ("parameters", [("first", 5)], "parameters must be a dict"),
    "parameters-string": ("parameters", "first=5", "parameters must be a dict"),
    "parameters-number-key": ("parameters", {1: "a"}, "parameter names must be strings"),
    "parameters-tuple-key": ("parameters", {("a",): 1}, "parameter names must be strings"),
    "parameters-date": (
        "parameters",
        {"since": datetime.date(2024, 5, 1)},
        "parameters['since'] is a date, which JSON cannot carry",
    ),
    "parameters-datetime": (
        "parameters",
        {"range": {"from": datetime.datetime(2024, 5, 1)}},
        "value.isoformat()",
    ),
    "parameters-decimal": ("parameters", {"amount": decimal.Decimal("1.5")}, "is a Decimal"),
    "parameters-set": ("parameters", {"ids": {1, 2}}, "parameters['ids'] is a set"),
    "parameters-bytes": ("parameters", {"q": b"x"}, "is a bytes"),
    "parameters-object": ("parameters", {"q": Unprintable()}, "is a Unprintable"),
    "parameters-nan": ("parameters", {"min": float("nan")}, "is nan, which JSON cannot carry"),
    "parameters-infinity": ("parameters", {"max": [1, float("inf")]}, "['max'][1] is inf"),
    "parameters-self-containing": ("parameters", _self_containing(), "contain themselves"),
    "paginator-number": ("paginator", 5, "Unknown paginator 5"),
    "paginator-none": ("paginator", None, "Unknown paginator None"),
    "paginator-misspelt": ("paginator", "cursr", "Use one of 'auto'"),
    "paginator-bytes": ("paginator", b"cursor", "Unknown paginator b'cursor'"),
    "paginator-list": ("paginator", ["cursor"], "Unknown paginator ['cursor']"),
    "paginator-class": ("paginator", dict, "Unknown paginator"),
    "paginator-bool": ("paginator", True, "Unknown paginator True"),
    "page_size-string": ("page_size", "100", "page_size must be a positive whole number"),
    "page_size-float": ("page_size", 100.0, "page_size must be a positive whole number"),
    "page_size-zero": ("page_size", 0, "page_size must be a positive whole number"),
    "page_size-negative": ("page_size", -5, "page_size must be a positive whole number"),
    "page_size-bool": ("page_size", True, "page_size must be a positive whole number"),
    "page_size-nan": ("page_size", float("nan"), "page_size must be a positive whole number"),
    "max_pages-string": ("max_pages", "1", "max_pages must be a positive whole number"),
    "max_pages-zero": ("max_pages", 0, "max_pages must be a positive whole number"),
    "max_pages-infinity": ("max_pages", float("inf"), "max_pages must be a positive whole"),
    "max_pages-numpy-zero": ("max_pages", np.int64(0), "max_pages must be a positive whole"),
    "max_records-float": ("max_records", 10.5, "max_records must be a positive whole number"),
    "max_records-bool": ("max_records", False, "max_records must be a positive whole number"),
    "max_records-negative": ("max_records", -1, "max_records must be a positive whole number"),
    "max_requests_per_second-string": ("max_requests_per_second", "10", "a positive number"),
    "max_requests_per_second-zero": ("max_requests_per_second", 0, "a positive number"),
    "max_requests_per_second-negative": ("max_requests_per_second", -2.5, "a positive number"),
    "max_requests_per_second-bool": ("max_requests_per_second", True, "a positive number"),
    "max_requests_per_second-nan": ("max_requests_per_second", float("nan"), "positive number"),
    "max_requests_per_second-infinity": ("max_requests_per_second", float("inf"), "None (no cap)"),
    "max_requests_per_second-list": ("max_requests_per_second", [5], "a positive number"),
    "progress-word": ("progress", "yes", "progress='yes' is not understood"),
    "progress-capitalised": ("progress", "Terminal", "use 'auto', 'terminal', False"),
    "progress-number": ("progress", 5, "progress=5 is not understood"),
    "progress-zero": ("progress", 0, "progress=0 is not understood"),
    "progress-one": ("progress", 1, "progress=1 is not understood"),
    "progress-list": ("progress", ["auto"], "is not understood"),
    "progress-array": ("progress", np.array([1, 0]), "is not understood"),
}


@pytest.mark.parametrize("case", list(WRONG_ARGUMENTS), ids=list(WRONG_ARGUMENTS))
def test_a_wrong_argument_is_refused_before_anything_is_fetched(
    sandbox: Sandbox, case: str
) -> None:
    argument, value, words = WRONG_ARGUMENTS[case]
    arguments: dict[str, Any] = {
        "connector_id": "shopify",
        "action_id": "list-orders",
        "credential_id": sandbox.fixtures.credentials["shopify"],
        "progress": False,
        argument: value,
    }
    with ad.AlloyClient(sandbox.api_key, base_url=sandbox.url, trust_env=False) as client:
        before = sandbox.request_count
        with pytest.raises(ad.ConfigurationError) as caught:
            client.pull(arguments.pop("connector_id"), arguments.pop("action_id"), **arguments)
    assert isinstance(caught.value, ValueError)
    assert words in str(caught.value)
    assert sandbox.request_count == before


def test_the_same_arguments_done_right_pull(sandbox: Sandbox) -> None:
    # The cases above differ from this one only in the argument they get wrong.
    with ad.AlloyClient(sandbox.api_key, base_url=sandbox.url, trust_env=False) as client:
        pull = client.pull(
            "shopify",
            "list-orders",
            credential_id=sandbox.fixtures.credentials["shopify"],
            user_id=sandbox.fixtures.user_id,
            parameters={"first": 5},
            paginator="relay",
            page_size=5,
            max_pages=np.int64(2),
            max_records=7,
            max_requests_per_second=1000,
            progress=False,
        )
        assert len(pull.to_arrow()) == 7


# -- output paths ------------------------------------------------------------------------

RECORDS = 250  # three pages of stripe charges


@pytest.fixture(scope="module")
def small() -> Iterator[Sandbox]:
    with serve(port=0, seed=4, records=RECORDS) as running:
        yield running


@pytest.fixture(scope="module")
def clients() -> Iterator[list[ad.AlloyClient]]:
    made: list[ad.AlloyClient] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def charges(clients: list[ad.AlloyClient]) -> Callable[[Sandbox], ad.Pull]:
    def pull_of(sb: Sandbox) -> ad.Pull:
        client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
        clients.append(client)
        return client.pull(
            "stripe",
            "list-charges",
            credential_id=sb.fixtures.credentials["stripe"],
            progress=False,
        )

    return pull_of


def _unwritable_folder(tmp_path: Path) -> Path | None:
    """A folder in which no file can be created, by this user; None when there is none."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    # Root ignores permissions, but not a file system that holds no files of ours.
    for candidate in (Path("/sys"), Path("/proc")):
        probe = candidate / f"alloy-data-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            return candidate
        probe.rmdir()
    return None


def test_an_output_folder_that_cannot_be_written(
    small: Sandbox, charges: Callable[[Sandbox], ad.Pull], tmp_path: Path
) -> None:
    folder = _unwritable_folder(tmp_path)
    if folder is None:
        pytest.skip(
            "running as root, which ignores folder permissions, and no folder here (/sys, "
            "/proc) refuses root either"
        )
    requests_before = small.request_count
    try:
        with pytest.raises(ad.ExportError) as caught:
            charges(small).to_parquet(folder / "charges.parquet")
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o755)
    assert "Write to a folder you can create files in" in str(caught.value)
    assert small.request_count == requests_before  # refused before fetching anything


@pytest.mark.parametrize(
    ("make", "target", "options", "error", "words"),
    [
        (None, "missing/charges.parquet", {}, ad.ExportError, "missing does not exist. Create"),
        ("file", "a-file/charges.csv", {}, ad.ExportError, "a-file is not a directory"),
        ("dir", "folder", {}, ad.ExportError, "is a directory. Name the file"),
        ("dir", "folder", {"overwrite": True}, ad.ExportError, "remove it first"),
        ("dir", "folder.parquet", {"overwrite": True}, ad.ExportError, "folder.parquet/data"),
        (None, "", {}, ad.ConfigurationError, "is no file name"),
        (None, "bad\0name.parquet", {}, ad.ConfigurationError, "is no file name"),
        (None, 5, {}, ad.ConfigurationError, "must be text or a pathlib.Path, not int"),
        (None, "x" * 300 + ".parquet", {}, ad.ExportError, "Cannot write"),
        (None, "charges.xlsx", {}, ad.ConfigurationError, "Cannot tell the format"),
    ],
    ids=[
        "missing-folder",
        "folder-is-a-file",
        "a-directory",
        "a-directory-with-overwrite",
        "a-directory-named-like-a-file",
        "empty",
        "nul-character",
        "a-number",
        "name-too-long",
        "unknown-suffix",
    ],
)
def test_an_output_path_that_cannot_be_written(
    small: Sandbox,
    charges: Callable[[Sandbox], ad.Pull],
    tmp_path: Path,
    make: str | None,
    target: Any,
    options: dict[str, Any],
    error: type[ad.AlloyError],
    words: str,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    if make == "dir":
        (tmp_path / target / "keep.txt").parent.mkdir()
        (tmp_path / target / "keep.txt").write_text("precious")
    path = tmp_path / target if isinstance(target, str) and target else target
    before = sorted(p.name for p in tmp_path.iterdir())
    requests_before = small.request_count
    pull = charges(small)
    # A folder without a suffix is a Parquet dataset's path; to_file needs a suffix.
    export = pull.to_parquet if make == "dir" else pull.to_file
    with pytest.raises(error) as caught:
        export(path, **options)
    assert words in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no checkpoint left behind
    if make == "dir":
        assert (tmp_path / target / "keep.txt").read_text() == "precious"
    assert small.request_count == requests_before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_never_replaced(
    small: Sandbox, charges: Callable[[Sandbox], ad.Pull], tmp_path: Path
) -> None:
    # A named pipe in a temporary folder stands for any special file (never /dev/null itself:
    # a library with this bug, run as root, would replace the machine's /dev/null).
    pipe = tmp_path / "charges.parquet"
    os.mkfifo(pipe)
    with pytest.raises(ad.ExportError, match="is not a regular file"):
        charges(small).to_parquet(pipe, overwrite=True)
    assert pipe.is_fifo()


# -- the disk filling up --------------------------------------------------------------

# Exports one pull in a fresh process, with the size any file may grow to limited as a full
# disk would, and SIGXFSZ ignored so that the write fails with an error instead of a signal.
EXPORTER = r"""
import json, resource, signal, sys
import alloy_data as ad
spec = json.loads(sys.argv[1])
if spec["limit"]:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["limit"], spec["limit"]))
client = ad.AlloyClient(spec["key"], base_url=spec["url"], user_id=spec["user"])
pull = client.pull("stripe", "list-charges", credential_id=spec["credential"], progress=False)
try:
    pull.to_file(spec["target"], resume=spec["resume"])
except ad.AlloyError as error:
    notes = getattr(error, "__notes__", [])
    print(json.dumps({"error": type(error).__name__, "message": str(error), "notes": notes}))
else:
    print(json.dumps({"records": pull.stats.records}))
"""

FULL_DISK_RECORDS = 3_000


@pytest.fixture(scope="module")
def full_disk_sandbox() -> Iterator[Sandbox]:
    with serve(port=0, seed=5, records=FULL_DISK_RECORDS) as running:
        yield running


def export_in_a_fresh_process(
    sb: Sandbox, target: Path, *, limit: int = 0, resume: bool = False
) -> dict[str, Any]:
    spec = {
        "key": sb.api_key,
        "url": sb.url,
        "user": sb.fixtures.user_id,
        "credential": sb.fixtures.credentials["stripe"],
        "target": str(target),
        "limit": limit,
        "resume": resume,
    }
    done = subprocess.run(
        [sys.executable, "-c", EXPORTER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX resource limits")
@pytest.mark.parametrize(
    ("suffix", "stage"),
    [("parquet", "spooling"), ("jsonl", "rendering")],
    ids=["parquet-while-spooling", "jsonl-while-rendering"],
)
def test_a_full_disk_then_resume_in_a_fresh_process(
    full_disk_sandbox: Sandbox,
    charges: Callable[[Sandbox], ad.Pull],
    tmp_path: Path,
    suffix: str,
    stage: str,
) -> None:
    sb = full_disk_sandbox
    reference = charges(sb).to_file(tmp_path / f"reference.{suffix}")
    # Spooling: room for a few pages. Rendering: every page spools (LZ4 Arrow, smaller than
    # the JSON text), but the finished file does not fit.
    limit = 100_000 if stage == "spooling" else reference.stat().st_size - 1
    target = tmp_path / f"charges.{suffix}"

    failed = export_in_a_fresh_process(sb, target, limit=limit)
    assert failed["error"] == "ExportError", failed
    assert "File too large" in failed["message"]
    assert "resume=True" in failed["message"]
    assert not target.exists()
    if stage == "spooling":
        assert failed["message"].startswith("Cannot spool page")
        saved = int(" ".join(failed["notes"]).split(" records fetched")[0].split()[-1])
        assert 0 < saved < FULL_DISK_RECORDS
    else:
        assert failed["message"].startswith(f"Cannot write {target}")

    assert export_in_a_fresh_process(sb, target, resume=True)["records"] == FULL_DISK_RECORDS
    assert not target.with_name(target.name + ".alloy-checkpoint").exists()
    if suffix == "parquet":
        ids = pq.read_table(target).column("id").to_pylist()
        assert ids == pq.read_table(reference).column("id").to_pylist()
    else:
        lines = target.read_text(encoding="utf-8").splitlines()
        ids = [json.loads(line)["id"] for line in lines]
        assert lines == reference.read_text(encoding="utf-8").splitlines()
    assert len(ids) == len(set(ids)) == FULL_DISK_RECORDS
