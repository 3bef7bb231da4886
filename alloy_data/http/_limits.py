"""Reading the rate limits an answer tells: ``X-RateLimit-Limit/-Remaining/-Reset``, the
IETF ``RateLimit`` and ``RateLimit-Policy`` fields (draft-ietf-httpapi-ratelimit-headers, in
its structured-field form and its earlier ``RateLimit-Limit/-Remaining/-Reset`` form).

The structured fields are parsed by ``http-sfv`` (RFC 8941); nothing here parses them by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Quota", "read_quotas"]

# A Reset above this is an epoch time (2001-09-09), below it seconds from now: no window lasts
# thirty years, and no epoch time is that early.
_EPOCH_FROM = 1_000_000_000
# ... and above this, an epoch time in milliseconds.
_EPOCH_MS_FROM = 1_000_000_000_000


@dataclass(frozen=True)
class Quota:
    """One limit as an answer told it.

    Attributes:
        name: The policy's name (IETF fields), or None.
        partition: Who shares this quota, when the answer says (the IETF ``pk`` parameter,
            hashed): requests that get the same partition spend one budget, whatever
            credential they carry. None: the request's own credential (or key).
        limit: Requests a window allows, when told.
        remaining: Requests left in the current window.
        reset: Seconds until the window resets (or the bucket is full again).
        window: The window's length in seconds, when told.
    """

    name: str | None
    partition: str | None
    limit: int | None
    remaining: int
    reset: float
    window: float | None


def _number(text: str | None) -> float | None:
    """The first number of a header such as ``100`` or ``100, 100;w=60`` (draft 03)."""
    if text is None:
        return None
    head = text.split(",")[0].split(";")[0].strip()
    try:
        value = float(head)
    except ValueError:
        return None
    return value if value >= 0 else None


def _reset_seconds(value: float, now_epoch: float) -> float:
    """Seconds until a reset told as seconds, an epoch time or an epoch time in ms."""
    if value >= _EPOCH_MS_FROM:
        value = value / 1000.0
    if value >= _EPOCH_FROM:
        return max(0.0, value - now_epoch)
    return value


def _field_style(headers: Mapping[str, str], prefix: str, now_epoch: float) -> Quota | None:
    remaining = _number(headers.get(f"{prefix}-Remaining"))
    reset = _number(headers.get(f"{prefix}-Reset"))
    if remaining is None or reset is None:
        return None
    limit = _number(headers.get(f"{prefix}-Limit"))
    return Quota(
        name=None,
        partition=None,
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining),
        reset=_reset_seconds(reset, now_epoch),
        window=None,
    )


def _policies(text: str | None) -> dict[str, tuple[int | None, float | None, str | None]]:
    """``RateLimit-Policy``: each policy's quota, window and partition, by name."""
    import http_sfv  # only when an answer carries these fields

    if not text:
        return {}
    parsed = http_sfv.List()
    try:
        parsed.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return {}
    policies: dict[str, tuple[int | None, float | None, str | None]] = {}
    for member in parsed:
        if isinstance(member, http_sfv.Item):
            params = member.params
            quota, window = params.get("q"), params.get("w")
            policies[str(member.value)] = (
                int(quota) if isinstance(quota, int | float) else None,
                float(window) if isinstance(window, int | float) else None,
                _partition(params.get("pk")),
            )
    return policies


def _partition(value: object) -> str | None:
    if isinstance(value, bytes | str):
        raw = value if isinstance(value, bytes) else value.encode()
        # Kept hashed: a partition key may be derived from a key or an address.
        return hashlib.sha256(raw).hexdigest()[:16]
    return None


def _structured(headers: Mapping[str, str]) -> list[Quota]:
    """``RateLimit: "name";r=..;t=..`` with ``RateLimit-Policy``, or the earlier dictionary
    form ``RateLimit: limit=10, remaining=5, reset=3``."""
    text = headers.get("RateLimit")
    if not text:
        return []
    import http_sfv  # only when an answer carries these fields

    policies = _policies(headers.get("RateLimit-Policy"))
    quotas: list[Quota] = []
    listed = http_sfv.List()
    try:
        listed.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return _dictionary_form(text)
    for member in listed:
        if not isinstance(member, http_sfv.Item):
            continue
        remaining, reset = member.params.get("r"), member.params.get("t")
        if not isinstance(remaining, int | float) or not isinstance(reset, int | float):
            continue
        name = str(member.value)
        limit, window, partition = policies.get(name, (None, None, None))
        partition = _partition(member.params.get("pk")) or partition
        quotas.append(Quota(name, partition, limit, int(remaining), float(reset), window))
    return quotas


def _dictionary_form(text: str) -> list[Quota]:
    import http_sfv  # only when an answer carries these fields

    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return []
    values = {key: getattr(member, "value", None) for key, member in parsed.items()}
    remaining, reset, limit = values.get("remaining"), values.get("reset"), values.get("limit")
    if not isinstance(remaining, int | float) or not isinstance(reset, int | float):
        return []
    return [
        Quota(
            name=None,
            partition=None,
            limit=int(limit) if isinstance(limit, int | float) else None,
            remaining=int(remaining),
            reset=float(reset),
            window=None,
        )
    ]


def read_quotas(headers: Mapping[str, str], *, now_epoch: float) -> list[Quota]:
    """Read every rate limit an answer's headers tell.

    Args:
        headers: The answer's headers (a case-insensitive mapping, as requests gives).
        now_epoch: The time now (epoch seconds), to read a Reset told as an epoch time.

    Returns:
        The quotas, the IETF fields' first; empty when the answer tells none (or tells them
        in a form that cannot be read, which is then the same as not telling).
    """
    quotas = _structured(headers)
    for prefix in ("RateLimit", "X-RateLimit"):
        quota = _field_style(headers, prefix, now_epoch)
        if quota is not None:
            quotas.append(quota)
    return quotas
