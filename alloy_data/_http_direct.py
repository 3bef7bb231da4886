"""A lean way to send a request on the transport's own session: HTTP/1.1 on our own sockets.

``Session.send`` spends about half a millisecond a request on work our own session does not
need (cookie jars, hooks, redirect bookkeeping, re-parsing the URL, streaming the body through
generators), and urllib3 and ``http.client`` below it as much again (two writes a request, an
``email`` parser for every answer's headers). A pull sends one request a page, so on a fast
network that is most of a page's cost. :class:`DirectSender` writes each request in one go and
reads the answer itself (:mod:`alloy_data._http_wire`), with the session's TLS settings (its CA
bundle, as ``requests`` resolves it), and raises the ``requests`` exceptions the adapter would
raise, so retries and error messages stay the same. It is used only where it is equivalent: our
own session, our own adapter, no proxy, no client certificate and certificates verified.
Anything else goes through ``Session.send``, and so does a redirect.
"""

from __future__ import annotations

import json
import os
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, extract_zipped_paths, select_proxy

from alloy_data._http_wire import WirePool, exchange

__all__ = ["DirectSender", "FallBackError"]

# Redirects are left to Session.send, which knows how to follow them.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FallBackError(Exception):
    """The direct path cannot send this request equivalently: use ``Session.send``."""


class DirectSender:
    """Sends requests to the API's host on kept-alive connections of its own.

    Args:
        session: The transport's own session.
        adapter: The adapter the transport mounted on it.
        base_url: The API's base URL.
        settings: The session's resolved proxies, verify and cert settings for that URL.
        auth_header: The ``Authorization`` header value.
        max_idle: Idle connections kept for reuse, at most.
    """

    def __init__(
        self,
        session: requests.Session,
        adapter: HTTPAdapter,
        base_url: str,
        settings: dict[str, Any],
        auth_header: str,
        *,
        max_idle: int = 16,
    ) -> None:
        self._session = session
        self._adapter = adapter
        self._base_url = base_url
        parts = urlsplit(base_url)
        self._scheme = parts.scheme.lower()
        self._base_path = parts.path
        self._settings = settings
        self._auth_header = auth_header
        self._max_idle = max_idle
        self._pool: WirePool | None = None
        # The settings are read once per transport, so whether they allow this path is too.
        self._settings_allow = (
            self._scheme in _DEFAULT_PORTS
            and bool(parts.hostname)
            and (parts.hostname or "").isascii()  # requests IDNA-encodes other names first
            and parts.username is None
            and not settings.get("cert")
            and settings.get("verify", True) is not False  # urllib3 warns of that: keep it
            and select_proxy(base_url, settings.get("proxies") or {}) is None
        )
        if self._settings_allow:
            host = parts.hostname or ""
            self._host = host
            self._port = parts.port or _DEFAULT_PORTS[self._scheme]
            shown_host = f"[{host}]" if ":" in host else host
            default = self._port == _DEFAULT_PORTS[self._scheme]
            self._host_header = shown_host if default else f"{shown_host}:{self._port}"

    def usable(self) -> bool:
        """Whether a request to the base URL may go this way (see the module docstring)."""
        return self._settings_allow and self._session.get_adapter(self._base_url) is self._adapter

    def close(self) -> None:
        """Close the kept-alive connections."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _connection_pool(self) -> WirePool:
        pool = self._pool
        if pool is None:
            tls = self._tls_context() if self._scheme == "https" else None
            self._pool = pool = WirePool(self._host, self._port, tls, self._max_idle)
        return pool

    def _tls_context(self) -> ssl.SSLContext:
        # The CA bundle requests would use: REQUESTS_CA_BUNDLE and the like when the session
        # trusts the environment, certifi's otherwise.
        verify = self._settings.get("verify", True)
        where = extract_zipped_paths(DEFAULT_CA_BUNDLE_PATH) if verify is True else str(verify)
        try:
            if os.path.isdir(where):
                context = ssl.create_default_context(capath=where)
            else:
                context = ssl.create_default_context(cafile=where)
        except OSError as error:
            raise requests.ConnectionError(
                f"could not load the TLS CA certificate bundle {where!r}: {error}"
            ) from None
        context.set_alpn_protocols(["http/1.1"])
        return context

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
            The response (its body already read, its connection kept for the next request)
            and the body's bytes.

        Raises:
            requests.RequestException: What ``HTTPAdapter.send`` or reading the body would have
                raised for the same failure (the response, if one started, is attached).
            FallBackError: A redirect, which ``Session.send`` should follow instead, or a
                request this path does not write (a path or header beyond plain ASCII).
        """
        target = self._base_path + path
        if params:
            target += "?" + urlencode(params, doseq=True)
        body = None
        if json_body is not None:
            # Exactly as requests encodes a json= body.
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
        request = self._request_bytes(method, target, headers, body)
        response, content = exchange(
            self._connection_pool(),
            request,
            method=method,
            url=self._base_url + path,
            timeout=timeout,
        )
        if response.status_code in _REDIRECTS and "location" in response.headers:
            raise FallBackError(f"HTTP {response.status_code} redirect")
        return response, content

    def _request_bytes(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> bytes:
        if not target.isascii() or not target.isprintable() or " " in target:
            raise FallBackError("a path that requests would quote first")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        for name, value in {**headers, "Authorization": self._auth_header}.items():
            if "\r" in value or "\n" in value or not name.isprintable() or ":" in name:
                raise requests.exceptions.InvalidHeader(
                    f"invalid header {name!r}: a name or value may not hold a line break"
                )
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method not in ("GET", "HEAD"):
            lines.append("Content-Length: 0")  # as requests sends an empty POST
        try:
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError:
            raise FallBackError("a header value beyond Latin-1") from None
        return head + body if body is not None else head
