"""``alloy-data demo`` (and ``make demo``): the main job, end to end, on the offline sandbox.

It starts the sandbox, lists connectors, resources and actions, then pulls list actions that
page in different ways into DataFrames and Parquet files, and says what it did.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from alloy_data._text_table import format_table

if TYPE_CHECKING:
    from alloy_data.client import AlloyClient

__all__ = ["DEMO_PULLS", "DemoPull", "run_demo"]


@dataclass(frozen=True)
class DemoPull:
    """One pull the demo makes."""

    connector: str
    action: str
    convention: str


# Every pull runs with the default settings: the page size and the overlap are found.
DEMO_PULLS = (
    DemoPull("hubspot", "list-contacts", "cursor in body"),
    DemoPull("shopify", "list-orders", "relay/GraphQL"),
    DemoPull("stripe", "list-charges", "last id"),
    DemoPull("box", "list-files", "offset/limit"),
    DemoPull("zendesk", "list-tickets", "next link"),
    DemoPull("xero", "list-invoices", "page number"),
    DemoPull("quickbooks", "list-customers", "Alloy offset"),
)


def _size(path: Path) -> str:
    size = (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def run_demo(*, out_dir: Path, largest: int = 60_000, out: TextIO | None = None) -> int:
    """Run the demo and print what it did.

    Args:
        out_dir: Where the Parquet files go (created if missing; files are replaced).
        largest: Records in the largest pull (HubSpot contacts).
        out: Where to print (default stdout).

    Returns:
        0 on success (errors propagate as ``AlloyError``).
    """
    from alloy_data.client import AlloyClient
    from alloy_data.sandbox import serve

    out = out or sys.stdout
    out_dir.mkdir(parents=True, exist_ok=True)
    records = {
        "hubspot": largest,
        "shopify": 5_000,
        "stripe": 3_000,
        "box": 20_000,
        "zendesk": 2_500,
        "xero": 4_000,
        "quickbooks": 1_000,
    }
    with serve(port=0, records=records) as sandbox:
        out.write(f"Started the offline Alloy sandbox at {sandbox.url}\n\n")
        with AlloyClient(
            sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
        ) as client:
            connectors = client.connectors.list()
            out.write(f"{len(connectors)} connectors:\n")
            out.write(
                format_table(
                    [
                        {"connector": c.connector_id, "name": c.name, "category": c.category}
                        for c in connectors
                    ]
                )
            )
            out.write("\nshopify resources and their actions:\n")
            out.write(
                format_table(
                    [
                        {"resource": r.resource_id, "actions": " ".join(r.action_ids)}
                        for r in client.connectors.resources("shopify")
                    ]
                )
            )
            rows = []
            for demo in DEMO_PULLS:
                rows.append(
                    _pull(client, sandbox.fixtures.credentials[demo.connector], demo, out_dir)
                )
            out.write("\nPulled into DataFrames and Parquet files:\n")
            out.write(format_table(rows))
    total = sum(int(r["rows"]) for r in rows)
    out.write(f"\n{total:,} records in {len(rows)} pulls; files are in {out_dir}/\n")
    return 0


def _pull(client: AlloyClient, credential_id: str, demo: DemoPull, out_dir: Path) -> dict[str, str]:
    pull = client.pull(
        demo.connector,
        demo.action,
        credential_id=credential_id,
        progress="terminal",
    )
    started = time.monotonic()
    frame = pull.to_dataframe()
    frame_seconds = time.monotonic() - started
    path = out_dir / f"{demo.connector}-{demo.action}.parquet"
    started = time.monotonic()
    pull.to_parquet(path, overwrite=True)
    file_seconds = time.monotonic() - started
    return {
        "action": f"{demo.connector} {demo.action}",
        "paging": demo.convention,
        "rows": f"{len(frame)}",
        "columns": f"{len(frame.columns)}",
        "page size": f"{pull.stats.page_size or ''}",
        "pages": f"{pull.stats.pages}",
        "requests": f"{pull.stats.requests}",
        "overlap": f"x{pull.stats.concurrency}" if pull.stats.concurrency > 1 else "",
        "DataFrame s": f"{frame_seconds:.2f}",
        "Parquet s": f"{file_seconds:.2f}",
        "file": f"{path.name} ({_size(path)})",
    }
