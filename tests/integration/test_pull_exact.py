"""A pull's table is exactly what converting its pages one by one gives, however it converted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alloy_data.frames import TableBuilder
from alloy_data.sandbox import Sandbox, serve

from .test_pull import LIST_ACTIONS, client_for

RECORDS = 4_500  # a few chunks of every action, whatever its page size


@pytest.fixture(scope="module", params=["seed", "live"])
def big_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with serve(port=0, seed=8, dialect=request.param, records=RECORDS) as running:
        yield running


@pytest.fixture()
def chunks_read_from_bytes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    outcomes: list[bool] = []
    original = TableBuilder.add_bodies

    def spy(self: TableBuilder, *args: Any, **kwargs: Any) -> Any:
        batch = original(self, *args, **kwargs)
        outcomes.append(batch is not None)
        return batch

    monkeypatch.setattr(TableBuilder, "add_bodies", spy)
    return outcomes


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=[f"{c}-{a}" for c, a, *_ in LIST_ACTIONS])
def test_the_table_equals_page_by_page_conversion(
    big_sandbox: Sandbox, case: tuple[str, str, str, str], chunks_read_from_bytes: list[bool]
) -> None:
    connector, action, *_ = case
    with client_for(big_sandbox) as client:
        pull = client.pull(
            connector,
            action,
            credential_id=big_sandbox.fixtures.credentials[connector],
            progress=False,
        )
        table = pull.to_arrow()
        drift, notes = pull.stats.drift, " ".join(pull.stats.notes)
        one_by_one = TableBuilder(known_columns=pull.known_columns(), epochs=pull.epochs())
        for page in pull.iter_pages():
            one_by_one.add_page(page.records, page.number)
    assert table.equals(one_by_one.to_table())
    assert drift == one_by_one.drift
    if action != "list-locations":
        # Every answer holds its records in a list inside an object (the envelope's payload or
        # deeper), so chunks after the first are read straight from their bytes.
        assert any(chunks_read_from_bytes), connector
        read = sum(chunks_read_from_bytes)
        assert f"chunks, {read} of them read straight from the answers' bytes" in notes


def test_a_pull_cut_by_max_records_equals_page_by_page_conversion(
    big_sandbox: Sandbox, chunks_read_from_bytes: list[bool]
) -> None:
    with client_for(big_sandbox) as client:
        pull = client.pull(
            "box",
            "list-files",
            credential_id=big_sandbox.fixtures.credentials["box"],
            progress=False,
            page_size=100,
            max_records=4_250,
        )
        table = pull.to_arrow()
        one_by_one = TableBuilder()
        for page in pull.iter_pages():
            one_by_one.add_page(page.records, page.number)
    assert table.num_rows == 4_250
    assert pull.stats.stop_reason == "max_records"
    assert table.equals(one_by_one.to_table())
    # Chunks of 20 pages: the first converted from records (no columns known yet, so not
    # offered to the reader), the second read from bytes, and the last, whose last page is
    # cut, refused by the reader.
    assert chunks_read_from_bytes == [True, False]
