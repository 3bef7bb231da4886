"""A pull of many credentials in a notebook: what it fetches and how, and its last run, as HTML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from alloy_data import _html
from alloy_data._tuning import DEFAULT_WORKERS, SHOWN_CREDENTIALS
from alloy_data.config import redact
from alloy_data.pull import public_parameters, shape_rows

if TYPE_CHECKING:
    from alloy_data.many._job import MultiPull
    from alloy_data.many._targets import CredentialTarget

__all__ = ["job_html"]


def job_html(job: MultiPull, requested: Sequence[CredentialTarget] | Literal["all"]) -> str:
    """The job's plan (``requested``: the credentials as given) and, once it ran, its last run,
    with every secret of the client masked."""
    if requested == "all":
        credentials = "all: every credential of the connector, of every user"
    else:
        shown = [target.credential_id for target in requested[:SHOWN_CREDENTIALS]]
        more = len(requested) - len(shown)
        credentials = ", ".join(shown) + (f" and {more} more" if more else "")
    options = job.options
    plan = _html.key_values(
        [
            ("connector", job.connector_id),
            ("action", job.action_id),
            ("credentials", credentials),
            (
                "parameters",
                json.dumps(public_parameters(options.parameters), default=str),
            ),
            ("workers", job.workers or f"{DEFAULT_WORKERS} (the default)"),
            ("on error", job.on_error),
            ("max records", options.max_records),
            ("max pages", options.max_pages),
            ("max requests/s (all)", job.max_total_requests_per_second),
            ("max requests/s (each)", options.max_requests_per_second),
            ("timestamps", options.timestamps),
            *shape_rows(options),
        ]
    )
    ran = job.stats.credentials or job.stats.notes
    page = _html.block(
        f"MultiPull: {job.connector_id} {job.action_id}",
        plan,
        _html.details("Last run", job.stats.html_body(), open_=True) if ran else "",
    )
    secrets = tuple(getattr(job.client.config, "secrets", ()) or ())
    return redact(page, [*secrets, *(_html.text(secret) for secret in secrets)])
