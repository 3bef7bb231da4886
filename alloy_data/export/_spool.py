"""The on-disk spool of pages and the checkpoint that makes an export resumable.

A checkpoint directory, ``<target>.alloy-checkpoint/``, sits beside the target and holds:

- ``pages.spool``: one record per page, appended as pages arrive: an 8-byte little-endian
  length, then the page as a complete Arrow IPC stream (its own schema, its batches, the end
  marker). The page keeps the columns and types it arrived with; the writer aligns it to the
  final schema only when it renders the output.
- ``checkpoint.json``: how many pages and rows are in the spool, how many of its bytes are
  valid, the unified schema so far and where the pull continues. It is replaced atomically
  (temporary file, fsync, ``os.replace``) after the page's bytes are fsynced, so it never counts
  a page that is not on disk. Bytes past ``spool_bytes`` are a page cut short by a crash and are
  truncated away when the spool is reopened.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from alloy_data.errors import ExportError

CHECKPOINT_SUFFIX = ".alloy-checkpoint"
CHECKPOINT_FILE = "checkpoint.json"
SPOOL_FILE = "pages.spool"
# What the rendered output is called inside the checkpoint directory until it is swapped in,
# and where an existing target waits while a dataset directory replaces it.
OUTPUT_NAME = "output"
PREVIOUS_NAME = "previous"

_FORMAT_VERSION = 1
_LENGTH = struct.Struct("<Q")


def checkpoint_dir_for(target: Path) -> Path:
    """Returns the checkpoint directory that belongs beside ``target``."""
    return target.with_name(target.name + CHECKPOINT_SUFFIX)


def checkpoint_fingerprint(target: Path) -> str | None:
    """The fingerprint of the export whose checkpoint waits beside ``target``; None when there
    is no readable checkpoint."""
    try:
        data = json.loads((checkpoint_dir_for(target) / CHECKPOINT_FILE).read_text("utf-8"))
        return str(data["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fsync_directory(directory: Path) -> None:
    """Makes renames inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Fsyncs every file and directory under ``root`` (and ``root`` itself)."""
    for current, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(current, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_directory(Path(current))


def remove_path(path: Path) -> None:
    """Removes a file or a directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def lock_directory(directory: Path) -> int | None:
    """Takes an exclusive advisory lock on ``directory`` for as long as the returned fd is open.

    Returns:
        The locked file descriptor, or ``None`` where advisory locks are not available.

    Raises:
        BlockingIOError: If another writer (in this process or another) holds the lock.
    """
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Replaces ``path`` with ``data`` as JSON so that readers see the old or the new text."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def schema_to_text(schema: pa.Schema | None) -> str | None:
    """Serializes a schema for the checkpoint JSON."""
    if schema is None:
        return None
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_text(text: str | None) -> pa.Schema | None:
    """Reads back a schema written by :func:`schema_to_text`."""
    if text is None:
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _ipc_options() -> pa.ipc.IpcWriteOptions:
    # lz4 keeps the spool small at little CPU cost; the spool never leaves this machine.
    compression = "lz4" if pa.Codec.is_available("lz4") else None
    return pa.ipc.IpcWriteOptions(compression=compression)


@dataclass
class SpoolState:
    """What ``checkpoint.json`` records about the spooled pages."""

    fingerprint: str
    kind: str
    pages: int = 0
    rows: int = 0
    spool_bytes: int = 0
    last_page_number: int | None = None
    next_parameters: dict[str, Any] | None = None
    schema: pa.Schema | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "pages": self.pages,
            "rows": self.rows,
            "spool_bytes": self.spool_bytes,
            "last_page_number": self.last_page_number,
            "next_parameters": self.next_parameters,
            "schema": schema_to_text(self.schema),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpoolState:
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
        return cls(
            fingerprint=str(data["fingerprint"]),
            kind=str(data["kind"]),
            pages=int(data["pages"]),
            rows=int(data["rows"]),
            spool_bytes=int(data["spool_bytes"]),
            last_page_number=data["last_page_number"],
            next_parameters=data["next_parameters"],
            schema=schema_from_text(data["schema"]),
        )


class Spool:
    """Appends pages durably to a checkpoint directory and streams them back one at a time."""

    def __init__(self, directory: Path, state: SpoolState) -> None:
        self.directory = directory
        self.state = state

    @property
    def spool_path(self) -> Path:
        return self.directory / SPOOL_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    @classmethod
    def create(cls, directory: Path, *, fingerprint: str, kind: str) -> Spool:
        """Makes a fresh, empty checkpoint directory (no checkpoint file until the first page)."""
        directory.mkdir()
        fsync_directory(directory.parent)
        spool = cls(directory, SpoolState(fingerprint=fingerprint, kind=kind))
        spool.spool_path.touch()
        return spool

    @classmethod
    def load(cls, directory: Path) -> Spool | None:
        """Reopens a checkpoint directory, dropping bytes of a page cut short by a crash.

        Returns:
            The spool, or ``None`` when the directory holds no usable checkpoint (the process
            stopped before its first page was recorded, or the files are damaged).
        """
        checkpoint = directory / CHECKPOINT_FILE
        spool_path = directory / SPOOL_FILE
        try:
            state = SpoolState.from_json(json.loads(checkpoint.read_text(encoding="utf-8")))
            size = spool_path.stat().st_size
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None
        if size < state.spool_bytes:
            return None
        if size > state.spool_bytes:
            with open(spool_path, "r+b") as handle:
                handle.truncate(state.spool_bytes)
                os.fsync(handle.fileno())
        return cls(directory, state)

    def append(
        self,
        page_number: int,
        batches: list[pa.RecordBatch],
        *,
        schema: pa.Schema,
        next_parameters: dict[str, Any] | None,
    ) -> None:
        """Writes one page to the spool, fsyncs it, then records it in the checkpoint."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batches[0].schema, options=_ipc_options()) as stream:
            for batch in batches:
                stream.write_batch(batch)
        payload = sink.getvalue()
        # Opened per page so that a writer dropped without finish() or abort() leaks nothing.
        with open(self.spool_path, "r+b") as handle:
            handle.seek(self.state.spool_bytes)
            handle.write(_LENGTH.pack(payload.size))
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        state = self.state
        state.pages += 1
        state.rows += sum(b.num_rows for b in batches)
        state.spool_bytes += _LENGTH.size + payload.size
        state.last_page_number = page_number
        state.next_parameters = next_parameters
        state.schema = schema
        write_json_atomically(self.checkpoint_path, state.to_json())

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Yields the spooled batches in page order, reading one page into memory at a time."""
        remaining = self.state.spool_bytes
        with open(self.spool_path, "rb") as handle:
            for _ in range(self.state.pages):
                header = handle.read(_LENGTH.size)
                if len(header) != _LENGTH.size:
                    raise self._damaged()
                (size,) = _LENGTH.unpack(header)
                remaining -= _LENGTH.size + size
                if remaining < 0:
                    raise self._damaged()
                payload = handle.read(size)
                if len(payload) != size:
                    raise self._damaged()
                yield from pa.ipc.open_stream(pa.py_buffer(payload))

    def _damaged(self) -> ExportError:
        return ExportError(
            f"The spooled pages in {self.directory} are damaged. Delete that directory and run "
            "the pull again without resume=True."
        )
