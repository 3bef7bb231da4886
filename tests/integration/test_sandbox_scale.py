"""Large record counts stay lazy; the command line starts, prints its URL and stops."""

from __future__ import annotations

import gc
import re
import signal
import subprocess
import sys
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import requests

from alloy_data.sandbox import Sandbox, serve

# A sandbox key given on the command line (not a secret).
CLI_KEY = "sk_sandbox_cli"


def test_a_million_records_are_not_held_in_memory():
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        with serve(port=0, records={"box": 1_000_000}) as sb:
            body = {
                "userId": sb.fixtures.user_id,
                "credentialId": sb.fixtures.credentials["box"],
                "parameters": {"offset": 999_900, "limit": 100},
            }
            response = requests.post(
                f"{sb.url}/connectors/box/actions/list-files/execute",
                json=body,
                headers={"Authorization": f"Bearer {sb.api_key}"},
                timeout=5,
            )
            page = response.json()["data"]
            gc.collect()
            during, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page["total_count"] == 1_000_000
    assert [entry["id"] for entry in page["entries"]][-1] == str(1_200_000_000 + 999_999)
    assert len(page["entries"]) == 100
    assert during - before < 5_000_000  # a page and some caches, not a million records


def test_the_command_line_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--dialect", "live",
         "--records", "box=10", "--api-key", CLI_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        assert CLI_KEY in line
        response = requests.get(
            f"{match.group(0)}/connectors",
            headers={"Authorization": f"Bearer {CLI_KEY}", "x-api-version": "2025-09"},
            timeout=5,
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()  # type: ignore[union-attr]


def test_main_refuses_bad_options(capsys):
    from alloy_data.sandbox import main

    assert main(["--port", "0", "--records", "nope=3"]) == 2
    assert "unknown connector" in capsys.readouterr().err


def first_tickets_page(sb: Sandbox) -> dict:
    body = {
        "userId": sb.fixtures.user_id,
        "credentialId": sb.fixtures.credentials["zendesk"],
        "parameters": {"per_page": 10},
    }
    response = requests.post(
        f"{sb.url}/connectors/zendesk/actions/list-tickets/execute",
        json=body,
        headers={"Authorization": f"Bearer {sb.api_key}"},
        timeout=5,
    )
    return response.json()["data"]


def test_a_restarted_sandbox_links_to_its_new_address():
    sb = Sandbox(records={"zendesk": 30})
    try:
        sb.start()
        first_url = sb.url
        assert first_tickets_page(sb)["next_page"].startswith(f"{first_url}/")
        sb.stop()
        sb.start()
        second_url = sb.url
        page = first_tickets_page(sb)
    finally:
        sb.stop()
    assert page["next_page"].startswith(f"{second_url}/")
    assert page["tickets"][0]["url"].startswith(f"{second_url}/")


def test_concurrent_clients_are_all_served():
    with serve(port=0, records={"box": 400}) as sb:

        def walk(_: int) -> list[str]:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {sb.api_key}"
            ids: list[str] = []
            for offset in range(0, 400, 50):
                body = {
                    "userId": sb.fixtures.user_id,
                    "credentialId": sb.fixtures.credentials["box"],
                    "parameters": {"offset": offset, "limit": 50},
                }
                url = f"{sb.url}/connectors/box/actions/list-files/execute"
                page = session.post(url, json=body, timeout=5).json()["data"]
                ids += [entry["id"] for entry in page["entries"]]
            session.close()
            return ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            walks = list(pool.map(walk, range(8)))
        assert sb.request_count == 8 * 8
    expected = [str(1_200_000_000 + index) for index in range(400)]
    assert all(ids == expected for ids in walks)
