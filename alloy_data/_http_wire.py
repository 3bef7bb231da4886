"""HTTP/1.1 on a socket, for the lean path: one request, its whole answer, kept-alive connections.

A pull on a fast network sends a thousand small requests a minute, so what each costs on the
client decides its speed. ``http.client`` (under urllib3, under requests) spends most of a
loopback round trip in Python: the headers go out in one write and the body in another, and
every answer's headers pass through the ``email`` package's parser. Here a request is one write
and an answer is read with a few ``recv_into`` calls and one split of its header block.

Only what the API's answers need is understood: a status line, headers, a body sized by
``Content-Length``, by chunks or by the connection's end, and gzip or deflate content coding.
Anything unusual is raised as the ``requests`` exception that ``requests`` would raise, so that
the transport's retries and error messages stay the same.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import zlib

import requests
from requests.structures import CaseInsensitiveDict

__all__ = ["NotConnectedError", "WirePool", "exchange"]

_RECV_SIZE = 1 << 16
# As http.client: a header block beyond these limits is not an HTTP answer worth reading.
_MAX_HEADER_BYTES = 1 << 16
_MAX_HEADERS = 100
_NO_BODY_STATUSES = frozenset({204, 304})


class _EndOfStreamError(Exception):
    """The peer closed the connection."""


class NotConnectedError(requests.ConnectionError):
    """No connection could be made, so nothing was sent: safe to retry any request.

    Attributes:
        what: ``"connection refused"``, ``"host name not resolved"`` or ``"connection failed"``.
    """

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


class WireConnection:
    """A socket to the API with a read buffer; reused while the server keeps it alive."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def close(self) -> None:
        """Close the socket (errors while closing are of no interest)."""
        with contextlib.suppress(OSError):
            self.sock.close()

    def idle_and_open(self) -> bool:
        """Whether an idle connection can carry another request.

        Nothing may be waiting on an idle connection: readable means the server closed it (or
        sent bytes nobody asked for), as urllib3 checks before it reuses a connection.
        """
        if self._buffer or self.sock.fileno() < 0:
            return False
        try:
            return not _has_events(self.sock)
        except (OSError, ValueError):
            return False

    # Reading

    def _fill(self) -> None:
        data = self.sock.recv(_RECV_SIZE)
        if not data:
            raise _EndOfStreamError
        self._buffer += data

    def read_until(self, marker: bytes, limit: int) -> bytes:
        """The bytes up to and including ``marker``; at most ``limit`` of them."""
        start = 0
        while True:
            found = self._buffer.find(marker, start)
            if found >= 0:
                end = found + len(marker)
                block, self._buffer = self._buffer[:end], self._buffer[end:]
                return block
            if len(self._buffer) > limit:
                raise requests.ConnectionError(
                    f"the server's answer has a line or header block over {limit} bytes"
                )
            start = max(0, len(self._buffer) - len(marker) + 1)
            self._fill()

    def read_exactly(self, size: int) -> bytes:
        """``size`` bytes of body; raises ``_EndOfStreamError`` if the connection ends first."""
        buffered = self._buffer
        if len(buffered) >= size:
            self._buffer = buffered[size:]
            return buffered[:size] if len(buffered) > size else buffered
        body = bytearray(size)
        view = memoryview(body)
        view[: len(buffered)] = buffered
        got = len(buffered)
        self._buffer = b""
        while got < size:
            count = self.sock.recv_into(view[got:], size - got)
            if not count:
                raise _EndOfStreamError
            got += count
        return bytes(body)

    def read_to_end(self) -> bytes:
        """Everything until the server closes the connection."""
        parts = [self._buffer]
        self._buffer = b""
        while True:
            data = self.sock.recv(_RECV_SIZE)
            if not data:
                return b"".join(parts)
            parts.append(data)

    @property
    def has_unread_bytes(self) -> bool:
        """Whether the server sent more than the answer it announced."""
        return bool(self._buffer)


def _has_events(sock: socket.socket) -> bool:
    """Whether the socket is readable, closed or failed right now, without waiting."""
    if hasattr(select, "poll"):  # select() cannot watch descriptors above 1023
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, failed = select.select([sock], [], [sock], 0)
    return bool(readable or failed)


class WirePool:
    """Kept-alive connections to one host, handed out one request at a time (thread-safe).

    Args:
        host: The host name or address.
        port: The port.
        tls: The TLS context for an ``https`` URL, or None for plain HTTP.
        max_idle: Idle connections kept at most (one per concurrent request is enough).
    """

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, max_idle: int) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._max_idle = max_idle
        self._idle: list[WireConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self, connect_timeout: float | None) -> WireConnection:
        """An idle connection still open, or a new one.

        Raises:
            requests.exceptions.ConnectTimeout: Connecting took longer than ``connect_timeout``.
            requests.exceptions.SSLError: The TLS handshake failed (an untrusted certificate).
            requests.ConnectionError: The host could not be reached.
        """
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(connect_timeout)
            if connection.idle_and_open():
                return connection
            connection.close()

    def release(self, connection: WireConnection) -> None:
        """Keep a connection whose answer was read whole, for the next request."""
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; connections in use close when released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connect(self, timeout: float | None) -> WireConnection:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=timeout)
        except TimeoutError as error:
            raise requests.exceptions.ConnectTimeout(
                f"connecting to {self._host}:{self._port} timed out ({error})"
            ) from None
        except OSError as error:
            if isinstance(error, ConnectionRefusedError):
                what = "connection refused"
            elif isinstance(error, socket.gaierror):
                what = "host name not resolved"
            else:
                what = "connection failed"
            raise NotConnectedError(
                what, f"could not connect to {self._host}:{self._port}: {error}"
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        except ssl.SSLError as error:
            sock.close()
            raise requests.exceptions.SSLError(error) from None
        except TimeoutError as error:
            sock.close()
            raise requests.exceptions.ConnectTimeout(
                f"the TLS handshake with {self._host}:{self._port} timed out ({error})"
            ) from None
        except OSError as error:
            sock.close()
            raise requests.ConnectionError(error) from None
        return WireConnection(sock)


def exchange(
    pool: WirePool,
    request: bytes,
    *,
    method: str,
    url: str,
    timeout: tuple[float, float],
) -> tuple[requests.Response, bytes]:
    """Send one request (head and body in ``request``) and read its whole answer.

    Returns:
        The response for ``url``, its body already read, and the body's bytes with gzip or
        deflate undone. The connection goes back to the pool when the server keeps it alive.

    Raises:
        requests.RequestException: The subclass ``requests`` raises for the same failure:
            ``ConnectTimeout``, ``ReadTimeout``, ``SSLError``, ``ChunkedEncodingError`` (an
            answer cut short, with the response it started), ``ContentDecodingError``, or
            ``ConnectionError``.
    """
    connection = pool.acquire(timeout[0])
    keep = False
    try:
        connection.sock.settimeout(timeout[1])
        try:
            connection.sock.sendall(request)
            status, reason, headers, version = _read_head(connection)
        except TimeoutError as error:
            raise requests.exceptions.ReadTimeout(
                f"the server did not answer in time ({error})"
            ) from None
        except ssl.SSLError as error:
            raise requests.exceptions.SSLError(error) from None
        except _EndOfStreamError:
            raise requests.ConnectionError(
                "Connection aborted: the server closed the connection without an answer"
            ) from None
        except OSError as error:
            raise requests.ConnectionError(f"Connection aborted: {error}") from None
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = headers
        response.url = url
        try:
            body, ends_connection = _read_body(connection, method, status, headers)
        except (TimeoutError, _EndOfStreamError, OSError, ValueError) as error:
            cut = "timed out" if isinstance(error, TimeoutError) else "was cut short"
            raise requests.exceptions.ChunkedEncodingError(
                f"the answer's body {cut} ({str(error) or 'the connection closed'})",
                response=response,
            ) from None
        keep = not ends_connection and _keeps_alive(version, headers)
        keep = keep and not connection.has_unread_bytes
        try:
            body = _decoded(body, response.headers.get("content-encoding"))
        except zlib.error as error:
            raise requests.exceptions.ContentDecodingError(
                f"the answer says it is {response.headers['content-encoding']}-encoded but "
                f"cannot be decoded: {error}",
                response=response,
            ) from None
        response._content = body  # what Response.content would have cached
        # So that Response.close() has no raw stream to close (it has none: raw is None).
        response._content_consumed = True  # type: ignore[attr-defined]
        return response, body
    finally:
        if keep:
            pool.release(connection)
        else:
            connection.close()


def _read_head(
    connection: WireConnection,
) -> tuple[int, str, CaseInsensitiveDict[str], str]:
    """The status, reason, headers (repeated ones joined with commas, as urllib3 presents them)
    and HTTP version of the next answer, after any interim ``100 Continue``."""
    while True:
        block = connection.read_until(b"\r\n\r\n", _MAX_HEADER_BYTES)
        lines = block[:-4].decode("iso-8859-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not (code.isdigit() and len(code) == 3):
            raise requests.ConnectionError(f"the server's answer is not HTTP: {lines[0][:80]!r}")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (100 Continue): the real one follows
        if len(lines) - 1 > _MAX_HEADERS:
            raise requests.ConnectionError(f"the server's answer has over {_MAX_HEADERS} headers")
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        name = ""
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and name:  # an obsolete folded continuation
                headers[name] = f"{headers[name]} {line.strip()}"
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon:
                name = ""
            elif name in headers:
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
        return status, reason.strip(), headers, version


def _read_body(
    connection: WireConnection, method: str, status: int, headers: CaseInsensitiveDict[str]
) -> tuple[bytes, bool]:
    """The body's bytes, and whether reading it used up the connection."""
    if method == "HEAD" or status in _NO_BODY_STATUSES or status < 200:
        return b"", False
    coding = headers.get("transfer-encoding", "").lower()
    if "chunked" in coding:
        return _read_chunks(connection), False
    length = headers.get("content-length")
    if length is not None:
        sizes = {size.strip() for size in length.split(",")}
        if len(sizes) != 1 or not next(iter(sizes)).isdigit():
            raise ValueError(f"a Content-Length of {length!r}")
        return connection.read_exactly(int(sizes.pop())), False
    return connection.read_to_end(), True


def _read_chunks(connection: WireConnection) -> bytes:
    parts: list[bytes] = []
    while True:
        line = connection.read_until(b"\r\n", _MAX_HEADER_BYTES)
        size = int(line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            while connection.read_until(b"\r\n", _MAX_HEADER_BYTES) != b"\r\n":
                pass  # trailer fields, of no use here
            return b"".join(parts)
        parts.append(connection.read_exactly(size))
        if connection.read_exactly(2) != b"\r\n":
            raise ValueError("a chunk longer than its announced size")


def _keeps_alive(version: str, headers: CaseInsensitiveDict[str]) -> bool:
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _decoded(body: bytes, content_encoding: str | None) -> bytes:
    coding = (content_encoding or "").strip().lower()
    if not body or coding not in ("gzip", "x-gzip", "deflate"):
        return body  # as urllib3 does, a coding it does not know is left as it came
    if coding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # some servers send a raw deflate stream
            return zlib.decompress(body, -zlib.MAX_WBITS)
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    parts = [decompressor.decompress(body)]
    while decompressor.unused_data:  # a gzip stream of several members
        rest = decompressor.unused_data
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        parts.append(decompressor.decompress(rest))
    return b"".join(parts)
