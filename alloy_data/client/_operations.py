"""The client's namespaces: users, connectors, actions and credentials, one method per operation.

Each namespace sends its requests through the client's transport and reads the answer envelopes
of both wire dialects; :func:`build_execute_body` writes the execute call's body for both.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from alloy_data._tuning import ACTION_CACHE_SIZE
from alloy_data.errors import BadRequestError, ConfigurationError, NotFoundError, ResponseError
from alloy_data.http import (
    BudgetFigures,
    OnRetry,
    RetryPolicy,
    Transport,
    encode_path,
    iter_secrets_in,
)
from alloy_data.models import (
    Action,
    ActionResult,
    Connector,
    Credential,
    CredentialMetadata,
    Resource,
    User,
)

if TYPE_CHECKING:
    from alloy_data.client._client import AlloyClient

__all__ = [
    "ACTION_CACHE_SIZE",
    "ActionOperations",
    "ConnectorOperations",
    "CredentialOperations",
    "UserOperations",
    "build_execute_body",
]

_log = logging.getLogger("alloy_data.client")


# Where the live execute body wants a parameter, by the metadata's `in`.
LOCATION_SLOTS: Mapping[str, str] = {
    "query": "queryParameters",
    "path": "pathParams",
    "header": "additionalHeaders",
    "body": "requestBody",
}
LIVE_SLOTS = ("queryParameters", "pathParams", "requestBody", "additionalHeaders")

T = TypeVar("T")


def _require_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{name} must be a non-empty string, got {value!r}. List what exists to find it "
            "(client.users.list(), client.credentials.list(connector_id))."
        )
    return value


def _acting_user(given: object, default: str | None) -> str | None:
    """The user a call acts for: the one given, else the client's, else None (the API key's
    own user, which the API acts as when no user is sent)."""
    user = given if given is not None else default
    if user is None:
        return None
    if not isinstance(user, str) or not user.strip():
        raise ConfigurationError(
            f"user_id must be a non-empty string, got {user!r}. Leave it out (None) to act as "
            "the API key's own user, or pass a user's id (client.users.list() lists them)."
        )
    return user


def _body_property_names(action: Action) -> frozenset[str]:
    schema = action.request_body or {}
    properties = schema.get("properties")
    return frozenset(properties) if isinstance(properties, Mapping) else frozenset()


def _slot_for(action: Action, name: str, body_names: frozenset[str]) -> str:
    parameter = action.parameter(name)
    location = parameter.location if parameter is not None else None
    if location is not None and location in LOCATION_SLOTS:
        return LOCATION_SLOTS[location]
    if name in body_names or action.request_body is not None:
        return "requestBody"
    # A list action without a body schema takes its options in the query string.
    return "queryParameters"


def build_execute_body(
    action: Action | None,
    *,
    credential_id: str,
    user_id: str | None,
    parameters: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Build the body of an execute call for both dialects.

    The contract's ``{userId, credentialId, parameters}`` is always there. When the action's
    metadata declares where its parameters go (the live API), each parameter is also placed in
    ``queryParameters``, ``pathParams``, ``additionalHeaders`` or ``requestBody``; names the
    metadata does not know go to ``requestBody`` when the action has a body schema, else to
    ``queryParameters``.

    Returns:
        The JSON body as a dict.
    """
    params = dict(parameters or {})
    body: dict[str, Any] = {"credentialId": credential_id, "parameters": params}
    if user_id:
        body["userId"] = user_id
    if action is None or not action.declares_locations:
        return body
    slots: dict[str, dict[str, Any]] = {slot: {} for slot in LIVE_SLOTS}
    body_names = _body_property_names(action)
    for name, value in params.items():
        slots[_slot_for(action, name, body_names)][name] = value
    body.update(slots)
    return body


class _Operations:
    """Shared plumbing of the namespaces: requests and reading list envelopes."""

    def __init__(self, client: AlloyClient, transport: Transport) -> None:
        self._client = client
        self._transport = transport

    def _object(self, payload: Any, method: str, path: str) -> Mapping[str, Any]:
        if not isinstance(payload, Mapping):
            path = self._transport.redact(path)
            kind = "an empty body" if payload is None else f"a JSON {type(payload).__name__}"
            raise ResponseError(
                f"The answer to {method} {path} is {kind} where a JSON object belongs. Check "
                f"that the base URL {self._client.base_url} points at the Alloy API.",
                method=method,
                path=path,
            )
        return payload

    def _items(self, payload: Any, keys: tuple[str, ...], method: str, path: str) -> list[Any]:
        body = self._object(payload, method, path)
        path = self._transport.redact(path)
        for key in keys:
            value = body.get(key)
            if isinstance(value, list):
                return value
        expected = " or ".join(repr(k) for k in keys)
        raise ResponseError(
            f"The answer to {method} {path} has no {expected} list (keys: "
            f"{sorted(map(str, body))[:10]}). Check the base URL and API version.",
            method=method,
            path=path,
        )

    def _read(self, build: Callable[[], T], method: str, path: str) -> T:
        try:
            return build()
        except ResponseError as exc:
            path = self._transport.redact(path)
            raise ResponseError(f"{exc} ({method} {path})", method=method, path=path) from None


class UserOperations(_Operations):
    """``client.users``: the end users who own credentials."""

    def create(self, username: str, *, full_name: str | None = None) -> User:
        """Create a user.

        Returns:
            The new user (the live API answers only the id; the rest is filled from the call).
        """
        _require_text(username, "username")
        body: dict[str, Any] = {"username": username}
        if full_name is not None:
            body["fullName"] = full_name
        path = encode_path("users")
        payload = self._transport.request("POST", path, json_body=body)
        user = self._read(lambda: User.from_json(self._object(payload, "POST", path)), "POST", path)
        return User(
            user_id=user.user_id,
            username=user.username or username,
            full_name=user.full_name or full_name,
            created_at=user.created_at,
            raw=user.raw,
        )

    def token(self, user_id: str) -> str:
        """Generate a short-lived JWT for the user (for Alloy's frontend SDKs).

        The token is returned to you and never logged.

        Returns:
            The token.
        """
        path = encode_path("users", user_id, "token")
        body = self._object(self._transport.request("GET", path), "GET", path)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            shown = self._transport.redact(path)
            raise ResponseError(
                f"The answer to GET {shown} has no token.", method="GET", path=shown
            )
        self._transport.add_secret(token)
        return token

    def list(self) -> builtins.list[User]:
        """List the users of this API key.

        Returns:
            The users.
        """
        path = encode_path("users")
        items = self._items(self._transport.request("GET", path), ("data", "users"), "GET", path)
        return self._read(lambda: [User.from_json(item) for item in items], "GET", path)

    def credentials(self, user_id: str) -> builtins.list[Credential]:
        """List every credential (connection) of a user, across connectors.

        Returns:
            The user's credentials.
        """
        path = encode_path("users", user_id, "credentials")
        payload = self._transport.request("GET", path, user_id=user_id)
        items = self._items(payload, ("data", "credentials"), "GET", path)
        return self._read(
            lambda: [Credential.from_json(item, user_id=user_id) for item in items], "GET", path
        )

    def delete_credential(self, user_id: str, credential_id: str) -> None:
        """Delete one of a user's credentials (connections).

        Raises:
            BadRequestError: The server answered that it did not delete it.
        """
        path = encode_path("users", user_id, "credentials", credential_id)
        payload = self._transport.request("DELETE", path, user_id=user_id)
        if isinstance(payload, Mapping) and payload.get("success") is False:
            message = payload.get("message") or payload.get("error") or "success: false"
            raise BadRequestError(
                self._transport.redact(str(message)),
                status=200,
                method="DELETE",
                path=self._transport.redact(path),
                hint="The server did not delete the credential; list the user's credentials "
                "to check it exists (client.users.credentials(user_id))",
            )


class ConnectorOperations(_Operations):
    """``client.connectors``: the apps the API reaches, their resources and actions."""

    def list(self, category: str | None = None) -> builtins.list[Connector]:
        """List connectors, optionally only those of one category (``"E-Commerce"``).

        Returns:
            The connectors.
        """
        path = encode_path("connectors")
        params = {"category": category} if category else None
        payload = self._transport.request("GET", path, params=params)
        items = self._items(payload, ("connectors", "data"), "GET", path)
        return self._read(lambda: [Connector.from_json(item) for item in items], "GET", path)

    def resources(self, connector_id: str) -> builtins.list[Resource]:
        """List a connector's resources (orders, customers, ...) and their actions.

        Returns:
            The resources.
        """
        path = encode_path("connectors", connector_id, "resources")
        payload = self._transport.request("GET", path)
        items = self._items(payload, ("resources", "data"), "GET", path)
        return self._read(lambda: [Resource.from_json(item) for item in items], "GET", path)

    def actions(self, connector_id: str) -> builtins.list[tuple[str, str]]:
        """List a connector's actions as ``(resource_id, action_id)`` pairs.

        Action names are resolved to ids (``list`` on ``orders`` is ``list-orders``).

        Returns:
            The pairs, in the server's order.
        """
        return [
            (resource.resource_id, action_id)
            for resource in self.resources(connector_id)
            for action_id in resource.action_ids
        ]


class ActionOperations(_Operations):
    """``client.actions``: an action's parameters, and executing it."""

    def __init__(self, client: AlloyClient, transport: Transport) -> None:
        super().__init__(client, transport)
        self._cache: OrderedDict[tuple[str, str], Action] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, connector_id: str, action_id: str, *, retry_policy: RetryPolicy | None = None
    ) -> Action:
        """Fetch an action's details, with its parameters (and where each goes).

        Args:
            connector_id: The connector (``"shopify"``).
            action_id: The action (``"list-orders"``).
            retry_policy: How often and how long to retry (default: the client's).

        Returns:
            The action; it is also remembered so that ``execute`` can place parameters.
        """
        path = encode_path("connectors", connector_id, "actions", action_id)
        payload = self._transport.request("GET", path, retry_policy=retry_policy)
        action = self._read(
            lambda: Action.from_json(self._object(payload, "GET", path), action_id=action_id),
            "GET",
            path,
        )
        self.remember(connector_id, action_id, action)
        return action

    def rate_limits(self, credential_id: str) -> list[BudgetFigures]:
        """The rate limits that executing with ``credential_id`` spends, as far as the answers
        told them or refusals taught them (shared by every client of the process).

        Returns:
            One :class:`~alloy_data.http.BudgetFigures` per limit seen: requests per window,
            where it came from, and the waits and refusals counted so far.
        """
        return self._transport.rate_limits(credential_id)

    def remember(self, connector_id: str, action_id: str, action: Action) -> None:
        """Keep an action's metadata for later ``execute`` calls (bounded, least recent out)."""
        with self._lock:
            self._cache[(connector_id, action_id)] = action
            self._cache.move_to_end((connector_id, action_id))
            while len(self._cache) > ACTION_CACHE_SIZE:
                self._cache.popitem(last=False)

    def _metadata(self, connector_id: str, action_id: str) -> Action | None:
        with self._lock:
            cached = self._cache.get((connector_id, action_id))
        if cached is not None:
            return cached
        try:
            return self.get(connector_id, action_id)
        except NotFoundError:
            # Some servers execute actions they do not describe; the execute call will say
            # if the action really does not exist.
            _log.debug(
                "no metadata for %s/%s; sending the contract body only", connector_id, action_id
            )
            return None

    def execute(
        self,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        timeout: float | tuple[float, float] | None = None,
        action: Action | None = None,
        on_retry: OnRetry | None = None,
        before_attempt: Callable[[], object] | None = None,
        retry_policy: RetryPolicy | None = None,
        on_limit_wait: Callable[[float], None] | None = None,
    ) -> ActionResult:
        """Execute an action once (one call, one page of a list action).

        Args:
            connector_id: The connector (``"shopify"``).
            action_id: The action (``"list-orders"``).
            credential_id: The credential (connection) to act with.
            user_id: The user who owns the credential (default: the client's user, else the
                API key's own user).
            parameters: The action's parameters.
            idempotent: True when repeating the call is harmless (a list action), so it may
                be retried after a 5xx or a dropped connection as well as after a 429.
            timeout: Seconds or ``(connect, read)`` for this call.
            action: The action's metadata, when you have it; otherwise it is fetched once
                (when there are parameters) and remembered.
            on_retry: Called before each retry with (attempt, wait seconds, reason).
            before_attempt: Called right before every attempt is sent, retries included.
            retry_policy: How often and how long to retry this call (default: the client's
                :attr:`AlloyClient.retry_policy`).
            on_limit_wait: Called with the seconds the call waits for the credential's rate
                limit (the call waits whenever the limit is spent, told or learned).

        Returns:
            The unwrapped result.

        Raises:
            BadRequestError: The call failed, or it ran but the third-party app refused it.
        """
        path = encode_path("connectors", connector_id, "actions", action_id, "execute")
        _require_text(credential_id, "credential_id")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ConfigurationError(
                f"parameters must be a mapping of names to values, got {type(parameters).__name__}."
            )
        user = _acting_user(user_id, self._client.user_id)
        if action is not None:
            self.remember(connector_id, action_id, action)
        elif parameters:
            action = self._metadata(connector_id, action_id)
        body = build_execute_body(
            action, credential_id=credential_id, user_id=user, parameters=parameters
        )
        payload, received = self._transport.request_with_body(
            "POST",
            path,
            json_body=body,
            user_id=user,
            timeout=timeout,
            idempotent=idempotent,
            on_retry=on_retry,
            before_attempt=before_attempt,
            retry_policy=retry_policy,
            limit_scope=credential_id,
            on_limit_wait=on_limit_wait,
        )
        result = ActionResult.from_json(self._object(payload, "POST", path), received=received)
        if result.failed:
            message = result.error_message or f"status {result.status or 'failed'}"
            raise BadRequestError(
                self._transport.redact(message),
                status=200,
                method="POST",
                path=self._transport.redact(path),
                request_id=result.execution_id,
                hint="The request reached Alloy, but the third-party app refused it; check "
                "the parameters (client.actions.get(connector_id, action_id)) and the "
                "credential",
            )
        return result


class CredentialOperations(_Operations):
    """``client.credentials``: how to authorise a connector, and a user's credentials."""

    def metadata(self, connector_id: str) -> CredentialMetadata:
        """Fetch what a connector needs to create a credential (auth type, fields).

        Returns:
            The metadata.
        """
        path = encode_path("connectors", connector_id, "credentials", "metadata")
        payload = self._transport.request("GET", path)
        return self._read(
            lambda: CredentialMetadata.from_json(
                self._object(payload, "GET", path), connector_id=connector_id
            ),
            "GET",
            path,
        )

    def create(
        self,
        connector_id: str,
        *,
        user_id: str,
        data: Mapping[str, Any],
        authentication_type: str | None = None,
        redirect_uri: str | None = None,
    ) -> Credential:
        """Create a credential (connection) for a user.

        For OAuth connectors the answer is a URL to send the user to: the returned credential
        then has ``oauth_url`` set and no id; list the user's credentials afterwards.

        Returns:
            The credential.
        """
        path = encode_path("connectors", connector_id, "credentials")
        _require_text(user_id, "user_id")
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"data must be a mapping of credential fields, got {type(data).__name__}; "
                "client.credentials.metadata(connector_id) lists the fields."
            )
        for secret in iter_secrets_in(data):
            self._transport.add_secret(secret)
        body: dict[str, Any] = {"userId": user_id, "data": dict(data)}
        if authentication_type is not None:
            body["authenticationType"] = authentication_type
        if redirect_uri is not None:
            body["redirectUri"] = redirect_uri
        payload = self._transport.request("POST", path, json_body=body, user_id=user_id)
        return self._read(
            lambda: Credential.from_json(
                self._object(payload, "POST", path), connector_id=connector_id, user_id=user_id
            ),
            "POST",
            path,
        )

    def list(self, connector_id: str, *, user_id: str | None = None) -> builtins.list[Credential]:
        """List a user's credentials (connections) for one connector.

        Args:
            connector_id: The connector, such as ``"hubspot"``.
            user_id: Whose credentials (default: the client's user). With neither, no user is
                sent and the API lists those of the API key's own user.

        Returns:
            The credentials.
        """
        path = encode_path("connectors", connector_id, "credentials")
        user = _acting_user(user_id, self._client.user_id)
        params = None if user is None else {"userId": user}
        payload = self._transport.request("GET", path, params=params, user_id=user)
        items = self._items(payload, ("credentials", "data"), "GET", path)
        return self._read(
            lambda: [
                Credential.from_json(item, connector_id=connector_id, user_id=user)
                for item in items
            ],
            "GET",
            path,
        )
