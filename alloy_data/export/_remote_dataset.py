"""A Hive-partitioned Parquet dataset published under an object store's prefix.

Object stores have no rename, and a dataset is many objects, so it cannot appear in one step
as a file does. The dataset is rendered on local disk (the local writer's spool, checkpoint and
resume), then published the way Hadoop's and Spark's committers do:

1. upload every file under ``<prefix>/_temporary/<run>/`` (readers skip names starting with
   ``_``), so that a failed upload leaves the old dataset as it was;
2. remove ``<prefix>/_SUCCESS``, then the old dataset's objects;
3. copy the new files into place on the server, and remove ``_temporary/``;
4. write the manifest (``_alloy_manifest.json``, the files and row count), then ``_SUCCESS``.

A reader that waits for ``_SUCCESS`` never sees a mix of two datasets or half of one.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from alloy_data.errors import ExportError
from alloy_data.export._remote import RemoteFileWriter

SUCCESS = "_SUCCESS"
MANIFEST = "_alloy_manifest.json"
TEMPORARY = "_temporary"


def _local_files(directory: Path) -> list[str]:
    found = [
        Path(current, name).relative_to(directory).as_posix()
        for current, _, names in os.walk(directory)
        for name in names
    ]
    return sorted(found)


class RemoteDatasetWriter(RemoteFileWriter):
    """A writer of a partitioned Parquet dataset to a prefix on an fsspec filesystem.

    It takes the calls of the local writers; ``make_local`` must make a writer of a dataset
    directory (a :class:`~alloy_data.export.ParquetWriter` with ``partition_cols``). The
    dataset is staged under :func:`~alloy_data.export.staging_dir_for` the URL, so
    ``resume=True`` continues an interrupted pull, or publishes a dataset that was complete
    but failed to upload, without pulling again.
    """

    @property
    def writes_directory(self) -> bool:
        """Always true: a dataset of several objects under a prefix."""
        return True

    def _check_target(self) -> None:
        if self.remote.exists() and not self.remote.is_dir():
            raise ExportError(
                f"{self.remote} is an object; a partitioned dataset needs a prefix there. "
                "Choose another URL, or remove the object first."
            )
        if not self.overwrite and self._dataset_files():
            raise ExportError(
                f"{self.remote} already holds objects. Pass overwrite=True to replace them (the "
                "old dataset is removed only once the new one is uploaded)."
            )

    def _dataset_files(self) -> list[str]:
        # What an interrupted upload left under _temporary/ is not a dataset.
        if not self.remote.is_dir():
            return []
        return [name for name in self.remote.files() if not name.startswith(TEMPORARY + "/")]

    def _publish(self, staged: Path, advice: str) -> None:
        fs, remote = self.remote.fs, self.remote
        names = _local_files(staged)
        temporary = remote.child(f"{TEMPORARY}/{uuid.uuid4().hex}")
        with remote.errors("upload to", advice):
            fs.put(
                [os.fspath(staged / name) for name in names],
                [f"{temporary.path}/{name}" for name in names],
            )
        remote.child(SUCCESS).remove()
        old = self._dataset_files()
        with remote.errors("publish", advice):
            if old:
                fs.rm([f"{remote.path}/{name}" for name in old])
            fs.copy(
                [f"{temporary.path}/{name}" for name in names],
                [f"{remote.path}/{name}" for name in names],
            )
        remote.child(TEMPORARY).remove()
        manifest = {
            "files": names,
            "row_count": self._staged_rows,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        remote.child(MANIFEST).write_bytes(json.dumps(manifest, indent=2).encode())
        remote.child(SUCCESS).write_bytes(b"")
