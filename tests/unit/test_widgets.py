"""The notebook widgets driven through their traits against a fake client (no sockets)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import ipywidgets as widgets
import pytest
import traitlets

from alloy_data.errors import ConfigurationError, NotFoundError, PermissionDeniedError
from alloy_data.http import RetryPolicy
from alloy_data.models import (
    Action,
    ActionParameter,
    Connector,
    Credential,
    CredentialField,
    CredentialMetadata,
    Resource,
    User,
)
from alloy_data.widgets import ActionPicker, ConnectorPicker, CredentialPicker, Explorer

CONNECTORS = [
    Connector("shopify", "Shopify", "E-Commerce"),
    Connector("hubspot", "HubSpot", "CRM"),
    Connector("stripe", "Stripe", "Payments"),
    Connector("quickbooks", "QuickBooks Online", "Accounting"),
    Connector("xero", "Xero", "Accounting"),
]
RESOURCES = {
    "shopify": [Resource("orders", "Orders", actions=("list", "get", "create"))],
    "stripe": [
        Resource("charges", "Charges", actions=("list",)),
        Resource("customers", "Customers", actions=("list-customers",)),
    ],
    "quickbooks": [Resource("customers", "Customers", actions=("list",))],
    "hubspot": [Resource("contacts", "Contacts", actions=("get",))],
}
ACTIONS = {
    ("shopify", "list-orders"): Action(
        "list-orders",
        parameters=(
            ActionParameter("first", "integer", default=50, maximum=250),
            ActionParameter("after", "string"),
            ActionParameter("status", "string", description="Order status"),
            ActionParameter("min_total", "number", description="Smallest total"),
            ActionParameter("test", "boolean", description="Test orders only"),
            ActionParameter("since_id", "integer", required=True, description="Start after"),
            ActionParameter("filter", "object", description="A JSON filter"),
        ),
    ),
    ("shopify", "get-orders"): Action(
        "get-orders", parameters=(ActionParameter("id", "string", required=True),)
    ),
    ("shopify", "create-orders"): Action("create-orders"),
    ("stripe", "list-charges"): Action(
        "list-charges", parameters=(ActionParameter("limit", "integer"),)
    ),
    ("stripe", "list-customers"): Action(
        "list-customers", parameters=(ActionParameter("email", "string"),)
    ),
    ("quickbooks", "list-customers"): Action(
        "list-customers", parameters=(ActionParameter("active", "boolean"),)
    ),
    ("hubspot", "get-contacts"): Action(
        "get-contacts", parameters=(ActionParameter("contactId", "string", required=True),)
    ),
}
METADATA = {
    "stripe": CredentialMetadata(
        "stripe",
        "api_key",
        fields=(
            CredentialField("account", "Account name", required=False),
            CredentialField("api_key", "A secret key", secret=True),
        ),
    ),
    "shopify": CredentialMetadata(
        "shopify", "oauth2", fields=(CredentialField("shop_domain", "Your store"),)
    ),
}


class FakeClient:
    """Answers from the tables above, counting calls ("connectors.list"); ``failures`` (by
    the same names) makes a call raise."""

    base_url = "http://127.0.0.1:8080"
    user_id = "usr_1"
    retry_policy = RetryPolicy()

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, Exception] = {}
        self.credentials_by_key: dict[tuple[str, str], list[Credential]] = {
            (connector.connector_id, "usr_1"): [
                Credential(f"cred_{connector.connector_id}_1", name=f"{connector.name} main"),
                Credential(f"cred_{connector.connector_id}_2"),
            ]
            for connector in CONNECTORS
        }
        self.credentials_by_key[("stripe", "usr_2")] = [
            Credential("cred_stripe_theirs", created_at="2026-01-02T03:04:05Z", user_id="usr_2")
        ]
        self.created: list[dict[str, Any]] = []
        self.oauth = False
        self.connectors = _Namespace(
            self, "connectors", list=self._connectors, resources=self._resources
        )
        self.actions = _Namespace(self, "actions", get=self._action)
        self.users = _Namespace(self, "users", list=self._users)
        self.credentials = _Namespace(
            self,
            "credentials",
            list=self._credentials,
            metadata=self._metadata,
            create=self._create,
        )

    def _users(self) -> list[User]:
        return [User("usr_1"), User("usr_2"), User("usr_3")]

    def _connectors(self, category: str | None = None) -> list[Connector]:
        return list(CONNECTORS)

    def _resources(self, connector_id: str) -> list[Resource]:
        if connector_id not in RESOURCES:
            raise NotFoundError("no such connector", status=404)
        return RESOURCES[connector_id]

    def _action(self, connector_id: str, action_id: str) -> Action:
        return ACTIONS[(connector_id, action_id)]

    def _credentials(self, connector_id: str, *, user_id: str) -> list[Credential]:
        return list(self.credentials_by_key.get((connector_id, user_id), []))

    def _metadata(self, connector_id: str) -> CredentialMetadata:
        return METADATA[connector_id]

    def _create(self, connector_id: str, **options: Any) -> Credential:
        self.created.append({"connector_id": connector_id, **options})
        new = Credential(f"cred_new_{len(self.created)}")
        listed = self.credentials_by_key.setdefault((connector_id, options["user_id"]), [])
        if self.oauth:
            self.pending = (listed, new)
            return Credential(None, oauth_url="https://auth.example/authorize?state=x&y=<1>")
        listed.append(new)
        return new


class _Namespace:
    def __init__(self, client: FakeClient, namespace: str, **methods: Any) -> None:
        for name, method in methods.items():
            setattr(self, name, self._counted(client, f"{namespace}.{name}", method))

    @staticmethod
    def _counted(client: FakeClient, name: str, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            client.calls[name] += 1
            if name in client.failures:
                raise client.failures[name]
            return method(*args, **kwargs)

        return call


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


# -- ConnectorPicker ------------------------------------------------------------------------


def test_connector_picker_fetches_only_the_connector_list(client: FakeClient) -> None:
    picker = ConnectorPicker(client)
    assert client.calls == Counter({"connectors.list": 1})
    assert picker.value is None
    assert picker.options[0] == ("Shopify (E-Commerce)", "shopify")
    assert [value for _, value in picker.options] == [c.connector_id for c in CONNECTORS]
    assert picker.category.options[0] == "All"
    assert set(picker.category.options[1:]) == {"E-Commerce", "CRM", "Payments", "Accounting"}
    assert isinstance(picker, widgets.VBox)


def test_category_and_search_filter_the_options(client: FakeClient) -> None:
    picker = ConnectorPicker(client)
    picker.category.value = "Accounting"
    assert [value for _, value in picker.options] == ["quickbooks", "xero"]
    picker.search.value = "xer"
    assert picker.options == [("Xero (Accounting)", "xero")]
    picker.category.value = "All"
    picker.search.value = "SHOP"
    assert [value for _, value in picker.options] == ["shopify"]
    assert client.calls == Counter({"connectors.list": 1})


def test_value_follows_the_dropdown_and_the_dropdown_follows_value(client: FakeClient) -> None:
    picker = ConnectorPicker(client)
    seen: list[str | None] = []
    picker.on_change(seen.append)
    changes: list[Any] = []
    picker.observe(lambda change: changes.append(change["new"]), names="value")
    picker.dropdown.value = "stripe"
    assert picker.value == "stripe"
    picker.value = "xero"
    assert picker.dropdown.value == "xero"
    assert seen == changes == ["stripe", "xero"]


def test_filtering_out_the_choice_clears_it(client: FakeClient) -> None:
    picker = ConnectorPicker(client, value="shopify")
    picker.search.value = "hub"
    assert picker.value is None
    assert picker.dropdown.value is None


def test_setting_a_filtered_out_value_clears_the_filters(client: FakeClient) -> None:
    picker = ConnectorPicker(client)
    picker.category.value = "CRM"
    picker.value = "stripe"
    assert picker.category.value == "All"
    assert picker.dropdown.value == "stripe"


def test_unknown_connector_is_refused(client: FakeClient) -> None:
    picker = ConnectorPicker(client)
    with pytest.raises(traitlets.TraitError, match="shopfy"):
        picker.value = "shopfy"


def test_connector_list_error_shows_inline(client: FakeClient) -> None:
    client.failures["connectors.list"] = PermissionDeniedError("key revoked", status=403)
    picker = ConnectorPicker(client)
    assert "Permission denied" in picker.status.value
    assert picker.options == []


# -- CredentialPicker -----------------------------------------------------------------------


def test_credential_picker_waits_for_a_connector(client: FakeClient) -> None:
    picker = CredentialPicker(client)
    assert sum(client.calls.values()) == 0
    assert picker.user_id == "usr_1"
    picker.connector_id = "shopify"
    assert client.calls == Counter({"credentials.list": 1})
    assert picker.options == [
        ("Shopify main · cred_shopify_1", "cred_shopify_1"),
        ("cred_shopify_2", "cred_shopify_2"),
    ]
    assert picker.value == "cred_shopify_1"


def test_credential_selection_is_kept_or_reset(client: FakeClient) -> None:
    picker = CredentialPicker(client, "shopify")
    picker.value = "cred_shopify_2"
    picker.refresh()
    assert picker.value == "cred_shopify_2"
    picker.connector_id = "stripe"
    assert picker.value == "cred_stripe_1"
    picker.user_id = "usr_nobody"
    assert picker.value is None
    assert picker.options == []
    assert "no credential" in picker.status.value
    assert client.calls == Counter({"credentials.list": 4})


def test_an_unlisted_credential_id_is_accepted(client: FakeClient) -> None:
    picker = CredentialPicker(client, "shopify")
    picker.value = "cred_of_someone_else"
    assert picker.dropdown.value == "cred_of_someone_else"
    assert ("cred_of_someone_else (not listed)", "cred_of_someone_else") in picker.options


def test_another_users_credential_is_named_with_its_owner(client: FakeClient) -> None:
    picker = CredentialPicker(client, "stripe")
    picker.value = "cred_stripe_theirs"
    assert picker.dropdown.value == "cred_stripe_theirs"
    label = dict((value, label) for label, value in picker.options)["cred_stripe_theirs"]
    assert label == "cred_stripe_theirs (created 2026-01-02T03:04:05Z) · user usr_2"
    # The picker's own user was listed already; the others are asked until it is found.
    assert client.calls["users.list"] == 1
    assert client.calls["credentials.list"] == 1 + 1


def test_an_unlisted_credential_keeps_its_id_when_the_users_cannot_be_listed(
    client: FakeClient,
) -> None:
    client.failures["users.list"] = PermissionDeniedError("not allowed", status=403)
    picker = CredentialPicker(client, "stripe")
    picker.value = "cred_stripe_theirs"
    assert ("cred_stripe_theirs (not listed)", "cred_stripe_theirs") in picker.options
    assert picker.status.value == ""


def test_new_credential_form_is_built_from_the_metadata(client: FakeClient) -> None:
    picker = CredentialPicker(client, "stripe")
    assert client.calls["credentials.metadata"] == 0
    picker.new_button.click()
    assert client.calls["credentials.metadata"] == 1
    assert picker.form.layout.display is None
    assert isinstance(picker.fields["api_key"], widgets.Password)
    assert not isinstance(picker.fields["account"], widgets.Password)
    assert picker.fields["api_key"].description == "api_key *"
    assert picker.fields["account"].description == "account"
    picker.new_button.click()
    assert client.calls["credentials.metadata"] == 1


def test_create_refuses_missing_required_fields(client: FakeClient) -> None:
    picker = CredentialPicker(client, "stripe")
    picker.show_form()
    picker.create_button.click()
    assert "api_key" in picker.status.value
    assert client.created == []


def test_create_makes_and_selects_the_credential(client: FakeClient) -> None:
    picker = CredentialPicker(client, "stripe")
    picker.show_form()
    picker.fields["api_key"].value = "sk_test_123"
    picker.create_button.click()
    assert client.created == [
        {
            "connector_id": "stripe",
            "user_id": "usr_1",
            "data": {"api_key": "sk_test_123"},
            "authentication_type": "api_key",
        }
    ]
    assert picker.value == "cred_new_1"
    assert picker.fields["api_key"].value == ""
    assert "sk_test_123" not in picker.status.value


def test_oauth_shows_a_link_and_refresh_selects_the_new_credential(client: FakeClient) -> None:
    client.oauth = True
    picker = CredentialPicker(client, "shopify")
    picker.show_form()
    picker.fields["shop_domain"].value = "mine.myshopify.com"
    created = picker.create()
    assert created is not None and created.oauth_url
    assert '<a href="https://auth.example/authorize?state=x&amp;y=&lt;1&gt;"' in (
        picker.oauth_link.value
    )
    assert picker.refresh_button.layout.display is None
    picker.refresh_button.click()
    assert picker.value == "cred_shopify_1"
    assert "No new credential yet" in picker.status.value
    listed, new = client.pending
    listed.append(new)
    picker.refresh_button.click()
    assert picker.value == new.credential_id
    assert picker.oauth_link.value == ""


def test_create_error_shows_inline(client: FakeClient) -> None:
    client.failures["credentials.create"] = PermissionDeniedError("not yours", status=403)
    picker = CredentialPicker(client, "stripe")
    picker.show_form()
    picker.fields["api_key"].value = "sk_test_123"
    picker.create_button.click()
    assert "Permission denied" in picker.status.value


# -- ActionPicker ---------------------------------------------------------------------------


def test_action_picker_lists_actions_and_selects_a_list_action(client: FakeClient) -> None:
    picker = ActionPicker(client)
    assert sum(client.calls.values()) == 0
    picker.connector_id = "shopify"
    assert picker.options == [
        ("Orders: list", "list-orders"),
        ("Orders: get", "get-orders"),
        ("Orders: create", "create-orders"),
    ]
    assert picker.value == "list-orders"
    assert client.calls == Counter({"connectors.resources": 1, "actions.get": 1})


def test_full_action_ids_read_as_verbs(client: FakeClient) -> None:
    picker = ActionPicker(client, "stripe")
    assert picker.options == [
        ("Charges: list", "list-charges"),
        ("Customers: list", "list-customers"),
    ]


def test_parameter_form_has_a_widget_per_type_and_no_paging(client: FakeClient) -> None:
    picker = ActionPicker(client, "shopify")
    fields = picker.fields
    assert list(fields) == ["status", "min_total", "test", "since_id", "filter"]
    assert picker.paging_parameters == ("first", "after")
    assert type(fields["status"]) is widgets.Text
    assert isinstance(fields["min_total"], widgets.FloatText)
    assert isinstance(fields["test"], widgets.Checkbox)
    assert isinstance(fields["since_id"], widgets.IntText)
    assert fields["since_id"].description == "since_id *"
    assert fields["status"].tooltip == "Order status"
    assert "Paging (first, after) is automatic" in picker.form.children[-1].value


def test_parameters_omit_empty_fields_and_convert_types(client: FakeClient) -> None:
    picker = ActionPicker(client, "shopify")
    assert picker.parameters == {"since_id": 0}
    picker.fields["status"].value = "  open "
    picker.fields["min_total"].value = 12.5
    picker.fields["test"].value = True
    picker.fields["since_id"].value = 42
    picker.fields["filter"].value = '{"tag": ["a", "b"]}'
    assert picker.parameters == {
        "status": "open",
        "min_total": 12.5,
        "test": True,
        "since_id": 42,
        "filter": {"tag": ["a", "b"]},
    }
    picker.fields["filter"].value = "{tag"
    with pytest.raises(ConfigurationError, match="filter"):
        picker.parameters  # noqa: B018


def test_choosing_an_action_rebuilds_the_form(client: FakeClient) -> None:
    picker = ActionPicker(client, "shopify")
    picker.dropdown.value = "get-orders"
    assert list(picker.fields) == ["id"]
    assert picker.parameters == {}
    picker.value = "list-orders"
    assert "status" in picker.fields
    # Details are fetched once per action.
    assert client.calls == Counter({"connectors.resources": 1, "actions.get": 2})


def test_same_action_id_on_another_connector_gets_its_own_form(client: FakeClient) -> None:
    picker = ActionPicker(client, "stripe")
    picker.value = "list-customers"
    assert list(picker.fields) == ["email"]
    picker.connector_id = "quickbooks"
    assert picker.value == "list-customers"
    assert list(picker.fields) == ["active"]


def test_unknown_action_is_refused(client: FakeClient) -> None:
    picker = ActionPicker(client, "shopify")
    with pytest.raises(traitlets.TraitError, match="list-contacts"):
        picker.value = "list-contacts"


def test_action_errors_show_inline(client: FakeClient) -> None:
    picker = ActionPicker(client)
    picker.connector_id = "box"
    assert "Not found" in picker.status.value
    assert picker.options == []
    assert picker.value is None


# -- Explorer -------------------------------------------------------------------------------


def test_explorer_cascade_without_feedback_loops(client: FakeClient) -> None:
    explorer = Explorer(client)
    assert client.calls == Counter({"connectors.list": 1})
    explorer.connector.value = "shopify"
    assert client.calls == Counter(
        {"connectors.list": 1, "credentials.list": 1, "connectors.resources": 1, "actions.get": 1}
    )
    assert explorer.credential.value == "cred_shopify_1"
    assert explorer.action.value == "list-orders"
    explorer.connector.search.value = "s"
    explorer.connector.category.value = "E-Commerce"
    assert client.calls == Counter(
        {"connectors.list": 1, "credentials.list": 1, "connectors.resources": 1, "actions.get": 1}
    )
    explorer.user.value = "usr_2"
    assert explorer.credential.user_id == "usr_2"
    assert explorer.credential.value is None
    assert client.calls["credentials.list"] == 2
    explorer.connector.value = "stripe"
    assert client.calls == Counter(
        {"connectors.list": 1, "credentials.list": 3, "connectors.resources": 2, "actions.get": 2}
    )


def test_explorer_asks_for_a_selection_first(client: FakeClient) -> None:
    explorer = Explorer(client)
    explorer.preview_button.click()
    assert "Choose a connector, a credential, an action first" in explorer.status.value
    assert explorer.run() is None
    assert isinstance(explorer.error, ConfigurationError)


def test_explorer_code_reproduces_the_selection(client: FakeClient) -> None:
    explorer = Explorer(client)
    explorer.connector.value = "shopify"
    explorer.action.fields["status"].value = "open"
    code = explorer.code
    assert code.startswith("import alloy_data as ad\n")
    assert "client = ad.connect()" in code
    assert '    credential_id="cred_shopify_1",\n    user_id="usr_1",\n' in code
    assert 'parameters={"status": "open", "since_id": 0},' in code
    assert code.rstrip().endswith("df = pull.to_dataframe()")
    compile(code, "<explorer.code>", "exec")
    assert explorer.show_code() == code
    assert explorer.output.outputs[0]["data"]["text/plain"] == code


def test_explorer_code_names_a_custom_base_url(client: FakeClient) -> None:
    client.base_url = "https://eu.alloy.example/"
    explorer = Explorer(client)
    assert 'client = ad.AlloyClient(base_url="https://eu.alloy.example")' in explorer.code


def test_explorer_code_says_when_a_parameter_does_not_parse(client: FakeClient) -> None:
    explorer = Explorer(client)
    explorer.connector.value = "shopify"
    explorer.action.fields["filter"].value = "{"
    assert "parameters={},  # Parameter 'filter' takes JSON" in explorer.code


# -- Errors in what the browser calls -------------------------------------------------------


@pytest.mark.parametrize(
    ("button", "method"),
    [("preview_button", "preview"), ("pull_button", "run"), ("export_button", "export")],
)
def test_an_unexpected_error_in_a_click_shows_in_the_status_line(
    client: FakeClient, button: str, method: str
) -> None:
    explorer = Explorer(client)
    explorer.connector.value = "stripe"
    client.failures["actions.get"] = RuntimeError("the kernel ran out of something")
    getattr(explorer, button).click()
    assert "Unexpected RuntimeError: the kernel ran out of something" in explorer.status.value
    assert f"explorer.{method}()" in explorer.status.value
    assert isinstance(explorer.error, RuntimeError)
    assert explorer.progress.bar_style == "danger"
    # Called from a cell, the same method raises, so its traceback shows there.
    with pytest.raises(RuntimeError):
        getattr(explorer, method)()


def test_an_unexpected_error_after_choosing_a_connector_shows_in_the_status_line(
    client: FakeClient,
) -> None:
    explorer = Explorer(client)
    client.failures["credentials.list"] = RuntimeError("no more sockets")
    explorer.connector.dropdown.value = "shopify"
    assert explorer.connector.value == "shopify"
    assert "Unexpected RuntimeError: no more sockets" in explorer.status.value


def test_an_unexpected_error_in_the_credential_form_shows_in_its_status_line(
    client: FakeClient,
) -> None:
    picker = CredentialPicker(client, "stripe")
    client.failures["credentials.metadata"] = KeyError("fields")
    picker.new_button.click()
    assert "Unexpected KeyError" in picker.status.value
    assert "credential_picker.show_form()" in picker.status.value
    client.failures.clear()
    picker.new_button.click()
    assert picker.form.layout.display is None


def test_an_unexpected_error_from_the_search_box_shows_in_the_status_line(
    client: FakeClient,
) -> None:
    picker = ConnectorPicker(client)
    picker.connectors = [*picker.connectors, "not a connector"]  # type: ignore[list-item]
    picker.search.value = "x"
    assert "Unexpected AttributeError" in picker.status.value
