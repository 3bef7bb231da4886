"""The models' lenient readers on both dialects' shapes, including odd ones."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from alloy_data.errors import ResponseError
from alloy_data.models import (
    Action,
    ActionParameter,
    ActionResult,
    Connector,
    Credential,
    CredentialField,
    CredentialMetadata,
    Resource,
    User,
    resolve_action_id,
)

OBJECT_ID = "68c3229752345278627ae373"


# users


@pytest.mark.parametrize(
    ("obj", "user_id", "username", "full_name"),
    [
        (
            {"userId": "usr_abc123", "username": "user-123", "createdAt": "2026-04-19T10:00:00Z"},
            "usr_abc123",
            "user-123",
            None,
        ),
        ({"userId": OBJECT_ID}, OBJECT_ID, None, None),
        (
            {"userId": OBJECT_ID, "username": "u", "fullName": "Full Name"},
            OBJECT_ID,
            "u",
            "Full Name",
        ),
        ({"user": {"id": "nested", "full_name": "N"}}, "nested", None, "N"),
        ({"_id": 12345}, "12345", None, None),
    ],
    ids=["seed", "live-create", "live-list", "wrapped", "numeric-id"],
)
def test_user_from_json(
    obj: dict[str, Any], user_id: str, username: str | None, full_name: str | None
) -> None:
    user = User.from_json(obj)
    assert (user.user_id, user.username, user.full_name) == (user_id, username, full_name)
    assert user.raw


@pytest.mark.parametrize(
    "obj", [{}, {"username": "x"}, [], "usr_1", None], ids=["empty", "no-id", "list", "str", "none"]
)
def test_user_without_an_id_is_a_response_error(obj: Any) -> None:
    with pytest.raises(ResponseError):
        User.from_json(obj)


def test_models_are_frozen_and_raw_is_not_compared() -> None:
    first = User.from_json({"userId": "u", "extra": 1})
    second = User.from_json({"userId": "u", "extra": 2})
    assert first == second
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.user_id = "v"  # type: ignore[misc]


# connectors and resources


def test_connector_seed_shape() -> None:
    connector = Connector.from_json(
        {
            "connectorId": "shopify",
            "name": "Shopify",
            "category": "E-Commerce",
            "iconUrl": "https://assets.runalloy.com/icons/shopify.png",
            "actionCount": 45,
        }
    )
    assert connector == Connector(
        "shopify", "Shopify", "E-Commerce", "https://assets.runalloy.com/icons/shopify.png", 45
    )


def test_connector_odd_shape() -> None:
    connector = Connector.from_json(
        {"id": "hubspot", "displayName": "HubSpot", "actionCount": "many"}
    )
    assert connector.connector_id == "hubspot"
    assert connector.name == "HubSpot"
    assert connector.action_count is None


@pytest.mark.parametrize(
    ("actions", "expected_ids"),
    [
        (["list", "get", "create"], ("list-orders", "get-orders", "create-orders")),
        (["list-orders", "orders_get"], ("list-orders", "orders_get")),
        (
            [{"actionId": "list-orders"}, {"name": "get"}, {"other": 1}, None],
            ("list-orders", "get-orders"),
        ),
        (None, ()),
    ],
    ids=["names", "full-ids", "objects-and-junk", "missing"],
)
def test_resource_actions_resolve_to_ids(actions: Any, expected_ids: tuple[str, ...]) -> None:
    resource = Resource.from_json({"resourceId": "orders", "actions": actions})
    assert resource.action_ids == expected_ids


@pytest.mark.parametrize(
    ("resource", "action", "expected"),
    [
        ("orders", "list", "list-orders"),
        ("orders", "list-orders", "list-orders"),
        ("orders", "listorders", "listorders"),
        ("", "list", "list"),
        ("contacts", "search_contacts", "search_contacts"),
    ],
    ids=["name", "id", "suffix", "no-resource", "underscore"],
)
def test_resolve_action_id(resource: str, action: str, expected: str) -> None:
    assert resolve_action_id(resource, action) == expected


# actions


def test_action_seed_shape_declares_no_locations() -> None:
    action = Action.from_json(
        {
            "actionId": "list-orders",
            "name": "List Orders",
            "parameters": [
                {"name": "limit", "type": "integer", "required": False, "maximum": 250},
            ],
        }
    )
    assert action.action_id == "list-orders"
    assert action.parameter("limit") == ActionParameter("limit", "integer", maximum=250)
    assert action.parameter("nope") is None
    assert not action.declares_locations


def test_action_live_shape_declares_locations() -> None:
    action = Action.from_json(
        {
            "action": {
                "id": "list-orders",
                "displayName": "List orders",
                "httpMethod": "GET",
                "path": "/orders.json",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "QUERY",
                        "required": True,
                        "schema": {"type": "integer", "maximum": 250, "default": 50},
                    },
                    "junk",
                ],
            }
        }
    )
    parameter = action.parameter("limit")
    assert parameter is not None
    assert (parameter.location, parameter.type, parameter.maximum, parameter.default) == (
        "query",
        "integer",
        250,
        50,
    )
    assert parameter.required is True
    assert action.http_method == "GET"
    assert action.name == "List orders"
    assert len(action.parameters) == 1
    assert action.declares_locations


def test_action_with_only_a_body_schema_declares_locations() -> None:
    action = Action.from_json({"id": "create", "requestBody": {"type": "object"}})
    assert action.declares_locations


def test_action_id_falls_back_to_the_requested_one() -> None:
    assert Action.from_json({"name": "x"}, action_id="asked").action_id == "asked"
    with pytest.raises(ResponseError):
        Action.from_json({"name": "x"})


def test_parameter_without_a_name_is_a_response_error() -> None:
    with pytest.raises(ResponseError):
        ActionParameter.from_json({"type": "integer"})


# execute answers


@pytest.mark.parametrize(
    ("body", "data", "success", "execution_id", "status"),
    [
        (
            {"success": True, "data": {"orders": [{"id": 1}]}},
            {"orders": [{"id": 1}]},
            True,
            None,
            None,
        ),
        (
            {
                "responseData": {"data": {"orders": {"edges": []}}},
                "executionId": "ex1",
                "status": "completed",
            },
            {"data": {"orders": {"edges": []}}},
            None,
            "ex1",
            "completed",
        ),
        ({"success": True, "result": {"items": []}}, {"items": []}, True, None, None),
        (
            {"data": [{"id": 1}], "pagination": {"hasMore": True, "nextOffset": 50}},
            [{"id": 1}],
            None,
            None,
            None,
        ),
        ({"data": [1]}, [1], None, None, None),
        ({"orders": [], "next": None}, {"orders": [], "next": None}, None, None, None),
        ([{"id": 1}], [{"id": 1}], None, None, None),
        ({"responseData": None, "status": 200}, None, None, None, "200"),
    ],
    ids=[
        "seed",
        "live-responseData",
        "result",
        "pagination",
        "data-only",
        "bare-object",
        "bare-list",
        "status-int",
    ],
)
def test_action_result_envelopes(
    body: Any, data: Any, success: bool | None, execution_id: str | None, status: str | None
) -> None:
    result = ActionResult.from_json(body)
    assert result.data == data
    assert result.success is success
    assert result.execution_id == execution_id
    assert result.status == status
    assert result.raw is body
    assert not result.failed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"success": False, "message": "bad cursor"}, "bad cursor"),
        ({"status": "FAILED", "responseData": {"error": {"message": "nested"}}}, "nested"),
        ({"status": "error", "error": {"code": "E1"}}, "E1"),
        ({"success": False}, None),
    ],
    ids=["success-false", "status-failed-nested", "status-error-code", "no-message"],
)
def test_failed_results(body: Any, message: str | None) -> None:
    result = ActionResult.from_json(body)
    assert result.failed
    assert result.error_message == message


# credentials


def test_credential_metadata_seed_shape() -> None:
    metadata = CredentialMetadata.from_json(
        {
            "connectorId": "shopify",
            "authType": "oauth2",
            "requiredFields": [
                {"name": "shop_domain", "description": "Your store", "required": True},
                {"name": "api_secret"},
            ],
        }
    )
    assert metadata.connector_id == "shopify"
    assert metadata.auth_type == "oauth2"
    assert metadata.auth_types == ("oauth2",)
    assert [f.name for f in metadata.fields] == ["shop_domain", "api_secret"]
    assert metadata.fields[1].secret
    assert not metadata.fields[0].secret


def test_credential_metadata_live_shape() -> None:
    metadata = CredentialMetadata.from_json(
        {
            "metadata": [
                {
                    "authenticationType": "apiKey",
                    "authConfigRequired": True,
                    "inputSchema": {
                        "type": "object",
                        "required": ["apiKey"],
                        "properties": {
                            "apiKey": {"type": "string", "title": "API key"},
                            "region": {"type": "string", "description": "Region"},
                        },
                    },
                },
                {"authenticationType": "oauth2"},
            ]
        },
        connector_id="stripe",
    )
    assert metadata.connector_id == "stripe"
    assert metadata.auth_type == "apiKey"
    assert metadata.auth_types == ("apiKey", "oauth2")
    fields = {f.name: f for f in metadata.fields}
    assert fields["apiKey"].required and fields["apiKey"].secret
    assert fields["apiKey"].description == "API key"
    assert not fields["region"].required


def test_credential_field_needs_a_name() -> None:
    with pytest.raises(ResponseError):
        CredentialField.from_json({"description": "x"})


@pytest.mark.parametrize(
    ("obj", "credential_id", "oauth_url", "type_"),
    [
        (
            {"credentialId": "cred_xyz789", "connectorId": "shopify", "userId": "usr_abc123"},
            "cred_xyz789",
            None,
            None,
        ),
        (
            {"credentialId": OBJECT_ID, "name": "Shop", "type": "shopify-oauth2"},
            OBJECT_ID,
            None,
            "shopify-oauth2",
        ),
        ({"oauthUrl": "https://auth.example.com/x"}, None, "https://auth.example.com/x", None),
        ({"connectionId": "conn_1"}, "conn_1", None, None),
    ],
    ids=["seed", "live-list", "live-oauth", "older-connection-id"],
)
def test_credential_shapes(
    obj: dict[str, Any], credential_id: str | None, oauth_url: str | None, type_: str | None
) -> None:
    credential = Credential.from_json(obj, connector_id="shopify", user_id="u")
    assert credential.credential_id == credential_id
    assert credential.oauth_url == oauth_url
    assert credential.type == type_
    assert credential.connector_id == "shopify"
    assert credential.user_id == (obj.get("userId") or "u")


def test_credential_with_neither_id_nor_url_is_a_response_error() -> None:
    with pytest.raises(ResponseError):
        Credential.from_json({"name": "x"})
