"""The one publisher of Parquet datasets: a directory, or a prefix in an object store.

A dataset is many files, and it must appear whole or not at all. Every dataset the library
writes follows the same rules, kept here:

- the parts are written on local disk (the target directory, or a staging folder keyed by the
  URL, see :func:`~alloy_data.export.staging_dir_for`), each through the writers' spool,
  checkpoint and atomic rename, so ``resume=True`` skips the parts that are complete;
- a rewrite first unpublishes the dataset (removes ``_SUCCESS``), so that no reader takes what
  follows for a finished dataset;
- the manifest (``_alloy_manifest.json``: the files, their row count, when it was published,
  and what the writer adds, such as each part's high-water mark) is written after every part,
  and ``_SUCCESS`` after the manifest, last.

Two ways to publish to an object store: part by part (:meth:`DatasetPublisher.write_part`
uploads each part as it completes, for datasets of one part per credential whose parts are
resumed on their own), or whole (:meth:`DatasetPublisher.publish_whole`: a tree rendered
locally is uploaded under ``_temporary/``, then copied into place on the server, as Hadoop's
and Spark's committers do, so a failed upload leaves the old dataset as it was).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export._remote import Remote, staging_dir_for
from alloy_data.export._spool import checkpoint_dir_for

SUCCESS = "_SUCCESS"
MANIFEST = "_alloy_manifest.json"
TEMPORARY = "_temporary"

#: Writes one part at the local path it is given; returns what the manifest says of it.
PartWriter = Callable[[Path], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Part:
    """One part of a dataset, written (or found complete) on local disk or in the store.

    Attributes:
        name: The part's file name inside the dataset.
        path: Its local copy (absent for a part found uploaded by an earlier run).
        rows: Its row count.
        entry: What the manifest says of it: ``file``, and what its writer returned (such as
            ``high_water_mark``), and ``skipped`` when an earlier run had written it.
    """

    name: str
    path: Path
    rows: int
    entry: dict[str, Any] = field(default_factory=dict)


def _rows_of(source: Any) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(source).num_rows)


def _local_files(directory: Path) -> list[str]:
    found = [
        Path(current, name).relative_to(directory).as_posix()
        for current, _, names in os.walk(directory)
        for name in names
    ]
    return sorted(found)


class DatasetPublisher:
    """Writes, checkpoints and publishes a Parquet dataset at a local directory or a URL.

    Part by part: :meth:`open` checks the target and unpublishes it, :meth:`write_part` writes
    (or skips, or updates) each part, :meth:`publish` writes the manifest, then ``_SUCCESS``.
    Whole: :meth:`check_whole` before the data is fetched, :meth:`publish_whole` once a tree
    is rendered locally. The part-by-part calls may come from several threads at once, one
    part each.

    Args:
        target: A local directory, or a :class:`~alloy_data.export.Remote` prefix.
        overwrite: Replace a complete dataset.
        resume: Continue a run that stopped: complete parts are not written again.
        mode: ``"replace"`` writes every part anew; ``"merge"`` and ``"append"`` update each
            part where it is (for a prefix, a copy of its object is downloaded to update).
    """

    def __init__(
        self,
        target: Path | Remote,
        *,
        overwrite: bool = False,
        resume: bool = False,
        mode: Literal["replace", "merge", "append"] = "replace",
    ) -> None:
        self.target = target
        self.remote = None if isinstance(target, Path) else target
        #: Where the parts are written: the target itself, or the URL's staging folder.
        self.directory = target if isinstance(target, Path) else staging_dir_for(target.url)
        self.overwrite = overwrite
        self.resume = resume
        self.mode = mode
        self._file: tuple[Path, Remote | None] | None = None
        self._created = False
        self._unpublished = False

    @classmethod
    def for_file(
        cls, target: Path | Remote, *, overwrite: bool = False, resume: bool = False
    ) -> DatasetPublisher:
        """A publisher whose parts are staged beside one file (for a URL, in its staging
        folder), then streamed into that file by :meth:`publish_file`; :meth:`open` is done.

        Args:
            target: The file (``.parquet``, ``.csv`` or ``.jsonl``), local or at a URL.
            overwrite: Replace an existing file.
            resume: Keep the parts an earlier run staged, and skip the complete ones.

        Raises:
            ConfigurationError: For an unknown suffix.
            ExportError: For an existing file without ``overwrite`` or ``resume``, or if the
                bucket cannot be reached.
        """
        from alloy_data.export._writers import open_writer

        if isinstance(target, Path):
            path, remote = target, None
        else:
            path, remote = staging_dir_for(target.url) / (target.name or "data"), target
        # The suffix picks the format: refused now rather than after the pull.
        open_writer(path)
        if remote is None:
            _check_parent(path)
        if remote is not None:
            remote.check_bucket()
        exists = path.exists() if remote is None else remote.exists()
        if exists and not overwrite and not resume:
            raise ExportError(f"{target} already exists: pass overwrite=True to replace it.")
        publisher = cls(path.with_name(path.name + ".alloy-staging"), overwrite=True, resume=resume)
        publisher._file = (path, remote)
        publisher.open()
        return publisher

    def __repr__(self) -> str:
        return f"DatasetPublisher({str(self.target)!r})"

    @property
    def location(self) -> Path | str:
        """The dataset's directory, or its URL."""
        return self.directory if self.remote is None else self.remote.url

    # -- part by part ------------------------------------------------------------------------

    def open(self) -> None:
        """Checks the target, unpublishes it (removes ``_SUCCESS``) and prepares the local
        directory; a replacing run without ``resume`` starts from nothing.

        Raises:
            ExportError: If a file or object is where the dataset must be, the bucket cannot
                be reached, or a complete dataset is there and neither ``overwrite`` nor
                ``resume`` is given (updates need neither).
        """
        remote, directory = self.remote, self.directory
        if remote is None:
            if self._file is None:
                _check_parent(directory)
            if directory.exists() and not directory.is_dir():
                raise ExportError(
                    f"{directory} is a file; a dataset needs a directory there. Choose another "
                    "path, or remove the file first."
                )
            complete = (directory / SUCCESS).exists()
        else:
            remote.check_bucket()
            self._check_prefix()
            complete = remote.child(SUCCESS).exists()
        replacing = self.mode == "replace"
        if complete and replacing and not self.overwrite and not self.resume:
            raise ExportError(
                f"{self.target} already holds a complete dataset: pass overwrite=True to replace "
                "it."
            )
        if remote is not None:
            # Unpublished first, so that no reader takes what follows for a finished dataset.
            remote.child(SUCCESS).remove()
            if replacing and self.overwrite and not self.resume:
                remote.remove()
            if not self.resume and directory.exists():
                shutil.rmtree(directory)
        elif replacing and self.overwrite and not self.resume and directory.exists():
            shutil.rmtree(directory)
        (directory / SUCCESS).unlink(missing_ok=True)
        self._unpublished = complete and not replacing
        self._created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)

    def abandon(self) -> None:
        """After a run that wrote no part: removes the local directory :meth:`open` created
        (when nothing is in it), and publishes again an updated dataset that it unpublished,
        whose parts are as they were; so nothing is left that a later run would resume.
        """
        directory = self.directory
        if self._created and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
        if not self._unpublished:
            return
        if self.remote is not None:
            self.remote.child(SUCCESS).write_bytes(b"")
        else:
            (directory / SUCCESS).write_text("", encoding="utf-8")

    def write_part(self, name: str, write: PartWriter) -> Part:
        """Writes one part with ``write(local_path)``, or skips it, then uploads it to a URL.

        With ``resume`` in ``"replace"`` mode, a part whose local file is complete (no
        checkpoint beside it) or whose object an earlier run uploaded is not written again.
        In ``"merge"``/``"append"`` mode every part is updated from its own file: for a URL,
        the part's object is downloaded to the local copy first (unless a resumed run's copy
        is there), so ``write`` updates it as it would a local file.

        Args:
            name: The part's file name (``part-<id>.parquet``).
            write: Writes the part at the local path given; returns the part's manifest fields.

        Returns:
            The :class:`Part`.

        Raises:
            ExportError: If a download or upload fails, saying what to do.
        """
        file = self.directory / name
        entry: dict[str, Any] = {"file": name}
        remote = None if self.remote is None else self.remote.child(name)
        resumable = self.mode == "replace" and self.resume and not checkpoint_dir_for(file).exists()
        if resumable and file.exists():
            entry["skipped"] = True
        elif resumable and remote is not None and remote.exists():
            # Uploaded by the run that stopped, whose staged copy is gone.
            with remote.open() as handle:
                return Part(name, file, _rows_of(handle), {**entry, "skipped": True})
        else:
            fetch = self.mode != "replace" and not (self.resume and file.exists())
            if remote is not None and fetch and remote.exists():
                # An object store cannot update an object in place: the part is updated on
                # local disk from a copy of the object, and uploaded whole.
                remote.download(file, advice="Check the URL and storage_options.")
            entry.update(write(file) or {})
        rows = _rows_of(file)
        if remote is not None:
            remote.upload(
                file,
                advice=f"The part is kept in {self.directory}: run the same call with "
                "resume=True to upload it without pulling again.",
            )
        return Part(name, file, rows, entry)

    def publish(self, parts: Sequence[Part], extra: Mapping[str, Any] | None = None) -> Path | str:
        """Writes the manifest, then ``_SUCCESS``; for a URL, clears the staging folder.

        Args:
            parts: Every part of the dataset, as :meth:`write_part` returned them.
            extra: More for the manifest (connector, action, what each part came from).

        Returns:
            The dataset's directory, or its URL.
        """
        text = _manifest([part.name for part in parts], sum(p.rows for p in parts), extra)
        if self.remote is not None:
            self.remote.child(MANIFEST).write_bytes(text.encode())
            self.remote.child(SUCCESS).write_bytes(b"")
            shutil.rmtree(self.directory, ignore_errors=True)
            return self.remote.url
        (self.directory / MANIFEST).write_text(text, encoding="utf-8")
        (self.directory / SUCCESS).write_text("", encoding="utf-8")
        return self.directory

    def publish_file(self, parts: Sequence[Part], metadata: Mapping[str, str]) -> Path | str:
        """Streams the parts into the file of :meth:`for_file`, then (for a URL) uploads it;
        the staged parts are removed once the file is published.

        Args:
            parts: The parts, in the order their rows go into the file.
            metadata: Provenance for a Parquet file's footer.

        Returns:
            The path written, or the URL.

        Raises:
            ExportError: If the upload fails; the staged parts stay for ``resume=True``.
        """
        if self._file is None:
            raise ConfigurationError("publish_file publishes a publisher made by for_file.")
        path, remote = self._file
        result = concatenate_parts([part.path for part in parts], path, metadata=metadata)
        if remote is None:
            shutil.rmtree(self.directory, ignore_errors=True)
            return result
        # The staged parts stay until the upload is done: resume=True skips them.
        remote.upload(
            result,
            advice=f"The parts are kept in {self.directory}: run the same call with "
            "resume=True to upload without pulling them again.",
        )
        shutil.rmtree(path.parent, ignore_errors=True)
        return remote.url

    @staticmethod
    def part_name(key: str) -> str:
        """The file name of the part of ``key`` (such as a credential id), safe in any path."""
        return f"part-{quote(key, safe='')}.parquet"

    # -- whole -------------------------------------------------------------------------------

    def check_whole(self) -> None:
        """Before a dataset is rendered for :meth:`publish_whole`: refuses an object where the
        prefix must be, or objects already there without ``overwrite``.

        Raises:
            ExportError: Saying what to do.
        """
        self._check_prefix()
        if not self.overwrite and self._published_files():
            raise ExportError(
                f"{self.target} already holds objects. Pass overwrite=True to replace them (the "
                "old dataset is removed only once the new one is uploaded)."
            )

    def publish_whole(self, staged: Path, *, rows: int, advice: str = "") -> None:
        """Publishes a dataset rendered in ``staged`` to the prefix, replacing what is there.

        Every file goes up under ``_temporary/<run>/`` (readers skip names starting with
        ``_``), so a failed upload leaves the old dataset as it was; then ``_SUCCESS`` and the
        old objects are removed, the new files copied into place on the server,
        ``_temporary/`` removed, the manifest written, and ``_SUCCESS`` last.

        Args:
            staged: The local directory holding the dataset's files.
            rows: Its row count, for the manifest.
            advice: What to do if an upload fails, for the error.

        Raises:
            ExportError: If the upload or the copy fails.
        """
        remote = self.remote
        if remote is None:
            raise ConfigurationError("publish_whole publishes to a URL's prefix, not a path.")
        fs, names = remote.fs, _local_files(staged)
        temporary = remote.child(f"{TEMPORARY}/{uuid.uuid4().hex}")
        with remote.errors("upload to", advice):
            fs.put(
                [os.fspath(staged / name) for name in names],
                [f"{temporary.path}/{name}" for name in names],
            )
        remote.child(SUCCESS).remove()
        old = self._published_files()
        with remote.errors("publish", advice):
            if old:
                fs.rm([f"{remote.path}/{name}" for name in old])
            fs.copy(
                [f"{temporary.path}/{name}" for name in names],
                [f"{remote.path}/{name}" for name in names],
            )
        remote.child(TEMPORARY).remove()
        remote.child(MANIFEST).write_bytes(_manifest(names, rows).encode())
        remote.child(SUCCESS).write_bytes(b"")

    def _check_prefix(self) -> None:
        remote = self.remote
        if remote is not None and remote.exists() and not remote.is_dir():
            raise ExportError(
                f"{remote} is an object; a dataset needs a prefix there. Choose another URL, "
                "or remove the object first."
            )

    def _published_files(self) -> list[str]:
        # What an interrupted upload left under _temporary/ is not a dataset.
        if self.remote is None or not self.remote.is_dir():
            return []
        return [name for name in self.remote.files() if not name.startswith(TEMPORARY + "/")]


def _check_parent(path: Path) -> None:
    """Refuses a target whose folder does not exist, before anything is fetched."""
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise ExportError(
            f"Cannot write {path}: {parent} {what}. Create the folder first, or choose a path "
            "in an existing one."
        )


def _manifest(files: Sequence[str], rows: int, extra: Mapping[str, Any] | None = None) -> str:
    """The manifest's text: the writer's fields, the files, the row count, when published."""
    manifest = {
        **(extra or {}),
        "files": list(files),
        "row_count": rows,
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return json.dumps(manifest, indent=2)


def concatenate_parts(
    files: Sequence[Path], path: Path, *, metadata: Mapping[str, str] | None = None
) -> Path:
    """Streams Parquet parts, in order, into one file (its format by its suffix), a batch at a
    time, under the parts' unified schema (a column missing from a part is null there).

    Args:
        files: The parts.
        path: The file to write (replaced when it exists, only once complete).
        metadata: Provenance for a Parquet file's footer.

    Returns:
        The path written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from alloy_data.export._writers import open_writer
    from alloy_data.frames import TableBuilder

    empty = [pa.RecordBatch.from_pylist([], schema=pq.read_schema(file)) for file in files]
    schema = TableBuilder().to_table(empty).schema
    writer = open_writer(path, overwrite=True, metadata=metadata)
    writer.open()
    number = 0
    try:
        for file in files:
            for batch in pq.ParquetFile(file).iter_batches():
                number += 1
                writer.write_page(number, batch, schema=schema, next_parameters=None)
    except BaseException:
        writer.abort()
        raise
    written: Path = writer.finish(schema=schema, metadata=metadata)
    return written
