"""Pages read straight from their bytes give what converting their records gives, or nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from alloy_data.engine._conversion import ChunkedConversion
from alloy_data.frames import TableBuilder
from alloy_data.pagination import Page

FIRST = [
    {
        "id": 1,
        "name": "Zoë",
        "at": "2024-05-01T10:00:00Z",
        "customer": {"email": "a@example.com", "score": 1.5},
        "tags": ["a"],
        "items": [{"sku": "X", "qty": 1}],
        "gone": None,
    }
]


def body(records: list[Any], **envelope: Any) -> bytes:
    return json.dumps({"success": True, "data": {"results": records, **envelope}}).encode()


def seeded(*pages: list[Any]) -> TableBuilder:
    builder = TableBuilder()
    for number, records in enumerate(pages, start=1):
        builder.add_page(records, number)
    return builder


def read(builder: TableBuilder, pages: list[list[Any]], **options: Any) -> bool:
    bodies = options.pop("bodies", None) or [body(records) for records in pages]
    counts = options.pop("counts", None) or [len(records) for records in pages]
    batch = builder.add_bodies(
        bodies,
        counts,
        payload_key=options.pop("payload_key", "data"),
        records_path=options.pop("records_path", "results"),
    )
    assert batch is None or batch.num_rows == sum(counts)
    return batch is not None


def test_pages_read_from_bytes_equal_pages_converted_from_records() -> None:
    later = [
        [
            {
                "id": 2,
                "name": "大阪",
                "at": "2024-05-01T12:00:00.250+02:00",
                "customer": {"email": "b@example.com", "score": 2},
                "tags": [],
                "items": [{"sku": "Y", "qty": 2}, {"sku": "Z"}],
            },
            {"id": 3, "customer": None, "tags": None},
        ],
        [{"id": 4, "name": '\u00e9\n"quoted"', "at": None}],
    ]
    from_bytes = seeded(FIRST)
    assert read(from_bytes, later)
    from_records = seeded(FIRST, *later)
    assert from_bytes.to_table().equals(from_records.to_table())
    assert from_bytes.drift == from_records.drift == []
    assert from_bytes.row_count == 4


REFUSED = {
    "new-field": [{"id": 2, "late": 1}],
    "new-nested-field": [{"id": 2, "customer": {"email": "x", "phone": "1"}}],
    "new-field-in-list-items": [{"id": 2, "items": [{"sku": "X", "colour": "red"}]}],
    "number-in-text": [{"id": 2, "name": 5}],
    "text-in-number": [{"id": "A-2"}],
    "fraction-in-integer": [{"id": 2.5}],
    "integer-beyond-64-bits": [{"id": 2**64}],
    "object-in-text": [{"name": {"first": "Ann"}}],
    "value-in-always-null": [{"gone": "now"}],
    "not-a-timestamp": [{"at": "soon"}],
    "timestamp-without-offset": [{"at": "2024-05-01T10:00:00"}],
    "literal-dotted-key": [{"customer.email": "x"}],
    "null-record": [None],
    "scalar-record": [5],
}


@pytest.mark.parametrize("records", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_known_types_do_not_cover_is_refused(records: list[Any]) -> None:
    builder = seeded(FIRST)
    before = builder.to_table()
    assert not read(builder, [records])
    assert builder.to_table().equals(before)
    assert builder.row_count == 1


def test_empty_objects_add_no_column_from_bytes_either() -> None:
    later = [[{"id": 2, "meta": {}, "customer": {"email": "b", "prefs": {"ui": {}}}}]]
    from_bytes = seeded(FIRST)
    assert read(from_bytes, later)
    assert from_bytes.to_table().equals(seeded(FIRST, *later).to_table())


def test_an_object_that_is_no_longer_empty_is_refused() -> None:
    builder = seeded(FIRST)
    assert not read(builder, [[{"id": 2, "meta": {"a": 1}}]])


def test_a_duplicated_key_is_refused() -> None:
    builder = seeded(FIRST)
    duplicated = b'{"data": {"results": [{"id": 2, "id": 3}]}}'
    assert not read(builder, [[{"id": 3}]], bodies=[duplicated])


def test_counts_that_differ_from_pagination_are_refused() -> None:
    # max_records cuts the last page's records; its body still has them all.
    builder = seeded(FIRST)
    assert not read(builder, [[{"id": 2}, {"id": 3}]], counts=[1])


def test_nothing_is_read_before_the_columns_are_known() -> None:
    assert not read(TableBuilder(), [FIRST])


def test_json_text_columns_are_left_to_records() -> None:
    builder = seeded([{"id": 1, "x": {"a": 1}}], [{"id": 2, "x": 5}])
    assert not read(builder, [[{"id": 3, "x": "text"}]])


def test_relay_edges_are_read_through_the_list() -> None:
    nodes = [{"id": 2, "name": "B"}, {"id": 3, "name": "C"}]
    edges = {"edges": [{"node": node, "cursor": str(node["id"])} for node in nodes]}
    answer = json.dumps({"data": {"orders": {**edges, "pageInfo": {"hasNextPage": True}}}})
    builder = seeded([{"id": 1, "name": "A"}])
    assert read(
        builder,
        [nodes],
        bodies=[answer.encode()],
        payload_key=None,
        records_path="data.orders.edges[].node",
    )
    assert builder.to_table().column("name").to_pylist() == ["A", "B", "C"]


def test_a_missing_node_is_refused() -> None:
    answer = b'{"data": {"orders": {"edges": [{"node": {"id": 2}}, {"cursor": "x"}]}}}'
    builder = seeded([{"id": 1}])
    assert not read(
        builder,
        [[{"id": 2}]],
        bodies=[answer],
        payload_key=None,
        records_path="data.orders.edges[].node",
    )


def test_a_payload_that_is_the_list_itself_is_read() -> None:
    # The Alloy API's own answers: {"success": true, "data": [...], "pagination": {...}}.
    page = [{"Id": "2", "Active": True}, {"Id": "3", "Active": False}]
    answer = json.dumps({"success": True, "data": page, "pagination": {"hasMore": True}})
    builder = seeded([{"Id": "1", "Active": True}])
    assert read(builder, [page], bodies=[answer.encode()], records_path="[]")
    assert builder.to_table().column("Id").to_pylist() == ["1", "2", "3"]
    assert builder.to_table().equals(seeded([{"Id": "1", "Active": True}], page).to_table())


def test_nodes_in_a_payload_that_is_a_list_are_read() -> None:
    answer = json.dumps({"data": [{"node": {"id": 2}}, {"node": {"id": 3}}]}).encode()
    builder = seeded([{"id": 1}])
    assert read(builder, [[{"id": 2}, {"id": 3}]], bodies=[answer], records_path="[].node")
    assert builder.to_table().column("id").to_pylist() == [1, 2, 3]


def test_a_body_that_is_a_list_is_left_to_records() -> None:
    # Arrow's reader takes one object a line, not a top-level array.
    builder = seeded([{"id": 1}])
    answer = json.dumps([{"id": 2}]).encode()
    assert not read(builder, [[{"id": 2}]], bodies=[answer], payload_key=None, records_path="[]")


def test_pretty_printed_answers_are_read() -> None:
    pretty = json.dumps({"data": {"results": [{"id": 2, "name": "B"}]}}, indent=2).encode()
    builder = seeded([{"id": 1, "name": "A"}])
    assert read(builder, [[{"id": 2, "name": "B"}]], bodies=[pretty])
    assert builder.to_table().column("id").to_pylist() == [1, 2]


def test_a_records_path_with_an_explanation_is_left_to_records() -> None:
    builder = seeded([{"id": 1}])
    assert not read(builder, [[{"id": 2}]], records_path="results (the longest list)")


# The whole conversion, chunk by chunk, against page by page


def page_of(number: int, records: list[Any], *, listed: bool = False) -> Page:
    """A page as the walk makes it: its records are the very ones in its decoded answer.

    ``listed`` answers as the Alloy API does, the payload being the list of records.
    """
    if listed:
        envelope = {"success": True, "data": records, "pagination": {"hasMore": True}}
        answer = json.dumps(envelope).encode()
    else:
        answer = body(records, paging={"next": number + 1})
    decoded = json.loads(answer)
    return Page(
        number=number,
        records=decoded["data"] if listed else decoded["data"]["results"],
        raw=decoded,
        records_path="[]" if listed else "results",
        payload_key="data",
        body=answer,
    )


def steady(rng: random.Random, number: int, odd: bool, shapes: bool) -> dict[str, Any]:
    """A record like the others; ``odd`` ones have one value of another type (or shape)."""
    record: dict[str, Any] = {
        "id": number,
        "name": rng.choice(["Zoë", "大阪", "Ann", None]),
        "at": rng.choice(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00", None]),
        "customer": {"email": f"c{number}@example.com", "score": rng.choice([1, 2.5, None])},
        "tags": rng.choice([["a"], [], None]),
    }
    if odd:
        values: list[Any] = [5, "x", 2.5, True, None, "2024-05-01T10:00:00Z"]
        keys = ["name", "at", "late"]
        if shapes:
            # Also numbers turned text for good, which the reader refuses from then on.
            values += [{"k": 1}, [1]]
            keys += ["id", "customer", "tags"]
        record[rng.choice(keys)] = rng.choice(values)
    return record


@pytest.mark.parametrize("listed", [False, True], ids=["records-in-object", "payload-is-list"])
@pytest.mark.parametrize("seed", range(20), ids=lambda seed: f"seed-{seed}")
def test_chunked_conversion_gives_what_page_by_page_gives(seed: int, listed: bool) -> None:
    rng = random.Random(seed)
    counter = iter(range(10**6))
    # Odd values only on a few pages, so that the chunks after them can be read from bytes.
    shapes = seed % 2 == 1
    pages = [
        [
            steady(rng, next(counter), index in (8, 9) and rng.random() < 0.2, shapes)
            for _ in range(rng.randrange(0, 30))
        ]
        for index in range(30)
    ]
    one_by_one = seeded(*pages)
    chunked = TableBuilder()
    conversion = ChunkedConversion(chunked, chunk_records=rng.choice([20, 50, 100]))
    try:
        for number, records in enumerate(pages, start=1):
            conversion.add(page_of(number, records, listed=listed))
        conversion.finish()
    finally:
        conversion.close()
    assert chunked.to_table().equals(one_by_one.to_table())
    assert chunked.drift == one_by_one.drift
    if not shapes:  # the other seeds make columns the reader refuses for good
        assert conversion.chunks_read_from_bytes > 0


def test_a_conversion_error_reaches_the_caller() -> None:
    class Broken(TableBuilder):
        def add_pages(self, pages: Any) -> list[pa.RecordBatch]:
            raise RuntimeError("converter bug")

    conversion = ChunkedConversion(Broken(), chunk_records=1)
    try:
        conversion.add(page_of(1, [{"id": 1}]))
        with pytest.raises(RuntimeError, match="converter bug"):
            conversion.finish()
    finally:
        conversion.close()


def test_after_a_chunk_fails_no_later_chunk_is_kept() -> None:
    # A later chunk kept after a failed one would leave a gap (and a resumed export would
    # skip the failed chunk's records).
    written: list[int] = []

    def write(converted: list[tuple[Page, pa.RecordBatch]]) -> None:
        numbers = [page.number for page, _ in converted]
        if 2 in numbers:
            raise OSError("disk full")
        written.extend(numbers)

    builder = TableBuilder()
    conversion = ChunkedConversion(builder, chunk_records=1, on_converted=write)
    try:
        with pytest.raises(OSError, match="disk full"):  # raised by add or finish, wherever
            for number in range(1, 7):
                conversion.add(page_of(number, [{"id": number}]))
            conversion.finish()
        conversion.finish()  # what a pull does after a failed fetch: nothing more is kept
    finally:
        conversion.close()
    assert written == [1]
    assert builder.row_count == 2  # pages 1 and 2 were converted; page 2 failed to be written


def convert_two(
    first: list[Any], second: list[Any], handed: Callable[[list[Any]], list[Any]]
) -> tuple[TableBuilder, ChunkedConversion]:
    """Convert a page of ``first``, then one answering ``second`` whose records are what
    ``handed`` makes of its decoded records (as a paginator hands them over), a chunk each."""
    answer = body(second, paging={"next": 3})
    decoded = json.loads(answer)
    builder = TableBuilder()
    conversion = ChunkedConversion(builder, chunk_records=2)
    try:
        conversion.add(page_of(1, first))
        records = handed(decoded["data"]["results"])
        conversion.add(
            Page(
                number=2,
                records=records,
                raw=decoded,
                records_path="results",
                payload_key="data",
                body=answer,
            )
        )
        conversion.finish()
    finally:
        conversion.close()
    return builder, conversion


def test_a_refused_chunk_is_decoded_again_from_its_bytes_and_stays_cut() -> None:
    # After the first chunk, pages wait without their decoded records. A chunk the reader
    # refuses (here: a new field) is converted from its bytes decoded again, and a last page
    # that max_records cut keeps only the records pagination kept.
    first = [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]
    second = [{"id": 3, "name": "C", "late": True}, {"id": 4, "name": "D"}, {"id": 5}]
    builder, conversion = convert_two(first, second, lambda records: records[:2])
    table = builder.to_table()
    assert table.column("id").to_pylist() == [1, 2, 3, 4]
    assert table.column("late").to_pylist() == [None, None, True, None]
    assert conversion.chunks_read_from_bytes == 0
    assert [str(drift) for drift in builder.drift] == [
        str(drift) for drift in seeded(first, second[:2]).drift
    ]


def test_records_a_paginator_filtered_are_kept_rather_than_decoded_again() -> None:
    # A paginator of the caller's own may hand over other records than the ones at the path;
    # decoding the bytes again would bring back what it left out.
    second = [{"id": 3, "new": "x"}, {"id": 4}, {"id": 5}]
    builder, _ = convert_two([{"id": 1}, {"id": 2}], second, lambda records: records[1:])
    assert builder.to_table().column("id").to_pylist() == [1, 2, 4, 5]


def test_records_a_paginator_rebuilt_are_converted_as_it_gave_them() -> None:
    # The same count as in the answer, other values: reading the bytes would lose them.
    first = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    second = [{"id": 3, "name": "c"}, {"id": 4, "name": "d"}]
    builder, conversion = convert_two(
        first, second, lambda records: [{**r, "name": r["name"].upper()} for r in records]
    )
    assert builder.to_table().column("name").to_pylist() == ["a", "b", "C", "D"]
    assert conversion.chunks_read_from_bytes == 0
