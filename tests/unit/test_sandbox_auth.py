"""Bearer keys and HS256 user tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from alloy_data.sandbox.auth import (
    TOKEN_LIFETIME_SECONDS,
    TokenError,
    bearer_matches,
    generate_api_key,
    sign_jwt,
    user_token,
    verify_jwt,
)

SECRET = b"s3cret"


def test_generated_keys_are_sandbox_keys_and_differ():
    first, second = generate_api_key(), generate_api_key()
    assert first.startswith("sk_sandbox_")
    assert first != second


@pytest.mark.parametrize(
    ("header", "accepted"),
    [("Bearer k1", True), ("bearer k1", True), ("BEARER  k1 ", True), ("Bearer k2", False),
     ("Basic k1", False), ("k1", False), ("", False), (None, False), ("Bearer", False)],
    ids=["bearer", "lower-case", "upper-case-spaces", "wrong-key", "basic-scheme", "no-scheme",
         "empty", "missing", "no-key"],
)  # fmt: skip
def test_bearer_header(header, accepted):
    assert bearer_matches(header, "k1") is accepted


def test_user_token_is_an_hs256_jwt_for_an_hour():
    token = user_token("usr_1", SECRET, now=1_000_000)
    header, payload, signature = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(header))) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert claims["sub"] == "usr_1"
    assert claims["iat"] == 1_000_000
    assert claims["exp"] == 1_000_000 + TOKEN_LIFETIME_SECONDS == 1_003_600
    expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(pad(signature)) == expected


def test_a_token_verifies_until_it_expires():
    token = user_token("usr_1", SECRET, now=1_000_000)
    assert verify_jwt(token, SECRET, now=1_003_599)["sub"] == "usr_1"
    with pytest.raises(TokenError, match="expired"):
        verify_jwt(token, SECRET, now=1_003_600)


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: t.replace(".", "", 1),
     lambda t: "x.y.z", lambda t: ""],
    ids=["bad-signature", "two-parts", "junk", "empty"],
)  # fmt: skip
def test_tampered_tokens_are_refused(mangle):
    token = user_token("usr_1", SECRET, now=1_000_000)
    with pytest.raises(TokenError):
        verify_jwt(mangle(token), SECRET, now=1_000_001)


def test_another_secret_does_not_verify():
    token = sign_jwt({"sub": "u", "exp": 2_000_000}, SECRET)
    with pytest.raises(TokenError, match="signature"):
        verify_jwt(token, b"other", now=1_000_000)
