"""Requests and responses as the HTTP layer and the API handlers exchange them."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from alloy_data.sandbox.errors import ApiError


@dataclass
class Request:
    """A parsed HTTP request."""

    method: str
    target: str  # the raw request target, path and query
    path: str  # the raw (still percent-encoded) path
    segments: list[str]  # the decoded path segments
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return a header's value by lower-case name, or None."""
        return self.headers.get(name)

    def json_object(self) -> dict[str, Any]:
        """Return the body parsed as a JSON object.

        Raises:
            ApiError: 400 when the body is empty, not JSON or not an object.
        """
        if not self.body.strip():
            raise ApiError(400, "the request body must be a JSON object, got an empty body")
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "cannot be decoded"
            raise ApiError(400, f"the request body is not valid JSON: {reason}") from None
        if not isinstance(value, dict):
            raise ApiError(
                400, f"the request body must be a JSON object, got {type(value).__name__}"
            )
        return value


@dataclass
class Response:
    """An HTTP response with a complete body."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Hold the answer back this long (latency settings and faults).
    delay_ms: int = 0
    #: Close the connection without answering ("drop" fault).
    drop: bool = False
    #: Reset the connection (TCP RST) without answering ("reset" fault).
    reset: bool = False
    #: Send the head and half the body, then close ("truncated" fault).
    truncate: bool = False
    #: Send the head only (an answer to HEAD).
    head_only: bool = False


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_body(value: Any) -> bytes:
    """Return ``value`` as compact UTF-8 JSON."""
    return _ENCODER.encode(value).encode()


def json_response(value: Any, status: int = 200) -> Response:
    """Return a JSON response."""
    return Response(status, json_body(value))


def error_response(error: ApiError) -> Response:
    """Return the JSON error answer for ``error``."""
    body = json_body({"error": error.code, "message": error.message})
    return Response(error.status, body, headers=dict(error.headers))


def unknown_route(method: str, path: str) -> Response:
    """Answer a path the API does not serve as the web framework in front of it does: a 404
    HTML page that names the method and path, with none of the API's JSON error."""
    shown = html.escape(f"{method[:20]} {path[:200]}")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
        f"</head>\n<body>\n<pre>Cannot {shown}</pre>\n</body>\n</html>\n"
    )
    return Response(404, page.encode(), content_type="text/html; charset=utf-8")
