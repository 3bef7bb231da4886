"""What the last run of a pull of many credentials did, and the credentials that failed."""

from __future__ import annotations

from dataclasses import dataclass, field

from alloy_data import _html
from alloy_data._tuning import SHOWN_CREDENTIALS
from alloy_data.errors import AlloyError
from alloy_data.pull import PullStats

__all__ = ["CredentialFailure", "MultiPullStats"]


@dataclass(frozen=True)
class CredentialFailure:
    """A credential whose pull failed; the others went on.

    Attributes:
        user_id: The user who owns the credential.
        credential_id: The credential.
        error: The error that ended its pull (an :class:`~alloy_data.AlloyError`).
        records_fetched: Records fetched before the error; they are not in the result.
    """

    user_id: str | None
    credential_id: str
    error: AlloyError
    records_fetched: int

    def __str__(self) -> str:
        return f"{self.credential_id}: {type(self.error).__name__}: {self.error}"


@dataclass
class MultiPullStats:
    """What the last run of a MultiPull did.

    Attributes:
        credentials: Credentials pulled (or tried).
        done: Credentials pulled in full.
        failed: Credentials whose pull failed (see ``failures``).
        pages: Pages fetched, all credentials together.
        records: Records in the result (with ``mode="merge"``, the merged dataset's rows).
        records_fetched: Records this run fetched, all credentials together.
        requests: HTTP requests made, retries included.
        retries: Requests that were retried.
        seconds_waited: Seconds spent waiting before retries.
        seconds_paced: Seconds spent waiting to keep to the request-rate caps.
        refused: Requests the API refused with 429, all credentials together.
        limit_waits: Requests that waited for the API's rate limits before going out.
        seconds_limited: Seconds they waited (side by side, so they add up past ``elapsed``).
        rate_limits: The rate limits the credentials spent, in words (told or learned).
        elapsed: Seconds the run took.
        per_credential: Each credential's own :class:`~alloy_data.pull.PullStats`.
        failures: The credentials that failed, with their errors.
        drift: Per credential, how its columns differ from the dataset's: columns it lacks
            and columns whose type was widened to fit the others'.
        notes: Everything noteworthy, in order.
    """

    credentials: int = 0
    done: int = 0
    failed: int = 0
    pages: int = 0
    records: int = 0
    records_fetched: int = 0
    requests: int = 0
    retries: int = 0
    seconds_waited: float = 0.0
    seconds_paced: float = 0.0
    refused: int = 0
    limit_waits: int = 0
    seconds_limited: float = 0.0
    rate_limits: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    per_credential: dict[str, PullStats] = field(default_factory=dict)
    failures: list[CredentialFailure] = field(default_factory=list)
    drift: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        """Records per second of elapsed time."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def freshness(self) -> str | None:
        """With ``max_age=``: how the credentials' rows were refreshed and when the oldest was
        fetched, in words; else None."""
        stored = [s for s in self.per_credential.values() if s.refresh and s.fetched_at]
        if not stored:
            return None
        ways: dict[str, int] = {}
        for stats in stored:
            assert stats.refresh is not None
            ways[stats.refresh] = ways.get(stats.refresh, 0) + 1
        oldest = min(s.fetched_at for s in stored if s.fetched_at is not None)
        how = ", ".join(f"{way}: {n}" for way, n in sorted(ways.items()))
        return f"{how} (the oldest fetched {oldest.strftime('%Y-%m-%d %H:%M:%S UTC')})"

    def __str__(self) -> str:
        text = (
            f"{self.records} records from {self.done} of {self.credentials} credentials in "
            f"{self.pages} pages, {self.requests} requests, {self.elapsed:.2f} s"
        )
        if self.retries:
            text += f", {self.retries} retries"
        if self.refused:
            text += f", {self.refused} refused (429)"
        if self.limit_waits:
            text += f", {self.limit_waits} waits for the rate limit"
        if self.failed:
            text += f", {self.failed} failed"
        if self.freshness:
            text += f", the local store's copies: {self.freshness}"
        return text

    def _repr_html_(self) -> str:
        return _html.block("Last run", self.html_body())

    def html_body(self) -> str:
        """The figures as HTML (escaped): totals, warnings marked, failures and drift as tables,
        each credential's figures and the notes folded."""
        warnings = [
            f"{credential}: {warning}"
            for credential, stats in self.per_credential.items()
            for warning in stats.warnings
        ]
        figures = _html.key_values(
            [
                ("credentials", f"{self.done} of {self.credentials} pulled, {self.failed} failed"),
                ("records", f"{self.records:,}"),
                ("pages", f"{self.pages:,}"),
                ("requests", f"{self.requests:,}"),
                ("retries", f"{self.retries:,}"),
                ("fetched", f"{self.records_fetched:,}"),
                ("waited before retries", f"{self.seconds_waited:.1f} s"),
                ("paced to the rate caps", f"{self.seconds_paced:.1f} s"),
                ("refused (429)", f"{self.refused:,}"),
                (
                    "waited for the rate limits",
                    f"{self.limit_waits:,} times, {self.seconds_limited:.1f} s",
                ),
                ("rate limits", "; ".join(self.rate_limits) or None),
                ("elapsed", f"{self.elapsed:.2f} s ({self.records_per_second:,.0f} records/s)"),
                ("local store", self.freshness),
            ]
        )
        failures = _html.grid(
            ("credential", "user", "error", "records fetched (dropped)"),
            [
                (
                    f.credential_id,
                    f.user_id,
                    f"{type(f.error).__name__}: {f.error}",
                    f.records_fetched,
                )
                for f in self.failures[:SHOWN_CREDENTIALS]
            ],
        )
        drift = _html.grid(
            ("credential", "columns that differ from the dataset's"),
            [
                (credential, "; ".join(differences))
                for credential, differences in list(self.drift.items())[:SHOWN_CREDENTIALS]
            ],
        )
        each = _html.grid(
            (
                "credential",
                "records",
                "pages",
                "requests",
                "retries",
                "paginator",
                "stopped",
                "fetched",
            ),
            [
                (
                    credential,
                    s.records,
                    s.pages,
                    s.requests,
                    s.retries,
                    s.paginator,
                    s.stop_reason,
                    s.freshness,
                )
                for credential, s in list(self.per_credential.items())[:SHOWN_CREDENTIALS]
            ],
        )
        return "".join(
            [
                _html.items(warnings, warning=True),
                figures,
                _html.details(f"Failures ({len(self.failures)})", failures, open_=True),
                _html.details(f"Schema drift ({len(self.drift)} credentials)", drift, open_=True),
                _html.details(f"Each credential ({len(self.per_credential)})", each),
                _html.details(f"Notes ({len(self.notes)})", _html.items(self.notes)),
            ]
        )
