"""Stripe's epoch-second ``created``, as its API reference declares it, pulled from the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.sandbox import Sandbox, serve

TIMESTAMP = pa.timestamp("us", tz="UTC")
CHARGES = 450  # five pages of 100: conversion sees several chunks, some read from bytes


@pytest.fixture(scope="module")
def stripe() -> Iterator[Sandbox]:
    with serve(port=0, seed=3, records={"stripe": CHARGES}) as sb:
        yield sb


def charges(sb: Sandbox, **options: Any) -> ad.Pull:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
    return client.pull(
        "stripe",
        "list-charges",
        credential_id=sb.fixtures.credentials["stripe"],
        progress=False,
        **options,
    )


def expected_created(sb: Sandbox) -> list[datetime]:
    # What the sandbox serves, as seconds, turned into instants here independently, in the
    # order it serves them (Stripe's: newest first).
    source = sb.api.listings[("stripe", "charges")].source
    created = {source.record(i)["id"]: source.record(i)["created"] for i in range(CHARGES)}
    order = sb.expected_ids(
        "stripe", "list-charges", credential_id=sb.fixtures.credentials["stripe"]
    )
    return [datetime.fromtimestamp(created[i], tz=timezone.utc) for i in order]


def test_stripe_declares_created_as_unix_time(stripe: Sandbox) -> None:
    client = ad.AlloyClient(stripe.api_key, base_url=stripe.url, user_id=stripe.fixtures.user_id)
    schema = client.actions.get("stripe", "list-charges").raw["responseSchema"]
    assert schema["properties"]["created"]["format"] == "unix-time"
    assert schema["properties"]["amount"] == {"type": "integer"}


def test_created_becomes_utc_timestamps_in_the_dataframe(stripe: Sandbox) -> None:
    pull = charges(stripe)
    frame = pull.to_dataframe()
    assert str(frame["created"].dtype) == "datetime64[us, UTC]"
    assert list(frame["created"]) == expected_created(stripe)
    assert str(frame["amount"].dtype) == "Int64"
    assert any("created converted from epoch seconds" in note for note in pull.stats.notes)
    assert pull.stats.pages == 5


def test_timestamps_off_keeps_the_numbers(stripe: Sandbox) -> None:
    frame = charges(stripe, timestamps="off").to_dataframe()
    assert str(frame["created"].dtype) == "Int64"
    assert [datetime.fromtimestamp(v, tz=timezone.utc) for v in frame["created"]] == (
        expected_created(stripe)
    )


def test_parquet_streams_created_as_a_timestamp(stripe: Sandbox, tmp_path: Path) -> None:
    path = charges(stripe).to_parquet(tmp_path / "charges.parquet")
    table = pq.read_table(path)
    assert table.schema.field("created").type == TIMESTAMP
    assert table.column("created").to_pylist() == expected_created(stripe)
    duckdb = pytest.importorskip("duckdb")
    ((kind, first, rows),) = duckdb.sql(
        f"SELECT any_value(typeof(created)), min(created), count(*) FROM '{path}'"
    ).fetchall()
    assert kind == "TIMESTAMP WITH TIME ZONE"
    assert first == min(expected_created(stripe))
    assert rows == CHARGES


def test_pull_many_converts_created_for_every_credential(stripe: Sandbox) -> None:
    client = ad.AlloyClient(stripe.api_key, base_url=stripe.url, user_id=stripe.fixtures.user_id)
    many = client.pull_many(
        "stripe",
        "list-charges",
        credentials=[stripe.fixtures.credentials["stripe"]],
        progress=False,
        max_records=120,
    )
    table = many.to_arrow()
    assert table.schema.field("created").type == TIMESTAMP
    assert table.column("created").to_pylist() == expected_created(stripe)[:120]


def test_an_unknown_timestamps_choice_is_refused_before_anything_is_fetched(
    stripe: Sandbox,
) -> None:
    with pytest.raises(ad.ConfigurationError, match="timestamps must be"):
        charges(stripe, timestamps="epoch")
