"""A job of many credentials pulled on the cluster: the tables kept on the workers, their
columns unified here, and the one DataFrame over them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alloy_data.config import ClientConfig
from alloy_data.dask._cluster import Cluster, check_progress
from alloy_data.dask._columns import (
    CredentialShape,
    check_fit,
    meta,
    schema_option,
    target_schema,
    unified_schema,
)
from alloy_data.dask._spec import ClientSpec
from alloy_data.dask._task import Job, partition, pull_credential, shape_of
from alloy_data.errors import ConfigurationError
from alloy_data.many import MultiPull

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pyarrow as pa

__all__ = ["PulledJob", "pull_on_cluster", "read_frame"]

logger = logging.getLogger("alloy_data.dask")


@dataclass(frozen=True)
class PulledJob:
    """The credentials' tables, persisted where they were pulled, and their columns.

    Attributes:
        run: The name of this call's tasks.
        columns: The unified columns (``schema=`` applied), the tag columns last.
        persisted: Each credential's pulled table, in the credentials' order (none when the
            job has no credential).
        shapes: What came back of each table: its schema and rows.
    """

    run: str
    columns: pa.Schema
    persisted: list[Any] = field(default_factory=list)
    shapes: list[CredentialShape] = field(default_factory=list)


def pull_on_cluster(
    many: MultiPull,
    config: ClientConfig,
    *,
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None,
    dtype_backend: str,
) -> PulledJob:
    """Pull every credential of ``many`` on the cluster, keeping each table on its worker.

    Returns:
        The persisted tables and their unified columns.

    Raises:
        ConfigurationError: A bad ``dtype_backend``, ``schema`` or progress, or records that
            do not fit ``schema=``.
        AlloyError: A credential's error, with ``on_error="raise"``.
    """
    if dtype_backend not in ("numpy_nullable", "pyarrow"):
        raise ConfigurationError(
            f'dtype_backend must be "numpy_nullable" or "pyarrow", not {dtype_backend!r}.'
        )
    explicit = schema_option(schema)
    check_progress(many.options.progress)
    tags = many.many_options.tag_columns
    # A name of its own per call: the same pull asked again is fetched again, not reused.
    run = f"alloy-pull-{many.connector_id}-{many.action_id}-{uuid.uuid4().hex[:12]}"
    targets = many.targets()
    if not targets:
        return PulledJob(run, unified_schema([], tags))
    import dask

    total = many.max_total_requests_per_second
    cluster = Cluster(len(targets), workers=many.workers, cap_total=total is not None)
    job = Job(
        client=ClientSpec.from_config(config),
        connector_id=many.connector_id,
        action_id=many.action_id,
        options=many.options,
        user_column=many.user_column,
        credential_column=many.credential_column,
        on_error=many.on_error,
        requests_per_second=None if total is None else total / cluster.at_once,
    )
    tasks = [
        dask.delayed(pull_credential, pure=False)(
            target, job, cluster.lease, dask_key_name=f"{run}-{index}"
        )
        for index, target in enumerate(targets)
    ]
    persisted: list[Any] = []
    try:
        persisted = cluster.persist(tasks, many.options.progress)
        shapes = cluster.gather(shape_of, persisted)
    except BaseException:
        cluster.cancel(persisted)
        raise
    finally:
        cluster.close()
    for shape in shapes:
        if shape.failure is not None:
            logger.warning(
                "read_pull %s %s: credential %s failed and its partition is empty: %s",
                many.connector_id,
                many.action_id,
                shape.credential_id,
                shape.failure,
            )
    columns = target_schema(unified_schema(shapes, tags), explicit, tags)
    if explicit is not None:
        where = f"{many.connector_id} {many.action_id}"
        for shape in shapes:
            check_fit(shape, columns, where=where, tags=tags)
    return PulledJob(run, columns, persisted, shapes)


def read_frame(dd_module: ModuleType, pulled: PulledJob, dtype_backend: str) -> dd.DataFrame:
    """The DataFrame over the pulled tables, one partition per credential.

    Returns:
        A ``dask.dataframe.DataFrame`` (one empty partition when there is no credential).
    """
    if not pulled.persisted:
        return dd_module.from_pandas(meta(pulled.columns, dtype_backend), npartitions=1)
    import dask

    parts = [
        dask.delayed(partition, pure=True)(
            table, pulled.columns, dtype_backend, dask_key_name=f"{pulled.run}-frame-{index}"
        )
        for index, table in enumerate(pulled.persisted)
    ]
    # Dask would turn every object column into text (its "convert-string" option), lists
    # included; the partitions' types are already those of pull_many.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd_module.from_delayed(
            parts, meta=meta(pulled.columns, dtype_backend), prefix=pulled.run, verify_meta=False
        )
