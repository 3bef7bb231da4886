"""HTTP to the Alloy API, through ``requests`` alone: one ``requests.Session`` (urllib3's
connection pool below it), headers, timeouts, retries, status-to-error mapping, request log.

Retry design. The loop is ours and small; the maths it needs comes from urllib3 where urllib3
has it: ``Retry.parse_retry_after`` reads ``Retry-After`` (seconds or an HTTP date). The backoff
is exponential with *full* jitter (a uniform draw between 0 and the capped exponential), which
urllib3's additive jitter does not offer, so it is one line here. We do not let urllib3 retry
inside the adapter because there a retry is invisible: callers need an ``on_retry`` callback
(to count retries and seconds waited in a progress bar), a per-call decision on whether a POST
may be repeated, and the number of attempts in the final error.

What is retried: 408, 429 and every 5xx answer but 501 and 505, and connection failures and
timeouts. A request that is not idempotent (``execute`` is a POST) is retried only when it
cannot have taken effect: a 408 or 429, or a connection that was never established.
``idempotent=True`` lifts that restriction (pulls pass it: a list action is a read). With
``RetryPolicy.retry_bad_bodies`` (pulls' policy, :meth:`RetryPolicy.for_pulls`) a success
whose body is cut short or is not JSON, such as a proxy's HTML page, is retried too.

Rate limits: every attempt first takes a request from the budgets of the limits it spends
(``_budget.py``), told by the answers' headers (``_limits.py``) or learned from 429s, and waits
when one is spent; see docs/rate-limits.md.
"""

from alloy_data.http._budget import PROCESS_BUDGETS, BudgetFigures, Budgets, OnLimitWait
from alloy_data.http._retry import (
    OnRetry,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
)
from alloy_data.http._status import error_for_status, extract_message, extract_request_id
from alloy_data.http._transport import HTTP_LOGGER_NAME, Transport, encode_path, iter_secrets_in

__all__ = [
    "HTTP_LOGGER_NAME",
    "PROCESS_BUDGETS",
    "BudgetFigures",
    "Budgets",
    "OnLimitWait",
    "OnRetry",
    "RetryPolicy",
    "Transport",
    "encode_path",
    "error_for_status",
    "extract_message",
    "extract_request_id",
    "is_retryable_status",
    "iter_secrets_in",
    "parse_retry_after",
]
