"""Mistakes caught before the pages are fetched, without sockets: parameter names the action
does not declare, and incremental fields that the first page's records do not have."""

from __future__ import annotations

from typing import Any

import pytest

import alloy_data as ad
from alloy_data.config import ClientConfig
from alloy_data.errors import ConfigurationError
from alloy_data.http import RetryPolicy
from alloy_data.incremental import check_record_fields
from alloy_data.models import Action, ActionParameter, ActionResult
from alloy_data.options import PullOptions
from alloy_data.pagination import CursorPaginator
from alloy_data.pull import Pull
from alloy_data.pull._parameters import check_parameter_names, declared_parameter_names

LEDGER = Action.from_json(
    {
        "actionId": "list-invoices",
        "parameters": [
            {"name": "limit", "type": "integer"},
            {"name": "offset", "type": "integer"},
            {"name": "updated_since", "type": "string"},
        ],
    }
)
LIVE = Action.from_json(
    {
        "action": {
            "id": "search-pages",
            "parameters": [{"name": "workspace", "in": "path", "required": True}],
            "requestBody": {
                "type": "object",
                "properties": {"filter": {"type": "object"}, "page_size": {"type": "integer"}},
            },
        }
    }
)


def check(action: Action, parameters: dict[str, Any], **options: Any) -> list[str]:
    return check_parameter_names(
        action, "ledgerly", parameters, undeclared=options.pop("undeclared", "refuse"), **options
    )


def test_the_declared_names_come_from_either_dialect() -> None:
    assert declared_parameter_names(LEDGER) == {"limit", "offset", "updated_since"}
    assert declared_parameter_names(LIVE) == {"workspace", "filter", "page_size"}


@pytest.mark.parametrize(
    "action",
    [
        Action(action_id="bare"),
        Action(action_id="free-body", request_body={"type": "object"}),
        Action(
            action_id="open-body",
            parameters=(ActionParameter("q", location="query"),),
            request_body={"properties": {"a": {}}, "additionalProperties": True},
        ),
    ],
    ids=["no-parameter-list", "body-without-properties", "body-open-to-any-name"],
)
def test_an_action_that_declares_no_fixed_names_is_not_checked_and_the_notes_say_so(
    action: Action,
) -> None:
    assert declared_parameter_names(action) is None
    notes = check(action, {"updated_sinc": "2026-01-01"})
    assert len(notes) == 1 and "'updated_sinc'" in notes[0] and "unchecked" in notes[0]


def test_a_misspelt_name_is_refused_naming_the_closest_and_the_way_to_send_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        check(LEDGER, {"updated_sinc": "2026-01-01", "limit": 10})
    message = str(caught.value)
    assert "'updated_sinc' is not a parameter of ledgerly list-invoices" in message
    assert "Did you mean 'updated_since'?" in message
    assert "undeclared_parameters='send'" in message
    assert "limit, offset, updated_since" in message
    assert isinstance(caught.value, ValueError)


def test_a_name_alike_but_for_case_and_underscores_is_suggested() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'updated_since'"):
        check(LEDGER, {"UpdatedSince": "2026-01-01"})


def test_names_in_the_request_body_schema_are_declared() -> None:
    assert check(LIVE, {"filter": {"status": "open"}, "workspace": "w1"}) == []
    with pytest.raises(ConfigurationError, match="Did you mean 'filter'"):
        check(LIVE, {"filters": {}})


def test_paging_parameters_are_never_refused() -> None:
    # The paginator sets these whether or not the action's details list them.
    assert check(LEDGER, {"cursor": "abc", "page": 2, "per_page": 10}) == []
    paginator = CursorPaginator(cursor_parameter="continuationKey")
    assert check(LEDGER, {"continuationKey": "x"}, paginator=paginator) == []
    with pytest.raises(ConfigurationError):
        check(LEDGER, {"continuationKey": "x"})


def test_sending_undeclared_names_on_purpose_is_noted() -> None:
    notes = check(LEDGER, {"expand": "lines"}, undeclared="send")
    assert notes == [
        "parameters: sent 'expand', which 'list-invoices' does not declare "
        "(undeclared_parameters='send')"
    ]


def test_a_filter_parameter_named_by_hand_is_checked_too() -> None:
    with pytest.raises(ConfigurationError, match=r"Incremental\(parameter=\.\.\.\)"):
        check(LEDGER, {}, filter_parameter="updated_after")
    assert check(LEDGER, {}, filter_parameter="updated_since") == []


def test_the_option_takes_refuse_or_send_only() -> None:
    assert PullOptions().undeclared_parameters == "refuse"
    assert PullOptions(undeclared_parameters="send").undeclared_parameters == "send"
    with pytest.raises(ConfigurationError, match="undeclared_parameters must be 'refuse'"):
        PullOptions(undeclared_parameters="ignore")  # type: ignore[arg-type]


# -- incremental fields ------------------------------------------------------------------------

SNAKE = [{"id": 1, "updated_at": "2026-01-01T00:00:00Z", "customer": {"updated_at": None}}]


def test_a_cursor_field_no_record_has_is_refused_naming_the_field_that_is_there() -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_record_fields(SNAKE, ad.Incremental(cursor_field="updatedAt", primary_key="id"))
    message = str(caught.value)
    assert "cursor_field 'updatedAt'" in message
    assert "Incremental(cursor_field='updated_at', primary_key='id', ...)" in message


def test_a_primary_key_no_record_has_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"primary_key='Id', \.\.\.\)") as caught:
        check_record_fields(
            [{"Id": 1, "updated_at": 1}],
            ad.Incremental(cursor_field="updated_at", primary_key="ID"),
        )
    assert "primary_key 'ID' (closest: 'Id')" in str(caught.value)
    assert "high-water mark" not in str(caught.value)


@pytest.mark.parametrize(
    "incremental",
    [
        ad.Incremental(cursor_field="updated_at", primary_key="id"),
        ad.Incremental(cursor_field="customer.updated_at", primary_key=["id"]),
    ],
    ids=["top-level", "dotted-path-even-when-null"],
)
def test_fields_the_records_have_pass(incremental: ad.Incremental) -> None:
    check_record_fields(SNAKE, incremental)


def test_a_page_without_records_tells_nothing() -> None:
    check_record_fields([], ad.Incremental(cursor_field="nowhere"))


# -- in a pull ---------------------------------------------------------------------------------


class CountingActions:
    """Two pages of snake_case records behind a cursor; counts the execute calls."""

    def __init__(self) -> None:
        self.executed = 0

    def get(self, connector_id: str, action_id: str, **_: Any) -> Action:
        return Action.from_json(
            {"actionId": action_id, "parameters": [{"name": "cursor"}, {"name": "status"}]}
        )

    def rate_limits(self, credential_id: str) -> list[Any]:
        return []  # no answer of a fake tells a rate limit

    def execute(self, *_: Any, parameters: dict[str, Any], **__: Any) -> ActionResult:
        self.executed += 1
        second = parameters.get("cursor") == "p2"
        data = {
            "data": [{"id": 2 if second else 1, "updated_at": "2026-01-01T00:00:00Z"}],
            "next_cursor": None if second else "p2",
        }
        return ActionResult.from_json({"success": True, "data": data})


class FakeClient:
    def __init__(self) -> None:
        self.actions = CountingActions()
        self.config = ClientConfig.resolve(
            "sk_fake_0123456789", base_url="http://127.0.0.1:1", environ={}
        )
        self.retry_policy = RetryPolicy(max_retries=0)


def pull(client: FakeClient, **options: Any) -> Pull:
    return Pull(
        client,  # type: ignore[arg-type]
        "ledgerly",
        "list-invoices",
        credential_id="cred",
        options=PullOptions(progress=False, **options),
    )


def test_a_pull_with_an_undeclared_name_requests_no_page() -> None:
    client = FakeClient()
    with pytest.raises(ConfigurationError, match="Did you mean 'status'"):
        pull(client, parameters={"statuss": "open"}).to_dataframe()
    assert client.actions.executed == 0
    sent = pull(client, parameters={"statuss": "open"}, undeclared_parameters="send")
    assert len(sent.to_dataframe()) == 2
    assert any("'statuss'" in note for note in sent.stats.notes)


@pytest.mark.parametrize("concurrency", [1, "auto"])
def test_a_wrong_cursor_field_stops_the_pull_after_its_first_page(concurrency: Any) -> None:
    client = FakeClient()
    wrong = ad.Incremental(cursor_field="updatedAt", primary_key="id")
    with pytest.raises(ConfigurationError, match="cursor_field='updated_at'"):
        pull(client, incremental=wrong, concurrency=concurrency).to_dataframe()
    assert client.actions.executed == 1
    with pytest.raises(ConfigurationError, match="cursor_field='updated_at'"):
        list(pull(client, incremental=wrong).iter_pages())
    assert client.actions.executed == 2
    right = pull(client, incremental=ad.Incremental(cursor_field="updated_at", primary_key="id"))
    assert len(right.to_dataframe()) == 2
