"""The exceptions alloy-data raises.

Every error is an :class:`AlloyError`, so ``except ad.AlloyError`` catches them all::

    AlloyError
    ├── ConfigurationError (also ValueError)   missing key, bad URL, wrong arguments
    │   └── ClientClosedError                   the client was closed; it sends nothing more
    ├── PaginationError                         a pull could not page through its results
    ├── ExportError                             a file could not be written or read back
    ├── ResponseError                           a success status with an unreadable body
    ├── AlloyConnectionError                    nothing answered, or the connection broke
    │   └── AlloyTimeoutError                   the server did not answer in time
    └── AlloyAPIError                           the server answered with an error status
        ├── BadRequestError          400 (and other 4xx without their own class)
        │   └── ConflictError        409
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── RateLimitError           429
        └── ServerError              5xx

Warnings: ``PaginationWarning`` (a ``UserWarning``) when a pull stops on a loop guard and data may
be missing, or when auto-detection had to guess.

Messages say what went wrong and what to do about it. They never hold an API key or a token.

In IPython and Jupyter an alloy-data error shows as one line, ``ErrorClass: message`` (with any
notes added to it), instead of a traceback through the library's internals. Setting the
environment variable ``ALLOY_DATA_FULL_TRACEBACKS=1`` (``%env ALLOY_DATA_FULL_TRACEBACKS=1`` in
a notebook) brings the full traceback back, for this error with ``%tb`` and for later ones.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

__all__ = [
    "AlloyAPIError",
    "AlloyConnectionError",
    "AlloyError",
    "AlloyTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ExportError",
    "NotFoundError",
    "PaginationError",
    "PaginationWarning",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseError",
    "ServerError",
]


#: Set to ``1`` to see alloy-data errors with their full traceback in IPython and Jupyter.
FULL_TRACEBACKS_ENV = "ALLOY_DATA_FULL_TRACEBACKS"


class AlloyError(Exception):
    """Base class of every error raised by alloy-data."""

    @property
    def _render_traceback_(self) -> Callable[[], list[str]]:
        # IPython shows what this returns instead of a traceback, when the attribute exists;
        # with full tracebacks asked for, it does not, and IPython shows its own.
        if os.environ.get(FULL_TRACEBACKS_ENV, "").strip().lower() not in ("", "0", "false"):
            raise AttributeError("_render_traceback_")
        return self._one_line

    def _one_line(self) -> list[str]:
        lines = [f"{type(self).__name__}: {self}"]
        lines += [str(note) for note in getattr(self, "__notes__", ())]
        lines.append(
            f"(alloy-data shows its errors in short: %env {FULL_TRACEBACKS_ENV}=1, then %tb, "
            "shows the full traceback)"
        )
        return lines


class ConfigurationError(AlloyError, ValueError):
    """The caller's configuration or arguments are wrong (missing key, bad URL, bad option)."""


class ClientClosedError(ConfigurationError):
    """The client was closed (``close()`` or the end of its ``with`` block), so it sends no
    more requests; a new client (``ad.connect()`` or ``AlloyClient(...)``) does."""


class PaginationError(AlloyError):
    """A pull could not page through an action's results.

    Attributes:
        page: The page whose answer showed no usable way to the next page, when the error
            came after fetching it (its records are good), else None.
    """

    def __init__(self, message: str, *, page: object = None) -> None:
        super().__init__(message)
        self.page = page


class PaginationWarning(UserWarning):
    """A pull stopped early or guessed, and data may be missing: the message says how to check."""


class ExportError(AlloyError):
    """Pulled data could not be written to, or read back from, a file."""


class ResponseError(AlloyError):
    """The server answered with a success status but a body that cannot be read.

    Attributes:
        method: The HTTP method of the request.
        path: The request path (never the query string, which may hold secrets).
        excerpt: The first characters of the body, for diagnosis.
        cut_short: True when the body ended before the JSON did (a dropped transfer), False
            when it is something else than JSON (a proxy's HTML page, say).
        attempts: How many attempts were made before giving up.
        transient: True when another try may get a readable answer (a body cut short, a
            proxy's HTML page); False when the app's answer itself cannot be read.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        excerpt: str = "",
        cut_short: bool = False,
        attempts: int = 1,
        transient: bool = True,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.excerpt = excerpt
        self.cut_short = cut_short
        self.attempts = attempts
        self.transient = transient


class AlloyConnectionError(AlloyError):
    """No answer reached us: nothing listening, DNS failure, or a dropped connection.

    Attributes:
        method: The HTTP method of the request.
        path: The request path.
        attempts: How many attempts were made before giving up.
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.attempts = attempts


class AlloyTimeoutError(AlloyConnectionError):
    """The server did not answer within the timeout."""


class AlloyAPIError(AlloyError):
    """The server answered with an error status.

    Attributes:
        status: The HTTP status code.
        message: The server's message (from a JSON ``message``/``error``, or a body excerpt).
        request_id: The server's request id, when it sent one.
        method: The HTTP method of the request.
        path: The request path.
        attempts: How many attempts were made before giving up.
        retry_after: Seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.attempts = attempts
        self.retry_after = retry_after
        self.hint = hint
        super().__init__(self._describe())

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling rebuilds an exception from its args, which lack the keyword-only status:
        # without this, an error raised on a Dask worker or in a subprocess cannot reach the
        # caller as itself.
        rebuild = functools.partial(
            type(self),
            status=self.status,
            request_id=self.request_id,
            method=self.method,
            path=self.path,
            attempts=self.attempts,
            retry_after=self.retry_after,
            hint=self.hint,
        )
        return (rebuild, (self.message,), dict(self.__dict__))

    def _describe(self) -> str:
        where = f"{self.method} {self.path}".strip()
        text = f"HTTP {self.status}"
        if where:
            text += f" from {where}"
        text += f": {self.message}" if self.message else ""
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        if self.hint:
            text += f". {self.hint}"
        return text


class BadRequestError(AlloyAPIError):
    """400 (or another 4xx without its own class): the request was malformed or invalid."""


class ConflictError(BadRequestError):
    """409: what the request would create exists already (a username that is taken, say)."""


class AuthenticationError(AlloyAPIError):
    """401: the API key (or token) is missing, wrong or expired."""


class PermissionDeniedError(AlloyAPIError):
    """403: the key is valid but may not do this (for example, another user's credential)."""


class NotFoundError(AlloyAPIError):
    """404: the connector, action, user or credential does not exist, or the server has no
    such route (a wrong base URL or API version); the hint says which."""


class RateLimitError(AlloyAPIError):
    """429: too many requests; wait ``retry_after`` seconds (when known) and try again."""


class ServerError(AlloyAPIError):
    """5xx: the server or a proxy in front of it failed."""
