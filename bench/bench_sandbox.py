"""Measure how many execute requests per second the sandbox serves.

The server runs in its own process (``python -m alloy_data.sandbox``) so it does not share the
client's GIL. The client walks Box files in 100-record pages with execute requests over one
keep-alive connection, twice: with a minimal socket client (what the server can do) and with
``http.client`` (what a typical Python client gets). Run:
``python bench/bench_sandbox.py [--seconds 5] [--records 2500] [--cold-records 50000]``.
It also reports how many records per second a first walk of a large resource gets, when every
page has to be generated.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable

API_KEY = "sk_sandbox_bench"
PAGE_SIZE = 100
PATH = "/connectors/box/actions/list-files/execute"


def start_server(records: int) -> tuple[subprocess.Popen[str], str]:
    """Start the sandbox process; return it and its URL once it prints its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", API_KEY,
         "--records", str(records)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+", line)
    if match is None:
        process.terminate()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return process, match.group(0)


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def fixtures(url: str) -> tuple[str, str]:
    """Return the first user's id and its Box credential id."""
    conn = http.client.HTTPConnection(*_address(url), timeout=10)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    conn.request("GET", "/users", headers=headers)
    user_id = json.loads(conn.getresponse().read())["data"][0]["userId"]
    conn.request("GET", f"/connectors/box/credentials?userId={user_id}", headers=headers)
    credential_id = json.loads(conn.getresponse().read())["credentials"][0]["credentialId"]
    conn.close()
    return user_id, credential_id


def _bodies(url: str, records: int) -> list[bytes]:
    user_id, credential_id = fixtures(url)
    return [
        json.dumps(
            {
                "userId": user_id,
                "credentialId": credential_id,
                "parameters": {"limit": PAGE_SIZE, "offset": page * PAGE_SIZE},
            }
        ).encode()
        for page in range(max(1, records // PAGE_SIZE))
    ]


def _timed(seconds: float, one_request: Callable[[int], None]) -> float:
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        one_request(count)
        count += 1
    return count / (time.perf_counter() - started)


def measure_raw(url: str, seconds: float, records: int) -> float:
    """Return requests per second with a minimal keep-alive socket client."""
    bodies = _bodies(url, records)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {url[7:]}\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    requests = [head + b"%d\r\n\r\n" % len(body) + body for body in bodies]
    sock = socket.create_connection(_address(url), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray()

    def one_request(count: int) -> None:
        sock.sendall(requests[count % len(requests)])
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(buffer[:end])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
                if len(buffer) >= end + 4 + length:
                    del buffer[: end + 4 + length]
                    return
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the server closed the connection")
            buffer.extend(chunk)

    try:
        return _timed(seconds, one_request)
    finally:
        sock.close()


def measure_http_client(url: str, seconds: float, records: int, *, decode: bool) -> float:
    """Return requests per second with ``http.client`` (decoding the JSON when ``decode``)."""
    bodies = _bodies(url, records)
    conn = http.client.HTTPConnection(*_address(url), timeout=10)
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    def one_request(count: int) -> None:
        conn.request("POST", PATH, bodies[count % len(bodies)], headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {data[:200]!r}")
        if decode and len(json.loads(data)["data"]["entries"]) != PAGE_SIZE:
            raise RuntimeError("short page")

    try:
        return _timed(seconds, one_request)
    finally:
        conn.close()


def measure_cold_walk(url: str, records: int) -> float:
    """Return records per second for one walk of never-served pages of 1,000 Box files."""
    user_id, credential_id = fixtures(url)
    conn = http.client.HTTPConnection(*_address(url), timeout=30)
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for offset in range(0, records, 1000):
        body = {
            "userId": user_id,
            "credentialId": credential_id,
            "parameters": {"limit": 1000, "offset": offset},
        }
        conn.request("POST", PATH, json.dumps(body), headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}")
    conn.close()
    return records / (time.perf_counter() - started)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--records", type=int, default=2_500)
    parser.add_argument("--cold-records", type=int, default=50_000)
    args = parser.parse_args()
    process, url = start_server(args.records)
    try:
        measure_raw(url, 0.5, args.records)  # warm the server's caches
        raw = measure_raw(url, args.seconds, args.records)
        plain = measure_http_client(url, args.seconds, args.records, decode=False)
        decoded = measure_http_client(url, args.seconds, args.records, decode=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
    process, url = start_server(args.cold_records)
    try:
        cold = measure_cold_walk(url, args.cold_records)
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"sandbox execute, {PAGE_SIZE}-record Box pages, one keep-alive connection:")
    print(f"  {raw:8,.0f} requests/s  minimal socket client (the server's capacity)")
    print(f"  {plain:8,.0f} requests/s  http.client, body read")
    print(f"  {decoded:8,.0f} requests/s  http.client, body read and JSON decoded")
    print(f"first walk of {args.cold_records:,} Box files in 1,000-record pages (no cache):")
    print(f"  {cold:8,.0f} records/s generated and served")
    return 0


if __name__ == "__main__":
    sys.exit(main())
