"""API keys, the bearer check and HS256 user tokens, with the standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

TOKEN_LIFETIME_SECONDS = 3600


def generate_api_key() -> str:
    """Return a fresh sandbox API key, ``sk_sandbox_`` and 32 hex digits."""
    return "sk_sandbox_" + secrets.token_hex(16)


def bearer_matches(header: str | None, api_key: str) -> bool:
    """Return True when an ``Authorization`` header carries ``api_key`` as a bearer token.

    The scheme is case-insensitive (the docs show ``bearer`` as well as ``Bearer``).
    """
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), api_key.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenError(ValueError):
    """A token that is malformed, wrongly signed or expired."""


def sign_jwt(claims: Mapping[str, Any], secret: bytes) -> str:
    """Return ``claims`` as a compact JWT signed with HMAC-SHA256."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def user_token(user_id: str, secret: bytes, *, now: float | None = None) -> str:
    """Return a user's JWT: ``sub`` the user, ``iat`` now, ``exp`` one hour ahead."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": user_id,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_SECONDS,
        "iss": "alloy-sandbox",
    }
    return sign_jwt(claims, secret)


def verify_jwt(token: str, secret: bytes, *, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a token from :func:`sign_jwt` after checking signature and expiry.

    Raises:
        TokenError: When the token is malformed, its signature is wrong or it has expired.
    """
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise TokenError("bad signature")
        if json.loads(_unb64(header)).get("alg") != "HS256":
            raise TokenError("unexpected algorithm")
        claims = json.loads(_unb64(payload))
    except (ValueError, AttributeError) as exc:
        if isinstance(exc, TokenError):
            raise
        raise TokenError("malformed token") from exc
    if not isinstance(claims, dict):
        raise TokenError("malformed token")
    if claims.get("exp", 0) <= (time.time() if now is None else now):
        raise TokenError("token expired")
    return claims
