"""Reading an error answer: the server's message, its request id, and the typed error with a
hint that says what to do."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from alloy_data.errors import (
    AlloyAPIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from alloy_data.http._advice import ROUTE_ADVICE, conflict_advice, not_found_advice

__all__ = [
    "HINTS",
    "decode_json_or_none",
    "error_class_for_status",
    "error_for_status",
    "extract_message",
    "extract_request_id",
]

MESSAGE_LIMIT = 200
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "request-id")

HINTS: Mapping[type[AlloyAPIError], str] = {
    BadRequestError: (
        "Check the ids and parameters: client.actions.get(connector_id, action_id) lists "
        "the parameters an action takes"
    ),
    AuthenticationError: (
        "Check the API key (the api_key argument or the ALLOY_API_KEY environment variable) "
        "and that it is meant for this base URL"
    ),
    PermissionDeniedError: (
        "The key may not do this; if the credential (connection) belongs to another user, pass "
        "that user's id (user_id=...)"
    ),
    # A 404 and a 409 get advice fit for the route or id, or for what conflicted
    # (see error_for_status); these are the advice when nothing more is known.
    NotFoundError: ROUTE_ADVICE,
    ConflictError: conflict_advice("", ""),
    RateLimitError: "Wait before trying again, or lower the concurrency of your pulls",
    ServerError: "The server or a proxy in front of it failed; try again later",
}


def _collapse(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1].rstrip() + "…"
    return text


_INVISIBLE_HTML = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")
_HTML_TAG = re.compile(r"(?s)<[^>]*>")


def _strip_html(text: str) -> str:
    text = _INVISIBLE_HTML.sub(" ", text)
    return html.unescape(_HTML_TAG.sub(" ", text))


def _message_from_json(payload: Any) -> str | None:
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, Mapping):
        return None
    message = payload.get("message")
    error = payload.get("error")
    if isinstance(error, Mapping):
        nested = _message_from_json(error)
        return nested if nested else None
    if isinstance(message, str) and message:
        if isinstance(error, str) and error and error not in message:
            return f"{message} ({error})"
        return message
    if isinstance(error, str) and error:
        return error
    for key in ("detail", "error_description", "errorMessage"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        return _message_from_json(errors[0])
    return None


def decode_json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def extract_message(body: bytes, content_type: str = "") -> str:
    """Find the server's message in an error body.

    Reads JSON ``message`` and ``error`` (also nested as ``{"error": {"message": ...}}``);
    otherwise takes a short excerpt of the text with HTML tags removed and whitespace collapsed.

    Returns:
        At most about 200 characters; empty when the body is empty.
    """
    if not body.strip():
        return ""
    payload = decode_json_or_none(body)
    if payload is not None:
        found = _message_from_json(payload)
        if found:
            return _collapse(found)
    text = body.decode("utf-8", errors="replace")
    if "html" in content_type.lower() or re.search(r"(?i)<(html|body|h1|title|p)\b", text):
        text = _strip_html(text)
    return _collapse(text)


def extract_request_id(headers: Mapping[str, str], payload: Any = None) -> str | None:
    """Return the request id from the response headers, else from a JSON body's ``requestId``."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    if isinstance(payload, Mapping):
        for key in ("requestId", "request_id"):
            value = payload.get(key)
            if isinstance(value, (str, int)) and value != "":
                return str(value)
    return None


def error_class_for_status(status: int) -> type[AlloyAPIError]:
    """Return the error class for an HTTP error status (400 and unlisted 4xx: BadRequestError)."""
    classes: dict[int, type[AlloyAPIError]] = {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        429: RateLimitError,
    }
    if status in classes:
        return classes[status]
    if status >= 500:
        return ServerError
    return BadRequestError


def error_for_status(
    status: int,
    *,
    message: str,
    request_id: str | None = None,
    method: str = "",
    path: str = "",
    attempts: int = 1,
    retry_after: float | None = None,
    payload: Any = None,
) -> AlloyAPIError:
    """Build the error for an HTTP error status, with a hint that says what to do.

    Args:
        status: The HTTP status.
        message: The server's message.
        request_id: The server's request id, if any.
        method: The request's method.
        path: The request's path (it tells which ids a 404 may be about).
        attempts: How many attempts were made.
        retry_after: Seconds the server asked to wait, if it said.
        payload: The body decoded as JSON, or None when it is not JSON (a 404 with no JSON
            body is a route the server lacks rather than a missing id).

    Returns:
        An instance of the :class:`AlloyAPIError` subclass for the status.
    """
    cls = error_class_for_status(status)
    hint = HINTS[cls]
    if cls is NotFoundError:
        hint = not_found_advice(message, path, payload)
    elif cls is ConflictError:
        hint = conflict_advice(method, path)
    return cls(
        message,
        status=status,
        request_id=request_id,
        method=method,
        path=path,
        attempts=attempts,
        retry_after=retry_after,
        hint=hint,
    )
