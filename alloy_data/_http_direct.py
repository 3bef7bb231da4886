"""A lean way to send a request on the transport's own session: straight to urllib3's pool.

``Session.send`` spends about half a millisecond a request on work our own session does not
need: cookie jars, hooks, redirect bookkeeping, re-parsing the URL and streaming the body
through generators. A pull sends one request a page, so that is most of a fast page's cost.
:class:`DirectSender` takes the connection pool that the session's own ``HTTPAdapter`` would
use (same TLS settings, same pooled connections) and sends through it, turning urllib3's
exceptions into the ``requests`` exceptions the adapter would raise, so retries and error
messages stay the same. It is used only where it is equivalent: our own session, our own
adapter, no proxy and no client certificate. Anything else goes through ``Session.send``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import Retry
from urllib3.util import Timeout as Urllib3Timeout

__all__ = ["DirectSender", "FallBackError"]

# As the adapter does: no retries inside urllib3 (ours are in the transport), and a read
# failure is raised as it is rather than retried.
_NO_RETRIES = Retry(0, read=False)
# Redirects are left to Session.send, which knows how to follow them.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FallBackError(Exception):
    """The direct path cannot send this request equivalently: use ``Session.send``."""


class DirectSender:
    """Sends requests through the connection pool of a session's own adapter.

    Args:
        session: The transport's own session.
        adapter: The adapter the transport mounted on it.
        base_url: The API's base URL.
        settings: The session's resolved proxies, verify and cert settings for that URL.
        auth_header: The ``Authorization`` header value.
    """

    def __init__(
        self,
        session: requests.Session,
        adapter: HTTPAdapter,
        base_url: str,
        settings: dict[str, Any],
        auth_header: str,
    ) -> None:
        self._session = session
        self._adapter = adapter
        self._base_url = base_url
        self._base_path = urlsplit(base_url).path
        self._settings = settings
        self._auth_header = auth_header
        self._pool: HTTPConnectionPool | None = None
        # The settings are read once per transport, so whether they allow this path is too.
        self._settings_allow = not settings.get("cert") and (
            select_proxy(base_url, settings.get("proxies") or {}) is None
        )

    def usable(self) -> bool:
        """Whether a request to the base URL may go this way (see the module docstring)."""
        return self._settings_allow and self._session.get_adapter(self._base_url) is self._adapter

    def _connection_pool(self) -> HTTPConnectionPool:
        pool = self._pool
        if pool is None or pool.pool is None:  # a closed pool has no queue left
            probe = requests.PreparedRequest()
            probe.prepare(method="GET", url=self._base_url)
            verify = self._settings.get("verify", True)
            found: ConnectionPool = self._adapter.get_connection_with_tls_context(probe, verify)
            assert isinstance(found, HTTPConnectionPool)  # what the adapter's pool manager makes
            self._adapter.cert_verify(found, self._base_url, verify, None)
            self._pool = pool = found
        return pool

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Any,
        json_body: Any,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> tuple[requests.Response, bytes]:
        """Send one request and read its whole body.

        Returns:
            The response (its body already read and its connection returned to the pool) and
            the body's bytes.

        Raises:
            requests.RequestException: What ``HTTPAdapter.send`` or reading the body would have
                raised for the same failure (the response, if one started, is attached).
            FallBackError: A redirect, which ``Session.send`` should follow instead.
        """
        target = self._base_path + path
        if params:
            target += "?" + urlencode(params, doseq=True)
        body = None
        if json_body is not None:
            # Exactly as requests encodes a json= body.
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
        headers = {**headers, "Authorization": self._auth_header}
        try:
            raw = self._connection_pool().urlopen(
                method,
                target,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=_NO_RETRIES,
                timeout=Urllib3Timeout(connect=timeout[0], read=timeout[1]),
                chunked=False,
            )
        except (ProtocolError, OSError) as error:
            raise requests.ConnectionError(error) from None
        except MaxRetryError as error:
            reason = error.reason
            if isinstance(reason, ConnectTimeoutError) and not isinstance(
                reason, NewConnectionError
            ):
                raise requests.exceptions.ConnectTimeout(error) from None
            if isinstance(reason, Urllib3SSLError):
                raise requests.exceptions.SSLError(error) from None
            raise requests.ConnectionError(error) from None
        except ClosedPoolError as error:
            raise requests.ConnectionError(error) from None
        except Urllib3SSLError as error:
            raise requests.exceptions.SSLError(error) from None
        except ReadTimeoutError as error:
            raise requests.exceptions.ReadTimeout(error) from None
        response = requests.Response()
        response.status_code = raw.status
        response.reason = raw.reason or ""
        response.headers = CaseInsensitiveDict(raw.headers)
        response.url = self._base_url + path
        response.raw = raw
        if raw.status in _REDIRECTS and "location" in response.headers:
            raw.drain_conn()
            raw.release_conn()
            raise FallBackError(f"HTTP {raw.status} redirect")
        return response, self._read(raw, response)

    @staticmethod
    def _read(raw: Any, response: requests.Response) -> bytes:
        # Mapped as requests maps failures while it reads a streamed body.
        try:
            body: bytes = raw.read(decode_content=True)
        except ProtocolError as error:
            raise requests.exceptions.ChunkedEncodingError(error, response=response) from None
        except DecodeError as error:
            raise requests.exceptions.ContentDecodingError(error, response=response) from None
        except ReadTimeoutError as error:
            raise requests.ConnectionError(error, response=response) from None
        except Urllib3SSLError as error:
            raise requests.exceptions.SSLError(error, response=response) from None
        except HTTPError as error:
            raise requests.ConnectionError(error, response=response) from None
        finally:
            raw.release_conn()
        response._content = body  # what Response.content would have cached
        return body
