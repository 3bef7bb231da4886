"""The sandbox as a whole: options, fixtures, the request pipeline and its lifecycle."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from alloy_data.sandbox import timeline
from alloy_data.sandbox.api import AlloyApi
from alloy_data.sandbox.auth import bearer_matches, generate_api_key
from alloy_data.sandbox.catalog import UNPAGINATED_MAXIMUM, Connector, build_catalog
from alloy_data.sandbox.clock import Amount, Clock, ClockTick
from alloy_data.sandbox.errors import ApiError
from alloy_data.sandbox.faults import (
    SLOW_ANSWER_MS,
    Fault,
    FaultPlan,
    Injections,
    TokenBucket,
)
from alloy_data.sandbox.ids import IdFactory
from alloy_data.sandbox.limits import Limits, RateLimitRule
from alloy_data.sandbox.listings import Listing
from alloy_data.sandbox.messages import (
    Request,
    Response,
    error_response,
    json_body,
    json_response,
)
from alloy_data.sandbox.paging import Unpaginated
from alloy_data.sandbox.records import Context, RecordSource, latest_creation
from alloy_data.sandbox.server import HTTPServer
from alloy_data.sandbox.store import Store
from alloy_data.sandbox.tenants import ID_BLOCK, MAX_TENANTS, Tenant, TenantListings, TenantRecords

DIALECTS = ("seed", "live")
#: The first path segment of the sandbox's own test hooks (never part of the emulated API).
ADMIN_PREFIX = "__sandbox"

_PROXY_ERROR_PAGE = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html>\r\n<html><head><title>Down for maintenance</title></head>\r\n"
    b"<body><h1>We'll be right back</h1><p>The service is down for maintenance.</p></body>"
    b"</html>\r\n"
)

#: Faults that change the API's own answer rather than replace it.
_FAULTS_ON_THE_ANSWER = frozenset({"latency", "truncated", "html_200"})


def _gateway_page(status: int) -> bytes:
    title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}[status]
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


@dataclass(frozen=True)
class Fixtures:
    """Users and credentials that exist from the start.

    Attributes:
        user_id: The main user; owns ``credentials``.
        other_user_id: A second user; owns ``other_credentials``.
        credentials: One credential per connector id, owned by ``user_id``.
        other_credentials: One credential per connector id, owned by ``other_user_id``.
        tenants: The users made by the ``tenants`` option, in order; each owns one
            credential per connector, and each of those serves records of its own.
    """

    user_id: str
    other_user_id: str
    credentials: dict[str, str]
    other_credentials: dict[str, str]
    tenants: list[Tenant] = field(default_factory=list)


def _limits(rules: Iterable[RateLimitRule | str] | None) -> Limits | None:
    if not rules:
        return None
    return Limits(RateLimitRule.parse(r) if isinstance(r, str) else r for r in rules)


def _record_counts(
    catalog_ids: Iterable[str], records: int | Mapping[str, int] | None
) -> dict[str, int | None]:
    known = list(catalog_ids)
    if records is None:
        return dict.fromkeys(known)
    if isinstance(records, int) and not isinstance(records, bool):
        if records < 0:
            raise ValueError(f"records must be at least 0, got {records}")
        return dict.fromkeys(known, records)
    if not isinstance(records, Mapping):
        raise TypeError("records must be an int or a dict of connector id to count")
    counts: dict[str, int | None] = dict.fromkeys(known)
    for connector_id, count in records.items():
        if connector_id not in counts:
            raise ValueError(f"records: unknown connector {connector_id!r}; known: {known}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"records[{connector_id!r}] must be an int of at least 0")
        counts[connector_id] = count
    return counts


def _add_tenants(
    store: Store, catalog: Mapping[str, Connector], tenant_listings: TenantListings | None
) -> list[Tenant]:
    """Make the tenants' users, each owning one credential per connector with its own records."""
    if tenant_listings is None:
        return []
    made = []
    width = max(3, len(str(tenant_listings.tenants)))
    for index in range(tenant_listings.tenants):
        user = store.add_user(f"tenant-{index + 1:0{width}d}", f"Tenant {index + 1}")
        credentials = {}
        for connector in catalog.values():
            credential = store.add_credential(
                connector.connector_id,
                user.user_id,
                connector.auth_type,
                f"{connector.name} ({user.username})",
            )
            credentials[connector.connector_id] = credential.credential_id
            tenant_listings.add(credential.credential_id, index, connector.connector_id)
        made.append(Tenant(index, user.user_id, user.username, credentials))
    return made


def _newest_record(
    listings: Mapping[tuple[str, str], Listing], tenant_listings: TenantListings | None
) -> int:
    """Return the latest creation or update time any generated record can have."""
    latest = 0
    for (connector_id, _), listing in listings.items():
        fields = listing.resource.times
        if fields is None:
            continue
        count = listing.total
        if tenant_listings is not None:
            count = max(count, tenant_listings.largest(connector_id, listing.resource))
        latest = max(latest, latest_creation(count) + fields.max_lag)
    return latest


class Sandbox:
    """An offline Alloy Connectivity API on loopback.

    Args:
        port: The port to listen on; 0 picks a free one.
        host: The address to bind; keep the loopback default.
        dialect: "seed" (the reference contract) or "live" (the 2025-09 API as it answers).
        api_key: The bearer key to accept; a fresh ``sk_sandbox_...`` key when None.
        seed: Makes records, ids and faults reproducible.
        records: Records per list action: an int for all, or a dict of connector id to count.
        fault_rate: The share (0 to 1) of requests that fail, drawn from ``seed``.
        faults: The fault kinds ``fault_rate`` draws from (default all of
            :data:`~alloy_data.sandbox.FAULT_KINDS`).
        fault_delay_ms: How long a "latency" fault drawn by ``fault_rate`` holds its answer
            (default 1000); set it above a client's read timeout to test timeouts.
        latency_ms: Added to every answer.
        rate_limit: Requests per second allowed before answering 429 with ``Retry-After``.
        cache_mb: Memory for encoded pages and records (default 32). Benchmarks raise it so
            that every page of a large pull is generated once and then served from memory.
        tenants: How many more users to make (up to 10,000), each owning one credential per
            connector whose list actions serve records of its own (``fixtures.tenants``).
        tenant_records: How many records each tenant credential's list actions serve: None
            for a seeded count between a fifth and twice ``records``' count for that action,
            an int for all, a list with one int per tenant, or a function of ``(tenant index,
            connector id, action id)`` returning an int. Actions that answer everything at
            once keep at most 50.
        credential_rate_limit: Execute requests per second allowed for each credential before
            answering 429 with ``Retry-After``; applies on top of ``rate_limit``.
        limits: Rate limits on execute requests, each a :class:`RateLimitRule` or its text
            (``"20/2s"``, ``"20/2s:key:token_bucket:ietf"``): per credential or per API key,
            fixed window or token bucket, told in ``X-RateLimit-*`` headers (Reset in seconds
            or as an epoch time), in the IETF ``RateLimit`` fields, or not at all.
        start_time: Where the clock starts (epoch seconds); by default just after the newest
            generated record, drawn from ``seed``. It may not be earlier than that.

    Raises:
        ValueError: For an option out of its range.
        TypeError: For ``records`` or ``tenant_records`` of the wrong kind.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        dialect: str = "seed",
        api_key: str | None = None,
        seed: int = 0,
        records: int | Mapping[str, int] | None = None,
        fault_rate: float = 0.0,
        faults: Iterable[str] | None = None,
        fault_delay_ms: int = SLOW_ANSWER_MS,
        latency_ms: int = 0,
        rate_limit: float | None = None,
        cache_mb: int = 32,
        tenants: int = 0,
        tenant_records: TenantRecords = None,
        credential_rate_limit: float | None = None,
        limits: Iterable[RateLimitRule | str] | None = None,
        start_time: int | None = None,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be 'seed' or 'live', got {dialect!r}")
        if latency_ms < 0:
            raise ValueError("latency_ms must be at least 0")
        if cache_mb < 1:
            raise ValueError("cache_mb must be at least 1")
        if not isinstance(tenants, int) or isinstance(tenants, bool):
            raise TypeError(f"tenants must be an int, got {tenants!r}")
        if not 0 <= tenants <= MAX_TENANTS:
            raise ValueError(f"tenants must be from 0 to {MAX_TENANTS:,}, got {tenants}")
        if tenant_records is not None and not tenants:
            raise ValueError("tenant_records needs tenants (how many) as well")
        if credential_rate_limit is not None and credential_rate_limit <= 0:
            raise ValueError(f"credential_rate_limit must be above 0, got {credential_rate_limit}")
        self.dialect = dialect
        self.seed = seed
        self.api_key = api_key if api_key else generate_api_key()
        self.latency_ms = latency_ms
        self.request_count = 0
        if fault_delay_ms < 0:
            raise ValueError("fault_delay_ms must be at least 0")
        self._fault_plan = FaultPlan(seed, fault_rate, faults, delay_ms=fault_delay_ms)
        self._injections = Injections()
        self._bucket = TokenBucket(rate_limit) if rate_limit else None
        self._server = HTTPServer(self.handle, host, port)
        self._host = host
        self._started = False

        catalog = build_catalog()
        counts = _record_counts(catalog, records)
        context = Context(seed, "")
        listings: dict[tuple[str, str], Listing] = {}
        for connector in catalog.values():
            for resource in connector.resources:
                count = counts[connector.connector_id]
                total = resource.default_count if count is None else count
                convention = resource.actions[0].convention
                if isinstance(convention, Unpaginated):
                    total = min(total, UNPAGINATED_MAXIMUM)
                source = RecordSource(
                    resource.generator,
                    resource.ids,
                    context,
                    # Encoded records average a few hundred bytes.
                    cache_size=max(20_000, cache_mb * 2_500),
                )
                listings[(connector.connector_id, resource.resource_id)] = Listing(
                    resource,
                    source,
                    total,
                    scope=f"{connector.connector_id}/{resource.resource_id}",
                )
        ids = IdFactory(seed, object_ids=dialect == "live")
        store = Store(ids)
        user = store.add_user("sandbox-user", "Sandbox User")
        other = store.add_user("other-user", "Other User")
        owned = {
            owner.user_id: {
                connector.connector_id: store.add_credential(
                    connector.connector_id,
                    owner.user_id,
                    connector.auth_type,
                    f"{connector.name} ({owner.username})",
                ).credential_id
                for connector in catalog.values()
            }
            for owner in (user, other)
        }
        tenant_listings = self._tenant_listings(catalog, listings, tenants, tenant_records)
        self.fixtures = Fixtures(
            user.user_id,
            other.user_id,
            owned[user.user_id],
            owned[other.user_id],
            _add_tenants(store, catalog, tenant_listings),
        )
        newest = _newest_record(listings, tenant_listings)
        if start_time is None:
            jitter = hashlib.blake2b(f"clock:{seed}".encode(), digest_size=2).digest()
            start_time = newest + 1 + int.from_bytes(jitter, "big") % 60
        elif isinstance(start_time, bool) or not isinstance(start_time, int):
            raise TypeError(f"start_time must be epoch seconds (an int), got {start_time!r}")
        elif start_time <= newest:
            raise ValueError(
                f"start_time must be after the newest generated record: give {newest + 1} "
                f"(epoch seconds) or later, got {start_time}"
            )
        self._clock = Clock(start_time)
        secret = hashlib.sha256(f"token:{seed}:{self.api_key}".encode()).digest()
        self.api = AlloyApi(
            dialect=dialect,
            catalog=catalog,
            listings=listings,
            store=store,
            ids=ids,
            token_secret=secret,
            owner_user_id=user.user_id,
            page_cache_bytes=cache_mb * 1024 * 1024,
            tenants=tenant_listings,
            credential_rate_limit=credential_rate_limit,
            limits=_limits(limits),
            clock=self._clock,
            seed=seed,
        )
        self.token_secret = secret

    def _tenant_listings(
        self,
        catalog: Mapping[str, Connector],
        listings: Mapping[tuple[str, str], Listing],
        tenants: int,
        tenant_records: TenantRecords,
    ) -> TenantListings | None:
        if not tenants:
            return None
        for (connector_id, resource_id), listing in listings.items():
            if listing.total >= ID_BLOCK:
                # Tenant ids start where the fixture records' ids would go on.
                raise ValueError(
                    f"records for {connector_id} {resource_id} must stay below "
                    f"{ID_BLOCK:,} when there are tenants"
                )
        return TenantListings(
            seed=self.seed,
            catalog=catalog,
            base_totals={key: listing.total for key, listing in listings.items()},
            tenants=tenants,
            sizes=tenant_records,
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        if not self._started:
            raise RuntimeError("the sandbox is not running; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.port}"

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        return self._server.port

    def start(self) -> Sandbox:
        """Start serving in a background thread and return self.

        Raises:
            OSError: When the port cannot be bound.
        """
        if not self._started:
            self._server.start()
            self._started = True
            self.api.set_base_url(self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._started else "stopped"
        return f"Sandbox({where}, dialect={self.dialect!r}, seed={self.seed})"

    @property
    def limit_refusals(self) -> int:
        """Execute requests refused so far by the ``limits`` (0 without limits)."""
        return self.api.limits.refused if self.api.limits is not None else 0

    def inject_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        path_contains: str | None = None,
        retry_after: int = 1,
        delay_ms: int | None = None,
    ) -> None:
        """Make the next ``count`` requests whose path contains ``path_contains`` fail.

        Args:
            kind: One of :data:`~alloy_data.sandbox.FAULT_KINDS`.
            count: How many requests fail this way.
            path_contains: Only requests whose raw path contains this; any request when None.
            retry_after: Seconds sent in ``Retry-After`` for "429" and "503".
            delay_ms: How long a "latency" fault holds the answer (default 1000).
        """
        self._injections.add(
            kind,
            count=count,
            path_contains=path_contains,
            retry_after=retry_after,
            delay_ms=delay_ms,
        )

    @property
    def now(self) -> int:
        """The sandbox's current time, epoch seconds; only :meth:`advance_clock` moves it."""
        return self._clock.now

    def advance_clock(
        self, seconds: int = 86_400, *, updates: Amount = 0.01, inserts: Amount = 0.0
    ) -> ClockTick:
        """Move the clock ``seconds`` ahead, updating and inserting records as it goes.

        Every list action whose records carry a time changes, for every credential: a tick
        updates records (a new update time within the tick, in the app's own field and format,
        and a visible edit such as a status or a version counter) and inserts new ones (new
        ids, created within the tick). Records the app never edits (Stripe charges and
        customers) take inserts only. What changes is drawn from the seed and the tick's
        number.

        Args:
            seconds: How far to move the clock (at least 1).
            updates: A share of each list's records (a float below 1) or a number (an int).
            inserts: The same, for new records.

        Returns:
            The tick: its number, the time before and after it, and how many records of each
            list action the fixture credentials see were updated and inserted.

        Raises:
            TypeError: For arguments of the wrong kind.
            ValueError: For ``seconds`` below 1, a negative amount or a share of 1 or more.
        """
        return self.api.advance_clock(seconds, updates, inserts)

    def expected_count(self, connector_id: str, action_id: str, *, credential_id: str) -> int:
        """Return how many records a credential's list action serves, paged to the end.

        Args:
            connector_id: The connector, e.g. "shopify".
            action_id: One of its list actions, e.g. "list-orders".
            credential_id: Whose records: a tenant's credential serves its own, any other
                credential the shared ones.

        Raises:
            ValueError: For an unknown connector, action or credential, an action that does
                not list, or a credential of another connector.
        """
        with self._clock.lock:
            return self.api.list_listing(connector_id, action_id, credential_id).total

    def expected_ids(
        self, connector_id: str, action_id: str, *, credential_id: str
    ) -> list[str | int]:
        """Return the ids of the records a credential's list action serves, in order.

        Records made by ``create-*`` actions are not among them, as list actions do not serve
        them. Takes the arguments of :meth:`expected_count` and raises as it does.

        Returns:
            The ids as the app writes them (strings, or ints for Zendesk tickets).
        """
        with self._clock.lock:
            listing = self.api.list_listing(connector_id, action_id, credential_id)
            indexes = timeline.view(listing).indexes
            id_for = listing.source.ids.id_for
            return [id_for(index) for index in indexes]

    def handle(self, request: Request) -> Response:
        """Answer one request: injected faults, rate limit, random faults, auth, then the API."""
        # Faults and limits come first, as a gateway in front of the API would put them.
        self.request_count += 1
        if request.segments[:1] == [ADMIN_PREFIX]:
            # The test hook is not part of the emulated API: no faults, no limits.
            return self._finish(self._admin(request))
        fault = self._injections.take(request.path)
        if fault is None and self._bucket is not None:
            wait = self._bucket.take()
            if wait:
                error = ApiError(
                    429, "rate limit exceeded; retry later", headers={"Retry-After": str(wait)}
                )
                return self._finish(error_response(error))
        if fault is None:
            fault = self._fault_plan.draw()
        if fault is not None and fault.kind not in _FAULTS_ON_THE_ANSWER:
            return self._finish(self._fault_response(fault))
        response = self._authorized(request)
        if fault is not None:
            if fault.kind == "latency":
                response.delay_ms += fault.delay_ms
            elif fault.kind == "truncated" and response.status == 200:
                response.truncate = True
            elif fault.kind == "html_200":
                response = Response(200, _MAINTENANCE_PAGE, content_type="text/html")
        return self._finish(response)

    def _admin(self, request: Request) -> Response:
        """``GET /__sandbox/clock`` tells the time; ``POST`` with ``{seconds, updates,
        inserts}`` advances it (all optional, as :meth:`advance_clock`)."""
        try:
            if not bearer_matches(request.header("authorization"), self.api_key):
                raise ApiError(
                    401,
                    "missing or invalid API key; send Authorization: Bearer <key>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if request.segments != [ADMIN_PREFIX, "clock"]:
                raise ApiError(404, f"no such endpoint: {request.path[:200]}; try /__sandbox/clock")
            if request.method == "GET":
                return json_response({"now": self.now, "tick": self._clock.tick})
            if request.method != "POST":
                raise ApiError(
                    405, "use GET or POST on /__sandbox/clock", headers={"Allow": "GET, POST"}
                )
            body = request.json_object() if request.body.strip() else {}
            unknown = sorted(set(body) - {"seconds", "updates", "inserts"})
            if unknown:
                raise ApiError(
                    400, f"unknown field '{unknown[0][:60]}'; send seconds, updates and inserts"
                )
            try:
                tick = self.advance_clock(
                    body.get("seconds", 86_400),
                    updates=body.get("updates", 0.01),
                    inserts=body.get("inserts", 0.0),
                )
            except (TypeError, ValueError) as exc:
                raise ApiError(400, str(exc)) from None
            return json_response(tick.to_json())
        except ApiError as error:
            return error_response(error)

    def _finish(self, response: Response) -> Response:
        response.delay_ms += self.latency_ms
        response.headers["X-Request-Id"] = f"req_{self.request_count:08d}"
        return response

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind in ("drop", "reset"):
            return Response(0, b"", drop=fault.kind == "drop", reset=fault.kind == "reset")
        if fault.kind == "500_html":
            return Response(500, _PROXY_ERROR_PAGE, content_type="text/html")
        if fault.kind in ("502", "504"):
            page = _gateway_page(int(fault.kind))
            return Response(int(fault.kind), page, content_type="text/html")
        retry = {"Retry-After": str(fault.retry_after)}
        if fault.kind == "429":
            return error_response(ApiError(429, "too many requests; retry later", headers=retry))
        if fault.kind == "408":
            return error_response(ApiError(408, "the request took too long to arrive"))
        if fault.kind == "500":
            return error_response(ApiError(500, "an unexpected error occurred"))
        body = json_body(
            {"error": "SERVICE_UNAVAILABLE", "message": "the service is temporarily unavailable"}
        )
        return Response(503, body, headers=retry)

    def _authorized(self, request: Request) -> Response:
        try:
            if request.segments == ["oauth", "authorize"] and request.method == "GET":
                # A browser visits the consent page; it carries no API key.
                return self.api.oauth_authorize(request)
            if not bearer_matches(request.header("authorization"), self.api_key):
                raise ApiError(
                    401,
                    "missing or invalid API key; send Authorization: Bearer <key>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if self.dialect == "live" and not request.header("x-api-version"):
                raise ApiError(400, "the x-api-version header is required (e.g. 2025-09)")
            return self.api.handle(request)
        except ApiError as error:
            return error_response(error)


def serve(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    dialect: str = "seed",
    api_key: str | None = None,
    seed: int = 0,
    records: int | Mapping[str, int] | None = None,
    fault_rate: float = 0.0,
    faults: Iterable[str] | None = None,
    fault_delay_ms: int = SLOW_ANSWER_MS,
    latency_ms: int = 0,
    rate_limit: float | None = None,
    cache_mb: int = 32,
    tenants: int = 0,
    tenant_records: TenantRecords = None,
    credential_rate_limit: float | None = None,
    limits: Iterable[RateLimitRule | str] | None = None,
    start_time: int | None = None,
) -> Sandbox:
    """Start a sandbox in a background thread and return it; use it in a ``with`` block.

    Takes the options of :class:`Sandbox`. Leaving the ``with`` block stops the server.

    Returns:
        The running :class:`Sandbox` (``url``, ``api_key``, ``fixtures``, ``inject_fault``).
    """
    sandbox = Sandbox(
        port,
        host=host,
        dialect=dialect,
        api_key=api_key,
        seed=seed,
        records=records,
        fault_rate=fault_rate,
        faults=faults,
        fault_delay_ms=fault_delay_ms,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        cache_mb=cache_mb,
        tenants=tenants,
        tenant_records=tenant_records,
        credential_rate_limit=credential_rate_limit,
        limits=limits,
        start_time=start_time,
    )
    return sandbox.start()
