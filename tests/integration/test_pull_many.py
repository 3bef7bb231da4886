"""client.pull_many against the sandbox: many credentials, one dataset, failures kept apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from alloy_data.sandbox.catalog import build_catalog

CATALOG = build_catalog()
RECORDS = 300


@pytest.fixture(scope="module", params=["seed", "live"])
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with serve(port=0, seed=6, dialect=request.param, records=RECORDS) as running:
        yield running


def client_for(sb: Sandbox) -> ad.AlloyClient:
    return ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)


def owners(sb: Sandbox, connector: str) -> dict[str, str]:
    """Credential id -> user id, for the fixtures' two users."""
    return {
        sb.fixtures.credentials[connector]: sb.fixtures.user_id,
        sb.fixtures.other_credentials[connector]: sb.fixtures.other_user_id,
    }


def expected_ids(connector: str, resource: str) -> list[Any]:
    found = next(r for r in CATALOG[connector].resources if r.resource_id == resource)
    return [found.ids.id_for(index) for index in range(RECORDS)]


def test_all_finds_every_users_credential_and_tags_every_row(sb: Sandbox) -> None:
    with client_for(sb) as client:
        many = client.pull_many("hubspot", "list-contacts", credentials="all", progress=False)
        frame = many.to_dataframe()
    expected = owners(sb, "hubspot")
    # The credentials of the run, as listed then (listing again would need the client).
    assert {t.credential_id: t.user_id for t in many.last_targets} == expected
    assert len(frame) == 2 * RECORDS
    for credential, user in expected.items():
        rows = frame[frame["_credential_id"] == credential]
        assert len(rows) == RECORDS
        assert set(rows["_user_id"]) == {user}
        assert rows["id"].tolist() == expected_ids("hubspot", "contacts")
    assert list(frame.columns[-2:]) == ["_user_id", "_credential_id"]
    stats = many.stats
    assert (stats.credentials, stats.done, stats.failed, stats.records) == (2, 2, 0, 2 * RECORDS)
    assert set(stats.per_credential) == set(expected)
    assert stats.requests == sum(s.requests for s in stats.per_credential.values())


def test_pairs_and_column_names_of_your_own(sb: Sandbox) -> None:
    pairs = [(user, credential) for credential, user in owners(sb, "stripe").items()]
    with client_for(sb) as client:
        many = client.pull_many(
            "stripe",
            "list-charges",
            credentials=pairs,
            user_column="tenant",
            credential_column="store",
            progress=False,
        )
        table = many.to_arrow()
    assert many.stats.failures == []
    assert table.num_rows == 2 * RECORDS
    assert set(table.column("store").to_pylist()) == {credential for _, credential in pairs}
    assert "_user_id" not in table.column_names


def test_a_failing_credential_is_reported_and_the_others_are_kept(sb: Sandbox) -> None:
    good = sb.fixtures.credentials["xero"]
    stranger = sb.fixtures.other_credentials["xero"]  # not the client's user's
    with client_for(sb) as client:
        many = client.pull_many(
            "xero", "list-invoices", credentials=[good, stranger, "cred_missing"], progress=False
        )
        frame = many.to_dataframe()
    assert set(frame["_credential_id"]) == {good}
    assert len(frame) == RECORDS
    failures = {f.credential_id: f for f in many.stats.failures}
    assert set(failures) == {stranger, "cred_missing"}
    assert all(isinstance(f.error, ad.AlloyAPIError) for f in failures.values())
    assert many.stats.failed == 2 and many.stats.done == 1


def test_on_error_raise_stops_at_the_first_failure(sb: Sandbox) -> None:
    with client_for(sb) as client:
        many = client.pull_many(
            "xero",
            "list-invoices",
            credentials=["cred_missing", sb.fixtures.credentials["xero"]],
            on_error="raise",
            workers=1,
            progress=False,
        )
        # 404 in the seed dialect; 400 in the live one, whose ids must be ObjectIds
        with pytest.raises(ad.AlloyAPIError) as caught:
            many.to_arrow()
    assert caught.value.status in (400, 404)
    assert many.stats.done == 0


def test_one_progress_report_for_the_whole_job(sb: Sandbox) -> None:
    updates: list[ProgressUpdate] = []
    with client_for(sb) as client:
        client.pull_many(
            "hubspot", "list-contacts", credentials="all", progress=updates.append
        ).to_arrow()
    last = updates[-1]
    assert last.done
    assert (last.credentials_total, last.credentials_done, last.credentials_failed) == (2, 2, 0)
    assert last.records == 2 * RECORDS
    assert [u.records for u in updates] == sorted(u.records for u in updates)


@pytest.mark.parametrize(
    "bad",
    ["cred_1", [], [("only-one",)], [("u", 3)], ["a", "a"], 7, None],
    ids=["a-string", "empty", "one-tuple", "number-in-pair", "repeated", "number", "none"],
)
def test_credentials_that_are_not_a_list_of_ids_or_pairs_are_refused(sb: Sandbox, bad: Any) -> None:
    with client_for(sb) as client, pytest.raises(ad.ConfigurationError, match="credential"):
        client.pull_many("hubspot", "list-contacts", credentials=bad)


@pytest.mark.parametrize(
    "options",
    [{"workers": 0}, {"on_error": "ignore"}, {"page_size": -1}, {"user_column": ""},
     {"user_column": "x", "credential_column": "x"}, {"max_total_requests_per_second": 0}],
)  # fmt: skip
def test_bad_options_are_refused_before_anything_is_fetched(sb: Sandbox, options: Any) -> None:
    before = sb.request_count
    with client_for(sb) as client, pytest.raises(ad.ConfigurationError):
        client.pull_many("hubspot", "list-contacts", credentials="all", **options)
    assert sb.request_count == before


def test_a_dataset_with_a_file_per_credential_that_every_reader_reads(
    sb: Sandbox, tmp_path: Path
) -> None:
    target = tmp_path / "contacts"
    with client_for(sb) as client:
        many = client.pull_many("hubspot", "list-contacts", credentials="all", progress=False)
        written = many.to_parquet(target, partition_cols=["_credential_id"])
    assert written == target
    assert (target / "_SUCCESS").exists()
    credentials = set(owners(sb, "hubspot"))
    files = sorted(target.glob("part-*.parquet"))
    assert len(files) == 2
    for file in files:
        meta = ad.read_metadata(file)
        assert meta["credential_id"] in credentials
        assert int(meta["row_count"]) == RECORDS
        assert sb.api_key not in str(meta)
    assert len(pd.read_parquet(target)) == 2 * RECORDS
    assert pq.read_table(target).num_rows == 2 * RECORDS
    counted = duckdb.sql(
        f"select _credential_id, count(*) from read_parquet('{target}/*.parquet') group by 1"
    ).fetchall()
    assert dict(counted) == dict.fromkeys(credentials, RECORDS)
    assert pl.read_parquet(f"{target}/*.parquet").height == 2 * RECORDS


def test_one_file_in_every_format(sb: Sandbox, tmp_path: Path) -> None:
    with client_for(sb) as client:
        many = client.pull_many("box", "list-files", credentials="all", progress=False)
        parquet = many.to_parquet(tmp_path / "files.parquet")
        csv = many.to_file(tmp_path / "files.csv")
        jsonl = many.to_file(tmp_path / "files.jsonl")
    table = pq.read_table(parquet)
    assert table.num_rows == 2 * RECORDS
    assert pd.read_csv(csv)["_credential_id"].nunique() == 2
    assert len(pd.read_json(jsonl, lines=True)) == 2 * RECORDS
    assert not list(tmp_path.glob("*.alloy-staging"))


def test_a_resumed_job_skips_the_credentials_that_finished(sb: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "invoices"
    first, second = owners(sb, "xero")
    pairs = [(owners(sb, "xero")[c], c) for c in (first, second)]
    with client_for(sb) as client:
        # One credential at a time, so the injected failure hits the first one's first page.
        sb.inject_fault("503", count=1, path_contains="list-invoices/execute", retry_after=0)
        failing = client.pull_many(
            "xero", "list-invoices", credentials=pairs, workers=1, retries=0, progress=False
        )
        failing.to_parquet(target)
        assert [f.credential_id for f in failing.stats.failures] == [first]
        assert not (target / "_SUCCESS").exists()
        finished = target / f"part-{second}.parquet"
        stamp = finished.stat().st_mtime_ns
        resumed = client.pull_many(
            "xero", "list-invoices", credentials=pairs, workers=1, progress=False
        )
        resumed.to_parquet(target, resume=True)
    assert (target / "_SUCCESS").exists()
    assert finished.stat().st_mtime_ns == stamp  # not pulled again
    assert resumed.stats.per_credential[second].requests == 0
    assert pd.read_parquet(target)["_credential_id"].value_counts().to_dict() == {
        first: RECORDS,
        second: RECORDS,
    }
