"""A pull of many credentials as one Arrow stream: credential after credential.

The credentials are pulled one at a time, so that memory stays that of one pull's stream. The
schema is declared by the first credential that has records (its first page, see
:mod:`alloy_data.pull._stream`), with the user and credential columns last; every other
credential's batches are fitted to it, and what they carry that it cannot hold goes to their
rows' ``_late_fields`` (counted in each credential's ``stats.per_credential[...].late_fields``).
A credential that fails is left out and listed in ``stats.failures`` (with
``on_error="continue"``), as ``to_arrow()`` does; its batches handed out before the failure
stay handed out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from alloy_data.errors import AlloyError, ClientClosedError, ConfigurationError
from alloy_data.many._stats import CredentialFailure, MultiPullStats
from alloy_data.progress import ProgressUpdate, combined_update, make_reporter
from alloy_data.pull import Opening, PullBatches, pull_batches, tagged_batch, tagged_schema

if TYPE_CHECKING:
    import pyarrow as pa

    from alloy_data.frames import LateFields
    from alloy_data.many._job import MultiPull
    from alloy_data.many._targets import CredentialTarget
    from alloy_data.pull import Pull

__all__ = ["open_many"]


class _ManyBatches:
    """One run of the job as a stream, opened up to its declared schema.

    Args:
        job: The job.
        schema: A schema declared already (with the tag columns), to fit every credential to.
    """

    def __init__(self, job: MultiPull, schema: pa.Schema | None = None) -> None:
        from alloy_data._tuning import CHUNK_RECORDS

        self._job = job
        self._started = time.monotonic()
        self._tags = [job.user_column, job.credential_column]
        targets = job.targets()
        job.last_targets = targets
        job.stats = MultiPullStats(credentials=len(targets))
        if not targets:
            job.stats.notes.append(f"no credential of {job.connector_id!r} was found")
        self._pulls = [(t, job.pull_for(t, chunk_records=CHUNK_RECORDS)) for t in targets]
        # One bar for the job, as its to_arrow() shows, fed by each credential's pull.
        self._figures: dict[str, ProgressUpdate] = {}
        self._reporter = make_reporter(
            job.options.progress,
            description=f"{job.connector_id} {job.action_id} x{len(targets)}",
        )
        job._stream_report = self._report
        self._opened: list[tuple[CredentialTarget, Pull, PullBatches]] = []
        self._given = None if schema is None else self._untagged(schema)
        self._records = 0
        own: pa.Schema | None = self._given
        try:
            # Open credentials until one has records to declare the schema (or none is left).
            while self._pulls and (own is None or (self._given is None and not self._has_rows())):
                target, pull = self._pulls.pop(0)
                opened = self._open(target, pull, None)
                if opened is not None:
                    self._opened.append((target, pull, opened))
                    if opened.has_rows or own is None:
                        own = opened.schema
        except BaseException:
            for _, _, opened in self._opened:
                opened.close()
            self._finish()
            raise
        if own is None:
            own = self._no_credential_schema()
        self.schema = tagged_schema(own, dict.fromkeys(self._tags, ""))
        self._declared = own

    def _has_rows(self) -> bool:
        return any(opened.has_rows for _, _, opened in self._opened)

    @staticmethod
    def _no_credential_schema() -> pa.Schema:
        import pyarrow as pa

        from alloy_data.frames import stream_schema

        return stream_schema(pa.schema([]))

    def _untagged(self, schema: pa.Schema) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([field for field in schema if field.name not in self._tags])

    def _open(
        self, target: CredentialTarget, pull: Pull, schema: pa.Schema | None
    ) -> PullBatches | None:
        try:
            return pull_batches(pull, schema=schema)
        except AlloyError as error:
            self._failed(target, pull, error)
            return None

    def _failed(self, target: CredentialTarget, pull: Pull, error: AlloyError) -> None:
        job, stats = self._job, self._job.stats
        stats.failed += 1
        stats.failures.append(
            CredentialFailure(target.user_id, target.credential_id, error, pull.stats.records)
        )
        stats.per_credential[target.credential_id] = pull.stats
        if job.on_error == "raise" or isinstance(error, (ClientClosedError, ConfigurationError)):
            raise error

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        from alloy_data.frames import LateFields

        fitter = LateFields(self._declared)
        try:
            for target, pull, opened in self._opened:
                # Credentials opened before the declaration had no records, or declared it.
                yield from self._credential(target, pull, opened, fitter)
            self._opened = []
            while self._pulls:
                target, pull = self._pulls.pop(0)
                later = self._open(target, pull, self._declared)
                if later is not None:
                    yield from self._credential(target, pull, later, fitter)
        finally:
            for _, _, opened in self._opened:
                opened.close()
            self._finish()

    def _credential(
        self,
        target: CredentialTarget,
        pull: Pull,
        opened: PullBatches,
        fitter: LateFields,
    ) -> Iterator[pa.RecordBatch]:
        tags = {self._tags[0]: target.user_id or "", self._tags[1]: target.credential_id}
        try:
            for batch in opened:
                fitted = batch if batch.schema.equals(fitter.schema) else fitter.fit(batch)
                self._records += fitted.num_rows
                yield tagged_batch(fitted, tags)
        except AlloyError as error:
            self._failed(target, pull, error)
        else:
            self._job.stats.done += 1
            self._job.stats.per_credential[target.credential_id] = pull.stats
        finally:
            opened.close()

    def _report(
        self,
        credential_id: str | None = None,
        update: ProgressUpdate | None = None,
        *,
        done: bool = False,
    ) -> None:
        if credential_id is not None and update is not None:
            self._figures[credential_id] = update
        updates, stats = list(self._figures.values()), self._job.stats
        self._reporter.update(
            combined_update(
                updates,
                elapsed=time.monotonic() - self._started,
                done=done,
                credentials_done=stats.done,
                credentials_failed=stats.failed,
                credentials_total=stats.credentials,
            )
        )

    def _finish(self) -> None:
        job = self._job
        if job._stream_report == self._report:
            job._stream_report = None
        self._report(done=True)
        self._reporter.close()
        job._total(self._started)
        job.stats.records = self._records
        late = sorted({name for s in job.stats.per_credential.values() for name in s.late_fields})
        if late:
            job.stats.notes.append(
                "stream: values of " + ", ".join(late) + " came after the stream's schema was "
                "declared and are kept as JSON in _late_fields"
            )


def open_many(job: MultiPull) -> Opening:
    """Open ``job`` as one stream, credential after credential (see the module)."""

    def batches(opened: _ManyBatches) -> Iterator[pa.RecordBatch]:
        yield from opened

    def reopen(schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        return batches(_ManyBatches(job, schema))

    opened = _ManyBatches(job)
    return Opening(batches(opened), opened.schema, reopen)
