"""A small HTTP/1.1 server on asyncio: keep-alive, Content-Length bodies, one thread.

The standard library's ``http.server`` spends most of its time in per-request object setup;
this protocol parses requests straight out of the connection buffer, which keeps the server
well ahead of any client it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

from alloy_data.sandbox.errors import ApiError
from alloy_data.sandbox.messages import Request, Response, error_response

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 32 * 1024
MAX_BODY_BYTES = 1024 * 1024

Handler = Callable[[Request], Response]

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _BadRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _split_target(target: str) -> tuple[str, list[str], dict[str, str]]:
    if target.startswith(("http://", "https://")):
        # absolute-form: keep only the path and query
        slash = target.find("/", target.find("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    if not target.startswith("/"):
        raise _BadRequestError(400, "the request target must be a path starting with '/'")
    path, _, query_string = target.partition("?")
    path = path.partition("#")[0]
    parts = path[1:].split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    segments = [unquote(part, errors="replace") for part in parts]
    query = dict(parse_qsl(query_string, keep_blank_values=True, errors="replace"))
    return path, segments, query


def _parse_head(head: bytes) -> tuple[Request, bool]:
    """Return the request (without body) and whether the client wants keep-alive."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequestError(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequestError(400, "malformed header line")
        headers[name.lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    path, segments, query = _split_target(target)
    return Request(method, target, path, segments, query, headers), keep_alive


class _Connection(asyncio.Protocol):
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # an answer is being held back; parse nothing until it is sent
        self.closing = False
        self.continued = False  # "100 Continue" already sent for the request in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while not self.busy and not self.closing and self.buffer:
            if self.buffer[:1] == b"\x16":
                # A TLS handshake: an https client at this plain-http port. Web servers answer
                # a plain 400 at once rather than wait for a request line that never comes.
                self._fail(400, "this server speaks plain http: use an http:// URL")
                return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self._fail(431, "the request head is too large")
                return
            if end > MAX_HEADER_BYTES:
                self._fail(431, "the request head is too large")
                return
            try:
                request, keep_alive = _parse_head(bytes(self.buffer[:end]))
                length = self._content_length(request)
            except _BadRequestError as error:
                self._fail(error.status, error.message)
                return
            body_start = end + 4
            if len(self.buffer) < body_start + length:
                expect = request.headers.get("expect", "").lower()
                if expect == "100-continue" and self.transport and not self.continued:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            self.continued = False
            request.body = bytes(self.buffer[body_start : body_start + length])
            del self.buffer[: body_start + length]
            response = self.server.dispatch(request)
            if request.method == "HEAD":
                # A HEAD answer announces its body's length but must not send it.
                response.head_only = True
            self._answer(response, keep_alive)

    def _content_length(self, request: Request) -> int:
        if "transfer-encoding" in request.headers:
            raise _BadRequestError(
                411, "chunked request bodies are not supported; send Content-Length"
            )
        raw = request.headers.get("content-length")
        if raw is None:
            return 0
        if not raw.isdigit():
            raise _BadRequestError(400, "Content-Length must be a non-negative integer")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            raise _BadRequestError(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        return length

    def _answer(self, response: Response, keep_alive: bool) -> None:
        if response.delay_ms > 0:
            self.busy = True
            if self.transport:
                self.transport.pause_reading()
            loop = asyncio.get_running_loop()
            loop.call_later(response.delay_ms / 1000, self._send_held, response, keep_alive)
            return
        self._send(response, keep_alive)

    def _send_held(self, response: Response, keep_alive: bool) -> None:
        self.busy = False
        if self.closing:
            return
        self._send(response, keep_alive)
        if self.transport and not self.closing:
            self.transport.resume_reading()
            self._process()

    def _send(self, response: Response, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or self.closing:
            return
        if response.drop or response.reset:
            self.closing = True
            if response.reset:
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            else:
                transport.close()
            return
        head = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        head.extend(f"{name}: {value}" for name, value in response.headers.items())
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        body = b"" if response.head_only else response.body
        if response.truncate:
            body = body[: len(body) // 2]
            keep_alive = False
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if not keep_alive:
            self.closing = True
            transport.close()

    def _fail(self, status: int, message: str) -> None:
        self.buffer.clear()
        self._send(error_response(ApiError(status, message)), keep_alive=False)


class HTTPServer:
    """Serves ``handler`` on ``host:port`` from an asyncio loop in a background thread."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.requested_port = port
        self.port = port
        self.connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def dispatch(self, request: Request) -> Response:
        """Return the handler's response; a bug becomes a JSON 500 instead of a hung socket."""
        try:
            return self.handler(request)
        except ApiError as error:
            return error_response(error)
        except Exception:
            logger.exception("sandbox handler failed on %s %s", request.method, request.path)
            return error_response(ApiError(500, "the sandbox failed on this request"))

    def start(self) -> None:
        """Bind and start serving in a background thread; return once it accepts connections.

        Raises:
            OSError: When the address cannot be bound.
        """
        self._ready.clear()
        self._error = None
        self.port = self.requested_port
        self._thread = threading.Thread(target=self._run, name="alloy-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _Connection(self), self.host, self.port, backlog=512)
            )
            sockets = self._server.sockets
            self.port = sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.abort()
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._server.wait_closed())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop serving, close every connection and wait for the thread to end."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
