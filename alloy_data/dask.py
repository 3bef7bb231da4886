"""Scale-out on Dask: one list action for many credentials, one partition per credential.

``read_pull(client, connector, action, credentials=...)`` is ``client.pull_many(...)`` on a Dask
cluster: it returns a lazy ``dask.dataframe.DataFrame`` whose every partition is one
credential's pull, run on a worker, with the same ``_user_id`` and ``_credential_id`` columns.
``ddf.to_parquet(...)`` then writes from the workers. :func:`from_pull_many` turns a
:class:`~alloy_data.many.MultiPull` you built for a local run into the same DataFrame.

Dask is an optional extra (``pip install 'alloy-data[dask]'``); importing this module does not
import it, calling it does.

How the client reaches the workers: never the client itself (it holds a connection pool and
its key), but a :class:`ClientSpec` (base URL, API version, user, timeout, retries, and the key
in a :class:`MaskedSecret`), from which each task builds its own
:class:`~alloy_data.AlloyClient`. The key shows only masked (``sk_t…(40 chars)``) in any repr
of the task graph, and no task key or name holds it: Dask's token for it is a hash keyed with
a random key of the session.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from alloy_data.client import AlloyClient
from alloy_data.config import ClientConfig, mask_secret
from alloy_data.errors import AlloyError, ConfigurationError
from alloy_data.many import CREDENTIAL_COLUMN, USER_COLUMN, CredentialTarget, MultiPull
from alloy_data.options import PullOptions, TimestampsOption
from alloy_data.pull import Pull

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

    from alloy_data.http import RetryPolicy
    from alloy_data.pagination import PaginatorOption

__all__ = ["ClientSpec", "MaskedSecret", "from_pull_many", "read_pull"]

logger = logging.getLogger("alloy_data.dask")

#: What to run to get Dask, named in the error when it is missing.
INSTALL_HINT = "pip install 'alloy-data[dask]'"
#: The topic of the events a failed credential logs on a distributed worker.
EVENT_TOPIC = "alloy-data"
#: Credentials whose first page is fetched, in order, until one has records, to type the
#: DataFrame's columns.
SAMPLE_CREDENTIALS = 5

# A random key per process: graph tokens are stable within a session, yet say nothing that
# could confirm a guessed API key.
_TOKEN_KEY = os.urandom(32)
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=([^\]]+))?\]")


def _dask_dataframe() -> ModuleType:
    try:
        import dask.dataframe
    except ImportError as error:
        raise ConfigurationError(
            f"alloy_data.dask needs Dask's DataFrame, which cannot be imported here ({error}). "
            f"Install the extra: {INSTALL_HINT}"
        ) from None
    return dask.dataframe


class MaskedSecret:
    """A secret that masks itself wherever it is shown: repr, str, Dask's graph and its keys.

    It pickles with its value (a worker needs the key to call the API), so send task graphs
    over TLS (``distributed.Client(security=...)``) where the network is shared.

    Args:
        value: The secret, such as an API key.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigurationError("A MaskedSecret needs a non-empty string.")
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, to hand to the client that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"MaskedSecret({mask_secret(self._value)!r})"

    def __str__(self) -> str:
        return mask_secret(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskedSecret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MaskedSecret, (self._value,))

    def __dask_tokenize__(self) -> str:
        # Dask names tasks by a hash of their arguments; a keyed hash with a per-process key
        # keeps that hash from confirming a guess of the secret.
        return hmac.new(_TOKEN_KEY, self._value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ClientSpec:
    """What a Dask task needs to build its own client: small, picklable, the key masked.

    A client's ``session=`` and ``logger=`` are not part of it: the task's client makes its
    own ``requests`` session and logs where the worker's logging goes.

    Attributes:
        api_key: The API key, masked in every repr.
        base_url: The API's base URL.
        api_version: Sent as ``x-api-version``.
        user_id: The default user of calls, if any.
        timeout: ``(connect, read)`` seconds.
        max_retries: The client's retries for one-off calls (pulls start from it).
        trust_env: Whether the worker's environment (proxies, netrc) is read.
        allow_insecure_http: Whether plain http to a host that is not loopback is accepted.
    """

    api_key: MaskedSecret
    base_url: str
    api_version: str
    user_id: str | None
    timeout: tuple[float, float]
    max_retries: int
    trust_env: bool = True
    allow_insecure_http: bool = False

    @classmethod
    def from_config(cls, config: ClientConfig) -> ClientSpec:
        """Take a client's resolved configuration (``client.config``).

        Returns:
            The spec.
        """
        return cls(
            api_key=MaskedSecret(config.api_key),
            base_url=config.base_url,
            api_version=config.api_version,
            user_id=config.user_id,
            timeout=config.timeout,
            max_retries=config.max_retries,
            trust_env=config.trust_env,
            allow_insecure_http=config.allow_insecure_http,
        )

    def connect(self) -> AlloyClient:
        """Build a client with these settings (inside a task, on a worker).

        Returns:
            A new :class:`~alloy_data.AlloyClient`; close it when done.
        """
        return AlloyClient(
            self.api_key.reveal(),
            base_url=self.base_url,
            api_version=self.api_version,
            user_id=self.user_id,
            timeout=self.timeout,
            max_retries=self.max_retries,
            trust_env=self.trust_env,
            allow_insecure_http=self.allow_insecure_http,
        )


@dataclass(frozen=True)
class _Job:
    """What every partition's task shares: the spec, the action, the options, the columns."""

    client: ClientSpec
    connector_id: str
    action_id: str
    options: PullOptions
    user_column: str
    credential_column: str
    on_error: Literal["continue", "raise"]
    schema: pa.Schema = field(repr=False)
    schema_source: str
    dtype_backend: str


def read_pull(
    client_or_config: AlloyClient | ClientConfig,
    connector_id: str,
    action_id: str,
    *,
    credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
    on_error: Literal["continue", "raise"] = "continue",
    user_column: str = USER_COLUMN,
    credential_column: str = CREDENTIAL_COLUMN,
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None = None,
    dtype_backend: Literal["numpy_nullable", "pyarrow"] = "numpy_nullable",
    parameters: Mapping[str, Any] | None = None,
    paginator: PaginatorOption = "auto",
    page_size: int | None = None,
    max_pages: int | None = None,
    max_records: int | None = None,
    concurrency: int | Literal["auto"] = "auto",
    max_requests_per_second: float | None = None,
    retries: int | RetryPolicy | None = None,
    timestamps: TimestampsOption = "auto",
) -> dd.DataFrame:
    """Pull one list action for many credentials on Dask, one partition per credential.

    The rows are those of ``client.pull_many(...).to_dataframe()`` with the same arguments:
    each credential pulled in full by a task on a worker, with its user and credential in
    ``user_column`` and ``credential_column``. Here, before anything is computed, the
    credentials are listed (``"all"`` asks the API) and the columns are typed from the first
    page of the first credential that has records (or the action's declared columns when none
    has). A credential whose records do not fit those types (a column missing from the sample,
    or a type wider than the sample's) stops the computation with a ``ConfigurationError``
    naming the columns and the ``schema=`` that fits them.

    Args:
        client_or_config: An :class:`~alloy_data.AlloyClient` or its ``ClientConfig``; the
            workers build their own clients from its settings.
        connector_id: The connector, such as ``"shopify"``.
        action_id: A list-style action of that connector, such as ``"list-orders"``.
        credentials: Credential ids (owned by the client's user), ``(user_id,
            credential_id)`` pairs, or ``"all"``: every credential of the connector of every
            user of the account, listed now.
        on_error: ``"continue"`` (the default) gives a credential whose pull fails an empty
            partition, logs a warning on its worker and, on a distributed cluster, an event
            (``dask_client.get_events("alloy-data")``); ``"raise"`` fails the computation
            with the credential's error.
        user_column: The column that holds each row's user id.
        credential_column: The column that holds each row's credential id.
        schema: Column types instead of the sampled ones: a ``pyarrow.Schema`` of the
            records' columns (nothing is sampled), or a dict of column names to Arrow types
            or type names (``{"external_id": "string"}``) that override or add to the sample.
        dtype_backend: ``"numpy_nullable"`` or ``"pyarrow"``, as for ``to_dataframe``.
        parameters: As for :meth:`~alloy_data.AlloyClient.pull`, the same for every credential.
        paginator: As for :meth:`~alloy_data.AlloyClient.pull`.
        page_size: As for :meth:`~alloy_data.AlloyClient.pull`.
        max_pages: As for :meth:`~alloy_data.AlloyClient.pull`, for each credential.
        max_records: As for :meth:`~alloy_data.AlloyClient.pull`, for each credential.
        concurrency: As for :meth:`~alloy_data.AlloyClient.pull`, inside each task.
        max_requests_per_second: As for :meth:`~alloy_data.AlloyClient.pull`, for each
            credential.
        retries: As for :meth:`~alloy_data.AlloyClient.pull`.
        timestamps: As for :meth:`~alloy_data.AlloyClient.pull`.

    Returns:
        A ``dask.dataframe.DataFrame`` with one partition per credential, in the credentials'
        order (one empty partition when there are none).

    Raises:
        ConfigurationError: Dask is not installed, or an argument is wrong (raised now).
    """
    dd_module = _dask_dataframe()
    if isinstance(client_or_config, ClientConfig):
        client = ClientSpec.from_config(client_or_config).connect()
        owned = True
    elif isinstance(client_or_config, AlloyClient):
        client, owned = client_or_config, False
    else:
        raise ConfigurationError(
            "read_pull takes an AlloyClient or its ClientConfig (client.config), not "
            f"{type(client_or_config).__name__}."
        )
    try:
        many = client.pull_many(
            connector_id,
            action_id,
            credentials=credentials,
            on_error=on_error,
            user_column=user_column,
            credential_column=credential_column,
            parameters=parameters,
            paginator=paginator,
            page_size=page_size,
            max_pages=max_pages,
            max_records=max_records,
            concurrency=concurrency,
            progress=False,
            max_requests_per_second=max_requests_per_second,
            retries=retries,
            timestamps=timestamps,
        )
        return _read(dd_module, many, client.config, schema=schema, dtype_backend=dtype_backend)
    finally:
        if owned:
            client.close()


def from_pull_many(
    many: MultiPull,
    *,
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None = None,
    dtype_backend: Literal["numpy_nullable", "pyarrow"] = "numpy_nullable",
) -> dd.DataFrame:
    """Run a ``client.pull_many(...)`` job on Dask instead of this machine's threads.

    ``from_pull_many(client.pull_many("shopify", "list-orders", credentials="all"))`` is
    :func:`read_pull` with the job's arguments; ``workers`` and ``progress`` are Dask's to
    decide, and ``max_total_requests_per_second``, which workers apart cannot share, is
    refused.

    Args:
        many: The job, from :meth:`~alloy_data.AlloyClient.pull_many`.
        schema: As for :func:`read_pull`.
        dtype_backend: As for :func:`read_pull`.

    Returns:
        A ``dask.dataframe.DataFrame`` with one partition per credential.

    Raises:
        ConfigurationError: Dask is not installed, or the job caps the requests of all its
            credentials together.
    """
    dd_module = _dask_dataframe()
    if not isinstance(many, MultiPull):
        raise ConfigurationError(
            f"from_pull_many takes the MultiPull of client.pull_many(...), not "
            f"{type(many).__name__}."
        )
    if many.max_total_requests_per_second is not None:
        raise ConfigurationError(
            "max_total_requests_per_second cannot be kept on Dask: workers do not share a "
            "rate. Cap each credential with max_requests_per_second instead."
        )
    return _read(dd_module, many, many.client.config, schema=schema, dtype_backend=dtype_backend)


def _read(
    dd_module: ModuleType,
    many: MultiPull,
    config: ClientConfig,
    *,
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None,
    dtype_backend: str,
) -> dd.DataFrame:
    if dtype_backend not in ("numpy_nullable", "pyarrow"):
        raise ConfigurationError(
            f'dtype_backend must be "numpy_nullable" or "pyarrow", not {dtype_backend!r}.'
        )
    explicit = _schema_option(schema)
    targets = many.targets()
    tags = (many.user_column, many.credential_column)
    if isinstance(explicit, _FullSchema):
        records, source = explicit.schema, "the schema you passed"
    else:
        records, source = _sample(many, targets)
        records = _override(records, explicit or {})
    records = _without(records, tags)
    job = _Job(
        client=ClientSpec.from_config(config),
        connector_id=many.connector_id,
        action_id=many.action_id,
        options=many.options.replace(progress=False),
        user_column=many.user_column,
        credential_column=many.credential_column,
        on_error=many.on_error,
        schema=records,
        schema_source=source,
        dtype_backend=dtype_backend,
    )
    meta = _meta(_with_tags(records.empty_table(), job, None).schema, dtype_backend)
    import dask

    # Dask would turn every object column into text (its "convert-string" option), lists
    # included; the partitions' types are already those of pull_many.
    with dask.config.set({"dataframe.convert-string": False}):
        if not targets:
            return dd_module.from_pandas(meta, npartitions=1)
        return dd_module.from_map(
            _read_partition,
            targets,
            meta=meta,
            label=f"alloy-pull-{many.connector_id}-{many.action_id}",
            enforce_metadata=False,
            job=job,
        )


# -- column types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _FullSchema:
    schema: pa.Schema


def _schema_option(
    schema: pa.Schema | Mapping[str, pa.DataType | str] | None,
) -> _FullSchema | dict[str, pa.DataType] | None:
    import pyarrow as pa

    if schema is None:
        return None
    if isinstance(schema, pa.Schema):
        return _FullSchema(schema)
    if not isinstance(schema, Mapping):
        raise ConfigurationError(
            "schema must be a pyarrow.Schema or a dict of column names to Arrow types, not "
            f"{type(schema).__name__}."
        )
    types: dict[str, pa.DataType] = {}
    for name, value in schema.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"schema has the key {name!r}: column names are strings.")
        types[name] = _arrow_type(name, value)
    return types


def _arrow_type(name: str, value: object) -> pa.DataType:
    import pyarrow as pa

    if isinstance(value, pa.DataType):
        return value
    if isinstance(value, str):
        found = _TIMESTAMP.fullmatch(value.strip())
        if found:
            return pa.timestamp(found.group(1), tz=found.group(2))
        with contextlib.suppress(ValueError):
            return pa.type_for_alias(value.strip())
    raise ConfigurationError(
        f"schema[{name!r}] is {value!r}: pass a pyarrow type (pa.string(), "
        "pa.list_(pa.int64())) or a type name such as 'string', 'int64', 'double', 'bool' or "
        "'timestamp[us, tz=UTC]'."
    )


def _type_text(data_type: pa.DataType) -> str:
    """The type as :func:`_arrow_type` reads it back, or its pyarrow spelling."""
    text = str(data_type)
    try:
        same = _arrow_type("-", text) == data_type
    except ConfigurationError:
        same = False
    return repr(text) if same else f"<pyarrow {text}>"


def _sample(many: MultiPull, targets: Sequence[CredentialTarget]) -> tuple[pa.Schema, str]:
    """The columns of the first page of the first credential that has records."""
    options = many.options.replace(max_pages=1, progress=False)
    errors: list[AlloyError] = []
    empty: tuple[pa.Schema, str] | None = None
    for target in targets[:SAMPLE_CREDENTIALS]:
        pull = Pull(
            many.client,
            many.connector_id,
            many.action_id,
            credential_id=target.credential_id,
            user_id=target.user_id,
            options=options,
        )
        try:
            table = pull.to_arrow()
        except AlloyError as error:
            if many.on_error == "raise":
                raise
            errors.append(error)
            continue
        source = f"the first page of credential {target.credential_id}"
        if table.num_rows:
            return table.schema, source
        if empty is None:
            empty = (table.schema, f"{source}, which has no records (the declared columns)")
    if empty is not None:
        return empty
    if errors:
        first = errors[0]
        _add_note(
            first,
            f"read_pull types the DataFrame's columns from a first page, and the first "
            f"{len(errors)} credentials failed: pass schema= (a pyarrow.Schema) to skip the "
            "sample.",
        )
        raise first
    import pyarrow as pa

    return pa.schema([]), "no credential (none was found)"


def _override(records: pa.Schema, types: Mapping[str, pa.DataType]) -> pa.Schema:
    import pyarrow as pa

    fields = [pa.field(f.name, types.get(f.name, f.type)) for f in records]
    fields += [pa.field(name, kind) for name, kind in types.items() if name not in records.names]
    return pa.schema(fields)


def _without(records: pa.Schema, names: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([f for f in records if f.name not in names])


# -- in the task, on a worker ---------------------------------------------------------------


def _read_partition(
    target: CredentialTarget, job: _Job, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One credential's pull, as a DataFrame that fits the job's columns."""
    from alloy_data.frames import to_dataframe

    table: pa.Table | None = None
    with job.client.connect() as client:
        pull = Pull(
            client,
            job.connector_id,
            job.action_id,
            credential_id=target.credential_id,
            user_id=target.user_id,
            options=job.options,
        )
        try:
            table = pull.to_arrow()
        except AlloyError as error:
            if job.on_error == "raise":
                raise
            _report_failure(job, target, error, pull.stats.records)
    fitted = _with_tags(_fit(table, job, target), job, target)
    if columns is not None:
        fitted = fitted.select(list(columns))
    return to_dataframe(fitted, job.dtype_backend, release=True)


def _meta(schema: pa.Schema, dtype_backend: str) -> pd.DataFrame:
    """The empty DataFrame that tells Dask the columns and their types.

    Its dtypes are those of the partitions (``to_dataframe``'s), but for the columns that
    ``numpy_nullable`` leaves as ``object`` (lists, objects inside lists, columns only ever
    null): those are ``pd.ArrowDtype`` here, because Dask types a Parquet file from the meta
    and cannot type an ``object`` column. The partitions keep them as ``object``, as pull_many
    does, and Parquet files written so record them as such, which pandas reads back (it does
    not read back an ``ArrowDtype`` list from a file's pandas metadata).
    """
    import pandas as pd

    from alloy_data.frames import to_dataframe

    frame = to_dataframe(schema.empty_table(), dtype_backend)
    for column in schema:
        if frame[column.name].dtype == object:
            frame[column.name] = pd.Series(
                pd.array([], dtype=pd.ArrowDtype(column.type)), index=frame.index
            )
    return frame


def _fit(table: pa.Table | None, job: _Job, target: CredentialTarget) -> pa.Table:
    """The credential's table with exactly the job's columns and types.

    A column the credential lacks is null; a type narrower than the job's is widened as pages
    of one pull are. A column the job lacks, or a type wider than the job's, cannot fit: that
    raises rather than drop or mangle values.
    """
    import pyarrow as pa

    from alloy_data.frames import align_batch, unify

    schema = job.schema
    tags = (job.user_column, job.credential_column)
    if table is None or table.num_rows == 0:
        return schema.empty_table()
    table = table.drop_columns([name for name in tags if name in table.column_names])
    problems: list[str] = []
    fixes: dict[str, pa.DataType] = {}
    for own in table.schema:
        index = schema.get_field_index(own.name)
        if index < 0:
            problems.append(f"{own.name!r} ({own.type}) is not among them")
            fixes[own.name] = own.type
            continue
        expected = schema.field(index).type
        if unify(expected, own.type) != expected:
            problems.append(f"{own.name!r} is {own.type} here, {expected} there")
            fixes[own.name] = unify(expected, own.type)
    if problems:
        suggestion = ", ".join(f"{name!r}: {_type_text(kind)}" for name, kind in fixes.items())
        raise ConfigurationError(
            f"{job.connector_id} {job.action_id}, credential {target.credential_id}: its records "
            f"do not fit the DataFrame's columns, which were typed from {job.schema_source}: "
            f"{'; '.join(problems)}. Pass schema={{{suggestion}}} to read_pull (or "
            "from_pull_many) to type them so; a full pyarrow.Schema replaces the sample."
        )
    batches = [align_batch(batch, schema) for batch in table.to_batches()]
    return pa.Table.from_batches(batches, schema=schema)


def _with_tags(table: pa.Table, job: _Job, target: CredentialTarget | None) -> pa.Table:
    import pyarrow as pa

    values = ("", "") if target is None else (target.user_id or "", target.credential_id)
    for name, value in zip((job.user_column, job.credential_column), values, strict=True):
        table = table.append_column(
            pa.field(name, pa.string()), pa.repeat(pa.scalar(value, pa.string()), table.num_rows)
        )
    return table


def _report_failure(job: _Job, target: CredentialTarget, error: AlloyError, records: int) -> None:
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


def _add_note(error: BaseException, note: str) -> None:
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)
    else:  # Python 3.10
        error.__notes__ = [*getattr(error, "__notes__", []), note]
