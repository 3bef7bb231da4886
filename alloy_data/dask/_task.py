"""What runs on a worker: one credential's pull into Arrow, its shape, its partition."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.dask._columns import CredentialShape
from alloy_data.dask._spec import ClientSpec
from alloy_data.engine import RequestRate
from alloy_data.errors import AlloyError
from alloy_data.many import CredentialTarget
from alloy_data.options import PullOptions
from alloy_data.pull import Pull, PullContext

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "EVENT_TOPIC",
    "Job",
    "Pulled",
    "aligned",
    "partition",
    "pull_credential",
    "shape_of",
]

logger = logging.getLogger("alloy_data.dask")

#: The topic of the events a failed credential logs on a distributed worker.
EVENT_TOPIC = "alloy-data"


@dataclass(frozen=True)
class Job:
    """What every credential's task shares.

    Attributes:
        client: What the task builds its client from (the key masked).
        connector_id: The connector.
        action_id: The list action.
        options: The pull options, as the entry point built them.
        user_column: The column of each row's user.
        credential_column: The column of each row's credential.
        on_error: ``"continue"`` or ``"raise"``.
        requests_per_second: Each running task's share of ``max_total_requests_per_second``.
    """

    client: ClientSpec
    connector_id: str
    action_id: str
    options: PullOptions
    user_column: str
    credential_column: str
    on_error: Literal["continue", "raise"]
    requests_per_second: float | None = None


@dataclass(frozen=True)
class Pulled:
    """One credential's pull as it stays on its worker: the table, or why there is none."""

    target: CredentialTarget
    table: pa.Table | None = field(default=None, repr=False)
    failure: str | None = None


def pull_credential(target: CredentialTarget, job: Job, lease: Any = None) -> Pulled:
    """Pull one credential in full, holding ``lease`` (a ``distributed.Semaphore``) meanwhile.

    Returns:
        The credential's table, tagged as pull_many tags it; or, with ``on_error="continue"``,
        the failure, after logging it (and, on a distributed worker, an event).

    Raises:
        AlloyError: The pull's error, with ``on_error="raise"``.
    """
    holding = lease if lease is not None else contextlib.nullcontext()
    with holding, job.client.connect() as client:
        shared = job.requests_per_second
        context = PullContext(
            tags={
                job.user_column: target.user_id or "",
                job.credential_column: target.credential_id,
            },
            shared_rate=RequestRate(shared) if shared is not None else None,
            progress=False,  # a bar on a worker shows nowhere: the cluster's progress shows
        )
        pull = Pull(
            client,
            job.connector_id,
            job.action_id,
            credential_id=target.credential_id,
            user_id=target.user_id,
            options=job.options,
            context=context,
        )
        try:
            return Pulled(target, pull.to_arrow())
        except AlloyError as error:
            if job.on_error == "raise":
                raise
            _report_failure(job, target, error, pull.stats.records)
            return Pulled(target, failure=f"{type(error).__name__}: {error}")


def shape_of(pulled: Pulled) -> CredentialShape:
    """The little the client needs to unify the columns.

    Returns:
        The shape of the credential's table.
    """
    table = pulled.table
    credential = pulled.target.credential_id
    if table is None:
        return CredentialShape(credential, None, failure=pulled.failure)
    return CredentialShape(credential, table.schema, table.num_rows, len(table.to_batches()))


def aligned(pulled: Pulled, schema: pa.Schema) -> pa.Table:
    """The credential's rows with exactly the columns of ``schema``, as pull_many aligns them.

    Returns:
        The aligned table (empty for a credential that failed).
    """
    import pyarrow as pa

    from alloy_data.frames import align_batch

    table = pulled.table
    if table is None or not table.num_rows:
        return schema.empty_table()
    batches = [align_batch(batch, schema) for batch in table.to_batches()]
    return pa.Table.from_batches(batches, schema=schema)


def partition(pulled: Pulled, schema: pa.Schema, dtype_backend: str) -> pd.DataFrame:
    """The credential's rows with exactly the DataFrame's columns, as pull_many aligns them.

    Returns:
        The partition.
    """
    from alloy_data.frames import to_dataframe

    # Not release=True: the pulled table stays on the worker for the next computation.
    return to_dataframe(aligned(pulled, schema), dtype_backend)


def _report_failure(job: Job, target: CredentialTarget, error: AlloyError, records: int) -> None:
    logger.warning(
        "read_pull %s %s: credential %s of user %s failed and is left out (%d records fetched "
        "were dropped): %s: %s",
        job.connector_id,
        job.action_id,
        target.credential_id,
        target.user_id,
        records,
        type(error).__name__,
        error,
    )
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return  # not on a distributed worker: the log line is all there is
    worker.log_event(
        EVENT_TOPIC,
        {
            "event": "credential failed",
            "connector_id": job.connector_id,
            "action_id": job.action_id,
            "user_id": target.user_id,
            "credential_id": target.credential_id,
            "error_type": type(error).__name__,
            "error": str(error),
            "records_fetched": records,
        },
    )
