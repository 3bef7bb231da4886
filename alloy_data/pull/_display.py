"""A pull in a notebook: what it fetches and how, and what its last run did, as HTML."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from alloy_data import _html
from alloy_data.config import redact
from alloy_data.pull._identity import public_parameters
from alloy_data.pull._tables import shape_rows

if TYPE_CHECKING:
    from alloy_data.pull._plan import Pull

__all__ = ["pull_html"]


def pull_html(pull: Pull) -> str:
    """The pull's plan and, once it ran, its last run, with every secret of the client masked."""
    config = getattr(pull.client, "config", None)
    stats = pull.stats
    ran = stats.requests or stats.pages or stats.stop_reason
    page = _html.block(
        f"Pull: {pull.connector_id} {pull.action_id}",
        _plan_html(pull, getattr(config, "user_id", None)),
        _html.details("Last run", stats.html_body(), open_=True) if ran else "",
    )
    secrets = tuple(getattr(config, "secrets", ()) or ())
    # The parameters are masked by name; a key of the client's own is masked wherever.
    return redact(page, [*secrets, *(_html.text(secret) for secret in secrets)])


def _plan_html(pull: Pull, client_user: str | None) -> str:
    """What the pull fetches and how, as an HTML table (parameters masked)."""
    options = pull.options
    concurrency = options.concurrency
    return _html.key_values(
        [
            ("connector", pull.connector_id),
            ("action", pull.action_id),
            ("credential", pull.credential_id),
            ("user", pull.user_id or client_user),
            ("parameters", json.dumps(public_parameters(pull.parameters), default=str)),
            (
                "paginator",
                options.paginator if isinstance(options.paginator, str) else "custom",
            ),
            ("page size", options.page_size or "the largest the action allows"),
            ("max pages", options.max_pages),
            ("max records", options.max_records),
            ("concurrency", "auto (2 to 8)" if concurrency == "auto" else concurrency),
            ("max requests/s", options.max_requests_per_second),
            ("timestamps", options.timestamps),
            *shape_rows(options),
            (
                "max age",
                None if options.max_age is None else f"{options.max_age} (the local store)",
            ),
        ]
    )
