"""The local store of pulls, with 30 ms of latency a request: what each situation costs.

Four situations of one analyst's notebook, each with the store (``max_age=``) and without it
(a plain ``client.pull(...).to_dataframe()``), Shopify orders, in one run side by side:

1. the first pull;
2. the same cell run again (a re-run, a kernel restart with the same store);
3. a refresh after 1% of the orders changed (the sandbox's clock moves an hour);
4. a pull stopped at half (``KeyboardInterrupt``, as a kernel restart or a crash stops it) and
   run again: the second run's cost.

Requests are counted by the sandbox (the action's details included). The sandbox runs in this
process, as ``bench_incremental.py``'s does, so that its clock can move.

Usage: ``python bench/bench_store.py [--records 20000] [--latency-ms 30] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import alloy_data as ad
from alloy_data.sandbox import Sandbox, serve

INCREMENTAL = ad.Incremental(cursor_field="updated_at", primary_key="id")


def _measured(sandbox: Sandbox, work: Callable[[], Any]) -> dict[str, Any]:
    before = sandbox.request_count
    started = time.perf_counter()
    rows = work()
    return {
        "requests": sandbox.request_count - before,
        "seconds": round(time.perf_counter() - started, 2),
        "rows": rows,
    }


def _stopped_at_half(total_pages: int) -> Callable[[Any], None]:
    def stop(update: Any) -> None:
        if update.pages >= total_pages // 2 and not update.done:
            raise KeyboardInterrupt

    return stop


def run(records: int, latency_ms: int) -> list[dict[str, Any]]:
    with serve(records={"shopify": records}, latency_ms=latency_ms, seed=3) as sandbox:
        credential = sandbox.fixtures.credentials["shopify"]
        with tempfile.TemporaryDirectory() as folder:
            client = ad.AlloyClient(
                sandbox.api_key,
                base_url=sandbox.url,
                user_id=sandbox.fixtures.user_id,
                store=Path(folder) / "store",
            )

            def frame(**options: Any) -> int:
                options.setdefault("progress", False)
                pull = client.pull("shopify", "list-orders", credential_id=credential, **options)
                return len(pull.to_dataframe())

            frame()  # the sandbox makes its records on first use: not part of any figure
            stored = {"incremental": INCREMENTAL, "max_age": "1h"}
            first = (_measured(sandbox, frame), _measured(sandbox, lambda: frame(**stored)))
            again = (_measured(sandbox, frame), _measured(sandbox, lambda: frame(**stored)))
            sandbox.advance_clock(3_600, updates=0.01)
            refresh = (
                _measured(sandbox, frame),
                _measured(sandbox, lambda: frame(incremental=INCREMENTAL, max_age=0)),
            )
            pages = client.pull("shopify", "list-orders", credential_id=credential, progress=False)
            pages.to_arrow()
            stop = _stopped_at_half(pages.stats.pages)
            client.store.drop("shopify")  # type: ignore[union-attr]
            stopped = []
            for options in ({}, {"max_age": 0}):
                with contextlib.suppress(KeyboardInterrupt):
                    frame(progress=stop, **options)
                stopped.append(_measured(sandbox, lambda options=options: frame(**options)))
            client.close()
    return [
        {"situation": "first pull", "without": first[0], "with": first[1]},
        {"situation": "the same cell again", "without": again[0], "with": again[1]},
        {"situation": "refresh after 1% changed", "without": refresh[0], "with": refresh[1]},
        {
            "situation": "stopped at half, run again",
            "without": stopped[0],
            "with": stopped[1],
        },
    ]


def render(rows: list[dict[str, Any]], records: int, latency_ms: int) -> str:
    lines = [
        f"{records:,} Shopify orders, {latency_ms} ms a request",
        "",
        "| situation | without the store: requests | s | with `max_age=`: requests | s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        without, with_ = row["without"], row["with"]
        lines.append(
            f"| {row['situation']} | {without['requests']:,} | {without['seconds']:.2f} | "
            f"{with_['requests']:,} | {with_['seconds']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = run(args.records, args.latency_ms)
    print(render(rows, args.records, args.latency_ms))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
