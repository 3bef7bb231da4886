"""The rows of a pull's last complete run, kept on disk for the next sink.

``pull.to_dataframe()`` then ``pull.to_parquet(path)`` should not ask the API for every page
twice, nor risk two different answers if the data changed in between. A finished in-memory run
leaves its table in an Arrow IPC file in the temporary folder, removed when the pull is
forgotten (or the process ends); the copy costs no memory, and a sink that reuses it maps the
file instead of reading it. A finished local export needs no copy: its file is the rows.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.pull._plan import Pull
    from alloy_data.pull._stats import PullStats

__all__ = ["LastRun", "reused_rows"]

logger = logging.getLogger("alloy_data.pull")


@dataclass(frozen=True)
class LastRun:
    """A finished run's rows and figures, and what it fetched.

    Attributes:
        stats: The run's figures.
        since: The run's lower bound (None: every record the pull reaches).
        arrow_file: The rows in an Arrow IPC file, when the run was an in-memory sink.
        file: The Parquet file an export wrote, with its size and change time, when the run
            was an export to local disk.
    """

    stats: PullStats
    since: float | None
    arrow_file: Path | None = None
    file: tuple[Path, int, int] | None = None

    @classmethod
    def of_table(cls, table: pa.Table, stats: PullStats, since: float | None) -> LastRun | None:
        """Keep ``table`` in an Arrow file; None when the temporary folder cannot hold it."""
        import pyarrow as pa
        from pyarrow import ipc

        handle, name = tempfile.mkstemp(prefix="alloy-data-run-", suffix=".arrow")
        os.close(handle)
        try:
            with pa.OSFile(name, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        except (OSError, pa.ArrowException) as error:
            _remove(name)
            logger.info("the last run's rows are not kept for the next sink: %s", error)
            return None
        # Kept as a file, not an open mapping: a job of many credentials keeps a run for each,
        # and open mappings would each hold a file descriptor.
        last = cls(stats=copy.deepcopy(stats), since=since, arrow_file=Path(name))
        weakref.finalize(last, _remove, name)
        return last

    @classmethod
    def of_file(cls, path: Path, stats: PullStats, since: float | None) -> LastRun:
        """Remember the Parquet file an export wrote."""
        status = path.stat()
        return cls(
            stats=copy.deepcopy(stats), since=since, file=(path, status.st_size, status.st_mtime_ns)
        )

    def rows(self) -> pa.Table | None:
        """The run's rows, or None when its file changed or went since."""
        if self.arrow_file is not None:
            import pyarrow as pa
            from pyarrow import ipc

            try:
                # Mapped: the table's buffers are the file's pages, read as they are used.
                return ipc.open_file(pa.memory_map(str(self.arrow_file))).read_all()
            except (OSError, pa.ArrowException):
                return None
        if self.file is None:
            return None
        import pyarrow.parquet as pq

        path, size, changed = self.file
        try:
            status = path.stat()
            if (status.st_size, status.st_mtime_ns) != (size, changed):
                return None
            table: pa.Table = pq.read_table(path, memory_map=True)
        except (OSError, ValueError):
            return None
        # The file's provenance is the export's; the rows are the run's.
        return table.replace_schema_metadata(None)

    def served_stats(self) -> PullStats:
        """The figures to show for a sink served from this run: the run's, marked as reused."""
        stats = copy.deepcopy(self.stats)
        stats.reused = True
        stats.notes.append(
            "these rows are the last run's: no request was made (pull.reset() fetches anew)"
        )
        return stats


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def reused_rows(pull: Pull, since: float | None) -> pa.Table | None:
    """The rows of the pull's last complete run with the same lower bound, if it kept them,
    recorded as served from that run; None when a sink must fetch anew."""
    last = pull.last_run()
    if last is None or last.since != since:
        return None
    rows = last.rows()
    if rows is not None:
        pull.served(last.served_stats())
    return rows
