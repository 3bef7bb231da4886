"""A pull is a plan; each sink call is a run of its own; a second sink reuses the first's rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.sandbox import Sandbox, serve


def _client(sb: Sandbox) -> ad.AlloyClient:
    return ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)


@pytest.fixture(scope="module")
def counted() -> Sandbox:
    with serve(port=0, seed=3, records=900) as running:
        yield running


def _pull(client: ad.AlloyClient, sb: Sandbox, connector: str, action: str) -> ad.Pull:
    return client.pull(
        connector,
        action,
        credential_id=sb.fixtures.credentials[connector],
        page_size=50,
        progress=False,
    )


@pytest.mark.parametrize(
    ("connector", "action"),
    [("shopify", "list-orders"), ("box", "list-files"), ("hubspot", "list-contacts")],
)
def test_the_readme_example_fetches_every_page_once(
    counted: Sandbox, tmp_path: Path, connector: str, action: str
) -> None:
    with _client(counted) as client:
        pull = _pull(client, counted, connector, action)
        before = counted.request_count
        frame = pull.to_dataframe()
        first = counted.request_count - before
        assert first > 2 and not pull.stats.reused
        written = pull.to_parquet(tmp_path / "rows.parquet")
        assert counted.request_count - before == first  # not one request more
        assert pull.stats.reused
        assert "no request was made" in " ".join(pull.stats.notes)
        assert pq.read_table(written).column("id").to_pylist() == frame["id"].tolist()
        again = pull.to_arrow()
        assert counted.request_count - before == first
        assert again.column("id").to_pylist() == frame["id"].tolist()


def test_an_export_first_serves_the_table_after_it(counted: Sandbox, tmp_path: Path) -> None:
    with _client(counted) as client:
        pull = _pull(client, counted, "box", "list-files")
        written = pull.to_parquet(tmp_path / "files.parquet")
        before = counted.request_count
        table = pull.to_arrow()
        assert counted.request_count == before
        assert table.equals(pq.read_table(written).replace_schema_metadata(None))


def test_reset_fetches_anew_and_a_changed_file_is_not_reused(
    counted: Sandbox, tmp_path: Path
) -> None:
    with _client(counted) as client:
        pull = _pull(client, counted, "box", "list-files")
        pull.to_arrow()
        pull.reset()
        before = counted.request_count
        pull.to_arrow()
        assert counted.request_count > before and not pull.stats.reused
        target = tmp_path / "files.parquet"
        pull.reset()
        pull.to_parquet(target)
        target.write_bytes(b"changed by someone else")
        before = counted.request_count
        assert pull.to_arrow().num_rows == 900
        assert counted.request_count > before


def test_the_rows_kept_for_the_next_sink_go_with_reset(counted: Sandbox) -> None:
    import gc

    with _client(counted) as client:
        pull = _pull(client, counted, "box", "list-files")
        pull.to_arrow()
        last = pull.last_run()
        assert last is not None and last.arrow_file is not None
        kept = last.arrow_file
        assert kept.exists()
        del last
        pull.reset()
        gc.collect()
        assert not kept.exists()


def test_iter_pages_always_asks_the_api(counted: Sandbox) -> None:
    with _client(counted) as client:
        pull = _pull(client, counted, "box", "list-files")
        pull.to_arrow()
        before = counted.request_count
        assert sum(len(page.records) for page in pull.iter_pages()) == 900
        assert counted.request_count > before


def test_one_pull_run_from_two_threads_at_once_gives_the_rows_twice() -> None:
    # Slow answers, so that both runs are in flight together.
    with serve(port=0, seed=4, records=400, latency_ms=15) as sb, _client(sb) as client:
        for connector, action in (("box", "list-files"), ("hubspot", "list-contacts")):
            pull = _pull(client, sb, connector, action)
            expected = _pull(client, sb, connector, action).to_arrow().column("id").to_pylist()
            with ThreadPoolExecutor(2) as pool:
                runs = [pool.submit(pull.to_arrow) for _ in range(2)]
                tables = [run.result() for run in runs]
            for table in tables:
                assert table.column("id").to_pylist() == expected
