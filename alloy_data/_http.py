"""The HTTP transport: one ``requests.Session``, headers, timeouts, retries and error mapping.

Retry design. The loop is ours and small; the maths it needs comes from urllib3 where urllib3
has it: ``Retry.parse_retry_after`` reads ``Retry-After`` (seconds or an HTTP date). The backoff
is exponential with *full* jitter (a uniform draw between 0 and the capped exponential), which
urllib3's additive jitter does not offer, so it is one line here. We do not let urllib3 retry
inside the adapter because there a retry is invisible: callers need an ``on_retry`` callback
(to count retries and seconds waited in a progress bar), a per-call decision on whether a POST
may be repeated, and the number of attempts in the final error.

What is retried: 429, 502, 503 and 504 answers, and connection failures and timeouts. A request
that is not idempotent (``execute`` is a POST) is retried only when it cannot have taken effect:
a 429, or a connection that was never established. ``idempotent=True`` lifts that restriction.
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, NoReturn
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from alloy_data._http_direct import DirectSender, FallBackError
from alloy_data._http_wire import NotConnectedError
from alloy_data._json import loads as json_loads
from alloy_data.config import ClientConfig, normalize_timeout, redact
from alloy_data.errors import (
    AlloyAPIError,
    AlloyConnectionError,
    AlloyTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
)

__all__ = [
    "RETRY_STATUSES",
    "OnRetry",
    "RetryPolicy",
    "Transport",
    "encode_path",
    "error_for_status",
    "extract_message",
    "extract_request_id",
    "parse_retry_after",
]

HTTP_LOGGER_NAME = "alloy_data.http"
URLLIB3_LOGGER_NAME = "urllib3.connectionpool"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Big enough that concurrent pulls sharing one client do not queue for a connection.
POOL_SIZE = 16
MESSAGE_LIMIT = 200
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "request-id")

OnRetry = Callable[[int, float, str], None]
"""Called before each retry with (failed attempt number, seconds to wait, reason)."""

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
    NotFoundError: (
        "List what exists to find valid ids: client.connectors.list(), "
        "client.connectors.actions(connector_id), client.credentials.list(connector_id, "
        "user_id=...)"
    ),
    RateLimitError: "Wait before trying again, or lower the concurrency of your pulls",
    ServerError: "The server or a proxy in front of it failed; try again later",
}


def _package_version() -> str:
    try:
        return metadata.version("alloy-data")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"alloy-data/{_package_version()} python-requests/{requests.__version__}"


def encode_path(*segments: object) -> str:
    """Join path segments, each URL-encoded so that no id can reach another endpoint.

    Returns:
        A path such as ``/connectors/a%2Fb/resources``.

    Raises:
        ConfigurationError: A segment is not a string, is empty or blank, or is ``.``/``..``
            (which a URL would resolve to another path).
    """
    encoded = []
    for segment in segments:
        if not isinstance(segment, str):
            raise ConfigurationError(
                f"An id must be a string, got {type(segment).__name__} ({segment!r})."
            )
        if not segment.strip():
            raise ConfigurationError(
                "An id is empty. Pass a real id; list connectors, actions or credentials to "
                "find one."
            )
        if segment in (".", ".."):
            raise ConfigurationError(f"{segment!r} is not a valid id.")
        encoded.append(quote(segment, safe=""))
    return "/" + "/".join(encoded)


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


def _decode_json(body: bytes) -> Any:
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
    payload = _decode_json(body)
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
) -> AlloyAPIError:
    """Build the error for an HTTP error status, with a hint that says what to do.

    Returns:
        An instance of the :class:`AlloyAPIError` subclass for the status.
    """
    cls = error_class_for_status(status)
    return cls(
        message,
        status=status,
        request_id=request_id,
        method=method,
        path=path,
        attempts=attempts,
        retry_after=retry_after,
        hint=HINTS[cls],
    )


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP date.

    Returns:
        Seconds to wait (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except Exception:  # urllib3 raises InvalidHeader; dates can also overflow
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_retries: Retries after the first attempt.
        backoff_base: Seconds; the n-th retry waits up to ``base * 2**(n-1)``.
        backoff_cap: The longest backoff in seconds.
        retry_after_cap: The longest ``Retry-After`` obeyed; a longer one is cut to this (and
            logged), so a server asking for an hour does not hang a notebook.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): full jitter, capped."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(retry_number - 1, 0))
        return rng.uniform(0.0, ceiling)


class _RedactingFilter(logging.Filter):
    """Scrubs a transport's secrets from urllib3's DEBUG lines, which show request paths."""

    def __init__(self, transport: Transport) -> None:
        super().__init__()
        self._transport = weakref.ref(transport)

    def filter(self, record: logging.LogRecord) -> bool:
        transport = self._transport()
        if transport is not None:
            message = record.getMessage()
            cleaned = transport.redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


# What requests' own session would add to every request.
_DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate"}


class _BearerAuth(AuthBase):
    """Sets the bearer header per request, so the key never sits in ``session.headers`` and a
    netrc entry cannot replace it."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    @property
    def header(self) -> str:
        """The ``Authorization`` header's value."""
        return f"Bearer {self._api_key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.header
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


@dataclass(frozen=True)
class _Failure:
    """A transport failure: what to call it, whether the request may have reached the server."""

    reason: str
    maybe_sent: bool
    timeout: bool
    retryable: bool = True


def _classify(exc: requests.RequestException) -> _Failure:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Failure("connect timeout", maybe_sent=False, timeout=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return _Failure("read timeout", maybe_sent=True, timeout=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failure("TLS error", maybe_sent=False, timeout=False, retryable=False)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return _Failure("body cut short", maybe_sent=True, timeout=False)
    if isinstance(exc, NotConnectedError):  # from the lean path
        return _Failure(exc.what, maybe_sent=False, timeout=False)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError):
        text = str(reason).lower()
        if "refused" in text:
            what = "connection refused"
        elif "resolve" in text:
            what = "host name not resolved"
        else:
            what = "connection failed"
        return _Failure(what, maybe_sent=False, timeout=False)
    if isinstance(reason, ConnectTimeoutError):
        return _Failure("connect timeout", maybe_sent=False, timeout=True)
    return _Failure("connection dropped", maybe_sent=True, timeout=False)


@dataclass(frozen=True)
class _Sent:
    """One attempt: the response (if one started) and its body, or the failure."""

    response: requests.Response | None
    body: bytes
    failure: _Failure | None


class Transport:
    """Sends requests to the Alloy API: auth, headers, timeouts, retries, logging, errors.

    One transport holds one ``requests.Session`` and may be shared by threads.

    Args:
        config: The resolved configuration.
        session: A session to use instead of a new one; the caller keeps ownership of it.
        logger: Where the one-line request log goes (default: ``alloy_data.http``).
        retry_policy: Backoff settings (``max_retries`` defaults to the config's).
        sleep: The function that waits (replaceable in tests).
        rng: Random numbers for the jitter (seedable in tests).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        logger: logging.Logger | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.retry_policy = retry_policy or RetryPolicy(max_retries=config.max_retries)
        self.logger = logger or logging.getLogger(HTTP_LOGGER_NAME)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._owns_session = session is None
        self._adapter: HTTPAdapter | None = None  # set when the session is our own
        self.session = session if session is not None else self._new_session()
        if not config.trust_env:
            # Environment proxies, netrc and CA bundles are ignored when the caller says so.
            self.session.trust_env = False
        self._auth = _BearerAuth(config.api_key)
        self._settings: dict[str, Any] | None = None
        self._direct: DirectSender | None = None
        self._secrets: set[str] = set(config.secrets)
        self._lock = threading.Lock()
        urllib3_logger = logging.getLogger(URLLIB3_LOGGER_NAME)
        urllib3_filter = _RedactingFilter(self)
        urllib3_logger.addFilter(urllib3_filter)
        # Removed on close, or when the transport is collected without being closed.
        self._remove_filter = weakref.finalize(self, urllib3_logger.removeFilter, urllib3_filter)

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = self.config.trust_env
        # Retries are ours (see the module docstring), so the adapter never retries.
        adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._adapter = adapter
        return session

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.base_url!r})"

    def close(self) -> None:
        """Close the session, unless the caller passed it in."""
        self._remove_filter()
        if self._direct is not None:
            self._direct.close()
        if self._owns_session:
            self.session.close()

    def add_secret(self, value: str | None) -> None:
        """Remember a string (a user token, a credential field) to scrub from logs and errors."""
        if value:
            with self._lock:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret this transport knows masked."""
        with self._lock:
            secrets = tuple(self._secrets)
        return redact(text, secrets)

    def headers(self, user_id: str | None = None) -> dict[str, str]:
        """The headers every request carries (without Authorization, which the auth sets)."""
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-api-version": self.config.api_version,
        }
        user = user_id if user_id is not None else self.config.user_id
        if user:
            headers["x-alloy-userid"] = user
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        user_id: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        idempotent: bool | None = None,
        on_retry: OnRetry | None = None,
        before_attempt: Callable[[], object] | None = None,
    ) -> Any:
        """Send one logical request (with retries) and return the decoded JSON body.

        See :meth:`request_with_body` for the arguments and errors.
        """
        decoded, _ = self.request_with_body(
            method,
            path,
            params=params,
            json_body=json_body,
            user_id=user_id,
            timeout=timeout,
            idempotent=idempotent,
            on_retry=on_retry,
            before_attempt=before_attempt,
        )
        return decoded

    def request_with_body(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        user_id: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        idempotent: bool | None = None,
        on_retry: OnRetry | None = None,
        before_attempt: Callable[[], object] | None = None,
    ) -> tuple[Any, bytes]:
        """Send one logical request (with retries); return the decoded JSON and its bytes.

        Args:
            method: The HTTP method.
            path: The path below the base URL, built with :func:`encode_path`.
            params: Query parameters.
            json_body: A JSON body (sent with ``Content-Type: application/json``).
            user_id: The ``x-alloy-userid`` for this call (default: the client's user).
            timeout: Seconds or ``(connect, read)`` for this call (default: the client's).
            idempotent: Whether repeating the request is harmless; defaults to True for GET,
                HEAD, PUT and DELETE, False for POST.
            on_retry: Called before each retry with (attempt, wait seconds, reason).
            before_attempt: Called right before every attempt is sent, retries included (a
                pull's request-rate limit waits there).

        Returns:
            The decoded JSON (None for an empty body) and the body as received.

        Raises:
            AlloyAPIError: An error status (the subclass says which).
            AlloyConnectionError: Nothing answered (``AlloyTimeoutError`` when too slow).
            ResponseError: A success status with a body that is not JSON.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        call_timeout = self.config.timeout if timeout is None else normalize_timeout(timeout)
        headers = self.headers(user_id)
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            if before_attempt is not None:
                before_attempt()
            sent = self._send_once(
                method,
                path,
                params=params,
                json_body=json_body,
                headers=headers,
                timeout=call_timeout,
                attempt=attempt,
            )
            if sent.failure is not None:
                if self._may_retry_failure(sent.failure, idempotent, attempt):
                    wait = self.retry_policy.backoff(attempt, self._rng)
                    self._wait(attempt, wait, sent.failure.reason, on_retry)
                    continue
                self._raise_failure(sent, method, self._shown(path), attempt, call_timeout)
            response = sent.response
            assert response is not None  # a send without a failure always has a response
            status = response.status_code
            if status in RETRY_STATUSES and self._may_retry_status(status, idempotent, attempt):
                self._wait(attempt, self._retry_wait(response, attempt), f"HTTP {status}", on_retry)
                continue
            if status >= 400:
                raise self._api_error(response, sent.body, method, self._shown(path), attempt)
            return self._decode_success(response, sent.body, method, path), sent.body

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
        attempt: int,
    ) -> _Sent:
        started = time.monotonic()
        response: requests.Response | None = None
        try:
            response, body = self._send(
                method, path, params=params, json_body=json_body, headers=headers, timeout=timeout
            )
        except requests.RequestException as exc:
            # A failure while the body was read still has the response it started.
            response = response or getattr(exc, "response", None)
            failure = _classify(exc)
            outcome = failure.reason
            if response is not None:
                outcome = f"{response.status_code} {outcome}"
            self._log_attempt(method, path, outcome, started=started, attempt=attempt, exc=exc)
            return _Sent(response=response, body=b"", failure=failure)
        self._log_attempt(
            method, path, str(response.status_code), started=started, attempt=attempt, exc=None
        )
        return _Sent(response=response, body=body, failure=None)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
    ) -> tuple[requests.Response, bytes]:
        url = self.config.base_url + path
        if not self._owns_session:
            # A caller's session may carry cookies, headers or hooks of its own: merge them.
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=headers,
                auth=self._auth,
                timeout=timeout,
                stream=True,
            )
            return response, self._read_body(response)
        direct = self._direct_sender()
        if direct is not None:
            try:
                return direct.send(
                    method,
                    path,
                    params=params,
                    json_body=json_body,
                    headers={**_DEFAULT_HEADERS, **headers},
                    timeout=timeout,
                )
            except FallBackError:
                pass  # Session.send below follows the redirect
        # Our own session holds no cookies or default headers, so the request is prepared
        # directly: Session.request would merge them (and re-read the environment's proxy
        # settings) on every call, which costs more than the rest of a page's work.
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method,
            url=url,
            headers={**_DEFAULT_HEADERS, **headers},
            params=params,
            json=json_body,
            auth=self._auth,
        )
        response = self.session.send(prepared, timeout=timeout, **self._send_settings())
        return response, self._read_body(response)

    def _direct_sender(self) -> DirectSender | None:
        if self._adapter is None:
            return None
        if self._direct is None:
            self._direct = DirectSender(
                self.session,
                self._adapter,
                self.config.base_url,
                self._send_settings(),
                self._auth.header,
                max_idle=POOL_SIZE,
            )
        return self._direct if self._direct.usable() else None

    def _send_settings(self) -> dict[str, Any]:
        if self._settings is None:
            # Proxies and CA bundle from the environment (when trust_env), read once.
            self._settings = dict(
                self.session.merge_environment_settings(self.config.base_url, {}, True, None, None)
            )
        return self._settings

    def _shown(self, path: str) -> str:
        # An id can be anything, even a pasted key: what we show is redacted like the rest.
        return self.redact(path)

    def _may_retry_failure(self, failure: _Failure, idempotent: bool, attempt: int) -> bool:
        if attempt > self.retry_policy.max_retries or not failure.retryable:
            return False
        return idempotent or not failure.maybe_sent

    def _may_retry_status(self, status: int, idempotent: bool, attempt: int) -> bool:
        if attempt > self.retry_policy.max_retries:
            return False
        # A 429 means the server refused the request before acting on it.
        return idempotent or status == 429

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        asked = parse_retry_after(response.headers.get("Retry-After"))
        if asked is None:
            return self.retry_policy.backoff(attempt, self._rng)
        cap = self.retry_policy.retry_after_cap
        if asked > cap:
            self.logger.warning(
                "The server asked to wait %.0f s before retrying; waiting %.0f s instead "
                "(the Retry-After cap).",
                asked,
                cap,
            )
            return cap
        return asked

    def _wait(self, attempt: int, seconds: float, reason: str, on_retry: OnRetry | None) -> None:
        self.logger.debug(
            "retrying after %s: waiting %.2f s (attempt %d failed)", reason, seconds, attempt
        )
        if on_retry is not None:
            on_retry(attempt, seconds, reason)
        if seconds > 0:
            self._sleep(seconds)

    @staticmethod
    def _read_body(response: requests.Response) -> bytes:
        try:
            return response.content
        finally:
            response.close()

    def _excerpt(self, body: bytes, content_type: str) -> str:
        return self.redact(extract_message(body, content_type))

    def _decode_success(
        self, response: requests.Response, body: bytes, method: str, path: str
    ) -> Any:
        if not body or body.isspace():  # isspace stops at the first character; strip copies
            return None
        try:
            return json_loads(body)
        except (ValueError, RecursionError) as exc:
            content_type = response.headers.get("Content-Type", "unknown type")
            excerpt = self._excerpt(body, content_type)
            cut_short = isinstance(exc, json.JSONDecodeError) and exc.pos >= len(exc.doc.rstrip())
            what = "is cut short (the JSON ends early)" if cut_short else "is not JSON"
            path = self._shown(path)
            raise ResponseError(
                f"The answer to {method} {path} (HTTP {response.status_code}, {content_type}) "
                f"{what}: {excerpt!r}. Check that the base URL {self.config.base_url} points "
                "at the Alloy API.",
                method=method,
                path=path,
                excerpt=excerpt,
            ) from None

    def _api_error(
        self, response: requests.Response, body: bytes, method: str, path: str, attempts: int
    ) -> AlloyAPIError:
        content_type = response.headers.get("Content-Type", "")
        message = self._excerpt(body, content_type)
        if not message:
            message = f"{response.reason or 'error'} (empty body)"
        request_id = extract_request_id(response.headers, _decode_json(body))
        return error_for_status(
            response.status_code,
            message=message,
            request_id=request_id,
            method=method,
            path=path,
            attempts=attempts,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _raise_failure(
        self,
        sent: _Sent,
        method: str,
        path: str,
        attempts: int,
        timeout: tuple[float, float],
    ) -> NoReturn:
        assert sent.failure is not None
        failure = sent.failure
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        base = self.redact(self.config.base_url)
        if sent.response is not None:
            raise ResponseError(
                f"The answer to {method} {path} (HTTP {sent.response.status_code}) was cut "
                f"short after {tries}: the connection closed before the whole body arrived. "
                f"Try again; if it persists, check the base URL {base}.",
                method=method,
                path=path,
            ) from None
        if failure.timeout:
            limit = timeout[0] if failure.reason == "connect timeout" else timeout[1]
            raise AlloyTimeoutError(
                f"{method} {path} to {base} timed out ({failure.reason}, {limit:g} s) after "
                f"{tries}. Check the base URL and your network, or pass a longer timeout.",
                method=method,
                path=path,
                attempts=attempts,
            ) from None
        raise AlloyConnectionError(
            f"{method} {path} to {base} failed ({failure.reason}) after {tries}. Check the "
            "base URL (base_url or ALLOY_BASE_URL) and that the server is reachable.",
            method=method,
            path=path,
            attempts=attempts,
        ) from None

    def _log_attempt(
        self,
        method: str,
        path: str,
        outcome: str,
        *,
        started: float,
        attempt: int,
        exc: BaseException | None,
    ) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return  # redacting costs more than the rest of a fast request's bookkeeping
        elapsed_ms = (time.monotonic() - started) * 1000
        self.logger.info(
            "%s %s -> %s in %.0f ms (attempt %d)",
            method,
            self.redact(path),
            outcome,
            elapsed_ms,
            attempt,
        )
        if exc is not None and self.logger.isEnabledFor(logging.DEBUG):
            # Only the type: requests' text repeats the URL with its query string.
            self.logger.debug("%s %s failed with %s", method, self.redact(path), type(exc).__name__)


def iter_secrets_in(data: Mapping[str, Any]) -> Iterable[str]:
    """Yield the string values of a credential's fields whose names look secret."""
    for name, value in data.items():
        lowered = str(name).lower()
        looks_secret = any(
            word in lowered for word in ("secret", "password", "token", "key", "auth")
        )
        if looks_secret and isinstance(value, str):
            yield value
