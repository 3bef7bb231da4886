"""Streaming, atomic, resumable writers for Parquet, CSV and JSON Lines.

A writer takes a pull's pages one at a time and keeps memory bounded whatever the record count:

1. :meth:`~ParquetWriter.open` prepares ``<target>.alloy-checkpoint/`` beside the target (or,
   with ``resume=True``, reopens the one an interrupted pull left and says where to continue).
2. :meth:`~ParquetWriter.write_page` appends each page to a spool file in that directory,
   fsyncs it, then records it in the checkpoint, so a process killed at any moment resumes
   after the last page that reached the disk.
3. :meth:`~ParquetWriter.finish` streams the spooled pages back one at a time, aligns each to
   the final unified schema (columns that appeared or widened part-way become nulls or are
   cast), renders the output inside the checkpoint directory, fsyncs it and renames it onto the
   target. The target holds its old content or the complete new file, never a partial one.

Parquet files carry the pull's provenance in their footer (see :func:`read_metadata`).

A URL other than ``file://`` (``s3://``, ``gs://``, ``abfs://``, any fsspec protocol) is staged
locally the same way under :func:`staging_dir_for` the URL, then uploaded whole
(:class:`RemoteFileWriter`); fsspec is imported only then.

Datasets (many files: one per credential, or Hive partitions) have one publisher,
:class:`DatasetPublisher`, for a local directory and an object store's prefix alike. It stages
the parts (each written by a callback, through the writers above), skips complete ones on
``resume=True``, updates each part from a copy of its object in ``mode="merge"``/``"append"``,
unpublishes before a rewrite, and writes the manifest (:data:`MANIFEST`), then :data:`SUCCESS`
last. A partitioned export to a URL (:class:`RemoteDatasetWriter`) is published whole through
it: uploaded under a temporary prefix, then moved into place.
"""

from alloy_data.export._dataset import (
    MANIFEST,
    SUCCESS,
    DatasetPublisher,
    Part,
    PartWriter,
    concatenate_parts,
)
from alloy_data.export._merge import (
    INCREMENTAL_KEY,
    WRITE_MODES,
    MergingParquetWriter,
    read_incremental_state,
)
from alloy_data.export._remote import (
    CACHE_DIR_ENV,
    Remote,
    RemoteFileWriter,
    display_url,
    is_url,
    resolve_target,
    staging_dir_for,
    staging_root,
)
from alloy_data.export._remote_dataset import RemoteDatasetWriter
from alloy_data.export._spool import checkpoint_dir_for, checkpoint_fingerprint
from alloy_data.export._writers import (
    METADATA_KEY,
    Checkpoint,
    CsvWriter,
    JsonlWriter,
    ParquetWriter,
    open_writer,
    read_metadata,
)

__all__ = [
    "CACHE_DIR_ENV",
    "INCREMENTAL_KEY",
    "MANIFEST",
    "METADATA_KEY",
    "SUCCESS",
    "WRITE_MODES",
    "Checkpoint",
    "CsvWriter",
    "DatasetPublisher",
    "JsonlWriter",
    "MergingParquetWriter",
    "ParquetWriter",
    "Part",
    "PartWriter",
    "Remote",
    "RemoteDatasetWriter",
    "RemoteFileWriter",
    "checkpoint_dir_for",
    "checkpoint_fingerprint",
    "concatenate_parts",
    "display_url",
    "is_url",
    "open_writer",
    "read_incremental_state",
    "read_metadata",
    "resolve_target",
    "staging_dir_for",
    "staging_root",
]
