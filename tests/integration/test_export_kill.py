"""Atomicity and resume when the exporting process is killed with SIGKILL part-way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from alloy_data.errors import ExportError
from alloy_data.export import open_writer
from tests.unit.test_export import make_pages, partition_pages, write_pages

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

FINGERPRINT = "shop/list-orders/{}"
METADATA = {"connector": "shop", "action": "list-orders"}

# The exporting process: reads its pages from a JSON file and writes them the way a pull does,
# printing each page number once the writer has persisted it. A hook lets a test stop it at a
# precise moment.
CHILD = r"""
import json, os, signal, sys, time

from alloy_data.export import _base as _export_base
from alloy_data import export
from alloy_data.frames import TableBuilder

spec = json.loads(sys.argv[1])
with open(spec["pages"], encoding="utf-8") as handle:
    pages = json.load(handle)
hook = spec.get("hook")

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if hook == "pause-mid-finish":
    real_align = _export_base.align_batch
    aligned = []
    def align_then_pause(batch, schema):
        aligned.append(1)
        if len(aligned) == 3:
            print("mid-finish", flush=True)
            time.sleep(60)
        return real_align(batch, schema)
    _export_base.align_batch = align_then_pause
elif hook == "kill-after-spool-fsync":
    real_fsync = os.fsync
    def fsync_then_die(fd):
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}").endswith("pages.spool") and spec["page"] == 4:
            die()
    os.fsync = fsync_then_die
elif hook == "kill-mid-swap":
    real_replace = os.replace
    def replace_then_die(source, destination):
        real_replace(source, destination)
        if os.fspath(source) == spec["target"]:
            die()
    os.replace = replace_then_die

writer = export.open_writer(
    spec["target"], overwrite=True, resume=spec["resume"], fingerprint=spec["fingerprint"],
    metadata=spec["metadata"], **spec["options"],
)
checkpoint = writer.open()
start = checkpoint.next_page_number if checkpoint else 1
builder = TableBuilder(keep_batches=False)
for number in range(start, len(pages) + 1):
    spec["page"] = number
    batch = builder.add_page(pages[number - 1], number)
    next_parameters = None if number == len(pages) else {"page": number + 1}
    writer.write_page(number, batch, schema=builder.schema, next_parameters=next_parameters)
    print("page", number, flush=True)
    time.sleep(spec["delay"])
writer.finish(schema=builder.schema)
print("done", flush=True)
"""


class Exporter:
    """Runs the exporting process against one target and kills it on cue."""

    def __init__(self, work: Path, target: Path, pages: list[list[dict[str, Any]]]) -> None:
        self.target = target
        self.pages_file = work / "pages.json"
        self.pages_file.write_text(json.dumps(pages), encoding="utf-8")
        self.pages = pages

    def run(
        self,
        *,
        kill_at: str | None = None,
        resume: bool = False,
        hook: str | None = None,
        delay: float = 0.02,
        **options: Any,
    ) -> list[str]:
        """Runs to the end, or until it prints ``kill_at`` (then SIGKILL); returns its lines."""
        spec = {
            "pages": str(self.pages_file),
            "target": str(self.target),
            "resume": resume,
            "hook": hook,
            "delay": delay,
            "fingerprint": FINGERPRINT,
            "metadata": METADATA,
            "options": options,
        }
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        assert child.stdout is not None
        with child.stdout:
            try:
                for line in child.stdout:
                    lines.append(line.strip())
                    if kill_at is not None and line.strip() == kill_at:
                        child.send_signal(signal.SIGKILL)
                        break
            finally:
                if kill_at is not None and child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                code = child.wait(timeout=60)
        if kill_at is None and hook is None:
            assert code == 0, lines
        else:
            assert code == -signal.SIGKILL, lines
        return lines

    def resume_here(self, **options: Any) -> Path:
        """Resumes in this process, the way a pull called with resume=True does."""
        writer = open_writer(
            self.target,
            overwrite=True,
            resume=True,
            fingerprint=FINGERPRINT,
            metadata=METADATA,
            **options,
        )
        checkpoint = writer.open()
        assert checkpoint is not None, "the killed export left no checkpoint"
        if checkpoint.complete:
            assert checkpoint.schema is not None
            writer.finish(schema=checkpoint.schema)
        else:
            write_pages(writer, self.pages, start=checkpoint.next_page_number)
        return self.target


def reference_export(path: Path, pages: list[list[dict[str, Any]]], **options: Any) -> Path:
    writer = open_writer(path, fingerprint=FINGERPRINT, metadata=METADATA, **options)
    writer.open()
    write_pages(writer, pages)
    return path


def beside(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir())


PAGES = make_pages(12, 20, coupon_from=7)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_killed_export_keeps_the_old_file_and_resumes_to_the_same_bytes(
    tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / "out" / f"orders{suffix}"
    target.parent.mkdir()
    target.write_bytes(b"the previous export")
    exporter = Exporter(tmp_path, target, PAGES)

    exporter.run(kill_at="page 3")
    assert target.read_bytes() == b"the previous export"
    assert beside(target) == [target.name, f"{target.name}.alloy-checkpoint"]

    # A second run resumes, adds the column that first appears on page 7, and is killed too.
    lines = exporter.run(kill_at="page 9", resume=True)
    assert lines[0] in ("page 4", "page 5")
    assert target.read_bytes() == b"the previous export"

    exporter.resume_here()
    reference = reference_export(tmp_path / f"reference{suffix}", PAGES)
    assert target.read_bytes() == reference.read_bytes()
    assert beside(target) == [target.name]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_kill_while_writing_the_output_leaves_the_old_file(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "out" / f"orders{suffix}"
    target.parent.mkdir()
    target.write_bytes(b"the previous export")
    exporter = Exporter(tmp_path, target, PAGES)

    lines = exporter.run(kill_at="mid-finish", hook="pause-mid-finish", delay=0)
    assert lines[-2:] == ["page 12", "mid-finish"]
    assert target.read_bytes() == b"the previous export"
    assert beside(target) == [target.name, f"{target.name}.alloy-checkpoint"]

    exporter.resume_here()
    reference = reference_export(tmp_path / f"reference{suffix}", PAGES)
    assert target.read_bytes() == reference.read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_kill_after_a_page_is_spooled_but_not_recorded(tmp_path: Path) -> None:
    target = tmp_path / "out" / "orders.parquet"
    target.parent.mkdir()
    exporter = Exporter(tmp_path, target, PAGES)

    lines = exporter.run(hook="kill-after-spool-fsync", delay=0)
    assert lines == ["page 1", "page 2", "page 3"]
    spool = target.with_name("orders.parquet.alloy-checkpoint") / "pages.spool"
    recorded = json.loads(spool.with_name("checkpoint.json").read_text(encoding="utf-8"))
    assert spool.stat().st_size > recorded["spool_bytes"]

    exporter.resume_here()
    reference = reference_export(tmp_path / "reference.parquet", PAGES)
    assert pq.read_table(target).equals(pq.read_table(reference), check_metadata=True)


def test_kill_mid_swap_of_a_dataset_restores_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out" / "orders"
    old = target / "country=XX"
    old.mkdir(parents=True)
    (old / "part-0.parquet").write_bytes(b"the previous export")
    exporter = Exporter(tmp_path, target, partition_pages())

    exporter.run(hook="kill-mid-swap", delay=0, partition_cols=["country"])
    assert not target.exists()  # the old dataset is aside, in the checkpoint directory

    writer = open_writer(target, partition_cols=["country"])  # overwrite=False
    with pytest.raises(ExportError, match="already exists"):
        writer.open()
    assert (old / "part-0.parquet").read_bytes() == b"the previous export"

    exporter.resume_here(partition_cols=["country"])
    assert sorted(p.name for p in target.iterdir())[1:] == ["country=DE", "country=FR"]
    assert beside(target) == ["orders"]


def test_resume_with_a_different_pull_is_refused_after_a_kill(tmp_path: Path) -> None:
    target = tmp_path / "orders.parquet"
    exporter = Exporter(tmp_path, target, PAGES)
    exporter.run(kill_at="page 2")

    writer = open_writer(target, resume=True, fingerprint="shop/list-orders/{'status': 'open'}")
    with pytest.raises(ExportError, match="different pull"):
        writer.open()
    assert (tmp_path / "orders.parquet.alloy-checkpoint" / "checkpoint.json").exists()
