"""The one exception handlers raise to answer with an HTTP error."""

from __future__ import annotations

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer: ``status`` with the JSON body ``{"error": code, "message": message}``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = _CODES.get(status, "ERROR")
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    """Return a 400 error with ``message``."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """Return a 404 error with ``message``."""
    return ApiError(404, message)
