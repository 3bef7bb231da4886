"""The transport: one ``requests.Session`` per client, the headers every call carries, the
retry loop, the one-line request log, and secrets masked wherever a path or message shows."""

from __future__ import annotations

import logging
import math
import random
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

from alloy_data._json import loads as json_loads
from alloy_data._tuning import POOL_SIZE
from alloy_data.config import (
    ClientConfig,
    normalize_timeout,
    redact,
)
from alloy_data.errors import (
    AlloyAPIError,
    ClientClosedError,
    ConfigurationError,
    ResponseError,
)
from alloy_data.http._budget import PROCESS_BUDGETS, BudgetFigures, Budgets, OnLimitWait, Tickets
from alloy_data.http._failures import (
    empty_answer,
    failure_error,
    unreached_error,
    unreadable_answer,
)
from alloy_data.http._retry import (
    Failure,
    OnRetry,
    RetryPolicy,
    classify,
    is_retryable_status,
    parse_retry_after,
)
from alloy_data.http._status import (
    decode_json_or_none,
    error_for_status,
    extract_message,
    extract_request_id,
)

__all__ = [
    "HTTP_LOGGER_NAME",
    "POOL_SIZE",
    "USER_AGENT",
    "Transport",
    "encode_path",
    "iter_secrets_in",
]

HTTP_LOGGER_NAME = "alloy_data.http"
URLLIB3_LOGGER_NAME = "urllib3.connectionpool"


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
class _Sent:
    """One attempt: the response (if one started) and its body, or the failure."""

    response: requests.Response | None
    body: bytes
    failure: Failure | None


class Transport:
    """Sends requests to the Alloy API: auth, headers, timeouts, retries, logging, errors.

    One transport holds one ``requests.Session`` and may be shared by threads.

    Args:
        config: The resolved configuration.
        session: A session to use instead of a new one; the caller keeps ownership of it.
        logger: Where the one-line request log goes (default: ``alloy_data.http``).
        retry_policy: Backoff settings (``max_retries`` defaults to the config's).
        sleep: The function that waits before a retry (replaceable in tests); by default a
            wait that :meth:`close` cuts short.
        rng: Random numbers for the jitter (seedable in tests).
        budgets: The rate-limit budgets requests spend (default: the process's, shared by
            every client of the process).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        logger: logging.Logger | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.config = config
        self.budgets = budgets if budgets is not None else PROCESS_BUDGETS
        self._owner = Budgets.owner(config.base_url, config.api_key)
        self.retry_policy = retry_policy or RetryPolicy(max_retries=config.max_retries)
        self.logger = logger or logging.getLogger(HTTP_LOGGER_NAME)
        # Set by close(): a retry's wait on another thread ends then instead of running out.
        self._closed = threading.Event()
        self._sleep: Callable[[float], object] = sleep if sleep is not None else self._closed.wait
        self._rng = rng or random.Random()
        self._owns_session = session is None
        self.session = session if session is not None else self._new_session()
        if not config.trust_env:
            # Environment proxies, netrc and CA bundles are ignored when the caller says so.
            self.session.trust_env = False
        self._auth = _BearerAuth(config.api_key)
        self._secrets: set[str] = set(config.secrets)
        self._lock = threading.Lock()
        # Until the server has answered once, "nothing listens there" means a wrong URL far
        # more often than a restart, so it is not waited out (see Failure).
        self._answered = False
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
        return session

    def __repr__(self) -> str:
        return f"Transport(base_url={self.config.base_url!r})"

    @property
    def answered(self) -> bool:
        """True once the server answered any request of this transport (any status)."""
        return self._answered

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: every request raises ``ClientClosedError`` from then."""
        return self._closed.is_set()

    def close(self) -> None:
        """Refuse every request from now on; close the session, unless the caller passed it in.

        A request waiting to retry stops waiting and raises ``ClientClosedError``.
        """
        self._closed.set()
        self._remove_filter()
        if self._owns_session:
            self.session.close()

    def _refuse_if_closed(self, method: str, path: str) -> None:
        if self._closed.is_set():
            # A closed session would reopen its pool, but the server behind it (an embedded
            # sandbox stopped by close) is gone: retrying "connection refused" only wastes time.
            raise ClientClosedError(
                f"{method} {self._shown(path)} was not sent: this client was closed "
                "(close() or the end of its with block), so it sends no more requests. "
                "Get a new one: ad.connect(), or ad.AlloyClient(...) with the same settings."
            )

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
        retry_policy: RetryPolicy | None = None,
        limit_scope: str | None = None,
        on_limit_wait: OnLimitWait | None = None,
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
            retry_policy=retry_policy,
            limit_scope=limit_scope,
            on_limit_wait=on_limit_wait,
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
        retry_policy: RetryPolicy | None = None,
        limit_scope: str | None = None,
        on_limit_wait: OnLimitWait | None = None,
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
            retry_policy: How often and how long to retry this call (default: the
                transport's :attr:`retry_policy`).
            limit_scope: Whose rate limits the call spends: the credential it acts with, or
                None (the API key's alone). Every attempt waits until the limits allow it.
            on_limit_wait: Called with the seconds an attempt waits for a rate limit.

        Returns:
            The decoded JSON (None for an empty body) and the body as received.

        Raises:
            AlloyAPIError: An error status (the subclass says which).
            AlloyConnectionError: Nothing answered (``AlloyTimeoutError`` when too slow).
            ClientClosedError: The transport was closed, before this call or while it waited
                to retry.
            ResponseError: A success status with a body that is cut short or not JSON.
        """
        method = method.upper()
        self._refuse_if_closed(method, path)
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        call_timeout = self.config.timeout if timeout is None else normalize_timeout(timeout)
        headers = self.headers(user_id)
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        policy = self.retry_policy if retry_policy is None else retry_policy
        attempt = 0
        waited_until = -math.inf
        while True:
            attempt += 1
            if before_attempt is not None:
                before_attempt()
            self._refuse_if_closed(method, path)
            tickets = self.budgets.acquire(
                self._owner,
                limit_scope,
                sleep=self._sleep,
                waited_until=waited_until,
                on_wait=on_limit_wait,
            )
            try:
                self._refuse_if_closed(method, path)
                sent = self._send_once(
                    method,
                    path,
                    params=params,
                    json_body=json_body,
                    headers=headers,
                    timeout=call_timeout,
                    attempt=attempt,
                )
            except BaseException:
                self.budgets.unanswered(tickets)  # closed, or interrupted: no answer will come
                raise
            may_retry = attempt <= policy.max_retries
            if sent.failure is not None:
                if sent.response is None:
                    self.budgets.unanswered(tickets)
                else:
                    self._account(tickets, sent.response, 0.0)
                # Closed while this attempt was out: the failure is the close's doing.
                self._refuse_if_closed(method, path)
                failure = sent.failure
                first_contact = failure.first_contact_attempts is not None and not self._answered
                if first_contact and attempt >= (failure.first_contact_attempts or 1):
                    may_retry = False
                if may_retry and failure.retryable and (idempotent or not failure.maybe_sent):
                    self._wait(
                        attempt, policy.backoff(attempt, self._rng), failure.reason, on_retry
                    )
                    continue
                if first_contact:
                    self._raise_unreached(failure, method, self._shown(path), attempt)
                self._raise_failure(sent, method, self._shown(path), attempt, call_timeout)
            response = sent.response
            assert response is not None  # a send without a failure always has a response
            status = response.status_code
            retrying = may_retry and is_retryable_status(status, idempotent=idempotent)
            wait = self._retry_wait(response, attempt, policy) if retrying else 0.0
            self._account(tickets, response, wait)
            if retrying:
                waited_until = time.monotonic() + wait
                self._wait(attempt, wait, f"HTTP {status}", on_retry)
                continue
            if status >= 400:
                raise self._api_error(response, sent.body, method, self._shown(path), attempt)
            try:
                if policy.retry_bad_bodies and status == 200 and not sent.body.strip():
                    # A read that answers nothing: a proxy or the app dropped the body.
                    raise self._empty_answer(response, method, path, attempt)
                decoded = self._decode_success(response, sent.body, method, path, attempt)
                return decoded, sent.body
            except ResponseError as error:
                if not (may_retry and idempotent and policy.retry_bad_bodies and error.transient):
                    raise
                reason = "body cut short" if error.cut_short else "body not JSON"
                if not sent.body.strip():
                    reason = "body empty"
                self._wait(attempt, policy.backoff(attempt, self._rng), reason, on_retry)

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
            self._answered = True
        except requests.RequestException as exc:
            # A failure while the body was read still has the response it started.
            response = response or getattr(exc, "response", None)
            if response is not None:
                self._answered = True
            failure = classify(exc)
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
        # Session.request merges the session's own cookies, headers and hooks (a caller's
        # session may carry some) and the environment's proxy and CA settings.
        response = self.session.request(
            method,
            self.config.base_url + path,
            params=params,
            json=json_body,
            headers=headers,
            auth=self._auth,
            timeout=timeout,
            stream=True,
        )
        try:
            return response, self._read_body(response)
        except requests.RequestException as exc:
            # The status line came: the failure is the body's, and the caller says so.
            exc.response = response
            raise

    def _shown(self, path: str) -> str:
        # An id can be anything, even a pasted key: what we show is redacted like the rest.
        return self.redact(path)

    def rate_limits(self, scope: str | None) -> list[BudgetFigures]:
        """The figures of the rate limits a request of ``scope`` spends, those seen so far."""
        return self.budgets.figures(self._owner, scope)

    def _account(self, tickets: Tickets, response: requests.Response, wait: float) -> None:
        """Tell the budgets what an answer said of the limits (a 429: nothing goes out
        before the retry's wait is over)."""
        status = response.status_code
        if status == 429 and not wait:
            wait = parse_retry_after(response.headers.get("Retry-After")) or 0.0
        self.budgets.answered(tickets, status, response.headers, refused_for=wait)

    def _retry_wait(self, response: requests.Response, attempt: int, policy: RetryPolicy) -> float:
        asked = parse_retry_after(response.headers.get("Retry-After"))
        if asked is None:
            return policy.backoff(attempt, self._rng)
        cap = policy.retry_after_cap
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
        self, response: requests.Response, body: bytes, method: str, path: str, attempts: int
    ) -> Any:
        if not body or body.isspace():  # isspace stops at the first character; strip copies
            return None
        try:
            return json_loads(body)
        except (ValueError, RecursionError) as exc:
            content_type = response.headers.get("Content-Type", "unknown type")
            raise unreadable_answer(
                exc,
                status=response.status_code,
                content_type=content_type,
                excerpt=self._excerpt(body, content_type),
                body=body,
                method=method,
                path=self._shown(path),
                attempts=attempts,
                base_url=self.config.base_url,
            ) from None

    def _empty_answer(
        self, response: requests.Response, method: str, path: str, attempts: int
    ) -> ResponseError:
        return empty_answer(response.status_code, method, self._shown(path), attempts)

    def _api_error(
        self, response: requests.Response, body: bytes, method: str, path: str, attempts: int
    ) -> AlloyAPIError:
        content_type = response.headers.get("Content-Type", "")
        message = self._excerpt(body, content_type)
        if not message:
            message = f"{response.reason or 'error'} (empty body)"
        payload = decode_json_or_none(body)
        request_id = extract_request_id(response.headers, payload)
        return error_for_status(
            response.status_code,
            message=message,
            request_id=request_id,
            method=method,
            path=path,
            attempts=attempts,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            payload=payload,
        )

    def _raise_unreached(self, failure: Failure, method: str, path: str, attempts: int) -> NoReturn:
        """Raise for a server that never answered this client: the URL is the likely mistake."""
        base = self.redact(self.config.base_url)
        raise unreached_error(failure, method, path, attempts, base) from None

    def _raise_failure(
        self,
        sent: _Sent,
        method: str,
        path: str,
        attempts: int,
        timeout: tuple[float, float],
    ) -> NoReturn:
        assert sent.failure is not None
        status = None if sent.response is None else sent.response.status_code
        base = self.redact(self.config.base_url)
        raise failure_error(
            sent.failure, status, method, path, attempts, timeout=timeout, base=base
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
