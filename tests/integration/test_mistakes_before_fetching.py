"""Mistakes caught before the pages are fetched: each is refused with an error that names the
fix, before any page request reaches the sandbox (or right after the first page, for what
only the records can tell), and leaves no checkpoint behind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import alloy_data as ad
from alloy_data.cli import main
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox, serve

SNAKE_CASE = ad.Incremental(cursor_field="updatedAt", primary_key="id")  # records say updated_at
TICKETS = ad.Incremental(cursor_field="updated_at", primary_key="id")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=5, records={"zendesk": 300, "shopify": 300}) as running:
        yield running


@pytest.fixture
def client(sb: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client:
        client._transport.retry_policy = RetryPolicy(max_retries=0)
        yield client


def orders(client: ad.AlloyClient, sb: Sandbox, **options: object) -> ad.Pull:
    return client.pull(
        "shopify",
        "list-orders",
        credential_id=sb.fixtures.credentials["shopify"],
        progress=False,
        **options,  # type: ignore[arg-type]
    )


def tickets(client: ad.AlloyClient, sb: Sandbox, **options: object) -> ad.Pull:
    return client.pull(
        "zendesk",
        "list-tickets",
        credential_id=sb.fixtures.credentials["zendesk"],
        page_size=25,
        progress=False,
        **options,  # type: ignore[arg-type]
    )


def litter(folder: Path) -> list[Path]:
    """What an export left in ``folder``: checkpoints, staging folders, files."""
    return sorted(folder.iterdir())


class Requests:
    """The requests that reached the sandbox within a ``with`` block."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.count = 0

    def __enter__(self) -> Requests:
        self.before = self.sb.request_count
        return self

    def __exit__(self, *_: object) -> None:
        self.count = self.sb.request_count - self.before


# -- parameter names ---------------------------------------------------------------------------


def test_a_misspelt_filter_is_refused_before_any_page(client, sb, tmp_path):
    with Requests(sb) as sent, pytest.raises(ad.ConfigurationError) as caught:
        orders(client, sb, parameters={"updated_at_mi": "2026-01-01"}).to_dataframe()
    message = str(caught.value)
    assert "Did you mean 'updated_at_min'?" in message
    assert "undeclared_parameters='send'" in message
    assert sent.count <= 1  # the action's details, never a page
    # Through a file sink too: nothing is left that a later run would resume.
    with Requests(sb) as sent, pytest.raises(ad.ConfigurationError, match="updated_at_min"):
        orders(client, sb, parameters={"updated_at_mi": "x"}).to_parquet(tmp_path / "o.parquet")
    assert sent.count <= 1
    assert litter(tmp_path) == []


def test_a_misspelt_filter_is_refused_in_the_live_dialect(live_sandbox):
    with ad.AlloyClient(
        live_sandbox.api_key, base_url=live_sandbox.url, user_id=live_sandbox.fixtures.user_id
    ) as client:
        pull = client.pull(
            "stripe",
            "list-charges",
            credential_id=live_sandbox.fixtures.credentials["stripe"],
            parameters={"created[gt]": 0},
            progress=False,
        )
        with (
            Requests(live_sandbox) as sent,
            pytest.raises(ad.ConfigurationError, match=r"Did you mean 'created\[gte\]'"),
        ):
            pull.to_arrow()
    assert sent.count <= 1
    assert pull.stats.requests == 0


def test_an_undeclared_name_sent_on_purpose_reaches_the_app(client, sb):
    pull = orders(client, sb, parameters={"updated_at_mi": "x"}, undeclared_parameters="send")
    # The sandbox, like many apps, refuses a name it does not know: the name was sent.
    with pytest.raises(ad.BadRequestError, match="updated_at_mi"):
        pull.to_dataframe()
    assert pull.stats.requests == 1


def test_a_filter_parameter_named_by_hand_is_checked(client, sb):
    wrong = ad.Incremental(cursor_field="updated_at", primary_key="id", parameter="updated_min")
    with (
        Requests(sb) as sent,
        pytest.raises(
            ad.ConfigurationError, match=r"Did you mean 'updated_at_min'.*Incremental\(parameter="
        ),
    ):
        orders(client, sb, incremental=wrong).to_dataframe()
    assert sent.count <= 1


def test_a_misspelt_filter_stops_a_pull_of_many_credentials_at_once(client, sb):
    many = client.pull_many(
        "shopify",
        "list-orders",
        credentials=[sb.fixtures.credentials["shopify"], "cred_unknown"],
        parameters={"updated_at_mi": "x"},
        progress=False,
    )
    with pytest.raises(ad.ConfigurationError, match="updated_at_min"):
        many.to_arrow()
    assert many.stats.requests == 0


def test_the_command_line_refuses_a_misspelt_param(capsys, sb, tmp_path):
    out = tmp_path / "orders.parquet"
    code = main(
        [
            "pull",
            "shopify",
            "list-orders",
            "--credential",
            sb.fixtures.credentials["shopify"],
            "--param",
            "updated_at_mi=2026-01-01",
            "--out",
            str(out),
            "--no-progress",
            "--base-url",
            sb.url,
            "--api-key",
            sb.api_key,
            "--user",
            sb.fixtures.user_id,
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "updated_at_min" in err
    assert litter(tmp_path) == []


# -- incremental fields ------------------------------------------------------------------------


def test_a_cursor_field_the_records_lack_stops_after_the_first_page(client, sb):
    pull = tickets(client, sb, incremental=SNAKE_CASE)
    with pytest.raises(ad.ConfigurationError) as caught:
        pull.to_dataframe()
    assert "Incremental(cursor_field='updated_at', primary_key='id', ...)" in str(caught.value)
    assert pull.stats.requests == 1  # page 2 was never asked for


def test_a_primary_key_the_records_lack_stops_after_the_first_page(client, sb):
    pull = tickets(client, sb, incremental=ad.Incremental("updated_at", primary_key="ticket_id"))
    with pytest.raises(ad.ConfigurationError, match="primary_key 'ticket_id'") as caught:
        list(pull.iter_records())
    assert "Build the pull with Incremental(" in str(caught.value)
    assert pull.stats.requests == 1


def test_a_merge_with_a_wrong_cursor_field_writes_nothing_and_leaves_no_checkpoint(
    client, sb, tmp_path, caplog
):
    target = tmp_path / "tickets.parquet"
    pull = tickets(client, sb, incremental=SNAKE_CASE)
    with pytest.raises(ad.ConfigurationError, match="cursor_field='updated_at'") as caught:
        pull.to_parquet(target, mode="merge")
    assert pull.stats.requests == 1
    assert "resume=True" not in str(caught.value)
    assert litter(tmp_path) == []
    # The corrected pull starts cleanly: no leftover checkpoint to be told about.
    with caplog.at_level(logging.INFO, logger="alloy_data.export"):
        tickets(client, sb, incremental=TICKETS).to_parquet(target, mode="merge")
    assert "resume=True" not in caplog.text
    assert ad.read_metadata(target)["row_count"] == "300"


# -- targets and modes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "fix"),
    [
        pytest.param(
            lambda p, d: p.to_parquet(d / "o.parquet", mode="sideways"),
            ad.ConfigurationError,
            "use 'replace'",
            id="unknown-mode",
        ),
        pytest.param(
            lambda p, d: p.to_parquet(d / "missing" / "o.parquet"),
            ad.ExportError,
            "Create the folder first",
            id="folder-that-does-not-exist",
        ),
        pytest.param(
            lambda p, d: p.replace_options(d).to_parquet(d / "missing" / "o.parquet"),
            ad.ExportError,
            "Create the folder first",
            id="folder-that-does-not-exist-incremental",
        ),
        pytest.param(
            lambda p, d: p.to_parquet(d / "orders.csv"),
            ad.ConfigurationError,
            "call to_file(path)",
            id="parquet-to-a-csv-name",
        ),
        pytest.param(
            lambda p, d: p.to_file(d / "orders.xlsx"),
            ad.ConfigurationError,
            "use one of .parquet",
            id="unknown-suffix",
        ),
        pytest.param(
            lambda p, d: p.replace_options(d).to_parquet(
                d / "o.parquet", mode="merge", partition_cols=["status"]
            ),
            ad.ConfigurationError,
            "write without partition_cols",
            id="merge-with-partition-cols",
        ),
        pytest.param(
            lambda p, d: p.to_parquet(d / "o.parquet", mode="append"),
            ad.ConfigurationError,
            "incremental=alloy_data.Incremental(",
            id="append-without-incremental",
        ),
    ],
)
def test_a_bad_target_or_mode_is_refused_before_any_request(client, sb, tmp_path, call, error, fix):
    class Plan:
        def __init__(self) -> None:
            self.pull = tickets(client, sb)

        def replace_options(self, _: Path) -> ad.Pull:
            return tickets(client, sb, incremental=TICKETS)

        def __getattr__(self, name: str) -> object:
            return getattr(self.pull, name)

    with Requests(sb) as sent, pytest.raises(error) as caught:
        call(Plan(), tmp_path)
    assert fix in str(caught.value)
    assert sent.count == 0  # not even the action's details
    assert litter(tmp_path) == []


def test_an_existing_file_without_overwrite_is_refused_before_any_request(client, sb, tmp_path):
    target = tmp_path / "tickets.parquet"
    target.write_bytes(b"kept")
    for pull in (tickets(client, sb), tickets(client, sb, incremental=TICKETS)):
        with Requests(sb) as sent, pytest.raises(ad.ExportError, match="overwrite=True"):
            pull.to_parquet(target)
        assert sent.count == 0
    assert litter(tmp_path) == [target] and target.read_bytes() == b"kept"


def test_many_credentials_merged_without_incremental_are_refused_before_any_request(
    client, sb, tmp_path
):
    many = client.pull_many("zendesk", "list-tickets", credentials="all", progress=False)
    with Requests(sb) as sent, pytest.raises(ad.ConfigurationError, match="Incremental\\("):
        many.to_parquet(tmp_path / "tickets", mode="merge")
    with pytest.raises(ad.ExportError, match="Create the folder first"):
        many.to_file(tmp_path / "missing" / "tickets.parquet")
    with pytest.raises(ad.ExportError, match="Create the folder first"):
        many.to_parquet(tmp_path / "missing" / "tickets")
    assert sent.count == 0
    assert litter(tmp_path) == []


# -- failures before any record was saved ------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        pytest.param("key", ad.AuthenticationError, id="401"),
        pytest.param("action", ad.NotFoundError, id="404-on-the-action"),
        pytest.param("port", ad.AlloyConnectionError, id="refused-connection"),
    ],
)
def test_a_failure_before_any_record_leaves_no_checkpoint(sb, tmp_path, caplog, failure, error):
    key, url, action = sb.api_key, sb.url, "list-tickets"
    if failure == "key":
        key = "sk_test_" + "0" * 32
    elif failure == "action":
        action = "list-tickettes"
    else:
        url = "http://127.0.0.1:9"  # the discard port: nothing listens there
    target = tmp_path / "tickets.parquet"
    with ad.AlloyClient(key, base_url=url, user_id=sb.fixtures.user_id, max_retries=0) as client:
        pull = client.pull(
            "zendesk",
            action,
            credential_id=sb.fixtures.credentials["zendesk"],
            retries=0,
            progress=False,
        )
        with pytest.raises(error) as caught:
            pull.to_parquet(target)
    assert "resume=True" not in str(caught.value)
    assert litter(tmp_path) == []
    with (
        ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id) as client,
        caplog.at_level(logging.INFO, logger="alloy_data.export"),
    ):
        tickets(client, sb).to_parquet(target)
    assert "resume=True" not in caplog.text


def test_many_credentials_that_all_fail_leave_no_staging_and_no_advice_to_resume(
    client, sb, tmp_path
):
    many = client.pull_many(
        "zendesk", "list-tickets", credentials=["cred_gone_1", "cred_gone_2"], progress=False
    )
    with pytest.raises(ad.AlloyError) as caught:
        many.to_parquet(tmp_path / "tickets.parquet")
    assert "nothing was written" in str(caught.value)
    assert "resume=True" not in str(caught.value)
    many.to_parquet(tmp_path / "tickets")  # a dataset: failures are noted, not raised
    assert not any("resume=True" in note for note in many.stats.notes)
    assert litter(tmp_path) == []


def test_a_merge_mistake_leaves_an_updated_dataset_published(client, sb, tmp_path):
    dataset = tmp_path / "tickets"
    credential = sb.fixtures.credentials["zendesk"]
    client.pull_many(
        "zendesk", "list-tickets", credentials=[credential], incremental=TICKETS, progress=False
    ).to_parquet(dataset, mode="merge")
    assert (dataset / "_SUCCESS").exists()
    wrong = client.pull_many(
        "zendesk", "list-tickets", credentials=[credential], incremental=SNAKE_CASE, progress=False
    )
    with pytest.raises(ad.ConfigurationError, match="cursor_field='updated_at'"):
        wrong.to_parquet(dataset, mode="merge")
    assert (dataset / "_SUCCESS").exists()
    assert not list(dataset.glob("*.alloy-checkpoint"))
