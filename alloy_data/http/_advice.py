"""Advice fit for a 404 or a 409: which of a route, an id or a name the server did not accept.

A 404 means either that the server has no such route (the base URL or the API version is
wrong, or the server is not the Alloy API: a proxy's or a web server's page) or that an id in
the path names nothing. The API answers a missing object with a JSON error that names it; a
missing route gets the web framework's own answer (``Cannot GET /path`` in HTML or text).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["ROUTE_ADVICE", "conflict_advice", "not_found_advice", "route_is_missing"]

ROUTE_ADVICE = (
    "The server has no such route: check the base URL (base_url= or ALLOY_BASE_URL) and the "
    "API version (api_version= or ALLOY_API_VERSION), and that the URL is the Alloy API's "
    "rather than a web page or a proxy in front of it"
)

# What frameworks and proxies say of a path they do not serve (Express, Fastify, nginx, ...).
_ROUTE_WORDS = re.compile(
    r"(?i)\bcannot (get|post|put|patch|delete)\b|no such (endpoint|route|path)|"
    r"\broute\b.*\bnot found|^\s*(404\s*)?not found\.?\s*$"
)
_COLLECTIONS = {"connectors": "connector", "actions": "action", "users": "user"}
_KINDS = ("connector", "action", "credential", "user")


def route_is_missing(message: str, payload: Any) -> bool:
    """Tell whether a 404 answer says the route is unknown rather than an object missing.

    Args:
        message: The server's message (an excerpt of the body when it is not JSON).
        payload: The body decoded as JSON, or None when it is not JSON.

    Returns:
        True when the body is not a JSON object (an HTML or text page), or its words are a
        framework's for an unknown path.
    """
    if not isinstance(payload, Mapping):
        return True
    return bool(_ROUTE_WORDS.search(message))


def _ids_in(path: str) -> dict[str, str]:
    """The ids a path names by kind: ``/connectors/x/actions/y`` -> connector x, action y."""
    segments = [unquote(s) for s in path.split("?", 1)[0].strip("/").split("/") if s]
    ids: dict[str, str] = {}
    for collection, value in itertools.pairwise(segments):
        kind = _COLLECTIONS.get(collection)
        if kind and value not in ("metadata", "execute", "credentials", "token"):
            ids.setdefault(kind, value)
    if "credentials" in segments and segments.index("credentials") + 1 < len(segments):
        following = segments[segments.index("credentials") + 1]
        if following != "metadata":
            ids["credential"] = following
    return ids


def _missing_kind(message: str, ids: Mapping[str, str]) -> str:
    """The kind of id the server did not find: the first its message names, else the path's
    last."""
    lowered = message.lower()
    named = [(lowered.find(kind), kind) for kind in _KINDS if kind in lowered]
    if named:
        return min(named)[1]
    return list(ids)[-1] if ids else "connector"


def not_found_advice(message: str, path: str, payload: Any) -> str:
    """Advice for a 404: the route, or which id names nothing and the call that lists them.

    Args:
        message: The server's message.
        path: The request path (ids URL-encoded).
        payload: The body decoded as JSON, or None.

    Returns:
        One or two sentences, without a final full stop.
    """
    if route_is_missing(message, payload):
        return ROUTE_ADVICE
    ids = _ids_in(path)
    kind = _missing_kind(message, ids)
    connector = ids.get("connector")
    if kind == "connector":
        return "Check the connector id: client.connectors.list() lists the connectors"
    if kind == "action":
        where = f"'{connector}'" if connector else "connector_id"
        return f"Check the action id: client.connectors.actions({where}) lists its actions"
    if kind == "credential":
        where = f"'{connector}'" if connector else "connector_id"
        user = f"'{ids['user']}'" if "user" in ids else "..."
        return (
            "Check the credential id (and that it is this user's): "
            f"client.credentials.list({where}, user_id={user}) lists the user's credentials"
        )
    return "Check the user id: client.users.list() lists the users"


def conflict_advice(method: str, path: str) -> str:
    """Advice for a 409: what already exists, and how to find it.

    Args:
        method: The HTTP method of the request.
        path: The request path.

    Returns:
        One or two sentences, without a final full stop.
    """
    segments = [s for s in path.split("?", 1)[0].strip("/").split("/") if s]
    if method.upper() == "POST" and segments == ["users"]:
        return (
            "That username is taken: client.users.list() finds the user who has it (use its "
            "id), or choose another username"
        )
    if "credentials" in segments:
        ids = _ids_in(path)
        where = f"'{ids['connector']}'" if "connector" in ids else "connector_id"
        return (
            "That credential exists already: client.credentials.list("
            f"{where}, user_id=...) lists the user's credentials"
        )
    return "What this would create exists already; use the existing one or choose another name"
