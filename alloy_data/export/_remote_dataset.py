"""A Hive-partitioned Parquet dataset published under an object store's prefix.

Object stores have no rename, and a dataset is many objects, so it cannot appear in one step
as a file does. The dataset is rendered on local disk (the local writer's spool, checkpoint and
resume), then published whole by the :class:`~alloy_data.export.DatasetPublisher`: uploaded
under ``_temporary/``, moved into place, the manifest written, then ``_SUCCESS``.
"""

from __future__ import annotations

from pathlib import Path

from alloy_data.export._dataset import DatasetPublisher
from alloy_data.export._remote import RemoteFileWriter


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

    def _publisher(self) -> DatasetPublisher:
        return DatasetPublisher(self.remote, overwrite=self.overwrite)

    def _check_target(self) -> None:
        self._publisher().check_whole()

    def _publish(self, staged: Path, advice: str) -> None:
        self._publisher().publish_whole(staged, rows=self._staged_rows, advice=advice)
