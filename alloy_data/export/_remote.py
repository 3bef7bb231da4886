"""Exports to object stores and other fsspec filesystems (``s3://``, ``gs://``, ``abfs://``, ...).

Object stores have no rename, so nothing is rendered there: the pages are spooled and the file
rendered on local disk exactly as for a local target (the same writers, checkpoint and resume),
under a staging folder keyed by the target URL (:func:`staging_dir_for`), and the finished file
is uploaded in one piece. An S3 PUT or multipart upload becomes visible whole when it completes,
or not at all, so the upload of the complete file is its publication.

``file://`` URLs and plain paths never come here: they stay local and need no fsspec.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from alloy_data.errors import AlloyError, ConfigurationError, ExportError
from alloy_data.export._base import Checkpoint, _SpoolingWriter, checked_path
from alloy_data.export._spool import remove_path

logger = logging.getLogger("alloy_data.export")

#: Overrides where remote exports are staged (default ``~/.cache/alloy-data/exports``).
CACHE_DIR_ENV = "ALLOY_DATA_CACHE_DIR"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_S3_EXTRA = "pip install 'alloy-data[s3]'"
# What to install for each protocol; fsspec names the package itself for the others.
_INSTALL = {
    "s3": _S3_EXTRA,
    "s3a": _S3_EXTRA,
    "gs": "pip install 'alloy-data[gcs]'",
    "gcs": "pip install 'alloy-data[gcs]'",
    "abfs": "pip install 'alloy-data[azure]'",
    "abfss": "pip install 'alloy-data[azure]'",
    "az": "pip install 'alloy-data[azure]'",
}
# Filesystems whose first path component is a bucket (or container) that must already exist.
_BUCKETED = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"}
_UPLOADED = "upload.json"


def is_url(path: Any) -> bool:
    """Whether ``path`` is text of the form ``scheme://...`` (``file://`` included)."""
    return isinstance(path, str) and bool(_URL.match(path))


def _check_options(storage_options: Any) -> dict[str, Any]:
    if storage_options is None:
        return {}
    if not isinstance(storage_options, Mapping) or not all(
        isinstance(key, str) for key in storage_options
    ):
        raise ConfigurationError(
            "storage_options must be a dict of the filesystem's options (as pandas takes them), "
            f"not a {type(storage_options).__name__}."
        )
    return dict(storage_options)


def resolve_target(path: Any, storage_options: Mapping[str, Any] | None = None) -> Path | Remote:
    """Where an export goes: a local ``Path`` (plain paths and ``file://`` URLs), or a
    :class:`Remote` for any other URL.

    Raises:
        ConfigurationError: For a path that names no file, ``storage_options`` given with a
            plain local path, or a URL whose filesystem is unknown or not installed.
    """
    options = _check_options(storage_options)
    if not is_url(path):
        if options:
            # As pandas: options belong to a filesystem, and a plain path has none.
            raise ConfigurationError(
                "storage_options apply only to URLs such as 's3://bucket/orders.parquet'; "
                f"{os.fspath(path)!r} is a local path: leave storage_options out."
            )
        return checked_path(path)
    parts = urlsplit(path)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                f"{path!r} names a file on another host; write file:///path/on/this/machine."
            )
        return checked_path(unquote(parts.path))
    return Remote(path, options)


def display_url(url: str) -> str:
    """``url`` without a password (``user:secret@``), for messages and reprs."""
    parts = urlsplit(url)
    if "@" in parts.netloc and ":" in parts.netloc.rsplit("@", 1)[0]:
        return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
    return url


def staging_root() -> Path:
    """The local folder where exports to URLs are staged and checkpointed.

    ``$ALLOY_DATA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/alloy-data/exports``, else
    ``~/.cache/alloy-data/exports``: a per-user folder that is the same whatever the working
    directory, so a resume from another notebook or shell finds the checkpoint.
    """
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "alloy-data" / "exports"


def staging_dir_for(url: str) -> Path:
    """The staging folder of one target URL: ``<staging_root>/<hash of the URL>-<name>``.

    The key is the URL alone, never the storage options (which may hold keys).
    """
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/").rsplit("/", 1)[-1])[:64]
    return staging_root() / f"{digest}-{name or 'root'}"


class Remote:
    """A file or prefix on an fsspec filesystem; its repr and errors never show the options."""

    def __init__(self, url: str, storage_options: Mapping[str, Any]) -> None:
        self.url = url
        self.protocol = url.split("://", 1)[0].lower()
        install = _INSTALL.get(self.protocol, f"pip install fsspec and its {self.protocol} package")
        try:
            import fsspec.core
        except ImportError as error:
            raise ConfigurationError(
                f"{self.protocol}:// URLs need fsspec and the filesystem's package: {install}."
            ) from error
        try:
            self.fs, self.path = fsspec.core.url_to_fs(url, **storage_options)
        except ImportError as error:
            raise ConfigurationError(
                f"{self.protocol}:// URLs need the filesystem's package: {install}."
            ) from error
        except ValueError as error:
            raise ConfigurationError(
                f"No filesystem knows {self.protocol}:// URLs ({error}): use s3://, gs://, "
                "abfs://, a path, or another fsspec protocol."
            ) from error
        except TypeError as error:
            # Such messages name the option, never its value.
            raise ConfigurationError(
                f"storage_options do not suit the {self.protocol}:// filesystem: {error}."
            ) from error
        self.path = self.path.rstrip("/")
        # A listing cached by an earlier call would hide what another process wrote since.
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache()

    def __repr__(self) -> str:
        return f"Remote({display_url(self.url)!r})"

    def __str__(self) -> str:
        return display_url(self.url)

    @property
    def name(self) -> str:
        """The last component of the path."""
        return self.path.rsplit("/", 1)[-1]

    def child(self, name: str) -> Remote:
        """The object ``name`` under this prefix, on the same filesystem."""
        child = object.__new__(Remote)
        child.url = self.url.rstrip("/") + "/" + name
        child.protocol, child.fs, child.path = self.protocol, self.fs, f"{self.path}/{name}"
        return child

    @contextlib.contextmanager
    def errors(self, doing: str, advice: str = "") -> Iterator[None]:
        """Turns the filesystem's exceptions into :class:`ExportError` saying what to do."""
        try:
            yield
        except AlloyError:
            raise
        except FileNotFoundError as error:
            raise ExportError(
                f"Cannot {doing} {self}: {error}. Check the bucket's name, or create it first. "
                f"{advice}".strip()
            ) from error
        except PermissionError as error:
            raise ExportError(
                f"Cannot {doing} {self}: permission denied ({error}). Check that the "
                "credentials in storage_options (or the environment) may write there. "
                f"{advice}".strip()
            ) from error
        except Exception as error:  # botocore, aiohttp, azure: no common base but Exception
            raise ExportError(
                f"Cannot {doing} {self}: {type(error).__name__}: {error}. Check the endpoint, "
                f"network and credentials. {advice}".strip()
            ) from error

    def check_bucket(self) -> None:
        """Refuses, before anything is fetched, a bucket that does not exist or cannot be seen.

        Raises:
            ExportError: Saying what to do.
        """
        if self.protocol not in _BUCKETED:
            return
        bucket = self.path.split("/", 1)[0]
        # info(), not exists(): s3fs's exists() answers False for an endpoint it cannot reach.
        try:
            with self.errors("reach"):
                self.fs.info(bucket)
        except ExportError as error:
            if not isinstance(error.__cause__, FileNotFoundError):
                raise
            raise ExportError(
                f"Cannot write {self}: the bucket {bucket!r} does not exist, or these "
                "credentials cannot see it. Create it first, check its name, or pass "
                "storage_options with credentials that can reach it."
            ) from None

    def exists(self) -> bool:
        """Whether an object (or a prefix holding objects) is at the path."""
        with self.errors("read"):
            return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        """Whether the path is a prefix holding objects."""
        with self.errors("read"):
            return bool(self.fs.isdir(self.path))

    def files(self) -> list[str]:
        """The objects under this prefix, as paths relative to it, sorted."""
        with self.errors("list"):
            found = self.fs.find(self.path)
        return sorted(path[len(self.path) + 1 :] for path in found)

    def upload(self, local: Path, advice: str = "") -> None:
        """Uploads a complete local file; it appears whole, or not at all."""
        with self.errors("upload to", advice):
            self.fs.put_file(os.fspath(local), self.path)

    def write_bytes(self, data: bytes) -> None:
        """Writes a small object in one request."""
        with self.errors("write"):
            self.fs.pipe_file(self.path, data)

    def remove(self) -> None:
        """Removes the object, or every object under the prefix, if there are any."""
        with self.errors("remove"):
            if self.fs.exists(self.path):
                self.fs.rm(self.path, recursive=True)

    def open(self) -> Any:
        """Opens the object for reading (a binary file object)."""
        with self.errors("read"):
            return self.fs.open(self.path, "rb")

    def download(self, local: Path, advice: str = "") -> None:
        """Copies the object to ``local`` (replacing it), through a temporary file beside it."""
        import shutil

        partial = local.with_name(local.name + ".download")
        with (
            self.errors("download", advice),
            self.open() as source,
            partial.open("wb") as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
        os.replace(partial, local)


class RemoteFileWriter:
    """A writer to a URL: a local writer stages the file, then :meth:`finish` uploads it.

    It takes the calls of the local writers (``open``, ``write_page``, ``finish``, ``abort``).
    The local writer spools, checkpoints and renders under :func:`staging_dir_for` the URL, so
    ``resume=True`` continues an interrupted pull there as it would beside a local file; a file
    that was complete but failed to upload is uploaded again without pulling anything.
    """

    def __init__(
        self,
        remote: Remote,
        make_local: Any,
        *,
        overwrite: bool = False,
        resume: bool = False,
        fingerprint: str = "",
        before_open: Any = None,
    ) -> None:
        self.remote = remote
        self._before_open = before_open
        self.overwrite = overwrite
        self.resume = resume
        self.fingerprint = fingerprint
        self.staging = staging_dir_for(remote.url)
        self.local: _SpoolingWriter = make_local(self.staging / (remote.name or "data"))
        self._staged: Path | None = None
        self._staged_rows = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.remote)!r})"

    @property
    def checkpoint_dir(self) -> Path:
        """The local directory that holds the spool and the checkpoint."""
        return self.local.checkpoint_dir

    @property
    def saved_rows(self) -> int:
        """Rows of the pages on local disk in the checkpoint."""
        return self.local.saved_rows

    @property
    def writes_directory(self) -> bool:
        """Always false: one file is uploaded."""
        return False

    def open(self) -> Checkpoint | None:
        """Checks the target, then opens the local writer (or finds a staged, complete file).

        Returns:
            As the local writers' ``open``; a checkpoint with ``complete=True`` when a complete
            file from the same pull is staged and only its upload is left.

        Raises:
            ExportError: If the bucket cannot be reached, the object exists and ``overwrite``
                is false, or the local staging folder cannot be written.
        """
        self.remote.check_bucket()
        self._check_target()
        staged = self._staged_file()
        if staged is not None:
            self._staged, rows, pages = staged
            self._staged_rows = rows
            logger.info("Uploading %s, staged complete by an earlier export.", self.remote)
            return Checkpoint({}, pages + 1, rows, pages, None, complete=True)
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ExportError(
                f"Cannot create {self.staging}, where exports to URLs are staged: {error}. "
                f"Set {CACHE_DIR_ENV} to a folder you can write to, with free space."
            ) from error
        try:
            if self._before_open is not None:
                self._before_open(self.local.path)
            return self.local.open()
        except BaseException:
            self._discard_unused_staging()
            raise

    def _discard_unused_staging(self) -> None:
        # Without a checkpoint there is nothing to resume: a downloaded copy is fetched anew.
        if not self.local.checkpoint_dir.exists():
            remove_path(self.staging)

    def _check_target(self) -> None:
        if self.remote.is_dir():
            raise ExportError(
                f"{self.remote} is a prefix holding objects. Name the object to write inside "
                f"it, such as {self.remote}/data.{self.local.kind}."
            )
        if not self.overwrite and self.remote.exists():
            raise ExportError(
                f"{self.remote} already exists. Pass overwrite=True to replace it (the "
                "object is replaced only by a complete upload)."
            )

    def _staged_file(self) -> tuple[Path, int, int] | None:
        marker = self.staging / _UPLOADED
        if not marker.exists():
            return None
        try:
            state = json.loads(marker.read_text(encoding="utf-8"))
            usable = (
                self.resume
                and state["fingerprint"] == self.fingerprint
                and state["kind"] == self.local.kind
                and self.local.path.exists()
            )
        except (OSError, ValueError, KeyError, TypeError):
            usable = False
        if usable:
            return self.local.path, int(state["rows"]), int(state["pages"])
        logger.warning(
            "Removing %s, a complete file an earlier export did not upload (pass resume=True "
            "to upload it instead).",
            self.local.path,
        )
        marker.unlink(missing_ok=True)
        remove_path(self.local.path)
        return None

    def write_page(
        self,
        page_number: int,
        batch: pa.RecordBatch | pa.Table,
        *,
        schema: pa.Schema,
        next_parameters: Mapping[str, Any] | None,
    ) -> None:
        """Spools one page locally (see the local writers' ``write_page``)."""
        self.local.write_page(page_number, batch, schema=schema, next_parameters=next_parameters)

    def finish(self, *, schema: pa.Schema, metadata: Mapping[str, str] | None = None) -> str:
        """Renders the file locally, then uploads it; the upload is its publication.

        Returns:
            The URL written.

        Raises:
            ExportError: If rendering or the upload fails; the complete file stays staged, and
                ``resume=True`` uploads it without pulling again.
        """
        if self._staged is None:
            pages = self.local.last_page_number
            local = self.local.finish(schema=schema, metadata=metadata)
            state = {
                "fingerprint": self.fingerprint,
                "kind": self.local.kind,
                "rows": self.local.saved_rows,
                "pages": pages or 0,
                "url": display_url(self.remote.url),
            }
            (self.staging / _UPLOADED).write_text(json.dumps(state), encoding="utf-8")
            self._staged, self._staged_rows = local, self.local.saved_rows
        self._publish(
            self._staged,
            advice=f"The complete output is kept in {self.staging}; run the same export with "
            "resume=True to upload it without pulling again.",
        )
        remove_path(self.staging)
        return self.remote.url

    def _publish(self, staged: Path, advice: str) -> None:
        self.remote.upload(staged, advice=advice)

    def abort(self) -> None:
        """Stops without touching the target, keeping what was spooled for ``resume=True``."""
        if self._staged is None:
            self.local.abort()
            self._discard_unused_staging()


def read_remote_metadata(remote: Remote) -> pa.Schema:
    """The schema (with its footer metadata) of a Parquet object, or of the first Parquet
    object under a prefix (names starting with ``_`` or ``.`` are skipped, as readers do).

    Raises:
        ExportError: If nothing is there, or it cannot be read.
    """
    import pyarrow.parquet as pq

    target = remote
    if remote.is_dir():
        names = [
            name
            for name in remote.files()
            if name.endswith((".parquet", ".pq"))
            and not any(part.startswith(("_", ".")) for part in name.split("/"))
        ]
        if not names:
            raise ExportError(f"{remote} holds no Parquet files.")
        target = remote.child(names[0])
    elif not remote.exists():
        raise ExportError(f"{remote} does not exist.")
    with target.open() as handle:
        try:
            return pq.read_schema(handle)
        except (OSError, pa.ArrowException) as error:
            raise ExportError(
                f"Cannot read {target} as Parquet ({error}); provenance is stored only in "
                "Parquet files."
            ) from error
