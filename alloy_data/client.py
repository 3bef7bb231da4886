"""``AlloyClient``: the typed client of the Alloy Connectivity API, one method per operation.

The client speaks both wire dialects without knowing which server it talks to: it always sends
``Authorization``, ``x-api-version`` and (when known) ``x-alloy-userid``, sends the contract's
execute body, adds the live API's located slots when an action's metadata declares where its
parameters go, and reads every answer envelope either dialect uses.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import requests

from alloy_data.config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ClientConfig, mask_secret
from alloy_data.errors import BadRequestError, ConfigurationError, NotFoundError, ResponseError
from alloy_data.http import OnRetry, RetryPolicy, Transport, encode_path, iter_secrets_in
from alloy_data.models import (
    Action,
    ActionResult,
    Connector,
    Credential,
    CredentialMetadata,
    Resource,
    User,
)
from alloy_data.options import (
    MANY_OPTION_NAMES,
    PULL_OPTION_NAMES,
    ManyOptions,
    PullOptions,
    TimestampsOption,
    documented,
)

if TYPE_CHECKING:
    from types import TracebackType

    from alloy_data.incremental import Incremental
    from alloy_data.many import MultiPull
    from alloy_data.pagination import PaginatorOption
    from alloy_data.progress import ProgressOption
    from alloy_data.pull import Pull

__all__ = [
    "ActionOperations",
    "AlloyClient",
    "ConnectorOperations",
    "CredentialOperations",
    "UserOperations",
    "build_execute_body",
]

_log = logging.getLogger("alloy_data.client")

# Enough for every action a session touches; bounded so a long-lived client cannot grow forever.
ACTION_CACHE_SIZE = 256

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
            "(client.users.list(), client.credentials.list(connector_id, user_id=...))."
        )
    return value


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

    def __init__(self, client: AlloyClient) -> None:
        self._client = client

    @property
    def _transport(self) -> Transport:
        return self._client._transport

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

    def __init__(self, client: AlloyClient) -> None:
        super().__init__(client)
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
    ) -> ActionResult:
        """Execute an action once (one call, one page of a list action).

        Args:
            connector_id: The connector (``"shopify"``).
            action_id: The action (``"list-orders"``).
            credential_id: The credential (connection) to act with.
            user_id: The user who owns the credential (default: the client's user).
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
        user = user_id if user_id is not None else self._client.user_id
        if user is not None:
            _require_text(user, "user_id")
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

    def list(self, connector_id: str, *, user_id: str) -> builtins.list[Credential]:
        """List a user's credentials (connections) for one connector.

        Returns:
            The credentials.
        """
        path = encode_path("connectors", connector_id, "credentials")
        _require_text(user_id, "user_id")
        payload = self._transport.request("GET", path, params={"userId": user_id}, user_id=user_id)
        items = self._items(payload, ("credentials", "data"), "GET", path)
        return self._read(
            lambda: [
                Credential.from_json(item, connector_id=connector_id, user_id=user_id)
                for item in items
            ],
            "GET",
            path,
        )


class AlloyClient:
    """A client of the Alloy Connectivity API.

    Each setting comes from its argument, else the environment (``ALLOY_API_KEY``,
    ``ALLOY_BASE_URL``, ``ALLOY_API_VERSION``, ``ALLOY_USER_ID``), else the default (the
    production URL, version ``2025-09``). Use it as a context manager to close its
    connections; a session you pass in is left open.

    Args:
        api_key: The API key (sent as ``Authorization: Bearer``; never shown).
        base_url: The API's URL; plain http only for loopback unless ``allow_insecure_http``.
        api_version: Sent as ``x-api-version``.
        user_id: The end user calls act for (``x-alloy-userid``), unless a call says otherwise.
        timeout: Seconds, or ``(connect, read)`` seconds; always finite.
        max_retries: Retries after a 429, 502, 503, 504 or a connection failure (0: none).
        session: A ``requests.Session`` to use; the client will not close it.
        trust_env: False ignores environment variables, proxies and netrc.
        allow_insecure_http: Accept plain http to a host that is not loopback.
        logger: Where the one-line request log goes (default: ``alloy_data.http``).

    Attributes:
        users: :class:`UserOperations`.
        connectors: :class:`ConnectorOperations`.
        actions: :class:`ActionOperations`.
        credentials: :class:`CredentialOperations`.

    Raises:
        ConfigurationError: No API key, a bad URL, or a bad option.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        user_id: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: requests.Session | None = None,
        trust_env: bool = True,
        allow_insecure_http: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(
            api_key,
            base_url=base_url,
            api_version=api_version,
            user_id=user_id,
            timeout=timeout,
            max_retries=max_retries,
            trust_env=trust_env,
            allow_insecure_http=allow_insecure_http,
        )
        self._transport = Transport(self.config, session=session, logger=logger)
        self._close_callbacks: builtins.list[Callable[[], object]] = []
        self.users = UserOperations(self)
        self.connectors = ConnectorOperations(self)
        self.actions = ActionOperations(self)
        self.credentials = CredentialOperations(self)

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self.config.base_url

    @property
    def api_version(self) -> str:
        """The API version sent as ``x-api-version``."""
        return self.config.api_version

    @property
    def user_id(self) -> str | None:
        """The user calls act for by default, if any."""
        return self.config.user_id

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one-off calls retry (``max_retries`` from the client's settings).

        Pulls start from it with a patience of their own (:meth:`RetryPolicy.for_pulls`).
        """
        return self._transport.retry_policy

    def __repr__(self) -> str:
        return (
            f"AlloyClient(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"user_id={self.user_id!r}, api_key={mask_secret(self.config.api_key)!r})"
        )

    def close(self) -> None:
        """Close the client's connections (not those of a session you passed in).

        Then run the callbacks given to :meth:`add_close_callback`, each once. From then on
        every call that would send a request raises :class:`~alloy_data.ClientClosedError` at
        once; make a new client to go on.
        """
        self._transport.close()
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback()

    def add_close_callback(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the client is closed (``ad.connect()`` stops its sandbox so)."""
        self._close_callbacks.append(callback)

    def __enter__(self) -> AlloyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Pulls (many pages into frames and files) live in a higher layer, imported only when
    # used so that `import alloy_data` stays light.
    @documented(*PULL_OPTION_NAMES)
    def pull(
        self,
        connector_id: str,
        action_id: str,
        *,
        credential_id: str,
        user_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
        progress: ProgressOption = "auto",
    ) -> Pull:
        """Prepare a lazy pull of every page of a list action.

        Nothing is fetched until the pull is iterated or converted (``iter_pages()``,
        ``iter_records()``, ``to_arrow()``, ``to_dataframe()``, ``to_parquet(path)``,
        ``to_file(path)``). A table or file sink after a complete run reuses that run's rows;
        ``pull.reset()`` makes the next one fetch anew. The options are checked here, once,
        into a :class:`~alloy_data.options.PullOptions` (``pull.options``).

        Args:
            connector_id: The connector, such as ``"shopify"``.
            action_id: A list-style action of that connector, such as ``"list-orders"``.
            credential_id: The credential (connection) the action runs with.
            user_id: The user who owns the credential (default: the client's user).

        Returns:
            The :class:`~alloy_data.pull.Pull`.

        Raises:
            ConfigurationError: An argument is of the wrong type or out of range, or the
                paginator is unknown; raised here, before anything is fetched.
        """
        options = PullOptions(
            parameters=parameters,  # type: ignore[arg-type]
            paginator=paginator,
            page_size=page_size,
            max_pages=max_pages,
            max_records=max_records,
            concurrency=concurrency,
            max_requests_per_second=max_requests_per_second,
            retries=retries,
            incremental=incremental,
            timestamps=timestamps,
            progress=progress,
        )
        from alloy_data.pull import Pull

        return Pull(
            self,
            connector_id,
            action_id,
            credential_id=credential_id,
            user_id=user_id,
            options=options,
        )

    @documented(*MANY_OPTION_NAMES, *PULL_OPTION_NAMES)
    def pull_many(
        self,
        connector_id: str,
        action_id: str,
        *,
        credentials: Sequence[str] | Sequence[tuple[str, str]] | Literal["all"],
        workers: int | None = None,
        on_error: Literal["continue", "raise"] = "continue",
        user_column: str = "_user_id",
        credential_column: str = "_credential_id",
        max_total_requests_per_second: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        paginator: PaginatorOption = "auto",
        page_size: int | None = None,
        max_pages: int | None = None,
        max_records: int | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_requests_per_second: float | None = None,
        retries: int | RetryPolicy | None = None,
        incremental: Incremental | None = None,
        timestamps: TimestampsOption = "auto",
        progress: ProgressOption = "auto",
    ) -> MultiPull:
        """Prepare a lazy pull of one list action for many credentials, as one dataset.

        Each credential is pulled as :meth:`pull` would (its own paging, page size,
        concurrency and rate limit), several credentials at once; every row gets the user and
        the credential it came from. A credential that fails is listed in
        ``stats.failures`` and the others go on. The options are checked here, once, into a
        :class:`~alloy_data.options.PullOptions` and a
        :class:`~alloy_data.options.ManyOptions`.

        Args:
            connector_id: The connector, such as ``"shopify"``.
            action_id: A list-style action of that connector, such as ``"list-orders"``.
            credentials: Credential ids (owned by the client's user), ``(user_id,
                credential_id)`` pairs, or ``"all"``: every credential of the connector of
                every user of the account, found through the API.

        Returns:
            The :class:`~alloy_data.many.MultiPull`; nothing is fetched until it is iterated
            or converted.

        Raises:
            ConfigurationError: An argument is of the wrong type or out of range.
        """
        options = PullOptions(
            parameters=parameters,  # type: ignore[arg-type]
            paginator=paginator,
            page_size=page_size,
            max_pages=max_pages,
            max_records=max_records,
            concurrency=concurrency,
            max_requests_per_second=max_requests_per_second,
            retries=retries,
            incremental=incremental,
            timestamps=timestamps,
            progress=progress,
        )
        many = ManyOptions(
            workers=workers,
            on_error=on_error,
            user_column=user_column,
            credential_column=credential_column,
            max_total_requests_per_second=max_total_requests_per_second,
        )
        from alloy_data.many import MultiPull

        return MultiPull(
            self, connector_id, action_id, credentials=credentials, options=options, many=many
        )
