"""moto's S3 server on loopback, shared by the tests that write to an object store."""

from __future__ import annotations

from typing import Any

from moto.server import ThreadedMotoServer

BUCKET = "alloy-exports"
SECRET = "wJalr-not-a-real-secret-7f3e"  # moto takes any key; this one must never be echoed


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """Starts moto's S3 server on a free loopback port; returns it and its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def options_for(endpoint: str) -> dict[str, Any]:
    """The s3fs storage options that reach the moto server at ``endpoint``."""
    return {
        "key": "testing",
        "secret": SECRET,
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
        # A stopped server must fail an upload at once, not after botocore's retries.
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
