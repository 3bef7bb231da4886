"""The widgets against the sandbox on loopback: the cascade, pulls, exports, errors, code."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests

import alloy_data as ad
from alloy_data.client import AlloyClient
from alloy_data.sandbox import Sandbox, serve
from alloy_data.widgets import Explorer

LIST_ACTIONS = {
    "shopify": "list-orders",
    "hubspot": "list-contacts",
    "stripe": "list-charges",
    "zendesk": "list-tickets",
    "box": "list-files",
    "xero": "list-invoices",
    "quickbooks": "list-customers",
}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[AlloyClient]:
    with AlloyClient(
        sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id, trust_env=False
    ) as alloy:
        yield alloy


@pytest.fixture
def explorer(client: AlloyClient) -> Explorer:
    return Explorer(client)


def test_explorer_fetches_only_what_it_shows(sandbox: Sandbox, client: AlloyClient) -> None:
    before = sandbox.request_count
    explorer = Explorer(client)
    assert sandbox.request_count - before == 1  # the connector list
    before = sandbox.request_count
    explorer.connector.value = "zendesk"
    # The user's credentials, the resources, and the chosen action's parameters.
    assert sandbox.request_count - before == 3
    before = sandbox.request_count
    explorer.connector.search.value = "zen"
    explorer.connector.category.value = "Support"
    explorer.action.fields  # noqa: B018
    explorer.code  # noqa: B018
    assert sandbox.request_count - before == 0
    assert explorer.credential.value == sandbox.fixtures.credentials["zendesk"]
    assert explorer.action.value == "list-tickets"
    assert explorer.action.paging_parameters == ("page", "per_page")


def test_switching_connectors_back_and_forth_costs_a_fixed_number_of_requests(
    sandbox: Sandbox, explorer: Explorer
) -> None:
    before = sandbox.request_count
    for connector_id in ["shopify", "stripe", "shopify", "xero"]:
        explorer.connector.dropdown.value = connector_id
    # Credentials and resources each time; an action's parameters only the first time.
    assert sandbox.request_count - before == 4 * 2 + 3
    assert explorer.action.value == "list-invoices"
    assert explorer.credential.value == sandbox.fixtures.credentials["xero"]


@pytest.mark.parametrize("connector_id", sorted(LIST_ACTIONS))
def test_run_pulls_every_record_of_each_connector(
    sandbox: Sandbox, explorer: Explorer, connector_id: str
) -> None:
    explorer.connector.value = connector_id
    assert explorer.action.value == LIST_ACTIONS[connector_id]
    frame = explorer.run()
    assert frame is not None, explorer.status.value
    assert explorer.dataframe is frame
    assert explorer.last_pull is not None
    assert len(frame) == explorer.last_pull.stats.records > 0
    assert explorer.progress.value == 1.0
    assert "records" in explorer.progress_label.value
    assert explorer.error is None


def test_pull_button_fills_the_dataframe_and_shows_its_head(explorer: Explorer) -> None:
    explorer.connector.value = "shopify"
    explorer.pull_button.click()
    assert explorer.dataframe is not None
    assert len(explorer.dataframe) == 1_200
    assert "customer.email" in explorer.dataframe.columns
    shown = explorer.output.outputs[0]["data"]
    assert shown["text/plain"].startswith("1,200 rows")
    assert "<table" in shown["text/html"]


def test_preview_shows_the_first_page_only(sandbox: Sandbox, explorer: Explorer) -> None:
    explorer.connector.value = "stripe"
    before = sandbox.request_count
    explorer.preview_button.click()
    frame = explorer.preview()
    assert frame is not None
    assert 0 < len(frame) < 1_000
    assert explorer.dataframe is None
    # Each preview: the action's metadata and one page.
    assert sandbox.request_count - before == 4
    assert "First page" in explorer.output.outputs[0]["data"]["text/plain"]


def test_parameters_from_the_form_reach_the_pull(explorer: Explorer) -> None:
    explorer.connector.value = "hubspot"
    explorer.action.value = "get-contacts"
    contact_id = explorer.action.fields["contactId"]
    assert contact_id.description == "contactId *"
    explorer.action.value = "list-contacts"
    assert explorer.action.parameters == {}
    assert explorer.pull().parameters == {}


def test_export_writes_parquet(explorer: Explorer, tmp_path: Path) -> None:
    explorer.connector.value = "box"
    written = explorer.export(tmp_path / "files.parquet")
    assert written == tmp_path / "files.parquet", explorer.status.value
    assert pq.read_metadata(written).num_rows == 500
    explorer.export_path.value = str(tmp_path / "again.parquet")
    explorer.export_button.click()
    assert pq.read_metadata(tmp_path / "again.parquet").num_rows == 500
    assert "Wrote 500 records" in explorer.status.value


def test_another_users_credential_is_refused_inline(sandbox: Sandbox, explorer: Explorer) -> None:
    explorer.connector.value = "shopify"
    explorer.credential.value = sandbox.fixtures.other_credentials["shopify"]
    explorer.pull_button.click()
    assert explorer.dataframe is None
    assert "Permission denied" in explorer.status.value
    assert "another user" in explorer.status.value
    assert explorer.run() is None
    assert explorer.error is not None and explorer.error.status == 403
    assert explorer.progress.bar_style == "danger"
    assert sandbox.api_key not in explorer.status.value


def test_unknown_user_shows_no_credentials(sandbox: Sandbox, explorer: Explorer) -> None:
    explorer.connector.value = "stripe"
    explorer.user.value = "usr_nobody"
    assert explorer.credential.value is None
    explorer.preview_button.click()
    assert "Choose a credential first" in explorer.status.value


def test_a_dead_server_shows_inline(sandbox: Sandbox) -> None:
    with serve(port=0) as doomed:
        client = AlloyClient(
            doomed.api_key,
            base_url=doomed.url,
            user_id=doomed.fixtures.user_id,
            trust_env=False,
            max_retries=0,
            timeout=2,
        )
        explorer = Explorer(client)
    explorer.connector.value = "shopify"
    assert "Connection failed" in explorer.credential.status.value
    assert "Connection failed" in explorer.action.status.value
    assert explorer.credential.value is None
    client.close()


@pytest.mark.parametrize("connector_id", ["shopify", "stripe", "zendesk", "quickbooks"])
def test_code_reproduces_the_dataframe(
    explorer: Explorer, client: AlloyClient, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer.connector.value = connector_id
    frame = explorer.run()
    assert frame is not None, explorer.status.value
    code = explorer.code
    assert client.config.api_key not in code
    assert "Bearer" not in code
    # Run it as a notebook cell would in this session: `ad.connect()` gives the client in scope.
    monkeypatch.setattr(ad, "connect", lambda *args, **kwargs: client)
    namespace: dict[str, object] = {"client": client}
    with contextlib.redirect_stderr(io.StringIO()):
        exec(code, namespace)
    assert namespace["client"] is client
    assert isinstance(namespace["df"], pd.DataFrame)
    pd.testing.assert_frame_equal(namespace["df"], frame)


def test_code_runs_as_is_in_a_fresh_session(
    explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    explorer.connector.value = "shopify"
    frame = explorer.run()
    assert frame is not None, explorer.status.value
    namespace: dict[str, object] = {}
    # Without a key, `ad.connect()` starts an offline sandbox with the same seeded data.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(explorer.code, namespace)
    fresh = namespace["client"]
    assert isinstance(fresh, AlloyClient)
    try:
        pd.testing.assert_frame_equal(namespace["df"], frame)
    finally:
        fresh.close()


def test_oauth_credential_created_through_the_form(tmp_path: Path) -> None:
    with (
        serve(port=0, dialect="live", seed=5) as live,
        AlloyClient(
            live.api_key, base_url=live.url, user_id=live.fixtures.user_id, trust_env=False
        ) as client,
    ):
        explorer = Explorer(client)
        explorer.connector.value = "shopify"
        picker = explorer.credential
        assert picker.value == live.fixtures.credentials["shopify"]
        picker.new_button.click()
        picker.fields["shop_domain"].value = "mine.myshopify.com"
        picker.create_button.click()
        assert '<a href="' in picker.oauth_link.value
        created = picker.value
        # A browser following the link authorises the connection.
        url = picker.oauth_link.value.split('"')[1].replace("&amp;", "&")
        assert requests.get(url, timeout=10).ok
        picker.refresh_button.click()
        assert picker.value not in (created, None)
        assert len(picker.options) == 2
        assert explorer.preview() is not None


def test_api_key_credential_created_through_the_form() -> None:
    with (
        serve(port=0, seed=6) as seed,
        AlloyClient(
            seed.api_key, base_url=seed.url, user_id=seed.fixtures.user_id, trust_env=False
        ) as client,
    ):
        explorer = Explorer(client)
        explorer.connector.value = "stripe"
        picker = explorer.credential
        picker.show_form()
        picker.fields["api_key"].value = "sk_test_widget"
        created = picker.create()
        assert created is not None
        assert picker.value == created.credential_id
        assert len(picker.options) == 2
        assert picker.fields["api_key"].value == ""
        assert "sk_test_widget" not in explorer.status.value + picker.status.value


def test_explorer_runs_on_the_live_dialect(live_sandbox: Sandbox) -> None:
    with AlloyClient(
        live_sandbox.api_key,
        base_url=live_sandbox.url,
        user_id=live_sandbox.fixtures.user_id,
        trust_env=False,
    ) as client:
        explorer = Explorer(client)
        explorer.connector.value = "quickbooks"
        assert explorer.credential.value == live_sandbox.fixtures.credentials["quickbooks"]
        frame = explorer.run()
        assert frame is not None, explorer.status.value
        assert len(frame) == 230


def test_every_credential_is_pulled_exported_and_shown_as_code(
    sandbox: Sandbox,
    explorer: Explorer,
    client: AlloyClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    explorer.connector.value = "stripe"
    explorer.all_credentials.value = True
    frame = explorer.run()
    assert frame is not None, explorer.status.value
    expected = {
        sandbox.fixtures.credentials["stripe"],
        sandbox.fixtures.other_credentials["stripe"],
    }
    assert set(frame["_credential_id"]) == expected
    assert explorer.progress.bar_style == "success"
    assert "2/2 credentials" in explorer.progress_label.value
    assert "from 2 of 2 credentials" in explorer.status.value

    written = explorer.export(tmp_path / "charges.parquet")
    assert written is not None, explorer.status.value
    assert pq.read_metadata(written).num_rows == len(frame)

    code = explorer.code
    assert 'credentials="all"' in code and "pull_many" in code
    monkeypatch.setattr(ad, "connect", lambda *args, **kwargs: client)
    namespace: dict[str, object] = {}
    with contextlib.redirect_stderr(io.StringIO()):
        exec(code, namespace)
    pd.testing.assert_frame_equal(namespace["df"], frame)


def test_preview_after_a_failed_pull_ends_green_with_the_pages_figures(
    sandbox: Sandbox, explorer: Explorer
) -> None:
    explorer.connector.value = "stripe"
    own = explorer.credential.value
    explorer.credential.value = sandbox.fixtures.other_credentials["stripe"]
    assert explorer.run() is None
    assert explorer.progress.bar_style == "danger"
    explorer.credential.value = own
    explorer.preview_button.click()
    assert explorer.error is None, explorer.status.value
    rows = explorer.output.outputs[0]["data"]["text/plain"]
    first_page = int(rows.split(" rows")[0].split()[-1].replace(",", ""))
    assert 0 < first_page < 1_000
    assert explorer.progress.bar_style == "success"
    assert explorer.progress.value == 1.0
    assert explorer.progress_label.value.startswith(f"{first_page:,} records · 1 page · ")
    assert explorer.status.value == f"Preview: the first page has {first_page:,} records."


def test_a_failed_preview_ends_red(sandbox: Sandbox, explorer: Explorer) -> None:
    explorer.connector.value = "stripe"
    explorer.credential.value = sandbox.fixtures.other_credentials["stripe"]
    assert explorer.preview() is None
    assert explorer.progress.bar_style == "danger"
    assert "Permission denied" in explorer.status.value


def test_another_users_credential_shows_as_theirs(sandbox: Sandbox, explorer: Explorer) -> None:
    explorer.connector.value = "stripe"
    theirs = sandbox.fixtures.other_credentials["stripe"]
    explorer.credential.value = theirs
    label = {value: label for label, value in explorer.credential.options}[theirs]
    assert label.startswith(f"{theirs} (created ")
    assert "not listed" not in label
    owner = next(
        user.user_id
        for user in explorer._client.users.list()
        if theirs
        in {
            c.credential_id
            for c in explorer._client.credentials.list("stripe", user_id=user.user_id)
        }
    )
    assert owner != sandbox.fixtures.user_id
    assert label.endswith(f" · user {owner}")


def test_export_says_where_the_file_is(
    explorer: Explorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    explorer.connector.value = "xero"
    explorer.export_path.value = "invoices.parquet"
    explorer.export_button.click()
    assert (tmp_path / "invoices.parquet").exists(), explorer.status.value
    records = pq.read_metadata(tmp_path / "invoices.parquet").num_rows
    assert explorer.status.value == (
        f"Wrote {records:,} records to {tmp_path.resolve() / 'invoices.parquet'}."
    )
    assert explorer.progress.bar_style == "success"


def test_refresh_merges_only_what_changed_since_the_export(tmp_path: Path) -> None:
    with (
        serve(records={"shopify": 3_000}, seed=5) as sandbox,
        AlloyClient(
            sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
        ) as client,
    ):
        explorer = Explorer(client)
        explorer.connector.value = "shopify"
        explorer.action.value = "list-orders"
        assert explorer.refresh_button.disabled
        assert explorer.refresh() is None
        assert "Export to Parquet first" in explorer.status.value

        path = tmp_path / "orders.parquet"
        explorer.export_path.value = str(path)
        explorer.export_button.click()
        assert pq.read_metadata(path).num_rows == 3_000, explorer.status.value
        assert not explorer.refresh_button.disabled
        assert ad.read_metadata(path)["incremental"]

        sandbox.advance_clock(86_400, updates=30, inserts=10)
        explorer.refresh_button.click()
        stats = explorer.last_pull.stats
        assert stats.incremental == "filter", explorer.status.value
        assert 40 <= stats.records <= 42  # the changes, and records written in the mark's second
        assert "Refreshed" in explorer.status.value
        assert "the app sent only what changed" in explorer.status.value
        expected = sandbox.expected_ids(
            "shopify", "list-orders", credential_id=explorer.credential.value
        )
        ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        assert sorted(ids) == sorted(expected)
        assert explorer.progress.bar_style == "success"
        code = explorer.code
        assert 'incremental=ad.Incremental("updated_at", primary_key="id"),' in code
        assert f'pull.to_parquet({json.dumps(str(path))}, mode="merge")' in code
        compile(code, "shown code", "exec")


def test_a_pulls_notebook_bar_ends_green_with_its_counts(
    sandbox: Sandbox, client: AlloyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What tqdm.auto picks in a notebook: the ipywidgets bar, whichever versions are installed.
    import tqdm.auto
    import tqdm.notebook

    bars: list[tqdm.notebook.tqdm] = []

    class NotebookBar(tqdm.notebook.tqdm):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", NotebookBar)
    pull = client.pull(
        "stripe", "list-charges", credential_id=sandbox.fixtures.credentials["stripe"]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        frame = pull.to_dataframe()
    [bar] = bars
    label, progress, figures = bar.container.children
    # Newer tqdm spaces its text with figure spaces (U+2007).
    text = (label.value + figures.value).replace("\u2007", " ")
    assert text.startswith("stripe list-charges")
    assert progress.bar_style == "success"
    assert f"{len(frame) / 1000:.2f}k" in text
    assert f"pages={pull.stats.pages}" in text
    assert sandbox.api_key not in text


def test_a_pull_without_a_total_shows_a_running_bar_then_green(explorer: Explorer) -> None:
    explorer.connector.value = "hubspot"  # cursor paging: the app never says how many
    seen: list[tuple[float, str]] = []
    explorer.progress.observe(
        lambda _: seen.append((explorer.progress.value, explorer.progress.bar_style)),
        names=["value", "bar_style"],
    )
    assert explorer.run() is not None, explorer.status.value
    assert (1.0, "info") in seen  # full and blue while it ran, not an empty bar
    assert (explorer.progress.value, explorer.progress.bar_style) == (1.0, "success")


def test_every_credential_fills_the_bar_credential_by_credential(
    sandbox: Sandbox, explorer: Explorer
) -> None:
    explorer.connector.value = "stripe"
    explorer.all_credentials.value = True
    values: list[float] = []
    explorer.progress.observe(lambda change: values.append(change["new"]), names="value")
    assert explorer.run() is not None, explorer.status.value
    assert 0.5 in values  # one of the two credentials done
    assert values[-1] == 1.0 and explorer.progress.bar_style == "success"


def test_buttons_on_a_closed_client_say_so_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As in a notebook whose last cell closed the client of an Explorer shown above it: the
    # embedded sandbox is gone with the client.
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    client = ad.connect(sandbox=True, announce=io.StringIO())
    explorer = Explorer(client)
    explorer.connector.value = "stripe"
    explorer.export_path.value = str(tmp_path / "charges.parquet")
    client.close()
    for button in (explorer.preview_button, explorer.pull_button, explorer.export_button):
        explorer.status.value = ""
        button.click()
        assert isinstance(explorer.error, ad.ClientClosedError), button.description
        assert "Client closed" in explorer.status.value
        assert "ad.connect()" in explorer.status.value
        assert client.config.api_key not in explorer.status.value
        assert explorer.progress.bar_style == "danger"
    assert not (tmp_path / "charges.parquet").exists()


def test_the_column_picker_lists_a_previews_paths_and_pull_export_and_code_honour_it(
    explorer: Explorer, client: AlloyClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explorer.connector.value = "shopify"
    assert explorer.columns.paths.options == ()
    explorer.preview_button.click()
    listed = explorer.columns.paths.options
    assert {"id", "customer", "customer.email", "line_items"} <= set(listed)
    assert listed.index("customer") < listed.index("customer.email")

    explorer.columns.paths.value = ("total_price", "customer.email", "id")
    explorer.columns.flatten.value = "struct"
    explorer.pull_button.click()
    frame = explorer.dataframe
    assert frame is not None, explorer.status.value
    # In the order the picker lists them; with structs, customer is one column.
    assert list(frame.columns) == [c for c in listed if c in {"id", "customer", "total_price"}]
    assert set(frame["customer"].iloc[0]) == {"email"}

    explorer.columns.flatten.value = "json"
    assert explorer.columns.depth.disabled
    explorer.export_path.value = str(tmp_path / "orders.parquet")
    explorer.export_button.click()
    written = pq.read_table(tmp_path / "orders.parquet")
    # Without updated_at among the columns, there is no mark to refresh from.
    assert explorer.refresh_button.disabled
    assert written.schema.field("customer").type == "string"
    assert json.loads(written.column("customer")[0].as_py()).keys() == {"email"}

    code = explorer.code
    assert 'flatten="json"' in code and "columns=[" in code
    monkeypatch.setattr(ad, "connect", lambda *args, **kwargs: client)
    namespace: dict[str, object] = {}
    with contextlib.redirect_stderr(io.StringIO()):
        exec(code, namespace)
    assert list(namespace["df"].columns) == written.column_names
    assert namespace["pull"].to_arrow().to_pylist() == written.to_pylist()


def test_the_explorer_serves_pull_from_the_store_shows_its_copies_and_refreshes_them(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with AlloyClient(
        sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id, store=tmp_path
    ) as client:
        explorer = Explorer(client)
        explorer.connector.value = "box"
        assert "No stored copy of list-files yet" in explorer.stored.table.value
        explorer.stored.max_age_box.value = "1h"
        explorer.pull_button.click()
        assert explorer.error is None, explorer.status.value
        assert "refreshed in full" in explorer.status.value
        assert "1 stored copy of list-files" in explorer.stored.table.value
        assert sandbox.fixtures.credentials["box"] in explorer.stored.table.value
        assert re.search(r"<td>\d+ s</td></tr></table>$", explorer.stored.table.value)
        rows = len(explorer.dataframe)

        before = sandbox.request_count
        explorer.pull_button.click()  # the same Pull again: from the store
        assert sandbox.request_count == before
        assert "served from the store (no request)" in explorer.status.value
        assert len(explorer.dataframe) == rows

        explorer.stored.refresh_button.click()
        assert sandbox.request_count > before
        assert "refreshed in full" in explorer.status.value
        assert 'max_age="1h"' in explorer.code

        explorer.stored.max_age_box.value = "soon"
        explorer.pull_button.click()
        assert "Max age must be a duration such as &quot;1h&quot;" in explorer.status.value


def test_the_explorer_without_a_store_says_so(sandbox: Sandbox) -> None:
    with AlloyClient(sandbox.api_key, base_url=sandbox.url, store=False) as client:
        explorer = Explorer(client)
        explorer.connector.value = "box"
        assert explorer.stored.max_age_box.disabled and explorer.stored.refresh_button.disabled
        assert "No local store" in explorer.stored.table.value


def test_explorer_shows_the_rate_limit_it_waited_for() -> None:
    with (
        serve(port=0, records=600, limits=["5/0.5s"]) as sb,
        AlloyClient(
            sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id, trust_env=False
        ) as alloy,
    ):
        explorer = Explorer(alloy)
        explorer.connector.value = "quickbooks"
        labels: list[str] = []
        explorer.progress_label.observe(lambda change: labels.append(change["new"]), "value")
        frame = explorer.run()
        assert frame is not None, explorer.status.value
        assert len(frame) == 600
        assert any("for the API&#x27;s rate limit" in label for label in labels), labels[-3:]
        stats = explorer.last_pull.stats
        assert stats.limit_waits > 0 and stats.refused <= 1
        assert f"{stats.limit_waits} waits for the rate limit" in explorer.status.value
