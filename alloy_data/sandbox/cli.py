"""``python -m alloy_data.sandbox``: run the sandbox in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from alloy_data.sandbox.app import DIALECTS, Sandbox
from alloy_data.sandbox.clock import check_amount
from alloy_data.sandbox.faults import FAULT_KINDS
from alloy_data.sandbox.limits import RateLimitRule


def _records(values: list[str] | None) -> int | dict[str, int] | None:
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return int(values[0])
    counts: dict[str, int] = {}
    for value in values:
        connector_id, equals, count = value.partition("=")
        if not equals:
            raise ValueError(f"--records takes N or connector=N, got {value!r}")
        counts[connector_id] = int(count)
    return counts


def _tenant_records(values: list[int] | None) -> int | list[int] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _share_or_count(text: str) -> int | float:
    """Parse ``0.01`` as a share of each list's records and ``25`` as a number of records."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share below 1 (e.g. 0.01) or a number of records (e.g. 25), got {text!r}"
        ) from None


def _limit_rule(text: str) -> RateLimitRule:
    try:
        return RateLimitRule.parse(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _start_time(text: str) -> int:
    """Parse epoch seconds or an ISO-8601 date and time with an offset."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"expected epoch seconds or a date and time with an offset "
            f"(e.g. 2024-05-01T00:00:00Z), got {text!r}"
        )
    return int(moment.timestamp())


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the sandbox command."""
    parser = argparse.ArgumentParser(
        prog="python -m alloy_data.sandbox",
        description="Run the offline Alloy Connectivity API sandbox until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--dialect", choices=DIALECTS, default="seed", help="wire dialect")
    parser.add_argument("--seed", type=int, default=0, help="seed for records, ids and faults")
    parser.add_argument(
        "--records",
        nargs="+",
        action="extend",
        metavar="N|CONNECTOR=N",
        help="records per list action: one number for all, or connector=N pairs",
    )
    parser.add_argument("--api-key", default=None, help="the key to accept (default: generated)")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of failing requests")
    parser.add_argument(
        "--faults", nargs="+", choices=FAULT_KINDS, default=None, help="fault kinds to draw"
    )
    parser.add_argument(
        "--fault-delay-ms", type=int, default=1000, help="how long a latency fault holds answers"
    )
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument(
        "--cache-mb", type=int, default=32, help="memory for cached pages (benchmarks raise it)"
    )
    parser.add_argument(
        "--tenants",
        type=int,
        default=0,
        metavar="N",
        help="N more users, each with one credential per connector serving its own records",
    )
    parser.add_argument(
        "--tenant-records",
        type=int,
        nargs="+",
        metavar="N",
        help="records per tenant credential's list action: one number for all, or one per "
        "tenant (default: seeded, a fifth to twice --records)",
    )
    parser.add_argument(
        "--credential-rate-limit",
        type=float,
        default=None,
        metavar="R",
        help="execute requests per second per credential",
    )
    parser.add_argument(
        "--limit",
        action="append",
        type=_limit_rule,
        default=None,
        metavar="RULE",
        help="a rate limit on execute requests, such as 20/2s (per credential, fixed window, "
        "X-RateLimit headers) or 20/2s:key:token_bucket:ietf; parts: credential|key, "
        "fixed_window|token_bucket, none|x-ratelimit|x-ratelimit-epoch|ietf (repeat for more)",
    )
    parser.add_argument(
        "--start-time",
        type=_start_time,
        default=None,
        metavar="WHEN",
        help="where the clock starts: epoch seconds or ISO-8601 with an offset (default: just "
        "after the newest generated record)",
    )
    parser.add_argument(
        "--clock-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="every SECONDS of real time, move the clock one tick (records change as it moves)",
    )
    parser.add_argument(
        "--clock-step",
        type=int,
        default=86_400,
        metavar="SECONDS",
        help="how far each tick moves the clock (default 86400: one day)",
    )
    parser.add_argument(
        "--changes-per-tick",
        type=_share_or_count,
        default=0.01,
        metavar="SHARE|N",
        help="records each tick updates in every list: a share (default 0.01) or a number",
    )
    parser.add_argument(
        "--inserts-per-tick",
        type=_share_or_count,
        default=0.0,
        metavar="SHARE|N",
        help="records each tick inserts in every list: a share or a number (default 0)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox in the foreground until Ctrl-C or SIGTERM.

    Prints one line with the URL and the API key once it accepts connections.

    Returns:
        The exit status: 0 after a clean stop, 2 for bad options or a port in use.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sandbox = Sandbox(
            args.port,
            host=args.host,
            dialect=args.dialect,
            api_key=args.api_key,
            seed=args.seed,
            records=_records(args.records),
            fault_rate=args.fault_rate,
            faults=args.faults,
            fault_delay_ms=args.fault_delay_ms,
            latency_ms=args.latency_ms,
            rate_limit=args.rate_limit,
            cache_mb=args.cache_mb,
            tenants=args.tenants,
            tenant_records=_tenant_records(args.tenant_records),
            credential_rate_limit=args.credential_rate_limit,
            limits=args.limit,
            start_time=args.start_time,
        )
        if args.clock_every is not None and args.clock_every <= 0:
            raise ValueError(f"--clock-every must be above 0 seconds, got {args.clock_every}")
        if args.clock_step < 1:
            raise ValueError(f"--clock-step must be at least 1 second, got {args.clock_step}")
        # Checked now, so that a bad share fails here and not at the first tick.
        _check_tick_amounts(args.changes_per_tick, args.inserts_per_tick)
        sandbox.start()
    except (ValueError, TypeError, OSError) as exc:
        print(f"alloy sandbox: {exc}", file=sys.stderr)
        return 2
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = signal.signal(signal.SIGTERM, _stop) if _main_thread() else None
    source = "given with --api-key" if args.api_key else "generated"
    print(
        f"Alloy sandbox ({args.dialect} dialect) at {sandbox.url} "
        f"api key ({source}): {sandbox.api_key}",
        flush=True,
    )
    try:
        _serve_until(stopped, sandbox, args)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _check_tick_amounts(updates: float, inserts: float) -> None:
    check_amount("--changes-per-tick", updates)
    check_amount("--inserts-per-tick", inserts)


def _serve_until(stopped: threading.Event, sandbox: Sandbox, args: argparse.Namespace) -> None:
    """Wait for a stop, moving the clock every ``--clock-every`` seconds meanwhile."""
    every = args.clock_every
    next_tick = time.monotonic() + every if every else None
    while True:
        wait = 0.5 if next_tick is None else max(0.0, min(0.5, next_tick - time.monotonic()))
        if stopped.wait(wait):
            return
        if next_tick is not None and time.monotonic() >= next_tick:
            tick = sandbox.advance_clock(
                args.clock_step, updates=args.changes_per_tick, inserts=args.inserts_per_tick
            )
            updated = sum(change.updated for change in tick.changes.values())
            inserted = sum(change.inserted for change in tick.changes.values())
            print(
                f"clock tick {tick.tick}: now {tick.now}, {updated} records updated and "
                f"{inserted} inserted",
                flush=True,
            )
            next_tick += every


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
