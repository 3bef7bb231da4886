"""Frozen dataclasses for every object the Alloy API returns.

Each model has a lenient ``from_json`` that reads both wire dialects (the contract's "seed"
shapes and the live 2025-09 shapes), fills what it can find, and keeps the whole JSON object in
``raw`` so nothing the server sent is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alloy_data.errors import ResponseError

__all__ = [
    "Action",
    "ActionParameter",
    "ActionResult",
    "Connector",
    "Credential",
    "CredentialField",
    "CredentialMetadata",
    "Resource",
    "User",
    "resolve_action_id",
]


def _raw_field() -> Any:
    return field(default_factory=dict, repr=False, compare=False, hash=False)


# Where an action's parameter goes in the live execute body, keyed by the metadata's `in`.
PARAMETER_LOCATIONS = ("query", "path", "header", "body")

# Keys an execute answer's envelope may hold beside its `data`.
# The envelope keys that can hold an execute answer's payload (see ActionResult.from_json).
_PAYLOAD_KEYS = ("responseData", "result", "data")
_ENVELOPE_KEYS = frozenset(
    {"data", "success", "status", "pagination", "executionId", "execution_id", "message"}
)

_FAILED_STATUSES = frozenset({"failed", "failure", "error", "errored"})


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        kind = type(value).__name__
        raise ResponseError(
            f"Expected a JSON object for {what}, got {kind}. The server's answer does not "
            "match the Alloy API; check the base URL and API version."
        )
    return value


def _first(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "required")
    return bool(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _objects(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def resolve_action_id(resource_id: str, action: str) -> str:
    """Turn a resource's action name into an action id.

    The contract lists action names (``list`` on resource ``orders``) whose id is
    ``list-orders``; some servers list full ids already, which are kept as they are.

    Returns:
        The action id to pass to ``actions.get`` and ``actions.execute``.
    """
    if "-" in action or "_" in action or action.endswith(resource_id) or not resource_id:
        return action
    return f"{action}-{resource_id}"


@dataclass(frozen=True)
class User:
    """An end user of the Alloy API, who owns credentials."""

    user_id: str
    username: str | None = None
    full_name: str | None = None
    created_at: str | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(cls, obj: Any) -> User:
        """Build a User from a seed (``User``) or live (``{userId}``) JSON object."""
        obj = _object(obj, "a user")
        inner = obj.get("user")
        if isinstance(inner, Mapping):
            obj = inner
        user_id = _text(_first(obj, "userId", "id", "_id"))
        if user_id is None:
            raise ResponseError(
                "The user object has no userId; the server's answer is not an Alloy user."
            )
        return cls(
            user_id=user_id,
            username=_text(obj.get("username")),
            full_name=_text(_first(obj, "fullName", "full_name")),
            created_at=_text(obj.get("createdAt")),
            raw=obj,
        )


@dataclass(frozen=True)
class Connector:
    """An app the Alloy API reaches (Shopify, HubSpot, ...)."""

    connector_id: str
    name: str | None = None
    category: str | None = None
    icon_url: str | None = None
    action_count: int | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(cls, obj: Any) -> Connector:
        """Build a Connector from its JSON object."""
        obj = _object(obj, "a connector")
        connector_id = _text(_first(obj, "connectorId", "id", "name"))
        if connector_id is None:
            raise ResponseError("A connector in the answer has no connectorId.")
        count = obj.get("actionCount")
        return cls(
            connector_id=connector_id,
            name=_text(_first(obj, "name", "displayName")),
            category=_text(obj.get("category")),
            icon_url=_text(_first(obj, "iconUrl", "icon")),
            action_count=count if isinstance(count, int) else None,
            raw=obj,
        )


@dataclass(frozen=True)
class Resource:
    """An entity of a connector (orders, contacts, ...) and the actions it offers."""

    resource_id: str
    name: str | None = None
    description: str | None = None
    actions: tuple[str, ...] = ()
    raw: Mapping[str, Any] = _raw_field()

    @property
    def action_ids(self) -> tuple[str, ...]:
        """The resource's actions as action ids (``list`` on ``orders`` is ``list-orders``)."""
        return tuple(resolve_action_id(self.resource_id, name) for name in self.actions)

    @classmethod
    def from_json(cls, obj: Any) -> Resource:
        """Build a Resource from its JSON object; actions may be names, ids or objects."""
        obj = _object(obj, "a resource")
        resource_id = _text(_first(obj, "resourceId", "id", "name"))
        if resource_id is None:
            raise ResponseError("A resource in the answer has no resourceId.")
        actions: list[str] = []
        for item in obj.get("actions") or ():
            if isinstance(item, Mapping):
                name = _first(item, "actionId", "id", "name")
                if name is not None:
                    actions.append(str(name))
            elif item is not None:
                actions.append(str(item))
        return cls(
            resource_id=resource_id,
            name=_text(obj.get("name")),
            description=_text(obj.get("description")),
            actions=tuple(actions),
            raw=obj,
        )


@dataclass(frozen=True)
class ActionParameter:
    """One parameter an action accepts.

    ``location`` is where the live API wants it (``query``, ``path``, ``header`` or ``body``),
    or None when the metadata does not say (the contract's shape).
    """

    name: str
    type: str | None = None
    required: bool = False
    description: str | None = None
    location: str | None = None
    default: Any = None
    maximum: int | float | None = None
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(cls, obj: Any) -> ActionParameter:
        """Build an ActionParameter from a seed (flat) or live (``in`` + ``schema``) object."""
        obj = _object(obj, "an action parameter")
        schema = _mapping(obj.get("schema"))
        name = _text(obj.get("name"))
        if name is None:
            raise ResponseError("An action parameter in the answer has no name.")
        location = _text(obj.get("in"))
        maximum = _first(obj, "maximum", "max")
        if maximum is None:
            maximum = schema.get("maximum")
        default = obj.get("default", schema.get("default"))
        return cls(
            name=name,
            type=_text(_first(obj, "type") or schema.get("type")),
            required=_flag(obj.get("required", False)),
            description=_text(_first(obj, "description") or schema.get("description")),
            location=location.lower() if location else None,
            default=default,
            maximum=maximum if isinstance(maximum, (int, float)) else None,
            raw=obj,
        )


@dataclass(frozen=True)
class Action:
    """An operation of a connector, with the parameters it takes."""

    action_id: str
    name: str | None = None
    description: str | None = None
    parameters: tuple[ActionParameter, ...] = ()
    http_method: str | None = None
    path: str | None = None
    request_body: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw_field()

    def parameter(self, name: str) -> ActionParameter | None:
        """Return the parameter called ``name``, or None."""
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def declares_locations(self) -> bool:
        """True when the metadata says where each parameter goes (the live dialect)."""
        return any(p.location for p in self.parameters) or self.request_body is not None

    @classmethod
    def from_json(cls, obj: Any, *, action_id: str | None = None) -> Action:
        """Build an Action from the seed shape or the live ``{action: {...}}`` shape."""
        obj = _object(obj, "an action")
        inner = obj.get("action")
        if isinstance(inner, Mapping):
            obj = inner
        found_id = _text(_first(obj, "actionId", "id")) or action_id
        if found_id is None:
            raise ResponseError("The action in the answer has no actionId.")
        body = obj.get("requestBody")
        return cls(
            action_id=found_id,
            name=_text(_first(obj, "name", "displayName")),
            description=_text(obj.get("description")),
            parameters=tuple(ActionParameter.from_json(p) for p in _objects(obj.get("parameters"))),
            http_method=_text(obj.get("httpMethod")),
            path=_text(obj.get("path")),
            request_body=body if isinstance(body, Mapping) else None,
            raw=obj,
        )


@dataclass(frozen=True)
class ActionResult:
    """The answer to one execute call: one page of a list action.

    Attributes:
        data: The payload, unwrapped from whichever envelope the server used
            (``responseData``, ``result``, ``data``, or the whole body when there is none).
        success: The envelope's ``success`` flag, when present.
        execution_id: The live API's ``executionId``, when present.
        status: The live API's ``status``, when present.
        raw: The whole JSON body.
        body: The body's bytes as received, when the result came from the API.
    """

    data: Any
    success: bool | None = None
    execution_id: str | None = None
    status: str | None = None
    raw: Any = field(default=None, repr=False, compare=False, hash=False)
    body: bytes | None = field(default=None, repr=False, compare=False, hash=False)

    @property
    def payload_key(self) -> str | None:
        """The envelope's key that holds :attr:`data` (``"data"``), or None when it is the body."""
        if isinstance(self.raw, Mapping) and self.data is not self.raw:
            for key in _PAYLOAD_KEYS:
                if key in self.raw and self.raw[key] is self.data:
                    return key
        return None

    @property
    def failed(self) -> bool:
        """True when the envelope says the action failed despite an HTTP success status."""
        if self.success is False:
            return True
        return self.status is not None and self.status.lower() in _FAILED_STATUSES

    @property
    def error_message(self) -> str | None:
        """The failure's message from the envelope, when it gives one."""
        for source in (self.raw, self.data):
            if isinstance(source, Mapping):
                found = _first(source, "message", "error", "errorMessage")
                if isinstance(found, Mapping):
                    found = _first(found, "message", "code")
                if found is not None:
                    return str(found)
        return None

    @classmethod
    def from_json(cls, body: Any, *, received: bytes | None = None) -> ActionResult:
        """Unwrap an execute answer in any of the envelopes the API uses.

        Args:
            body: The decoded answer.
            received: The answer's bytes, kept as :attr:`body`.
        """
        if not isinstance(body, Mapping):
            return cls(data=body, raw=body, body=received)
        success = body.get("success")
        status = body.get("status")
        execution_id = _first(body, "executionId", "execution_id")
        if "responseData" in body:
            data = body["responseData"]
        elif "result" in body and "data" not in body:
            data = body["result"]
        elif "data" in body and (success is not None or len(set(body) - _ENVELOPE_KEYS) == 0):
            data = body["data"]
        else:
            data = body
        return cls(
            data=data,
            success=success if isinstance(success, bool) else None,
            execution_id=_text(execution_id),
            status=_text(status) if isinstance(status, (str, int)) else None,
            raw=body,
            body=received,
        )


@dataclass(frozen=True)
class CredentialField:
    """One field a user fills in to create a credential (a shop domain, an API key, ...)."""

    name: str
    description: str | None = None
    required: bool = True
    secret: bool = False
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(cls, obj: Any) -> CredentialField:
        """Build a CredentialField from the contract's ``requiredFields`` item."""
        obj = _object(obj, "a credential field")
        name = _text(obj.get("name"))
        if name is None:
            raise ResponseError("A credential field in the answer has no name.")
        return cls(
            name=name,
            description=_text(obj.get("description")),
            required=_flag(obj.get("required", True)),
            secret=bool(obj.get("secret", _looks_secret(name))),
            raw=obj,
        )


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("secret", "password", "token", "key"))


@dataclass(frozen=True)
class CredentialMetadata:
    """What a connector needs to create a credential (connection) for it."""

    connector_id: str | None
    auth_type: str | None
    fields: tuple[CredentialField, ...] = ()
    auth_types: tuple[str, ...] = ()
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(cls, obj: Any, *, connector_id: str | None = None) -> CredentialMetadata:
        """Build from the seed shape or the live ``{metadata: [...]}`` shape."""
        obj = _object(obj, "credential metadata")
        entries = _objects(obj.get("metadata"))
        if entries:
            return cls._from_live(obj, entries, connector_id)
        fields = tuple(CredentialField.from_json(f) for f in _objects(obj.get("requiredFields")))
        auth_type = _text(_first(obj, "authType", "authenticationType"))
        return cls(
            connector_id=_text(obj.get("connectorId")) or connector_id,
            auth_type=auth_type,
            fields=fields,
            auth_types=(auth_type,) if auth_type else (),
            raw=obj,
        )

    @classmethod
    def _from_live(
        cls, obj: Mapping[str, Any], entries: list[Mapping[str, Any]], connector_id: str | None
    ) -> CredentialMetadata:
        first = entries[0]
        schema = _mapping(first.get("inputSchema"))
        required = set(schema.get("required") or ())
        properties = _mapping(schema.get("properties"))
        fields = []
        for name, value in properties.items():
            spec = _mapping(value)
            fields.append(
                CredentialField(
                    name=str(name),
                    description=_text(_first(spec, "description", "title")),
                    required=name in required,
                    secret=bool(spec.get("writeOnly") or _looks_secret(str(name))),
                    raw=spec,
                )
            )
        types = tuple(str(e["authenticationType"]) for e in entries if e.get("authenticationType"))
        return cls(
            connector_id=connector_id,
            auth_type=types[0] if types else None,
            fields=tuple(fields),
            auth_types=types,
            raw=obj,
        )


@dataclass(frozen=True)
class Credential:
    """A user's stored authorisation for a connector (a "connection" in older Alloy APIs).

    When creating an OAuth credential on the live API, the answer is a URL to send the user to
    instead: ``credential_id`` is then None and ``oauth_url`` is set; list the user's credentials
    afterwards to find the new one.
    """

    credential_id: str | None
    connector_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    type: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    oauth_url: str | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = _raw_field()

    @classmethod
    def from_json(
        cls, obj: Any, *, connector_id: str | None = None, user_id: str | None = None
    ) -> Credential:
        """Build from a credential object, ``{credentialId}`` or ``{oauthUrl}``."""
        obj = _object(obj, "a credential")
        credential_id = _text(_first(obj, "credentialId", "connectionId", "id", "_id"))
        oauth_url = _text(obj.get("oauthUrl"))
        if credential_id is None and oauth_url is None:
            raise ResponseError(
                "The credential in the answer has neither a credentialId nor an oauthUrl."
            )
        return cls(
            credential_id=credential_id,
            connector_id=_text(obj.get("connectorId")) or connector_id,
            user_id=_text(obj.get("userId")) or user_id,
            name=_text(obj.get("name")),
            type=_text(obj.get("type")),
            created_at=_text(obj.get("createdAt")),
            updated_at=_text(obj.get("updatedAt")),
            oauth_url=oauth_url,
            raw=obj,
        )
