"""The store's pure parts: durations, addresses, where it lives, limits, SQL names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import platformdirs
import pytest

import alloy_data as ad
from alloy_data._durations import as_duration
from alloy_data.config import ClientConfig
from alloy_data.errors import ConfigurationError
from alloy_data.options import PULL_OPTION_NAMES, STORE_KEY_OPTION_NAMES, PullOptions
from alloy_data.store import Store, StoredCopy
from alloy_data.store._limits import over_limits
from alloy_data.store._sql import sql_name


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1h", 3_600),
        ("30m", 1_800),
        ("2d", 172_800),
        ("90s", 90),
        ("1.5h", 5_400),
        ("1 day 2 hours", 93_600),
        ("45", 45),
        (dt.timedelta(minutes=5), 300),
        (120, 120),
        (0.5, 0.5),
        (0, 0),
    ],
)
def test_durations_are_read_as_people_write_them(value: object, seconds: float) -> None:
    assert as_duration(value, "max_age") == dt.timedelta(seconds=seconds)
    assert PullOptions(max_age=value).max_age == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["soon", "", "-1h", -5, True, float("nan"), [1], "1e400"])
def test_a_duration_that_is_none_says_what_to_write(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r'max_age must be a duration such as "1h"'):
        PullOptions(max_age=value)


def _client(**settings: object) -> ad.AlloyClient:
    return ad.AlloyClient("sk_test_0123456789abcdef", base_url="http://127.0.0.1:9", **settings)


def test_the_store_lives_where_it_is_told_else_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _client(store=tmp_path).store.root == tmp_path  # type: ignore[union-attr]
    assert _client(store=f"file://{tmp_path}").store.root == tmp_path  # type: ignore[union-attr]
    assert _client(store=False).store is None
    monkeypatch.setenv("ALLOY_DATA_STORE", str(tmp_path / "env"))
    assert _client().store.root == tmp_path / "env"  # type: ignore[union-attr]
    monkeypatch.setenv("ALLOY_DATA_STORE", "off")
    assert _client().store is None
    default = Path(platformdirs.user_data_dir("alloy-data", appauthor=False)) / "store"
    assert _client(store=True).store.root == default  # type: ignore[union-attr]
    assert _client(trust_env=False).store.root == default  # type: ignore[union-attr]
    monkeypatch.delenv("ALLOY_DATA_STORE")
    assert _client().store.root == default  # type: ignore[union-attr]
    # Naming the store makes no folder: nothing is written until a pull with max_age= runs.
    assert not (tmp_path / "env").exists()


def test_a_store_that_cannot_be_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="store must be a folder"):
        ClientConfig.resolve("sk_test_0123456789abcdef", store=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="No filesystem knows nosuch://"):
        Store("nosuch://bucket/prefix")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="is a file"):
        Store(tmp_path / "file")


def test_the_dask_workers_get_the_same_store(tmp_path: Path) -> None:
    from alloy_data.dask._spec import ClientSpec

    spec = ClientSpec.from_config(_client(store=tmp_path).config)
    with spec.connect() as worker_client:
        assert worker_client.store is not None and worker_client.store.root == tmp_path
    off = ClientSpec.from_config(_client(store=False).config)
    with off.connect() as worker_client:
        assert worker_client.store is None


def _key_of(**options: object) -> str:
    pull = _client(store=False).pull(
        "shop", "list-orders", credential_id="c1", progress=False, **options
    )
    return pull.store_key().digest


def test_every_option_that_changes_the_rows_or_columns_changes_the_address() -> None:
    changed = {
        "parameters": {"status": "open"},
        "max_pages": 2,
        "max_records": 5,
        "incremental": ad.Incremental("updated_at", primary_key="id"),
        "timestamps": "off",
        "columns": ["id", "customer.email"],
        "flatten": "struct",
        "flatten_depth": 1,
    }
    assert set(changed) == set(STORE_KEY_OPTION_NAMES)
    plain = _key_of()
    digests = {name: _key_of(**{name: value}) for name, value in changed.items()}
    assert plain not in digests.values()
    assert len(set(digests.values())) == len(digests)
    # How a pull fetches does not change what it fetches: the same copy serves it.
    assert _key_of(page_size=7, concurrency=1, retries=2, max_age="2h") == plain


# How these fetch, not what: a copy made with one value serves the others.
FETCH_ONLY_OPTIONS = {
    "undeclared_parameters",
    "paginator",
    "page_size",
    "concurrency",
    "max_requests_per_second",
    "retries",
    "max_age",
    "progress",
}


def test_every_pull_option_is_said_to_change_the_address_or_not() -> None:
    """A new option must be put in STORE_KEY_OPTION_NAMES when it changes rows or columns."""
    assert set(PULL_OPTION_NAMES) == set(STORE_KEY_OPTION_NAMES) | FETCH_ONLY_OPTIONS
    assert not set(STORE_KEY_OPTION_NAMES) & FETCH_ONLY_OPTIONS


def test_an_address_holds_ids_but_never_a_parameter_value() -> None:
    pull = _client(store=False).pull(
        "shop/../x", "list orders", credential_id="c1", parameters={"api_token": "tok-secret"}
    )
    key = pull.store_key()
    assert key.folder == ("shop_.._x", "list_orders", "c1")
    assert "tok-secret" not in "/".join([*key.folder, key.digest])


def _copy(name: str, *, hours: float, size: int) -> StoredCopy:
    fetched = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    return StoredCopy(
        path=Path(name),
        connector_id="c",
        action_id="a",
        credential_id=name,
        user_id="u",
        parameters="{}",
        rows=1,
        bytes=size,
        fetched_at=fetched,
        mark=None,
    )


def test_limits_drop_the_old_then_the_oldest_beyond_the_size() -> None:
    copies = [_copy("new", hours=1, size=50), _copy("mid", hours=5, size=40)]
    copies.append(_copy("old", hours=50, size=10))
    assert [c.credential_id for c in over_limits(copies, older_than="1d")] == ["old"]
    assert [c.credential_id for c in over_limits(copies, max_bytes=95)] == ["old"]
    assert [c.credential_id for c in over_limits(copies, max_bytes=85)] == ["old", "mid"]
    dropped = over_limits(copies, older_than="1d", max_bytes=50)
    assert [c.credential_id for c in dropped] == ["old", "mid"]
    assert over_limits(copies) == []
    with pytest.raises(ConfigurationError, match="max_bytes"):
        over_limits(copies, max_bytes=-1)
    with pytest.raises(ConfigurationError, match="older_than"):
        over_limits(copies, older_than="later")


def test_sql_names_are_plain_identifiers() -> None:
    assert sql_name("list-orders") == "list_orders"
    assert sql_name("Shopify") == "shopify"
    assert sql_name("3d-models") == "_3d_models"


def test_sql_without_duckdb_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(ConfigurationError, match=r"alloy-data\[duckdb\]"):
        Store(tmp_path).sql("select 1")


def test_stats_say_when_and_how_the_rows_were_fetched() -> None:
    from alloy_data.pull import PullStats

    moment = dt.datetime(2026, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    for refresh, words in [
        ("from the store", "served from the store (no request)"),
        ("incremental", "refreshed incrementally"),
        ("full", "refreshed in full"),
        ("resumed", "resuming a stopped refresh"),
    ]:
        stats = dataclasses.replace(PullStats(), fetched_at=moment, refresh=refresh)
        assert "fetched 2026-05-01 12:30:00 UTC" in str(stats)
        assert words in str(stats)
        assert words in stats.html_body()
    assert PullStats().freshness is None
