"""A tables export stopped by a failure part-way and run again with ``resume=True`` continues
at its next page, then writes the parent and child tables exactly: the rows of an
uninterrupted ``to_tables()``, joined back on the parent's key, for one credential and many.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve

RECORDS = 900
PAGE_SIZE = 50
FAIL_AFTER = 500  # records fetched before the injected failure: a chunk or more is saved
TENANT_RECORDS = [700, 300]

#: connector, list action, the parent's key in its table, the convention.
CONVENTIONS = [
    pytest.param("box", "list-files", "id", id="offset"),
    pytest.param("hubspot", "list-contacts", "id", id="cursor"),
    pytest.param("shopify", "list-orders", "id", id="relay-cursor"),
    pytest.param("xero", "list-invoices", "_row", id="page-number"),
    pytest.param("zendesk", "list-tickets", "id", id="next-link"),
]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(
        port=0, seed=5, records=RECORDS, tenants=len(TENANT_RECORDS), tenant_records=TENANT_RECORDS
    ) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        yield client


def fail_once_after(sb: Sandbox, action: str, records: int) -> Callable[[ProgressUpdate], None]:
    """A progress callable that makes the next request fail once ``records`` were fetched."""
    failed: list[bool] = []

    def on_progress(update: ProgressUpdate) -> None:
        if update.records >= records and not failed and not update.done:
            failed.append(True)
            sb.inject_fault("500_html", count=1, path_contains=f"{action}/execute")

    return on_progress


def visible(directory: Path) -> list[str]:
    """What a reader of the directory sees: the entries not starting with ``_`` or ``.``."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith(("_", ".")))


def assert_written_exactly(directory: Path, expected: dict[str, pa.Table], key: str) -> None:
    """Every table is a published dataset holding the expected rows, and every child joins
    back to its parent (on the credential too, when the rows carry one)."""
    import duckdb

    assert visible(directory) == sorted(expected)
    assert not (directory / "_pull.parquet").exists()
    assert not list(directory.glob("_pull.parquet*"))  # no checkpoint or staging left
    for name, table in expected.items():
        assert (directory / name / "_SUCCESS").exists()
        written = pq.read_table(directory / name)
        assert written.column_names == table.column_names, name
        assert written.schema.types == table.schema.types, name
        assert written.to_pylist() == table.to_pylist(), name
        counted = duckdb.sql(f"select count(*) from read_parquet('{directory}/{name}/*.parquet')")
        assert counted.fetchall() == [(table.num_rows,)]
    parent = next(iter(expected))
    tagged = "_credential_id" in expected[parent].column_names
    for name, table in list(expected.items())[1:]:
        if name.count("__") > 1:
            continue  # a grandchild joins to its child, checked the same way as a child
        same = " and c._credential_id = p._credential_id" if tagged else ""
        joined = duckdb.sql(
            f"select count(*), count(distinct ({'c._credential_id, ' if tagged else ''}"
            f"c._parent_{key}, c._position)) "
            f"from read_parquet('{directory}/{name}/*.parquet') c "
            f"join read_parquet('{directory}/{parent}/*.parquet') p "
            f"on p.{key} = c._parent_{key}{same}"
        ).fetchall()
        assert joined == [(table.num_rows, table.num_rows)], name


@pytest.mark.parametrize(("connector", "action", "key"), CONVENTIONS)
def test_a_tables_export_resumed_after_a_failure_writes_the_tables_exactly(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    def pull(**options: Any) -> Any:
        options.setdefault("progress", False)
        return client.pull(
            connector,
            action,
            credential_id=sb.fixtures.credentials[connector],
            page_size=PAGE_SIZE,
            retries=0,
            # One request at a time: the injected failure is the very next page's, and no
            # request runs ahead past the end, so the requests can be counted exactly.
            concurrency=1,
            **options,
        )

    reference = pull()
    expected = reference.to_tables()
    assert sum(t.num_rows for t in expected.values()) >= RECORDS
    directory = tmp_path / "tables"
    failing = pull(progress=fail_once_after(sb, action, FAIL_AFTER))
    with pytest.raises(ad.ServerError) as caught:
        failing.to_parquet(directory, tables=True)
    assert "resume=True" in " ".join(getattr(caught.value, "__notes__", []))
    assert visible(directory) == []  # no table is published from a part of the pull

    resumed = pull()
    assert resumed.to_parquet(directory, tables=True, resume=True) == directory
    stats = resumed.stats
    assert stats.resumed and stats.records == RECORDS
    assert stats.records_saved_before >= FAIL_AFTER - PAGE_SIZE
    assert stats.records_saved_before + stats.records_fetched == RECORDS
    # Only the pages after those saved were fetched, plus the action's description.
    assert stats.pages_fetched == stats.pages - stats.records_saved_before // PAGE_SIZE
    assert stats.pages_fetched < reference.stats.pages
    overhead = reference.stats.requests - reference.stats.pages
    assert stats.requests == stats.pages_fetched + overhead
    assert_written_exactly(directory, expected, key)


def test_a_tables_export_refuses_to_replace_tables_unless_told(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path
) -> None:
    directory = tmp_path / "tables"
    pull = client.pull(
        "shopify",
        "list-orders",
        credential_id=sb.fixtures.credentials["shopify"],
        max_records=60,
        progress=False,
    )
    pull.to_parquet(directory, tables=True)
    again = client.pull(
        "shopify",
        "list-orders",
        credential_id=sb.fixtures.credentials["shopify"],
        max_records=60,
        progress=False,
    )
    with pytest.raises(ad.ExportError, match="overwrite=True"):
        again.to_parquet(directory, tables=True, resume=True)
    assert again.stats.requests == 0  # refused before fetching
    with pytest.raises(ad.ConfigurationError, match="partition_cols and mode"):
        again.to_parquet(directory, tables=True, mode="append")
    again.to_parquet(directory, tables=True, overwrite=True)
    assert pq.read_table(directory / "orders").num_rows == 60


@pytest.mark.parametrize(
    ("connector", "action", "key"),
    [
        pytest.param("shopify", "list-orders", "id", id="relay-cursor"),
        pytest.param("xero", "list-invoices", "_row", id="page-number"),
        pytest.param("box", "list-files", "id", id="offset"),
    ],
)
def test_a_tables_export_of_many_credentials_resumes_the_one_that_was_cut(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, connector: str, action: str, key: str
) -> None:
    tenants = [(t.user_id, t.credentials[connector]) for t in sb.fixtures.tenants]
    first, second = (credential for _, credential in tenants)

    def many(**options: Any) -> Any:
        options.setdefault("progress", False)
        return client.pull_many(
            connector,
            action,
            credentials=tenants,
            workers=1,  # one credential at a time: the failure cuts the first one
            page_size=PAGE_SIZE,
            retries=0,
            concurrency=1,  # and the first one's very next page
            **options,
        )

    reference = many()
    expected = reference.to_tables()
    assert expected[next(iter(expected))].num_rows == sum(TENANT_RECORDS)
    directory = tmp_path / "tables"
    failing = many(progress=fail_once_after(sb, action, FAIL_AFTER))
    with pytest.raises(ad.AlloyError, match="resume=True"):
        failing.to_parquet(directory, tables=True)
    assert [f.credential_id for f in failing.stats.failures] == [first]
    assert visible(directory) == []

    resumed = many()
    resumed.to_parquet(directory, tables=True, resume=True)
    cut, finished = resumed.stats.per_credential[first], resumed.stats.per_credential[second]
    assert finished.requests == 0  # its file was complete: not pulled again
    assert cut.resumed and cut.records == TENANT_RECORDS[0]
    assert cut.records_saved_before >= FAIL_AFTER - PAGE_SIZE
    assert cut.records_saved_before + cut.records_fetched == TENANT_RECORDS[0]
    assert cut.pages_fetched == cut.pages - cut.records_saved_before // PAGE_SIZE
    assert_written_exactly(directory, expected, key)


def test_the_command_line_resumes_a_tables_export(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alloy_data.cli import main

    directory = tmp_path / "shop"
    argv = [
        "pull",
        "shopify",
        "list-orders",
        "--credential",
        sb.fixtures.credentials["shopify"],
        "--tables",
        "--out",
        str(directory),
        "--no-progress",
        "--base-url",
        sb.url,
        "--api-key",
        sb.api_key,
        "--user",
        sb.fixtures.user_id,
    ]
    # The run stopped part-way is the library's (the same pull and target), the resumed one
    # the command line's.
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        credential = sb.fixtures.credentials["shopify"]
        expected = client.pull(
            "shopify", "list-orders", credential_id=credential, progress=False
        ).to_tables()
        failing = client.pull(
            "shopify",
            "list-orders",
            credential_id=credential,
            retries=0,
            progress=fail_once_after(sb, "list-orders", FAIL_AFTER),
        )
        with pytest.raises(ad.ServerError):
            failing.to_parquet(directory, tables=True)
    assert visible(directory) == []
    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    fetched = int(re.search(r"this run fetched (\d+)", out).group(1))  # type: ignore[union-attr]
    assert 0 < fetched <= RECORDS - FAIL_AFTER + PAGE_SIZE * 2
    assert_written_exactly(directory, expected, "id")


def shopify_pull(client: ad.AlloyClient, sb: Sandbox, **options: Any) -> Any:
    options.setdefault("progress", False)
    return client.pull(
        "shopify",
        "list-orders",
        credential_id=sb.fixtures.credentials["shopify"],
        page_size=PAGE_SIZE,
        **options,
    )


def test_a_tables_export_interrupted_while_fetching_resumes(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path
) -> None:
    def interrupt(update: ProgressUpdate) -> None:
        if update.records >= FAIL_AFTER and not update.done:
            raise KeyboardInterrupt

    expected = shopify_pull(client, sb).to_tables()
    directory = tmp_path / "tables"
    with pytest.raises(KeyboardInterrupt):
        shopify_pull(client, sb, progress=interrupt).to_parquet(directory, tables=True)
    assert visible(directory) == []
    resumed = shopify_pull(client, sb)
    resumed.to_parquet(directory, tables=True, resume=True)
    assert resumed.stats.resumed
    assert 0 < resumed.stats.records_fetched < RECORDS
    assert_written_exactly(directory, expected, "id")


def test_a_tables_export_interrupted_while_publishing_publishes_without_a_request(
    sb: Sandbox, client: ad.AlloyClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alloy_data.pull import _tables

    expected = shopify_pull(client, sb).to_tables()
    directory = tmp_path / "tables"
    real = _tables.write_tables

    def publish_the_parent_then_stop(tables: dict[str, pa.Table], *args: Any, **kw: Any) -> Any:
        real(dict(list(tables.items())[:1]), *args, **kw)
        raise KeyboardInterrupt

    def interrupted_while_publishing(pull: Any) -> None:
        monkeypatch.setattr(_tables, "write_tables", publish_the_parent_then_stop)
        with pytest.raises(KeyboardInterrupt):
            pull.to_parquet(directory, tables=True, overwrite=True)
        monkeypatch.setattr(_tables, "write_tables", real)
        assert (directory / "_pull.parquet").is_file()  # the staged pull is kept

    interrupted_while_publishing(shopify_pull(client, sb))
    assert visible(directory) == ["orders"]
    # A run without resume=True refuses the tables already there.
    with pytest.raises(ad.ExportError, match="overwrite=True"):
        shopify_pull(client, sb).to_parquet(directory, tables=True)
    resumed = shopify_pull(client, sb)
    resumed.to_parquet(directory, tables=True, resume=True)
    assert resumed.stats.requests == 0  # the staged pull was complete: split again
    assert_written_exactly(directory, expected, "id")

    # A staged pull of another pull (here of every record) is not taken for this one's.
    interrupted_while_publishing(shopify_pull(client, sb))
    fewer = shopify_pull(client, sb, max_records=120)
    fewer.to_parquet(directory, tables=True, resume=True, overwrite=True)
    assert fewer.stats.requests > 0 and not fewer.stats.resumed
    assert pq.read_table(directory / "orders").num_rows == 120
    assert not list(directory.glob("_pull.parquet*"))


# A process that pulls into tables and kills itself with SIGKILL right after the staged pull's
# writer has saved page ``after`` (pages are saved a chunk at a time, after they are fetched):
# no exception handler, no cleanup.
KILLED = r"""
import os, signal, sys

import alloy_data as ad
from alloy_data.export import _base

url, key, user, credential, out, after, page_size = sys.argv[1:]
write_page = _base._SpoolingWriter.write_page

def write_then_die(self, number, *args, **kwargs):
    write_page(self, number, *args, **kwargs)
    if number >= int(after):
        os.kill(os.getpid(), signal.SIGKILL)

_base._SpoolingWriter.write_page = write_then_die

with ad.AlloyClient(key, base_url=url, user_id=user) as client:
    client.pull(
        "shopify", "list-orders", credential_id=credential, page_size=int(page_size),
        progress=False,
    ).to_parquet(out, tables=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_tables_export_whose_process_was_killed_resumes(tmp_path: Path) -> None:
    records = 5_000
    with (
        serve(port=0, seed=5, records={"shopify": records}) as big,
        ad.AlloyClient(big.api_key, base_url=big.url, user_id=big.fixtures.user_id) as client,
    ):
        expected = shopify_pull(client, big).to_tables()
        directory = tmp_path / "tables"
        argv = [big.url, big.api_key, big.fixtures.user_id, big.fixtures.credentials["shopify"]]
        argv += [str(directory), "45", str(PAGE_SIZE)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        killed = subprocess.run(
            [sys.executable, "-c", KILLED, *argv],
            check=False,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert visible(directory) == []
        resumed = shopify_pull(client, big)
        resumed.to_parquet(directory, tables=True, resume=True)
    stats = resumed.stats
    assert stats.resumed and stats.records == records
    assert 45 * PAGE_SIZE <= stats.records_saved_before < records
    assert stats.records_saved_before + stats.records_fetched == records
    assert stats.pages_fetched == stats.pages - stats.records_saved_before // PAGE_SIZE
    assert_written_exactly(directory, expected, "id")
