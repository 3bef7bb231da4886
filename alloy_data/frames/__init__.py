"""Records to typed Arrow batches and tables, and to pandas DataFrames.

Each page of records (JSON-decoded dicts) becomes one :class:`pyarrow.RecordBatch`;
:class:`TableBuilder` unifies the pages' schemas into one table; :func:`to_dataframe` is a view
of that table in pandas.

How values are typed:

- Nested objects flatten to dotted column names at any depth (``customer.email``,
  ``shipping_address.geo.lat``). An empty object ``{}`` adds no column. Lists stay Arrow lists;
  objects inside lists are not flattened (a list of objects is ``list<struct>``).
- A string column whose every value is an ISO-8601 timestamp *with* an offset (``Z``,
  ``+00:00``, ``+02:00``, ``+0200``; ``T`` or a space before the time; up to microseconds)
  becomes ``timestamp[us, tz=UTC]``, converted to UTC. Detection is by value, per column and
  page, never by name. Strings without an offset, including date-only strings such as
  ``2024-05-01``, stay strings: they name no instant, and guessing a time zone would silently
  shift them (``pd.to_datetime`` converts them on request). So do timestamps with more than
  six fractional digits. Strings that look numeric (``"19.99"``) stay strings.
- Timestamps inside lists (``items[].shipped_at``) stay strings.
- Integers and booleans with nulls stay ``int64`` and ``bool``.
- Records that are not objects become one column, ``value``. Keys that are not strings are
  stringified. When two columns of one page get the same name (a key literally ``"a.b"`` next
  to ``a: {b: ...}``), the later one gets a suffix: ``a.b_2`` (``_3``, ... if taken).
- When a column's values disagree, the column widens instead of failing: ``null`` to anything,
  ``int64`` to ``double``, lists and objects inside lists to their common type, and anything
  else to ``string``. In a string column, strings keep their text and every other value is
  JSON text (``5``, ``true``, ``{"b": 1}``, ``[1, 2]``); timestamps become ISO-8601 UTC text.
  A path that holds an object in some records and a scalar or list in others becomes one
  string column of JSON text from the page where that is first seen on; columns flattened
  from objects on earlier pages keep their values.

The analyst's shape (:class:`Shape`, a pull's ``columns=``, ``flatten=`` and
``flatten_depth=``): records are cut to the chosen dotted paths before they are converted, and
the table's columns come in the order chosen (a chosen path that no record has is a null
column). ``flatten="struct"`` keeps each top-level object as one struct column (widened when a
later page adds a field; fields that hold only empty objects are left out), ``"json"`` makes
each top-level object or list JSON text, and a depth keeps deeper objects as JSON text.
:func:`split_tables` turns the lists of objects of a table into child tables keyed to their
parent rows.

Numbers that are times (``timestamps=`` of a pull, :class:`EpochTimes`): a number column that
the action's response schema declares an epoch time (``format: unix-time`` as Stripe's API
says, another epoch format, a number with ``format: date-time``, or a description such as "Unix
timestamp" or "seconds since the epoch") becomes ``timestamp[us, tz=UTC]``; the unit is the
declared one, else milliseconds when the values reach 10^11. With ``timestamps="guess"``, so
does an integer column named ``created``, ``updated``, ``timestamp``, ``*_at``, ``*_time`` or
``*_date`` whose values on the first page where it has any all lie between 2000-01-01 and
2100-01-01, in seconds or in milliseconds (which of the two the values say). A column is
decided once and stays decided on later pages: values there are converted with the same unit
whatever they are, and only values too large for a timestamp become null (counted in the
pull's warnings).

Drift (:attr:`TableBuilder.drift`) lists each change once, with the page it happened on: a
column first seen after a page that had records (old type ``"absent"``; a key that starts
part-way through the first page is not drift), a type that widened, and values that disagreed
inside one page (old type: the type that was not text, such as ``int64`` or ``struct``).
"""

from alloy_data.frames._builder import (
    SchemaDrift,
    TableBuilder,
    align_batch,
    records_to_batch,
    to_dataframe,
    without_null_parents,
)
from alloy_data.frames._epochs import (
    TIMESTAMP_OPTIONS,
    EpochTimes,
    check_timestamps_option,
    declared_epoch_columns,
)
from alloy_data.frames._late import LATE_FIELDS, LateFields, holds, stream_schema
from alloy_data.frames._shape import FLATTEN_MODES, Shape
from alloy_data.frames._tables import POSITION_COLUMN, ROW_COLUMN, split_tables, table_key
from alloy_data.frames._widen import unify

__all__ = [
    "FLATTEN_MODES",
    "LATE_FIELDS",
    "POSITION_COLUMN",
    "ROW_COLUMN",
    "TIMESTAMP_OPTIONS",
    "EpochTimes",
    "LateFields",
    "SchemaDrift",
    "Shape",
    "TableBuilder",
    "align_batch",
    "check_timestamps_option",
    "declared_epoch_columns",
    "holds",
    "records_to_batch",
    "split_tables",
    "stream_schema",
    "table_key",
    "to_dataframe",
    "unify",
    "without_null_parents",
]
