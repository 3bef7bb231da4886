"""The options of a pull, built once, validated once and handed down to every entry point.

``client.pull``, ``client.pull_many``, ``Explorer.pull``, ``alloy_data.dask.read_pull`` and the
command line each turn their keyword arguments (or flags) into one :class:`PullOptions` (and, for
many credentials, one :class:`ManyOptions`) and pass that object on; nothing below them checks an
option again. The options are described once, here: the entry points' docstrings are completed
from :data:`OPTION_DOCS` when the package is imported, so Shift-Tab in a notebook shows them.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from alloy_data._durations import as_duration
from alloy_data.errors import ConfigurationError
from alloy_data.http import RetryPolicy
from alloy_data.incremental import Incremental, check_incremental
from alloy_data.pagination import PaginatorOption, resolve_paginator
from alloy_data.progress import ProgressOption, check_progress_option

__all__ = [
    "CREDENTIAL_COLUMN",
    "FLATTEN_CHOICES",
    "MANY_OPTION_NAMES",
    "OPTION_DOCS",
    "PULL_OPTION_NAMES",
    "STORE_KEY_OPTION_NAMES",
    "TIMESTAMPS_CHOICES",
    "UNDECLARED_PARAMETERS_CHOICES",
    "USER_COLUMN",
    "FlattenOption",
    "ManyOptions",
    "PullOptions",
    "TimestampsOption",
    "UndeclaredParametersOption",
    "documented",
    "many_options_from",
    "pull_options_from",
]

#: ``timestamps=``: epoch numbers the action declares become timestamps ("auto"), so do
#: integer columns whose names and values say so ("guess"), or numbers stay numbers ("off").
TimestampsOption = Literal["auto", "guess", "off"]
TIMESTAMPS_CHOICES = ("auto", "guess", "off")

#: ``undeclared_parameters=``: a parameter name the action does not declare is refused before
#: the first request ("refuse"), or sent as it is ("send").
UndeclaredParametersOption = Literal["refuse", "send"]
UNDECLARED_PARAMETERS_CHOICES = ("refuse", "send")

#: ``flatten=``: nested objects' fields as top-level dotted columns ("dotted"), each object as
#: one struct column ("struct"), or each nested object or list as JSON text ("json").
FlattenOption = Literal["dotted", "struct", "json"]
FLATTEN_CHOICES = ("dotted", "struct", "json")

#: The columns every row of a pull of many credentials gets (their names can be changed).
USER_COLUMN = "_user_id"
CREDENTIAL_COLUMN = "_credential_id"

# What JSON carries, and so what an execute call can send.
_JSON_SCALARS = (str, int, float, bool, type(None))


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    # Integral, not int: a count read from a DataFrame is a NumPy integer.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigurationError(f"{name} must be a positive whole number or None, not {value!r}.")
    return int(value)


def _rate(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise ConfigurationError(
            f"{name} must be a positive number or None (no cap), not {value!r}."
        )
    return value


def _concurrency(value: Any) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if value is None:
        raise ConfigurationError(
            'concurrency must be "auto" (grow from 2 to 8 requests in flight while answers are '
            "clean) or a positive whole number (1: one request after another), not None."
        )
    checked = _positive("concurrency", value)
    assert checked is not None
    return checked


def _retries(value: Any) -> int | RetryPolicy | None:
    if value is None or isinstance(value, RetryPolicy):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigurationError(
            f"retries must be a whole number >= 0, a RetryPolicy or None, not {value!r}."
        )
    return int(value)


def _timestamps(value: Any) -> TimestampsOption:
    if value not in TIMESTAMPS_CHOICES:
        raise ConfigurationError(
            "timestamps must be 'auto' (epoch columns the action declares become timestamps), "
            "'guess' (also integer columns whose names and values look like epoch times) or "
            f"'off' (numbers stay numbers), not {value!r}."
        )
    return value


def _undeclared_parameters(value: Any) -> UndeclaredParametersOption:
    if value not in UNDECLARED_PARAMETERS_CHOICES:
        raise ConfigurationError(
            "undeclared_parameters must be 'refuse' (a parameter name the action does not "
            "declare stops the pull before its first request) or 'send' (send it as it is), "
            f"not {value!r}."
        )
    return value


def _parameters(value: Any) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"parameters must be a dict of the action's parameters, not {type(value).__name__}."
        )
    _check_json(value, "parameters")
    # A copy of the caller's dict: changing theirs later does not change this pull.
    return MappingProxyType(copy.deepcopy(dict(value)))


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what the execute call's JSON body cannot carry, before anything is fetched."""
    if depth > 100:
        raise ConfigurationError(
            "parameters are nested over 100 levels deep, or contain themselves."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"{where} is {value!r}, which JSON cannot carry: pass a number.")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigurationError(
                    f"{where} has the key {key!r}: parameter names must be strings."
                )
            _check_json(item, f"{where}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1)
        return
    hint = " (for a date or time, pass value.isoformat())" if hasattr(value, "isoformat") else ""
    raise ConfigurationError(
        f"{where} is a {type(value).__name__}, which JSON cannot carry: pass text, a number, "
        f"True/False, None, or a list or dict of those{hint}."
    )


def _columns(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    example = 'such as ["id", "customer.email"]'
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigurationError(
            f"columns must be a list of dotted paths {example}, or None for every column, "
            f"not {value!r}."
        )
    if not value:
        raise ConfigurationError(
            "columns is an empty list: name at least one column, or pass None for every column."
        )
    for path in value:
        if not isinstance(path, str) or not all(part.strip() for part in path.split(".")):
            raise ConfigurationError(
                f"columns holds {path!r}: each must be a field's dotted path {example}."
            )
    doubled = sorted({path for path in value if list(value).count(path) > 1})
    if doubled:
        raise ConfigurationError(f"columns names {', '.join(doubled)} twice: name each once.")
    return tuple(value)


def _flatten(value: Any) -> FlattenOption:
    if value not in FLATTEN_CHOICES:
        raise ConfigurationError(
            "flatten must be 'dotted' (nested objects' fields as top-level columns such as "
            "customer.email), 'struct' (each object one struct column) or 'json' (each nested "
            f"object or list one column of JSON text), not {value!r}."
        )
    return value


def _flatten_depth(value: Any, flatten: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigurationError(
            f"flatten_depth must be a whole number >= 0 or None (no limit), not {value!r}."
        )
    if flatten == "json":
        raise ConfigurationError(
            "flatten_depth goes with flatten='dotted' or flatten='struct'; with "
            "flatten='json' every nested value is JSON text already: leave flatten_depth out."
        )
    return int(value)


def _check_shape_keeps_incremental(
    incremental: Incremental | None, columns: Sequence[str] | None, flatten: str
) -> None:
    """An incremental pull reads its cursor and key from the table: they must stay columns."""
    if incremental is None:
        return
    fields = [incremental.cursor_field, *incremental.keys]
    if columns is not None:
        left_out = [
            name
            for name in fields
            if not any(name == path or name.startswith(f"{path}.") for path in columns)
        ]
        if left_out:
            raise ConfigurationError(
                f"columns leaves out {', '.join(left_out)}, which incremental= reads from every "
                "row (its cursor field and primary key): add them to columns."
            )
    nested = [name for name in fields if "." in name]
    if nested and flatten != "dotted":
        raise ConfigurationError(
            f"incremental= reads {', '.join(nested)} as a dotted column, which "
            f"flatten={flatten!r} does not make: keep flatten='dotted' (the default) for an "
            "incremental pull of nested fields."
        )


def _max_age(value: Any) -> dt.timedelta | None:
    return None if value is None else as_duration(value, "max_age")


def _column_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}.")
    return value


@dataclass(frozen=True, eq=False)
class PullOptions:
    """How a pull fetches and converts, the same for every entry point; immutable.

    Every entry point (``client.pull``, ``client.pull_many``, ``Explorer.pull``,
    ``alloy_data.dask.read_pull``, ``alloy-data pull``) builds one from its arguments, which
    checks them all before anything is fetched; the attributes are described in
    :data:`OPTION_DOCS`. Use :meth:`replace` for a changed copy.

    Raises:
        ConfigurationError: An option is of the wrong type or out of range, or the paginator
            is unknown.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    undeclared_parameters: UndeclaredParametersOption = "refuse"
    paginator: PaginatorOption = "auto"
    page_size: int | None = None
    max_pages: int | None = None
    max_records: int | None = None
    concurrency: int | Literal["auto"] = "auto"
    max_requests_per_second: float | None = None
    retries: int | RetryPolicy | None = None
    incremental: Incremental | None = None
    timestamps: TimestampsOption = "auto"
    # The table's shape: columns chosen, and how nested objects flatten.
    columns: Sequence[str] | None = None
    flatten: FlattenOption = "dotted"
    flatten_depth: int | None = None
    max_age: dt.timedelta | float | str | None = None
    progress: ProgressOption = "auto"

    def __post_init__(self) -> None:
        checked = {
            "parameters": _parameters(self.parameters),
            "undeclared_parameters": _undeclared_parameters(self.undeclared_parameters),
            "page_size": _positive("page_size", self.page_size),
            "max_pages": _positive("max_pages", self.max_pages),
            "max_records": _positive("max_records", self.max_records),
            "concurrency": _concurrency(self.concurrency),
            "max_requests_per_second": _rate(
                "max_requests_per_second", self.max_requests_per_second
            ),
            "retries": _retries(self.retries),
            "incremental": check_incremental(self.incremental),
            "timestamps": _timestamps(self.timestamps),
            "columns": _columns(self.columns),
            "flatten": _flatten(self.flatten),
            "flatten_depth": _flatten_depth(self.flatten_depth, self.flatten),
            "max_age": _max_age(self.max_age),
        }
        resolve_paginator(self.paginator)  # refuses an unknown paginator now
        check_progress_option(self.progress)
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        _check_shape_keeps_incremental(self.incremental, self.columns, self.flatten)

    def replace(self, **changes: Any) -> PullOptions:
        """Return a copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of ``client.pull`` (parameters as a plain dict)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["parameters"] = dict(self.parameters)
        if self.columns is not None:
            values["columns"] = list(self.columns)
        return values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PullOptions):
            return NotImplemented
        return self.as_kwargs() == other.as_kwargs()

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # The parameters' read-only view does not pickle; Dask ships options to its workers.
        return (_rebuild_pull_options, (self.as_kwargs(),))

    def __dask_tokenize__(self) -> str:
        text = json.dumps(self.as_kwargs(), sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()


def _rebuild_pull_options(values: dict[str, Any]) -> PullOptions:
    return PullOptions(**values)


@dataclass(frozen=True)
class ManyOptions:
    """How a pull of many credentials runs them, beside the :class:`PullOptions` each gets.

    Raises:
        ConfigurationError: An option is of the wrong type or out of range.
    """

    workers: int | None = None
    on_error: Literal["continue", "raise"] = "continue"
    user_column: str = USER_COLUMN
    credential_column: str = CREDENTIAL_COLUMN
    max_total_requests_per_second: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _positive("workers", self.workers))
        if self.on_error not in ("continue", "raise"):
            raise ConfigurationError(
                f'on_error must be "continue" (leave a failed credential out and go on) or '
                f'"raise" (stop at the first failure), not {self.on_error!r}.'
            )
        _column_name("user_column", self.user_column)
        _column_name("credential_column", self.credential_column)
        if self.user_column == self.credential_column:
            raise ConfigurationError("user_column and credential_column must differ.")
        object.__setattr__(
            self,
            "max_total_requests_per_second",
            _rate("max_total_requests_per_second", self.max_total_requests_per_second),
        )

    @property
    def tag_columns(self) -> tuple[str, str]:
        """The user and credential columns every row gets."""
        return self.user_column, self.credential_column

    def replace(self, **changes: Any) -> ManyOptions:
        """Return a copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)


PULL_OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(PullOptions))
MANY_OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ManyOptions))

#: The options that change the rows or columns of a pull's result: with the connector, action,
#: credential, user and parameters they make the address of its copy in the local store. An
#: option that changes a table's shape is added here, and copies made without it stay apart.
STORE_KEY_OPTION_NAMES: tuple[str, ...] = (
    "parameters",
    "max_pages",
    "max_records",
    "incremental",
    "timestamps",
    "columns",
    "flatten",
    "flatten_depth",
)


def pull_options_from(arguments: Mapping[str, Any]) -> PullOptions:
    """Build the :class:`PullOptions` of an entry point from its keyword arguments.

    Args:
        arguments: The entry point's arguments by name (its ``locals()``), holding every name
            of :data:`PULL_OPTION_NAMES`; other names are ignored.

    Returns:
        The checked options.

    Raises:
        ConfigurationError: An option is wrong.
    """
    return PullOptions(**{name: arguments[name] for name in PULL_OPTION_NAMES})


def many_options_from(arguments: Mapping[str, Any]) -> ManyOptions:
    """Build the :class:`ManyOptions` of an entry point from its keyword arguments (as
    :func:`pull_options_from` does).

    Returns:
        The checked options.
    """
    return ManyOptions(**{name: arguments[name] for name in MANY_OPTION_NAMES})


#: What each option does, in the words every entry point's docstring shows.
OPTION_DOCS: dict[str, str] = {
    "parameters": "The action's own parameters (filters, fields); paging parameters are set "
    "by the paginator.",
    "undeclared_parameters": '``"refuse"`` (the default): a name in ``parameters`` that the '
    "action's details do not declare (a typo such as ``updated_sinc``) stops the pull before "
    "its first page, naming the closest declared names; paging parameters are never refused, "
    "and an action whose details declare no parameters is not checked (``stats.notes`` says "
    'so). ``"send"``: send such names as they are, on purpose (``stats.notes`` lists them).',
    "paginator": '``"auto"`` (found from the action\'s parameters and the first answer), a '
    'convention\'s name (``"cursor"``, ``"offset"``, ``"page_number"``, ``"relay"``, '
    '``"last_id"``, ``"next_link"``, ``"alloy_offset"``, ``"single"``), a '
    ":class:`~alloy_data.pagination.Paginator` (never changed by the pull), or a function "
    "``fn(sent_parameters, result, records) -> dict | None``.",
    "page_size": "Records a page; default: the largest the action allows.",
    "max_pages": "Stop after this many pages (reported in ``stats``); for many credentials, "
    "each credential's.",
    "max_records": "Stop after this many records (the last page is cut to fit); for many "
    "credentials, each credential's.",
    "concurrency": 'Requests in flight at once for offset and page-number paging. ``"auto"`` '
    "starts at 2 and grows up to 8 while answers come back clean, shrinking on 429s and "
    "failures (never above ``max_requests_per_second``); a number is the most in flight, "
    "lowered on 429s. Cursor paging cannot overlap requests (each needs the last answer); "
    "``stats.notes`` says so.",
    "max_requests_per_second": "A cap on requests a second, retries included; for many "
    "credentials, each credential's.",
    "retries": "How often each page is retried: a number of retries, or a "
    ":class:`~alloy_data.http.RetryPolicy`. By default a pull is more patient than a one-off "
    "call: twice the client's retries (at least 8), twice the waits, and 408, 429, every 5xx "
    "but 501 and 505, dropped connections, timeouts and 200 answers cut short or not JSON are "
    "all retried. ``0`` turns retries off.",
    "incremental": "An :class:`~alloy_data.Incremental` (cursor field, primary key) to fetch "
    "only what changed since a high-water mark: kept in the file by ``to_parquet(path, "
    'mode="merge")`` or ``"append"``, or given as ``to_dataframe(since=...)``. The mark goes '
    "into the action's filter parameter when it has one; else a pull of records that come "
    "newest first stops once past it; else every page is fetched and only changed records "
    "kept (``stats`` and a warning say which). For many credentials, each keeps its own mark.",
    "timestamps": 'Which number columns become UTC timestamps. ``"auto"`` (the default): the '
    "columns the action's response schema declares epoch times (``format: unix-time``, or "
    '"Unix timestamp" in the description). ``"guess"``: also integer columns named like '
    "times (``created``, ``*_at``, ``*_time``, ...) whose values all lie between 2000 and 2100 "
    'in seconds or milliseconds. ``"off"``: numbers stay numbers. ISO-8601 text with an '
    "offset becomes a timestamp in every case.",
    "columns": 'The columns to keep, as dotted paths into nested objects (``["id", '
    '"customer.email", "total_price"]``; ``"customer"`` keeps the whole object), in the order '
    "the table shows them; default: every column. Records are cut to these paths before they "
    "are converted, so a pull of 5 columns out of 60 converts and holds only those 5. A path "
    "that no record has becomes a column of nulls, and ``stats.notes`` names the closest paths "
    "that exist. A path does not go into lists: ``line_items`` keeps the whole list. With "
    "``incremental=``, the columns must hold its cursor field and primary key.",
    "flatten": 'How nested objects become columns. ``"dotted"`` (the default): their fields '
    "become top-level columns named by their path (``customer.address.city``). "
    '``"struct"``: each top-level object is one struct column (``customer``), and a field '
    'that appears later widens the struct. ``"json"``: each top-level object or list is one '
    "column of JSON text. Lists of objects stay lists: ``pull.to_tables()`` makes them child "
    "tables.",
    "flatten_depth": 'With ``flatten="dotted"`` or ``"struct"``: objects nested deeper than '
    "this many levels are kept as JSON text (``1``: ``customer.email`` is a column, "
    "``customer.address`` JSON text; ``0``: every object is JSON text; lists add no level). "
    "Default: no limit.",
    "max_age": "Serve the rows from the local store (``client.store``) when its copy of this "
    'pull is younger than this: a duration such as ``"1h"``, ``"30m"`` or ``"2d"``, a '
    "``timedelta`` or seconds. An older copy is refreshed first (only what changed with "
    "``incremental=``, else in full), written to the store page by page, so that a pull "
    "stopped part-way continues at its next page when run again. ``0``: refresh every time, "
    "through the store. Default None: the store is not used. ``stats.fetched_at`` and "
    "``stats.refresh`` say when the rows were fetched and how.",
    "progress": '``"auto"`` or True (a tqdm bar for the notebook or terminal), '
    '``"terminal"``, False or None (silent), or a function called with each '
    ":class:`~alloy_data.progress.ProgressUpdate`. For many credentials, one bar for the job.",
    "workers": "Credentials pulled at once (default 8, or fewer when there are fewer).",
    "on_error": '``"continue"`` (the default) leaves a failed credential out of the result and '
    'lists it in ``stats.failures``; ``"raise"`` stops at the first failure and raises its '
    "error.",
    "user_column": "The column that holds each row's user id.",
    "credential_column": "The column that holds each row's credential id.",
    "max_total_requests_per_second": "A cap on requests a second across every credential, "
    "retries included (``max_requests_per_second`` caps each one).",
}

_Function = TypeVar("_Function", bound=Callable[..., Any])


def documented(*names: str) -> Callable[[_Function], _Function]:
    """Complete a function's docstring with the shared text of the options ``names``.

    The docstring's ``Args:`` section gets one entry per option, as :data:`OPTION_DOCS` says
    it; an option the function's own docstring already describes keeps that text.

    Returns:
        A decorator that returns the function itself, its ``__doc__`` completed.
    """
    unknown = [name for name in names if name not in OPTION_DOCS]
    if unknown:
        raise ValueError(f"no shared text for {unknown}")

    def decorate(function: _Function) -> _Function:
        doc = function.__doc__ or ""
        lines = doc.splitlines()
        args_at = next((i for i, line in enumerate(lines) if line.strip() == "Args:"), None)
        indent = "    "
        if args_at is not None:
            indent = lines[args_at][: len(lines[args_at]) - len(lines[args_at].lstrip())]
        entry_indent = indent + "    "
        described = {
            line.strip().split(":", 1)[0]
            for line in lines
            if line.startswith(entry_indent) and not line.startswith(entry_indent + " ")
        }
        entries = [
            _wrap(f"{name}: {OPTION_DOCS[name]}", entry_indent)
            for name in names
            if name not in described
        ]
        if args_at is None:
            lines += ["", f"{indent}Args:"]
            args_at = len(lines) - 1
        end = args_at + 1
        while end < len(lines) and (lines[end].startswith(entry_indent) or not lines[end].strip()):
            if not lines[end].strip() and (
                end + 1 >= len(lines) or not lines[end + 1].startswith(entry_indent)
            ):
                break
            end += 1
        lines[end:end] = [line for entry in entries for line in entry]
        function.__doc__ = "\n".join(lines)
        return function

    return decorate


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [indent + lines[0], *(indent + "    " + rest for rest in lines[1:])]
