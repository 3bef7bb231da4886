"""Where the store's files are: a folder on this machine, or an object store's prefix (fsspec).

Both answer the same few questions (where a copy goes, which copies there are, their size,
reading and removing them); the store above does not ask which it has. An object store has no
locks of its own: a copy's lock is a local file, so that the processes of one machine share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alloy_data.errors import ConfigurationError, ExportError

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.export import Remote

__all__ = ["LocalFolder", "RemoteFolder", "folder_for"]

SUFFIX = ".parquet"
LOCK_SUFFIX = ".lock"
# What the export leaves beside a local file it has not finished (see alloy_data.export).
CHECKPOINT_SUFFIX = ".alloy-checkpoint"


class LocalFolder:
    """The store in a folder of this machine; its folders are the owner's alone (``0700``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if root.exists() and not root.is_dir():
            raise ConfigurationError(f"The store {root} is a file: pass a folder.")

    def __str__(self) -> str:
        return str(self.root)

    def file(self, parts: tuple[str, ...], name: str) -> Path:
        """Where a copy goes (its folders made); ``parts`` are folder names below the root."""
        folder = self.root.joinpath(*parts)
        try:
            # The store holds customers' data: its folders are the owner's alone.
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise ExportError(
                f"Cannot make the store's folder {folder}: {error}. Pass another folder as "
                "ad.connect(store=...) or ALLOY_DATA_STORE."
            ) from error
        return folder / name

    def existing(self, parts: tuple[str, ...], name: str) -> Path | None:
        path = self.root.joinpath(*parts, name)
        return path if path.is_file() else None

    def files(self, parts: tuple[str, ...] = ()) -> list[Path]:
        """Every copy's file under ``parts``, sorted."""
        folder = self.root.joinpath(*parts)
        if not folder.is_dir():
            return []
        depth = "/".join(["*"] * (3 - len(parts)) + [f"*{SUFFIX}"])
        return sorted(folder.glob(depth))

    def lock_file(self, path: Any) -> str:
        return str(path) + LOCK_SUFFIX

    def describe(self, path: Any) -> tuple[dict[str, str], int, int] | None:
        """A copy's provenance, size and change time (ns); None when it is not readable."""
        from alloy_data.export import read_metadata

        try:
            status = Path(path).stat()
            return read_metadata(path), status.st_size, status.st_mtime_ns
        except (OSError, ExportError):
            return None

    def read(self, path: Any) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(path)

    def remove(self, path: Any) -> None:
        """Remove a copy's file and what an unfinished refresh left beside it."""
        checkpoint = Path(str(path) + CHECKPOINT_SUFFIX)
        shutil.rmtree(checkpoint, ignore_errors=True)
        Path(path).unlink(missing_ok=True)

    def tidy(self, parts: tuple[str, ...]) -> None:
        """Remove what unfinished pulls left under ``parts`` (checkpoints, locks) when their
        copy is gone, then the empty folders up to the root."""
        folder = self.root.joinpath(*parts)
        for checkpoint in folder.rglob(f"*{SUFFIX}{CHECKPOINT_SUFFIX}"):
            if not checkpoint.with_name(checkpoint.name[: -len(CHECKPOINT_SUFFIX)]).exists():
                shutil.rmtree(checkpoint, ignore_errors=True)
        for lock in folder.rglob(f"*{SUFFIX}{LOCK_SUFFIX}"):
            if not lock.with_name(lock.name[: -len(LOCK_SUFFIX)]).exists():
                lock.unlink(missing_ok=True)
        inner = sorted(folder.rglob("*"), key=lambda path: len(path.parts), reverse=True)
        for path in [*inner, folder, *folder.parents]:
            if path == self.root or not path.is_relative_to(self.root):
                break
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()


class RemoteFolder:
    """The store under an object store's prefix (``s3://bucket/alloy-store``), through fsspec.

    The filesystem's own configuration gives the credentials (the environment, its config
    files, an instance role). A refresh is staged and checkpointed on local disk, as an export
    to a URL is, and uploaded whole.
    """

    def __init__(self, url: str) -> None:
        from alloy_data.export import resolve_target, staging_root

        self.url = url.rstrip("/")
        target = resolve_target(self.url)
        assert not isinstance(target, Path)
        self.remote: Remote = target
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.locks = staging_root() / "store-locks" / digest

    def __str__(self) -> str:
        return self.url

    def _fresh(self) -> None:
        # Another process (or this one's last refresh) may have replaced an object since the
        # filesystem listed it: its cached listing and sizes are forgotten first.
        self.remote.fs.invalidate_cache()

    def _url(self, *parts: str) -> str:
        return "/".join([self.url, *parts])

    def file(self, parts: tuple[str, ...], name: str) -> str:
        return self._url(*parts, name)

    def existing(self, parts: tuple[str, ...], name: str) -> str | None:
        url = self._url(*parts, name)
        self._fresh()
        with self.remote.errors("read"):
            found = self.remote.fs.exists(self.remote.child("/".join([*parts, name])).path)
        return url if found else None

    def files(self, parts: tuple[str, ...] = ()) -> list[str]:
        pattern = "/".join([self.remote.path, *parts, *["*"] * (3 - len(parts)), f"*{SUFFIX}"])
        self._fresh()
        with self.remote.errors("list"):
            found = self.remote.fs.glob(pattern)
        prefix = self.remote.path.rstrip("/")
        return sorted(self.url + path[len(prefix) :] for path in found)

    def lock_file(self, path: Any) -> str:
        self.locks.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = hashlib.sha256(str(path).encode()).hexdigest()[:32]
        return os.fspath(self.locks / f"{name}{LOCK_SUFFIX}")

    def _child(self, url: str) -> Remote:
        return self.remote.child(url[len(self.url) + 1 :])

    def describe(self, path: Any) -> tuple[dict[str, str], int, int] | None:
        from alloy_data.export import read_metadata

        child = self._child(str(path))
        try:
            with child.errors("read"):
                info = child.fs.info(child.path)
            metadata = read_metadata(str(path))
        except ExportError:
            return None
        return metadata, int(info.get("size") or 0), 0

    def read(self, path: Any) -> pa.Table:
        import pyarrow.parquet as pq

        child = self._child(str(path))
        self._fresh()
        with child.errors("read"), child.open() as handle:
            return pq.read_table(handle)

    def remove(self, path: Any) -> None:
        from alloy_data.export import staging_dir_for

        self._child(str(path)).remove()
        shutil.rmtree(staging_dir_for(str(path)), ignore_errors=True)

    def tidy(self, parts: tuple[str, ...]) -> None:
        """Object stores have no empty folders to remove."""


def folder_for(root: str | os.PathLike[str]) -> LocalFolder | RemoteFolder:
    """The folder of a store: a path or ``file://`` URL on this machine, else a URL."""
    text = os.fspath(root)
    if "://" not in text:
        return LocalFolder(Path(text).expanduser())
    if text.lower().startswith("file://"):
        return LocalFolder(Path(text[len("file://") :]).expanduser())
    return RemoteFolder(text)
