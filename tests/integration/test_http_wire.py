"""HTTP/1.1 on a socket (the lean path's wire): answers scripted byte for byte on loopback."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from alloy_data._http_wire import NotConnectedError, WirePool, exchange

Script = Callable[[bytes], bytes | None]
"""Given one request's bytes, the raw answer to send (None: close the connection instead)."""


class ScriptedServer:
    """Answers each request on loopback with what a script returns, and counts connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script: Script = lambda request: ok(b"{}")
        self.connections = 0
        self.closed = 0  # connections the server has closed
        self.requests: list[bytes] = []
        self.close_after_answer = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        finally:
            conn.close()
            self.closed += 1

    def _answer(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                buffer += conn.recv(65536)
            request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
            self.requests.append(request)
            answer = self.script(request)
            if answer is None:
                return
            conn.sendall(answer)
            if self.close_after_answer:
                return

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=5)


def ok(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(path: str = "/x") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    try:
        yield scripted
    finally:
        scripted.close()


@pytest.fixture
def pool(server: ScriptedServer) -> Iterator[WirePool]:
    wire = WirePool("127.0.0.1", server.port, None, max_idle=4)
    try:
        yield wire
    finally:
        wire.close()


def call(pool: WirePool, request: bytes | None = None, method: str = "GET") -> tuple[int, bytes]:
    response, body = exchange(
        pool, request or get(), method=method, url="http://api.test/x", timeout=(2.0, 2.0)
    )
    assert response.content == body
    return response.status_code, body


def test_a_kept_alive_connection_carries_every_request(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: ok(request.split(b" ")[1])
    answers = [call(pool, get(f"/page/{number}")) for number in range(5)]
    assert answers == [(200, f"/page/{number}".encode()) for number in range(5)]
    assert server.connections == 1


def test_a_request_goes_out_whole_with_its_body(server: ScriptedServer, pool: WirePool) -> None:
    request = b'POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{"a":1}'
    call(pool, request, method="POST")
    assert server.requests == [request]


def test_status_reason_and_repeated_headers_are_read(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: ok(
        b"nope",
        "X-Note: a",
        "x-note: b",
        "X-Folded: first",
        "  second",
        status="404 Not Found",
    )
    response, body = exchange(pool, get(), method="GET", url="http://api.test/x", timeout=(2, 2))
    assert (response.status_code, response.reason, body) == (404, "Not Found", b"nope")
    assert response.headers["x-note"] == "a, b"
    assert response.headers["X-FOLDED"] == "first second"
    assert response.url == "http://api.test/x"


def test_chunked_answers_are_joined(server: ScriptedServer, pool: WirePool) -> None:
    server.script = lambda request: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert call(pool) == (200, b"hello world")
    assert call(pool) == (200, b"hello world")
    assert server.connections == 1


def test_gzip_of_several_members_and_both_deflate_forms_are_undone(
    server: ScriptedServer, pool: WirePool
) -> None:
    codings = iter(
        [
            ("gzip", gzip.compress(b"first ") + gzip.compress(b"second")),
            ("deflate", zlib.compress(b"zlib wrapped")),
            ("deflate", zlib.compress(b"raw deflate")[2:-4]),
            ("br", b"left as it came"),
        ]
    )

    def answer(request: bytes) -> bytes:
        coding, body = next(codings)
        return ok(body, f"Content-Encoding: {coding}")

    server.script = answer
    assert [call(pool)[1] for _ in range(4)] == [
        b"first second",
        b"zlib wrapped",
        b"raw deflate",
        b"left as it came",
    ]


def test_a_body_that_is_not_what_its_coding_says_is_a_decoding_error(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: ok(b"not gzip at all", "Content-Encoding: gzip")
    with pytest.raises(requests.exceptions.ContentDecodingError) as caught:
        call(pool)
    assert caught.value.response is not None and caught.value.response.status_code == 200


def test_an_answer_without_a_length_runs_to_the_end_of_its_connection(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
    server.close_after_answer = True
    assert call(pool) == (200, b"until the end")
    assert call(pool) == (200, b"until the end")
    assert server.connections == 2


def test_connection_close_and_http_1_0_are_not_reused(
    server: ScriptedServer, pool: WirePool
) -> None:
    answers = iter(
        [
            ok(b"a", "Connection: close"),
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb",
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nc",
            ok(b"d"),
        ]
    )
    server.script = lambda request: next(answers)
    assert [call(pool)[1] for _ in range(4)] == [b"a", b"b", b"c", b"d"]
    assert server.connections == 3  # c and d share the third


def test_an_interim_100_continue_is_skipped(server: ScriptedServer, pool: WirePool) -> None:
    server.script = lambda request: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final")
    assert call(pool) == (200, b"final")


def test_no_body_is_read_for_head_or_204(server: ScriptedServer, pool: WirePool) -> None:
    answers = iter(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            ok(b"after"),
        ]
    )
    server.script = lambda request: next(answers)
    head = b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"
    assert call(pool, head, method="HEAD") == (200, b"")
    assert call(pool) == (204, b"")
    assert call(pool) == (200, b"after")
    assert server.connections == 1


def test_an_idle_connection_the_server_closed_is_replaced(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.close_after_answer = True  # and says nothing about it, as some servers do
    assert call(pool) == (200, b"{}")
    deadline = time.monotonic() + 5
    while server.closed < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert call(pool) == (200, b"{}")
    assert server.connections == 2


def test_a_connection_with_more_bytes_than_announced_is_dropped(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: ok(b"ab") + b"stray"
    assert call(pool) == (200, b"ab")
    assert call(pool) == (200, b"ab")
    assert server.connections == 2


def test_a_body_cut_short_is_a_chunked_encoding_error_with_its_response(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 50\r\n\r\nshort"
    server.close_after_answer = True
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="cut short") as caught:
        call(pool)
    assert caught.value.response is not None and caught.value.response.status_code == 502


def test_no_answer_at_all_is_a_connection_error(server: ScriptedServer, pool: WirePool) -> None:
    server.script = lambda request: None
    with pytest.raises(requests.ConnectionError, match="without an answer"):
        call(pool)


def test_an_answer_that_is_not_http_is_a_connection_error(
    server: ScriptedServer, pool: WirePool
) -> None:
    server.script = lambda request: b"SSH-2.0-OpenSSH\r\n\r\n"
    with pytest.raises(requests.ConnectionError, match="not HTTP"):
        call(pool)


def test_an_endless_header_block_is_refused(server: ScriptedServer, pool: WirePool) -> None:
    server.script = lambda request: b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000
    with pytest.raises(requests.ConnectionError, match="over 65536 bytes"):
        call(pool)


def test_a_silent_server_is_a_read_timeout(server: ScriptedServer, pool: WirePool) -> None:
    server.script = lambda request: time.sleep(1.0) or ok(b"late")
    with pytest.raises(requests.exceptions.ReadTimeout):
        exchange(pool, get(), method="GET", url="http://api.test/x", timeout=(2.0, 0.2))


def test_a_closed_port_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    wire = WirePool("127.0.0.1", port, None, max_idle=1)
    with pytest.raises(NotConnectedError, match="could not connect") as caught:
        exchange(wire, get(), method="GET", url="http://api.test/x", timeout=(2.0, 2.0))
    assert caught.value.what == "connection refused"
    assert isinstance(caught.value, requests.ConnectionError)


def test_an_unknown_host_name_is_not_resolved() -> None:
    wire = WirePool("no-such-host.invalid", 80, None, max_idle=1)
    with pytest.raises(NotConnectedError) as caught:
        exchange(wire, get(), method="GET", url="http://api.test/x", timeout=(2.0, 2.0))
    assert caught.value.what == "host name not resolved"


def test_concurrent_requests_each_get_their_own_answer(server: ScriptedServer) -> None:
    server.script = lambda request: ok(request.split(b" ")[1])
    # Room for every thread's connection when idle: none is closed, so none is made again.
    wire = WirePool("127.0.0.1", server.port, None, max_idle=8)
    try:
        with ThreadPoolExecutor(8) as workers:
            answers = list(workers.map(lambda n: call(wire, get(f"/n/{n}"))[1], range(200)))
    finally:
        wire.close()
    assert answers == [f"/n/{n}".encode() for n in range(200)]
    assert server.connections <= 8


def test_reuse_works_with_descriptors_above_what_select_can_watch(
    server: ScriptedServer, pool: WirePool
) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("this machine allows fewer than 1,200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    fillers = [socket.socket() for _ in range(1100)]  # the pool's socket gets a number > 1023
    try:
        assert call(pool) == (200, b"{}")
        assert call(pool) == (200, b"{}")
    finally:
        for filler in fillers:
            filler.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert server.connections == 1
