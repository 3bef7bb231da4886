"""The errors of answers that cannot be read and of requests that got no answer, in words that
say what to check: the base URL, the network, a proxy in between, the app itself."""

from __future__ import annotations

import json

from alloy_data.config import DEFAULT_BASE_URL, ENV_BASE_URL
from alloy_data.errors import AlloyConnectionError, AlloyError, AlloyTimeoutError, ResponseError
from alloy_data.http._retry import Failure

__all__ = ["empty_answer", "failure_error", "unreached_error", "unreadable_answer"]


def _tries(attempts: int) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''}"


def unreadable_answer(
    error: ValueError | RecursionError,
    *,
    status: int,
    content_type: str,
    excerpt: str,
    body: bytes,
    method: str,
    path: str,
    attempts: int,
    base_url: str,
) -> ResponseError:
    """The error for a 2xx answer whose body is not the JSON it should be.

    Returns:
        A :class:`ResponseError`, transient (worth another try) when the body was cut short or
        is not JSON at all, as a failing transfer or proxy sends.
    """
    cut_short = isinstance(error, json.JSONDecodeError) and error.pos >= len(error.doc.rstrip())
    # A body cut short or an HTML page is a transfer or a proxy failing, worth another try;
    # text that is not UTF-8, or nesting deeper than Python follows, is the app's answer itself
    # and comes back the same.
    transient = True
    if cut_short:
        what = "is cut short (the JSON ends early)"
        advice = f"Check that the base URL {base_url} points at the Alloy API"
    elif isinstance(error, UnicodeDecodeError):
        what = f"is not UTF-8 text (byte {error.start} is {body[error.start : error.start + 1]!r})"
        advice = "The app sent text in another encoding, which JSON does not allow"
        transient = False
    elif isinstance(error, RecursionError):
        what = "nests objects deeper than Python's JSON reader follows (about 1,000 levels)"
        advice = "The app's answer cannot be read as JSON records"
        transient = False
    else:
        what = "is not JSON"
        advice = f"Check that the base URL {base_url} points at the Alloy API"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    then = (
        "; if it does, a proxy in between may be failing, so try again later."
        if transient
        else "; narrow the pull (parameters, max_records) to leave that record out, or "
        "ask the app's owner."
    )
    return ResponseError(
        f"The answer to {method} {path} (HTTP {status}, {content_type}) "
        f"{what}{tries}: {excerpt!r}. {advice}{then}",
        method=method,
        path=path,
        excerpt=excerpt,
        cut_short=cut_short,
        attempts=attempts,
        transient=transient,
    )


def empty_answer(status: int, method: str, path: str, attempts: int) -> ResponseError:
    """The error for an empty answer where a page of records belongs."""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return ResponseError(
        f"The answer to {method} {path} (HTTP {status}) is empty{tries}, where "
        "a page of records belongs. A proxy in between may be failing; try again later.",
        method=method,
        path=path,
        attempts=attempts,
    )


def unreached_error(
    failure: Failure, method: str, path: str, attempts: int, base: str
) -> AlloyConnectionError:
    """The error for a server that never answered this client: the URL is the likely mistake."""
    where = f"Check the base URL (the base_url argument, {ENV_BASE_URL}, or --base-url)"
    if failure.reason == "host name not resolved":
        what = "the host name does not resolve (a typo, or no network)"
        fix = f"{where}: the Alloy API is {DEFAULT_BASE_URL}."
    else:
        what = f"nothing answers at that address ({failure.reason})"
        fix = (
            f"{where}: is the server running, on that port? For the offline sandbox use "
            "ad.connect() without ALLOY_API_KEY, or start `alloy-data sandbox` and use the "
            "URL it prints."
        )
    return AlloyConnectionError(
        f"{method} {path} to {base} failed after {_tries(attempts)}: {what}. {fix}",
        method=method,
        path=path,
        attempts=attempts,
    )


def failure_error(
    failure: Failure,
    status: int | None,
    method: str,
    path: str,
    attempts: int,
    *,
    timeout: tuple[float, float],
    base: str,
) -> AlloyError:
    """The error for a request that failed in transport after the retries.

    Args:
        failure: What went wrong on the last attempt.
        status: The answer's status when an answer started and was cut short, else None.
        method: The request's method.
        path: The request's path, as shown (redacted).
        attempts: Attempts made.
        timeout: The (connect, read) timeout in seconds.
        base: The base URL, as shown (redacted).

    Returns:
        A :class:`ResponseError` (cut short), :class:`AlloyTimeoutError` or
        :class:`AlloyConnectionError`.
    """
    tries = _tries(attempts)
    if status is not None:
        return ResponseError(
            f"The answer to {method} {path} (HTTP {status}) was cut "
            f"short after {tries}: the connection closed before the whole body arrived. "
            f"Try again; if it persists, check the base URL {base}.",
            method=method,
            path=path,
            cut_short=True,
            attempts=attempts,
        )
    if failure.timeout:
        limit = timeout[0] if failure.reason == "connect timeout" else timeout[1]
        return AlloyTimeoutError(
            f"{method} {path} to {base} timed out ({failure.reason}, {limit:g} s) after "
            f"{tries}. Check the base URL and your network, or pass a longer timeout.",
            method=method,
            path=path,
            attempts=attempts,
        )
    if failure.reason == "TLS error":
        return AlloyConnectionError(
            f"{method} {path} to {base} failed: the TLS (https) handshake did not succeed. "
            "If the server speaks plain http (the sandbox does), start the base URL with "
            "http://; otherwise check its certificate and your CA bundle "
            "(REQUESTS_CA_BUNDLE).",
            method=method,
            path=path,
            attempts=attempts,
        )
    again = ""
    if failure.first_contact_attempts is not None:
        again = " The server answered earlier, so it may be restarting: try again shortly."
    return AlloyConnectionError(
        f"{method} {path} to {base} failed ({failure.reason}) after {tries}. Check the "
        f"base URL (base_url or {ENV_BASE_URL}) and that the server is reachable.{again}",
        method=method,
        path=path,
        attempts=attempts,
    )
