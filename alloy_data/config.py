"""Resolving the client's configuration, and keeping secrets out of every string we show.

An argument wins, then the environment (``ALLOY_API_KEY``, ``ALLOY_BASE_URL``,
``ALLOY_API_VERSION``, ``ALLOY_USER_ID``), then the defaults. ``trust_env=False`` ignores the
environment entirely.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Union
from urllib.parse import quote, urlsplit

from alloy_data.errors import ConfigurationError

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_API_VERSION",
    "ENV_BASE_URL",
    "ENV_STORE",
    "ENV_USER_ID",
    "ClientConfig",
    "StoreOption",
    "default_store_location",
    "mask_secret",
    "redact",
    "redact_url",
    "store_location",
]

DEFAULT_BASE_URL = "https://production.runalloy.com"
DEFAULT_API_VERSION = "2025-09"
# (connect, read) seconds: connecting should be quick; a third party behind an action can be slow.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 60.0)
DEFAULT_MAX_RETRIES = 4

ENV_API_KEY = "ALLOY_API_KEY"
ENV_BASE_URL = "ALLOY_BASE_URL"
ENV_API_VERSION = "ALLOY_API_VERSION"
ENV_USER_ID = "ALLOY_USER_ID"
#: Where the local store of pulls lives: a folder or an object store's URL; ``off`` turns it off.
ENV_STORE = "ALLOY_DATA_STORE"
_STORE_OFF = ("", "0", "off", "false", "no", "none")

#: What ``store=`` takes: a folder or URL, True (the default place), False (no store), or None
#: (``ALLOY_DATA_STORE``, else the default place).
StoreOption = Union[str, "os.PathLike[str]", bool, None]

MASK = "***"
# Secrets shorter than this are masked entirely: a 4-character prefix would give too much away.
_MIN_LENGTH_TO_SHOW_PREFIX = 16
_SHOWN_PREFIX = 4
# Shorter strings are not treated as secrets by `redact`: replacing them would mangle ordinary text.
_MIN_REDACTED_LENGTH = 6
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")

Timeout = float | tuple[float, float]

# The API's first path segments: a base URL that holds one was copied from a request's URL.
_API_PATH_ROOTS = frozenset({"users", "connectors"})


def mask_secret(value: str | None) -> str:
    """Mask a secret for display.

    Returns:
        ``***`` for a missing or short secret; otherwise at most four leading characters and
        the length, such as ``sk_t…(32 chars)``.
    """
    if not value:
        return MASK
    if len(value) < _MIN_LENGTH_TO_SHOW_PREFIX:
        return MASK
    return f"{value[:_SHOWN_PREFIX]}…({len(value)} chars)"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets from a string before it is shown, logged or raised.

    Each known secret (and its URL-encoded form) is replaced by its mask; ``Bearer <token>``
    and passwords in URLs (``https://user:pass@host``) are masked whatever they hold.

    Returns:
        The text with every secret masked.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) < _MIN_REDACTED_LENGTH:
            continue
        masked = mask_secret(secret)
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, masked)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {MASK}", text)
    return _URL_USERINFO.sub(lambda match: f"{match.group(1)}{MASK}@", text)


def redact_url(url: str) -> str:
    """Return the URL without any user information (``user:password@``)."""
    return _URL_USERINFO.sub(lambda match: f"{match.group(1)}{MASK}@", url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Check a base URL and normalise it (no trailing slash).

    Plain ``http`` is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost) unless
    ``allow_insecure_http`` is true, because the API key would otherwise cross the network in
    clear text.

    Returns:
        The URL without a trailing slash.

    Raises:
        ConfigurationError: The URL is malformed, holds credentials, a query, a fragment or
            an API path (``/connectors``), or is plain http to a remote host.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError on a port that is not a number or out of range
    except ValueError:
        raise ConfigurationError(
            f"The base URL {shown!r} is malformed. Pass a URL such as {DEFAULT_BASE_URL!r}."
        ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"The base URL {shown!r} is not an http(s) URL with a host. "
            f"Pass a URL such as {DEFAULT_BASE_URL!r} (argument base_url or {ENV_BASE_URL})."
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"The base URL {shown!r} holds credentials. Remove them from the URL and pass "
            f"the API key as api_key or {ENV_API_KEY}."
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"The base URL {shown!r} has a query or fragment; pass only scheme, host, port "
            "and path prefix."
        )
    segments = [segment for segment in parts.path.split("/") if segment]
    for index, segment in enumerate(segments):
        if segment.lower() in _API_PATH_ROOTS:
            root = urlsplit(url.strip())._replace(path="/".join(["", *segments[:index]]))
            raise ConfigurationError(
                f"The base URL {shown!r} holds the API path '/{'/'.join(segments[index:])}', "
                f"which the client adds to every request itself. Pass the server's root "
                f"instead: {redact_url(root.geturl())!r}."
            )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        raise ConfigurationError(
            f"Refusing plain http to {host!r}: the API key would travel unencrypted. Use "
            "https, or pass allow_insecure_http=True if you are sure (plain http is accepted "
            "without it only for 127.0.0.1, ::1 and localhost)."
        )
    return url.strip().rstrip("/")


def _positive_seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{what} must be a number of seconds, got {value!r}.")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(f"{what} must be a finite number of seconds above 0.")
    return seconds


def normalize_timeout(timeout: object) -> tuple[float, float]:
    """Turn a timeout into finite ``(connect, read)`` seconds.

    Returns:
        The pair; a single number is used for both.

    Raises:
        ConfigurationError: The timeout is None, not positive, not finite or not a number
            (waiting forever is never allowed).
    """
    if isinstance(timeout, tuple) and len(timeout) == 2:
        return (
            _positive_seconds(timeout[0], "The connect timeout"),
            _positive_seconds(timeout[1], "The read timeout"),
        )
    if timeout is None:
        raise ConfigurationError(
            "timeout=None would let a request wait forever; pass seconds, or (connect, read)."
        )
    seconds = _positive_seconds(timeout, "The timeout")
    return (seconds, seconds)


def _missing_key_message(trust_env: bool) -> str:
    where = (
        f"pass AlloyClient(api_key=...) or set the {ENV_API_KEY} environment variable"
        if trust_env
        else "pass AlloyClient(api_key=...) (trust_env=False ignores the environment)"
    )
    return (
        f"No Alloy API key: {where}. To try alloy-data without a key, "
        "ad.connect() starts the offline sandbox."
    )


def _text_or_none(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}.")
    return value.strip() or None


def default_store_location() -> str:
    """The store's default place: ``store`` in the user's data folder (``platformdirs``)."""
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("alloy-data", appauthor=False), "store")


def store_location(store: object, env: Mapping[str, str]) -> str | None:
    """The store's folder or URL as ``store=`` and the environment ``env`` say.

    Returns:
        The folder or URL; None when the store is turned off.

    Raises:
        ConfigurationError: ``store`` is of the wrong kind.
    """
    if store is False:
        return None
    if store is None:
        text = env.get(ENV_STORE)
        if text is None:
            return default_store_location()
        return None if text.strip().lower() in _STORE_OFF else text.strip()
    if store is True:
        return default_store_location()
    if isinstance(store, (str, os.PathLike)) and str(os.fspath(store)).strip():
        return str(os.fspath(store)).strip()
    raise ConfigurationError(
        "store must be a folder, an object store's URL (s3://bucket/prefix), True (the "
        f"user's data folder), False (no store) or None ({ENV_STORE}, else the user's data "
        f"folder), not {store!r}."
    )


@dataclass(frozen=True)
class ClientConfig:
    """The resolved settings of one client. Build it with :meth:`ClientConfig.resolve`.

    Attributes:
        api_key: The API key (never shown: ``repr`` masks it).
        base_url: The API's base URL, without a trailing slash.
        api_version: Sent as ``x-api-version`` on every request.
        user_id: The end user calls act for (``x-alloy-userid``), when known.
        timeout: Finite ``(connect, read)`` seconds.
        max_retries: Retries after the first attempt, for failures worth retrying.
        trust_env: Whether the environment (variables, proxies, netrc) is read.
        allow_insecure_http: Whether plain http to a non-loopback host is accepted.
        store: The local store of pulls' folder or URL, or None when there is none.
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    user_id: str | None = None
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    trust_env: bool = True
    allow_insecure_http: bool = False
    store: str | None = None

    def __repr__(self) -> str:
        return (
            f"ClientConfig(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"user_id={self.user_id!r}, api_key={mask_secret(self.api_key)!r}, "
            f"timeout={self.timeout!r}, max_retries={self.max_retries!r}, "
            f"trust_env={self.trust_env!r})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The strings that must never be shown (the API key)."""
        return (self.api_key,)

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        user_id: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        trust_env: bool = True,
        allow_insecure_http: bool = False,
        store: StoreOption = None,
        environ: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Resolve each setting: the argument, then the environment, then the default.

        Args:
            api_key: The API key; else ``ALLOY_API_KEY``.
            base_url: The API's URL; else ``ALLOY_BASE_URL``, else the production URL.
            api_version: Else ``ALLOY_API_VERSION``, else ``2025-09``.
            user_id: Else ``ALLOY_USER_ID``, else none.
            timeout: Seconds, or ``(connect, read)`` seconds; always finite.
            max_retries: Retries after the first attempt (0 disables retries).
            trust_env: False ignores the environment (variables here, proxies and netrc in
                the HTTP session).
            allow_insecure_http: Accept plain http to a host that is not loopback.
            store: The local store of pulls: a folder or URL, True (the user's data folder),
                False (none); else ``ALLOY_DATA_STORE`` (``off`` for none), else the user's
                data folder.
            environ: The environment to read (defaults to ``os.environ``).

        Returns:
            The frozen configuration.

        Raises:
            ConfigurationError: No key, a bad URL, a bad timeout or a bad retry count.
        """
        env: Mapping[str, str] = (os.environ if environ is None else environ) if trust_env else {}
        key = _text_or_none(api_key, "api_key") or _text_or_none(env.get(ENV_API_KEY), ENV_API_KEY)
        if key is None:
            raise ConfigurationError(_missing_key_message(trust_env))
        url = (
            _text_or_none(base_url, "base_url")
            or _text_or_none(env.get(ENV_BASE_URL), ENV_BASE_URL)
            or DEFAULT_BASE_URL
        )
        version = (
            _text_or_none(api_version, "api_version")
            or _text_or_none(env.get(ENV_API_VERSION), ENV_API_VERSION)
            or DEFAULT_API_VERSION
        )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}.")
        return cls(
            api_key=key,
            base_url=validate_base_url(url, allow_insecure_http=allow_insecure_http),
            api_version=version,
            user_id=_text_or_none(user_id, "user_id")
            or _text_or_none(env.get(ENV_USER_ID), ENV_USER_ID),
            timeout=normalize_timeout(timeout),
            max_retries=max_retries,
            trust_env=trust_env,
            allow_insecure_http=allow_insecure_http,
            store=store_location(store, env),
        )
