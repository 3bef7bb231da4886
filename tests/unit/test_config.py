"""Resolving the client's configuration: precedence, trust_env, URLs, timeouts."""

from __future__ import annotations

import dataclasses
import math

import pytest

from alloy_data.config import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    ClientConfig,
    normalize_timeout,
    validate_base_url,
)
from alloy_data.errors import ConfigurationError

FULL_ENV = {
    "ALLOY_API_KEY": "env_key_0123456789abcdef",
    "ALLOY_BASE_URL": "https://env.example.com/",
    "ALLOY_API_VERSION": "2099-01",
    "ALLOY_USER_ID": "env-user",
}


def test_defaults_apply_when_only_a_key_is_given() -> None:
    config = ClientConfig.resolve("arg_key_0123456789", environ={})
    assert config.base_url == DEFAULT_BASE_URL == "https://production.runalloy.com"
    assert config.api_version == DEFAULT_API_VERSION == "2025-09"
    assert config.user_id is None
    assert config.timeout == DEFAULT_TIMEOUT
    assert all(math.isfinite(t) for t in config.timeout)
    assert config.max_retries == 4


def test_environment_beats_defaults() -> None:
    config = ClientConfig.resolve(environ=FULL_ENV)
    assert config.api_key == FULL_ENV["ALLOY_API_KEY"]
    assert config.base_url == "https://env.example.com"
    assert config.api_version == "2099-01"
    assert config.user_id == "env-user"


def test_arguments_beat_environment() -> None:
    config = ClientConfig.resolve(
        "arg_key_0123456789",
        base_url="https://arg.example.com",
        api_version="2030-02",
        user_id="arg-user",
        environ=FULL_ENV,
    )
    assert config.api_key == "arg_key_0123456789"
    assert config.base_url == "https://arg.example.com"
    assert config.api_version == "2030-02"
    assert config.user_id == "arg-user"


def test_blank_arguments_fall_through_to_the_environment() -> None:
    config = ClientConfig.resolve("  ", base_url="", user_id=" ", environ=FULL_ENV)
    assert config.api_key == FULL_ENV["ALLOY_API_KEY"]
    assert config.base_url == "https://env.example.com"
    assert config.user_id == "env-user"


def test_trust_env_false_ignores_the_environment() -> None:
    config = ClientConfig.resolve("arg_key_0123456789", trust_env=False, environ=FULL_ENV)
    assert config.base_url == DEFAULT_BASE_URL
    assert config.api_version == DEFAULT_API_VERSION
    assert config.user_id is None
    assert config.trust_env is False


def test_trust_env_false_ignores_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_API_KEY", "from_os_environ_123456")
    with pytest.raises(ConfigurationError, match="trust_env=False"):
        ClientConfig.resolve(trust_env=False)


def test_os_environ_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_API_KEY", "from_os_environ_123456")
    monkeypatch.setenv("ALLOY_USER_ID", "os-user")
    config = ClientConfig.resolve()
    assert config.api_key == "from_os_environ_123456"
    assert config.user_id == "os-user"


def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientConfig.resolve(environ={})
    message = str(caught.value)
    assert "api_key" in message
    assert "ALLOY_API_KEY" in message
    assert "ad.connect()" in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:9000", "http://localhost:1/api"],
    ids=["ipv4-loopback", "ipv4-loopback-range", "ipv6-loopback", "localhost"],
)
def test_plain_http_is_accepted_for_loopback(url: str) -> None:
    assert validate_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://10.0.0.5:8080",
        "http://128.0.0.1",
        "http://localhost.evil.com",
        "http://app.localhost",
    ],
    ids=["remote-name", "private-ip", "not-loopback-ip", "localhost-prefix", "localhost-subdomain"],
)
def test_plain_http_is_refused_for_remote_hosts(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        validate_base_url(url)


def test_allow_insecure_http_accepts_a_remote_host() -> None:
    url = "http://api.example.com"
    assert validate_base_url(url, allow_insecure_http=True) == url
    config = ClientConfig.resolve(
        "arg_key_0123456789", base_url=url, allow_insecure_http=True, environ={}
    )
    assert config.base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://files.example.com",
        "https://",
        "https://host:99999",
        "https://host:port",
        "https://host/api?key=1",
        "//host-only",
    ],
    ids=["words", "ftp", "no-host", "port-out-of-range", "port-not-number", "query", "no-scheme"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_base_url(url)


def test_urls_with_credentials_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_base_url("https://admin:hunter2-password@api.example.com")
    assert "hunter2-password" not in str(caught.value)
    assert "api_key" in str(caught.value)


def test_trailing_slash_is_removed_and_path_prefix_kept() -> None:
    assert validate_base_url("https://api.example.com/v1/") == "https://api.example.com/v1"


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(10, (10.0, 10.0)), (2.5, (2.5, 2.5)), ((1, 30), (1.0, 30.0))],
    ids=["int", "float", "pair"],
)
def test_timeouts_become_finite_pairs(timeout: object, expected: tuple[float, float]) -> None:
    assert normalize_timeout(timeout) == expected


@pytest.mark.parametrize(
    "timeout",
    [None, 0, -1, math.inf, math.nan, "5", (1, None), (0, 5), True],
    ids=["none", "zero", "negative", "inf", "nan", "string", "pair-none", "pair-zero", "bool"],
)
def test_unbounded_or_invalid_timeouts_are_refused(timeout: object) -> None:
    with pytest.raises(ConfigurationError):
        normalize_timeout(timeout)


@pytest.mark.parametrize("retries", [-1, 1.5, True, "3"], ids=["negative", "float", "bool", "str"])
def test_bad_retry_counts_are_refused(retries: object) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        ClientConfig.resolve("arg_key_0123456789", max_retries=retries, environ={})  # type: ignore[arg-type]


def test_zero_retries_is_allowed() -> None:
    assert ClientConfig.resolve("arg_key_0123456789", max_retries=0, environ={}).max_retries == 0


def test_config_is_frozen() -> None:
    config = ClientConfig.resolve("arg_key_0123456789", environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.api_key = "other"  # type: ignore[misc]


def test_repr_masks_the_key() -> None:
    key = "sk_test_SECRET_9f8e7d6c5b4a"
    config = ClientConfig.resolve(key, environ={})
    text = repr(config)
    assert key not in text
    assert "sk_t…(27 chars)" in text
    assert "production.runalloy.com" in text


@pytest.mark.parametrize(
    "options",
    [{"api_key": 123}, {"base_url": b"https://x"}, {"user_id": 42}, {"api_version": 2025.09}],
    ids=["int-key", "bytes-url", "int-user", "float-version"],
)
def test_settings_that_are_not_strings_are_refused(options: dict[str, object]) -> None:
    arguments: dict[str, object] = {"api_key": "arg_key_0123456789", **options}
    with pytest.raises(ConfigurationError, match="must be a string"):
        ClientConfig.resolve(environ={}, **arguments)  # type: ignore[arg-type]
