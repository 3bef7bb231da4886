"""The Alloy API's endpoints over the catalog, the records and the store, in both dialects.

``seed`` follows the reference contract (``openapi.yaml``); ``live`` follows the 2025-09 API
as it answers in practice (``x-api-version``, ``x-alloy-userid``, ObjectIds, ``responseData``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from alloy_data.sandbox import paging, timeline
from alloy_data.sandbox.auth import user_token
from alloy_data.sandbox.cache import ByteLRU
from alloy_data.sandbox.catalog import Action, Connector
from alloy_data.sandbox.clock import Amount, Clock, ClockTick
from alloy_data.sandbox.errors import ApiError, bad_request, not_found
from alloy_data.sandbox.faults import TokenBucket
from alloy_data.sandbox.ids import IdFactory, is_object_id
from alloy_data.sandbox.limits import Limits
from alloy_data.sandbox.listings import Listing
from alloy_data.sandbox.messages import Request, Response, json_response, unknown_route
from alloy_data.sandbox.params import check_params
from alloy_data.sandbox.records import encode
from alloy_data.sandbox.store import Credential, PendingOAuth, Store, User
from alloy_data.sandbox.tenants import TenantListings

PAGE_CACHE_BYTES = 32 * 1024 * 1024
_MAX_NAME = 200
#: Records made by ``create-*`` actions take indexes from here on, clear of the ticks'
#: inserts (and, below the tenants' id block, of other credentials' ids).
CREATED_FROM = 900_000_000

Endpoint = Callable[[Request, list[str]], Response]


def _string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"field '{name}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"field '{name}' must be a non-empty string")
    if len(value) > _MAX_NAME:
        raise bad_request(f"field '{name}' is longer than {_MAX_NAME} characters")
    return value


def _object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"field '{name}' must be an object")
    return value


class AlloyApi:
    """Answers authenticated requests; see :meth:`handle`."""

    def __init__(
        self,
        *,
        dialect: str,
        catalog: dict[str, Connector],
        listings: dict[tuple[str, str], Listing],
        store: Store,
        ids: IdFactory,
        token_secret: bytes,
        owner_user_id: str,
        page_cache_bytes: int = PAGE_CACHE_BYTES,
        tenants: TenantListings | None = None,
        credential_rate_limit: float | None = None,
        limits: Limits | None = None,
        clock: Clock | None = None,
        seed: int = 0,
    ) -> None:
        self.live = dialect == "live"
        self.clock = clock if clock is not None else Clock(0)
        self.seed = seed
        self.tenants = tenants
        self.credential_rate_limit = credential_rate_limit
        self.limits = limits
        self._buckets: dict[str, TokenBucket] = {}
        self._buckets_lock = threading.Lock()
        self.page_cache_bytes = page_cache_bytes
        self.catalog = catalog
        self.listings = listings
        self.store = store
        self.ids = ids
        self.token_secret = token_secret
        self.owner_user_id = owner_user_id
        self.base_url = ""
        self.pages = ByteLRU(page_cache_bytes)
        self._routes: list[tuple[tuple[str, ...], dict[str, Endpoint]]] = [
            (("users",), {"GET": self.list_users, "POST": self.create_user}),
            (("users", "*", "token"), {"GET": self.token}),
            (("users", "*", "credentials"), {"GET": self.user_credentials}),
            (("users", "*", "credentials", "*"), {"DELETE": self.delete_credential}),
            (("connectors",), {"GET": self.list_connectors}),
            (("connectors", "*", "resources"), {"GET": self.resources}),
            (("connectors", "*", "actions", "*"), {"GET": self.action}),
            (("connectors", "*", "actions", "*", "execute"), {"POST": self.execute}),
            (("connectors", "*", "credentials", "metadata"), {"GET": self.credential_metadata}),
            (
                ("connectors", "*", "credentials"),
                {"GET": self.list_credentials, "POST": self.create_credential},
            ),
        ]
        self._routes_by_length: dict[int, list[tuple[tuple[str, ...], dict[str, Endpoint]]]] = {}
        for pattern, methods in self._routes:
            self._routes_by_length.setdefault(len(pattern), []).append((pattern, methods))
        self._actions = {
            (connector.connector_id, action.action_id): action
            for connector in catalog.values()
            for action in connector.actions()
        }

    def set_base_url(self, base_url: str) -> None:
        """Use ``base_url`` in links and URLs from now on, forgetting anything cached before."""
        if base_url == self.base_url:
            return
        self.base_url = base_url
        self.pages = ByteLRU(self.page_cache_bytes)
        for listing in self.listings.values():
            listing.source.ctx.base_url = base_url
            listing.source.encoded.cache_clear()
        if self.tenants is not None:
            self.tenants.set_base_url(base_url)

    def handle(self, request: Request) -> Response:
        """Route ``request`` to its endpoint and return the answer.

        Raises:
            ApiError: 405 for a wrong method, or the endpoint's error (an unknown path is
                answered as the web framework in front of the API answers it, in HTML).
        """
        segments = request.segments
        for pattern, methods in self._routes_by_length.get(len(segments), ()):
            params = []
            for want, got in zip(pattern, segments, strict=True):
                if want == "*":
                    params.append(got)
                elif want != got:
                    break
            else:
                endpoint = methods.get(request.method)
                if endpoint is None:
                    allowed = ", ".join(sorted(methods))
                    raise ApiError(
                        405,
                        f"{request.method:.20} is not allowed on this path; use {allowed}",
                        headers={"Allow": allowed},
                    )
                return endpoint(request, params)
        return unknown_route(request.method, request.path)

    def oauth_authorize(self, request: Request) -> Response:
        """Complete a pending OAuth grant (what the consent page would do) and say so."""
        state = request.query.get("state", "")
        credential = self.store.finish_oauth(state)
        if credential is None:
            raise bad_request("unknown or expired OAuth state")
        redirect = self.store.redirect_uri(state)
        if redirect:
            separator = "&" if "?" in redirect else "?"
            location = (
                f"{redirect}{separator}{urlencode({'credentialId': credential.credential_id})}"
            )
            return Response(302, b"", headers={"Location": location})
        return json_response({"success": True, "credentialId": credential.credential_id})

    def _connector(self, connector_id: str) -> Connector:
        connector = self.catalog.get(connector_id)
        if connector is None:
            raise not_found(f"connector '{connector_id[:100]}' not found")
        return connector

    def _action(self, connector: Connector, action_id: str) -> Action:
        action = self._actions.get((connector.connector_id, action_id))
        if action is not None:
            return action
        raise not_found(
            f"action '{action_id[:100]}' not found on connector '{connector.connector_id}'"
        )

    def _user(self, user_id: str) -> User:
        user = self.store.users.get(user_id)
        if user is None:
            raise not_found(f"user '{user_id[:100]}' not found")
        return user

    def _acting_user(self, request: Request, body: dict[str, Any] | None = None) -> str:
        """Return the user a call acts for: the ``x-alloy-userid`` header, else the body's or
        the query's ``userId``, else the API key's own user, as the live API acts without one.

        A ``userId`` that is there but not a non-empty string is refused (400).
        """
        header = request.header("x-alloy-userid")
        if header:
            return header
        if body is not None and "userId" in body:
            user_id = _string_field(body, "userId")
            assert user_id is not None
            return user_id
        if "userId" in request.query:
            value = request.query["userId"]
            if not value.strip():
                raise bad_request("query parameter 'userId' must be a non-empty string")
            return value
        return self.owner_user_id

    def create_user(self, request: Request, _: list[str]) -> Response:
        """POST /users: create a user; answers 201 with the User (live: ``{userId}``), 409 when
        the username is taken."""
        body = request.json_object()
        username = _string_field(body, "username")
        full_name = _string_field(body, "fullName", required=False)
        if any(user.username == username for user in list(self.store.users.values())):
            raise ApiError(409, f"username '{str(username)[:100]}' is already taken")
        user = self.store.add_user(str(username), full_name)
        if self.live:
            return json_response({"userId": user.user_id}, 201)
        return json_response(
            {"userId": user.user_id, "username": user.username, "createdAt": user.created_at}, 201
        )

    def list_users(self, request: Request, _: list[str]) -> Response:
        """GET /users: answers ``{data: [{userId, username, fullName}]}``."""
        return json_response({"data": [user.summary() for user in self.store.users.values()]})

    def token(self, request: Request, params: list[str]) -> Response:
        """GET /users/{userId}/token: answers ``{token}``, an HS256 JWT valid for an hour."""
        user = self._user(params[0])
        return json_response({"token": user_token(user.user_id, self.token_secret)})

    def user_credentials(self, request: Request, params: list[str]) -> Response:
        """GET /users/{userId}/credentials: answers ``{data: [...]}``."""
        user = self._user(params[0])
        entries = [
            {**credential.live_json(), "connectorId": credential.connector_id}
            for credential in self.store.credentials_of(user.user_id)
        ]
        return json_response({"data": entries})

    def delete_credential(self, request: Request, params: list[str]) -> Response:
        """DELETE /users/{userId}/credentials/{credentialId}: answers ``{success: true}``."""
        user = self._user(params[0])
        credential = self._credential(params[1])
        if credential.user_id != user.user_id:
            raise ApiError(403, "this credential belongs to another user")
        self.store.delete_credential(credential.credential_id)
        return json_response({"success": True})

    def list_connectors(self, request: Request, _: list[str]) -> Response:
        """GET /connectors (?category=): answers ``{connectors: [...]}``."""
        category = request.query.get("category")
        connectors = [
            {
                "connectorId": connector.connector_id,
                "name": connector.name,
                "category": connector.category,
                "iconUrl": connector.icon_url,
                "actionCount": len(connector.actions()),
            }
            for connector in self.catalog.values()
            if not category or connector.category.lower() == category.lower()
        ]
        return json_response({"connectors": connectors})

    def resources(self, request: Request, params: list[str]) -> Response:
        """GET /connectors/{c}/resources: answers ``{resources: [...]}`` with action names."""
        connector = self._connector(params[0])
        resources = [
            {
                "resourceId": resource.resource_id,
                "name": resource.name,
                "description": resource.description,
                "actions": resource.verbs(),
            }
            for resource in connector.resources
        ]
        return json_response({"resources": resources})

    def action(self, request: Request, params: list[str]) -> Response:
        """GET /connectors/{c}/actions/{a}: answers the action and its parameters."""
        connector = self._connector(params[0])
        action = self._action(connector, params[1])
        sample = self._record_schema(connector, action)
        if self.live:
            details = {
                "id": action.action_id,
                "displayName": action.display_name,
                "description": action.description,
                "httpMethod": action.http_method,
                "path": action.path,
                "parameters": [p.live_json() for p in action.params if p.location != "body"],
                "requestBody": action.request_body_schema(),
            }
            if sample:
                details["responseSchema"] = sample
            return json_response({"action": details})
        details = {
            "actionId": action.action_id,
            "name": action.display_name,
            "description": action.description,
            "parameters": [param.seed_json() for param in action.params],
        }
        if sample:
            details["responseSchema"] = sample
        return json_response(details)

    def _record_schema(self, connector: Connector, action: Action) -> dict[str, Any] | None:
        """A JSON Schema of a list action's records, from its first record (an extension)."""
        if action.verb != "list":
            return None
        listing = self.listings[(connector.connector_id, action.resource_id)]
        return listing.resource.record_schema(_schema_of(listing.source.record(0)))

    def _credential(self, credential_id: str) -> Credential:
        credential = self.store.credentials.get(credential_id)
        if credential is None:
            raise not_found(f"credential '{credential_id[:100]}' not found")
        return credential

    def credential_metadata(self, request: Request, params: list[str]) -> Response:
        """GET /connectors/{c}/credentials/metadata: answers what a credential needs."""
        connector = self._connector(params[0])
        fields = connector.credential_fields
        if not self.live:
            return json_response(
                {
                    "connectorId": connector.connector_id,
                    "authType": connector.auth_type,
                    "requiredFields": [
                        {"name": f.name, "description": f.description, "required": f.required}
                        for f in fields
                    ],
                }
            )
        schema = {
            "type": "object",
            "properties": {
                f.name: {"type": "string", "description": f.description} for f in fields
            },
            "required": [f.name for f in fields if f.required],
        }
        entry = {
            "authenticationType": connector.auth_type,
            "authConfigRequired": any(f.required for f in fields),
            "inputSchema": schema,
            "sampleInput": {f.name: f.sample for f in fields},
        }
        return json_response({"metadata": [entry]})

    def create_credential(self, request: Request, params: list[str]) -> Response:
        """POST /connectors/{c}/credentials.

        Answers the credential (live: its id or an oauthUrl).
        """
        connector = self._connector(params[0])
        body = request.json_object()
        if not self.live and "userId" not in body and not request.header("x-alloy-userid"):
            # The contract requires it here, and the client always knows whom it creates for.
            raise bad_request("field 'userId' is required")
        user = self._user(self._acting_user(request, body))
        if "data" not in body and not self.live:
            raise bad_request("field 'data' is required")
        data = _object_field(body, "data")
        for f in connector.credential_fields:
            value = data.get(f.name)
            if value is None and f.required:
                raise bad_request(f"field 'data.{f.name}' is required for {connector.name}")
            if value is not None and (not isinstance(value, str) or not value):
                raise bad_request(f"field 'data.{f.name}' must be a non-empty string")
        auth_type = _string_field(body, "authenticationType", required=False)
        if auth_type is not None and auth_type != connector.auth_type:
            raise bad_request(
                f"field 'authenticationType' must be '{connector.auth_type}' for {connector.name}"
            )
        name = f"{connector.name} ({user.username})"
        if self.live and connector.auth_type == "oauth2":
            redirect = _string_field(body, "redirectUri", required=False)
            grant = PendingOAuth(connector.connector_id, user.user_id, "oauth2", name, redirect)
            state = self.store.start_oauth(grant)
            return json_response({"oauthUrl": f"{self.base_url}/oauth/authorize?state={state}"})
        credential = self.store.add_credential(
            connector.connector_id, user.user_id, connector.auth_type, name
        )
        if self.live:
            return json_response({"credentialId": credential.credential_id}, 201)
        return json_response(credential.seed_json(), 201)

    def list_credentials(self, request: Request, params: list[str]) -> Response:
        """GET /connectors/{c}/credentials: answers ``{credentials: [...]}`` of one user."""
        connector = self._connector(params[0])
        user = self._user(self._acting_user(request))
        credentials = self.store.credentials_of(user.user_id, connector.connector_id)
        if self.live:
            return json_response({"credentials": [c.live_json() for c in credentials]})
        return json_response({"credentials": [c.seed_json() for c in credentials]})

    def _execute_params(self, body: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        # A client may fill the seed slot and the live slots with the same values: merge them.
        for slot in ("parameters", "queryParameters", "pathParams", "requestBody"):
            merged.update(_object_field(body, slot))
        _object_field(body, "additionalHeaders")
        return merged

    def execute(self, request: Request, params: list[str]) -> Response:
        """POST /connectors/{c}/actions/{a}/execute: answers one page, record or created record."""
        connector = self._connector(params[0])
        action = self._action(connector, params[1])
        body = request.json_object()
        credential_id = _string_field(body, "credentialId")
        assert credential_id is not None
        if self.live and not is_object_id(credential_id):
            raise bad_request("field 'credentialId' must be a 24-hex-digit ObjectId")
        user = self._user(self._acting_user(request, body))
        merged = self._execute_params(body)
        credential = self._credential(credential_id)
        if credential.user_id != user.user_id:
            raise ApiError(403, "this credential belongs to another user")
        if credential.connector_id != connector.connector_id:
            raise bad_request(
                f"credential '{credential_id}' is for {credential.connector_id}, "
                f"not {connector.connector_id}"
            )
        self._limit(credential_id)
        limit_headers = self._limits(request, credential_id)
        response = self._execute(request, connector, action, credential_id, merged)
        response.headers.update(limit_headers)
        return response

    def _limits(self, request: Request, credential_id: str) -> dict[str, str]:
        """Count the request against the sandbox's limits: the headers its answer carries.

        Raises:
            ApiError: 429 with ``Retry-After`` (and the headers) when a limit is spent.
        """
        if self.limits is None:
            return {}
        allowed, _, headers = self.limits.take(
            credential_id=credential_id, api_key=request.header("authorization") or ""
        )
        if not allowed:
            raise ApiError(
                429, "rate limit exceeded; retry after the Retry-After seconds", headers=headers
            )
        return headers

    def _execute(
        self,
        request: Request,
        connector: Connector,
        action: Action,
        credential_id: str,
        merged: dict[str, Any],
    ) -> Response:
        values = check_params(action.action_id, action.params, merged)
        listing = self._listing(connector.connector_id, action.resource_id, credential_id)
        if action.verb == "list":
            assert action.convention is not None
            with self.clock.lock:
                page = self._page(action.convention, listing, values)
            return self._answer(page, envelope=action.convention.alloy_envelope)
        if action.verb == "get":
            with self.clock.lock:
                record = self._find(listing, values[action.params[0].name])
            before, after = listing.resource.wrap_one
            return self._answer(before + record + after)
        record = self._create(listing, values)
        before, after = listing.resource.wrap_created
        return self._answer(before + record + after)

    def _limit(self, credential_id: str) -> None:
        """Refuse with 429 when ``credential_id`` went over ``credential_rate_limit``."""
        if self.credential_rate_limit is None:
            return
        bucket = self._buckets.get(credential_id)
        if bucket is None:
            with self._buckets_lock:
                bucket = self._buckets.setdefault(
                    credential_id, TokenBucket(self.credential_rate_limit)
                )
        wait = bucket.take()
        if wait:
            raise ApiError(
                429,
                f"rate limit exceeded for credential '{credential_id}'; retry later",
                headers={"Retry-After": str(wait)},
            )

    def _listing(self, connector_id: str, resource_id: str, credential_id: str) -> Listing:
        """Return the records ``credential_id`` sees: a tenant's own, else the shared ones."""
        if self.tenants is not None:
            own = self.tenants.listing(credential_id, resource_id)
            if own is not None:
                return own
        return self.listings[(connector_id, resource_id)]

    def list_listing(self, connector_id: str, action_id: str, credential_id: str) -> Listing:
        """Return the records a credential's list action serves (for tests' expectations).

        Raises:
            ValueError: For an unknown connector, action or credential, an action that does
                not list, or a credential of another connector.
        """
        connector = self.catalog.get(connector_id)
        if connector is None:
            raise ValueError(f"unknown connector {connector_id!r}; known: {list(self.catalog)}")
        action = self._actions.get((connector_id, action_id))
        if action is None or action.verb != "list":
            lists = [a.action_id for a in connector.actions() if a.verb == "list"]
            raise ValueError(f"{action_id!r} is not a list action of {connector_id}: {lists}")
        credential = self.store.credentials.get(credential_id)
        if credential is None:
            raise ValueError(f"unknown credential {credential_id!r}")
        if credential.connector_id != connector_id:
            raise ValueError(
                f"credential {credential_id!r} is for {credential.connector_id}, not {connector_id}"
            )
        listing = self._listing(connector_id, action.resource_id, credential_id)
        timeline.catch_up(listing, self.clock.ticks, self.seed)
        return listing

    def advance_clock(self, seconds: int, updates: Amount, inserts: Amount) -> ClockTick:
        """Move the clock and change every list's records; see ``Sandbox.advance_clock``.

        Raises:
            TypeError: For arguments of the wrong kind.
            ValueError: For arguments out of range.
        """
        with self.clock.lock:
            previous = self.clock.now
            tick = self.clock.advance(seconds, updates, inserts)
            changes = {}
            for connector in self.catalog.values():
                for resource in connector.resources:
                    listing = self.listings[(connector.connector_id, resource.resource_id)]
                    done = timeline.catch_up(listing, self.clock.ticks, self.seed)
                    if resource.times is not None and done:
                        changes[(connector.connector_id, f"list-{resource.resource_id}")] = done[-1]
            return ClockTick(tick.number, previous, tick.end, changes)

    def _answer(self, app_body: bytes, *, envelope: bool = False) -> Response:
        if envelope:
            if self.live:
                return Response(200, app_body)
            return Response(200, b'{"success":true,' + app_body[1:])
        if self.live:
            execution = self.ids.new("exec").encode()
            return Response(
                200,
                b'{"responseData":' + app_body + b',"executionId":"' + execution
                + b'","status":"success"}',
            )  # fmt: skip
        return Response(200, b'{"success":true,"data":' + app_body + b"}")

    def _page(
        self, convention: paging.Convention, listing: Listing, values: dict[str, Any]
    ) -> bytes:
        """Return one page's app body (call with the clock's lock held)."""
        timeline.catch_up(listing, self.clock.ticks, self.seed)
        scope = listing.scope
        since = listing.resource.since
        link_params: dict[str, Any] = {}
        bound = None
        if since is not None and values.get(since.param.name) is not None:
            moment = since.parse(values[since.param.name])
            bound = (since.field, moment)
            link_params[since.param.name] = values[since.param.name]
            # A cursor holds a position in the filtered records: it serves that filter only.
            scope = f"{scope}?{since.param.name}={moment}"
        view = timeline.view(listing, bound)
        total = listing.total
        in_index_order = isinstance(view.indexes, range) and view.keys is None
        ctx = paging.PageContext(
            scope=scope,
            total=len(view.indexes),
            ids=listing.source.ids,
            base_url=self.base_url,
            indexes=None if in_index_order else view.indexes,
            keys=view.keys,
            link_params=link_params,
            is_served=lambda index: 0 <= index < total,
        )
        start, stop = convention.window(values, ctx)
        page_key = (scope, listing.applied, start, stop, tuple(sorted(values.items())))
        body = self.pages.get(page_key)
        if body is None:
            if ctx.indexes is None and not listing.touched:
                records = listing.source.page(start, stop)
            else:
                records = [
                    timeline.encoded(listing, ctx.index_at(position))
                    for position in range(start, stop)
                ]
            body = convention.render(records, start, values, ctx)
            self.pages.put(page_key, body)
        return body

    def _find(self, listing: Listing, record_id: Any) -> bytes:
        created = listing.created.get(str(record_id))
        if created is not None:
            return created
        timeline.catch_up(listing, self.clock.ticks, self.seed)
        index = listing.source.ids.index_for(record_id)
        if index is None or index >= listing.total:
            raise not_found(
                f"{listing.resource.name.lower()[:-1]} '{str(record_id)[:100]}' not found"
            )
        return timeline.encoded(listing, index)

    def _create(self, listing: Listing, values: dict[str, Any]) -> bytes:
        first = CREATED_FROM if listing.base_total < CREATED_FROM else 2 * listing.base_total
        index = first + len(listing.created)
        record = listing.source.record(index)
        record.update(values)
        encoded = encode(record)
        record_id = record.get("id", record.get("InvoiceID", record.get("Id")))
        listing.created[str(record_id)] = encoded
        return encoded


def _schema_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {str(key): _schema_of(item) for key, item in value.items()},
        }
    if isinstance(value, list):
        return {"type": "array", "items": _schema_of(value[0]) if value else {}}
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    kind = names.get(type(value))
    return {"type": kind} if kind else {}
