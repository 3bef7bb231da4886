"""Tenants over HTTP: found as a client finds them, each credential paged to its own records."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from alloy_data.sandbox import Sandbox, serve
from tests.integration.test_sandbox_pagination import ACTION_IDS, LIST_ACTIONS

TENANTS = 3
#: Small pages so that every credential's walk takes several requests.
PAGE_SIZE = 7


class Client:
    """Plain ``requests`` calls in one dialect, sending the user as that dialect does."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.live = sb.dialect == "live"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sb.api_key}"
        if self.live:
            self.session.headers["x-api-version"] = "2025-09"

    def get(self, path: str, *, user_id: str | None = None) -> Any:
        headers, params = {}, {}
        if user_id and self.live:
            headers["x-alloy-userid"] = user_id
        elif user_id:
            params["userId"] = user_id
        response = self.session.get(self.sb.url + path, headers=headers, params=params, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def execute(
        self, connector: str, action: str, user_id: str, credential_id: str, params: dict[str, Any]
    ) -> requests.Response:
        url = f"{self.sb.url}/connectors/{connector}/actions/{action}/execute"
        if self.live:
            return self.session.post(
                url,
                json={"credentialId": credential_id, "queryParameters": params},
                headers={"x-alloy-userid": user_id},
                timeout=5,
            )
        body = {"userId": user_id, "credentialId": credential_id, "parameters": params}
        return self.session.post(url, json=body, timeout=5)

    def walk(self, case: tuple[Any, ...], user_id: str, credential_id: str) -> list[Any]:
        connector, action, walker, _, id_field = case

        def execute(params: dict[str, Any]) -> dict[str, Any]:
            response = self.execute(connector, action, user_id, credential_id, params)
            assert response.status_code == 200, response.text
            answer = response.json()
            # The walkers read the seed envelope; the live one carries the same app body.
            return {"data": answer["responseData"]} if "responseData" in answer else answer

        ids: list[Any] = []
        for page in walker(execute, PAGE_SIZE):
            ids += [record[id_field] for record in page]
            assert len(ids) < 10_000
        return ids


@pytest.fixture(scope="module", params=["seed", "live"])
def tenant_sandbox(request) -> Iterator[Sandbox]:
    with serve(port=0, dialect=request.param, seed=3, records=40, tenants=TENANTS) as running:
        yield running


@pytest.fixture(scope="module")
def client(tenant_sandbox) -> Client:
    return Client(tenant_sandbox)


def test_get_users_lists_every_tenant(tenant_sandbox, client):
    users = client.get("/users")["data"]
    by_id = {user["userId"]: user for user in users}
    fixtures = tenant_sandbox.fixtures
    assert {fixtures.user_id, fixtures.other_user_id} <= set(by_id)
    for tenant in fixtures.tenants:
        assert by_id[tenant.user_id]["username"] == tenant.username
    assert len(users) == 2 + TENANTS


def test_each_tenants_credentials_are_listed_per_connector(tenant_sandbox, client):
    for tenant in tenant_sandbox.fixtures.tenants:
        for connector, credential_id in tenant.credentials.items():
            listed = client.get(f"/connectors/{connector}/credentials", user_id=tenant.user_id)
            assert [c["credentialId"] for c in listed["credentials"]] == [credential_id]


def test_a_tenants_credentials_are_listed_under_the_user(tenant_sandbox, client):
    for tenant in tenant_sandbox.fixtures.tenants:
        listed = client.get(f"/users/{tenant.user_id}/credentials")["data"]
        assert {entry["connectorId"]: entry["credentialId"] for entry in listed} == (
            tenant.credentials
        )


@pytest.mark.parametrize("case", LIST_ACTIONS, ids=ACTION_IDS)
def test_each_credential_pages_through_its_own_records(tenant_sandbox, client, case):
    connector, action, *_ = case
    fixtures = tenant_sandbox.fixtures
    owners = [(fixtures.user_id, fixtures.credentials[connector])]
    owners += [(tenant.user_id, tenant.credentials[connector]) for tenant in fixtures.tenants]
    walked = {}
    for user_id, credential_id in owners:
        ids = client.walk(case, user_id, credential_id)
        expected = tenant_sandbox.expected_ids(connector, action, credential_id=credential_id)
        assert ids == expected
        assert len(ids) == tenant_sandbox.expected_count(
            connector, action, credential_id=credential_id
        )
        walked[credential_id] = ids
    every_id = [value for ids in walked.values() for value in ids]
    assert len(every_id) == len(set(every_id)), "two credentials served the same record id"
    tenant_sizes = {len(walked[credential]) for _, credential in owners[1:]}
    assert len(tenant_sizes) > 1, "every tenant credential serves the same number of records"


def test_exact_sizes_are_served_to_the_end():
    with serve(port=0, tenants=3, tenant_records=[0, 1, 23]) as sb:
        client = Client(sb)
        case = next(case for case in LIST_ACTIONS if case[1] == "list-invoices")
        walked = [
            client.walk(case, tenant.user_id, tenant.credentials["xero"])
            for tenant in sb.fixtures.tenants
        ]
    assert [len(ids) for ids in walked] == [0, 1, 23]


def test_a_record_is_found_by_id_only_through_its_own_credential(tenant_sandbox, client):
    first, second = tenant_sandbox.fixtures.tenants[:2]
    own = tenant_sandbox.expected_ids(
        "stripe", "list-charges", credential_id=first.credentials["stripe"]
    )
    found = client.execute(
        "stripe", "get-charges", first.user_id, first.credentials["stripe"], {"id": own[-1]}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body.get("data") or body.get("responseData"))["id"] == own[-1]
    elsewhere = client.execute(
        "stripe", "get-charges", second.user_id, second.credentials["stripe"], {"id": own[-1]}
    )
    assert elsewhere.status_code == 404


def test_a_cursor_of_one_credential_is_refused_by_another(tenant_sandbox, client):
    first, second = tenant_sandbox.fixtures.tenants[:2]
    page = client.execute(
        "notion", "list-pages", first.user_id, first.credentials["notion"], {"page_size": 1}
    )
    body = page.json()
    cursor = (body.get("data") or body.get("responseData"))["next_cursor"]
    assert cursor
    other = client.execute(
        "notion",
        "list-pages",
        second.user_id,
        second.credentials["notion"],
        {"start_cursor": cursor},
    )
    assert other.status_code == 400
    assert "start_cursor" in other.json()["message"]


def test_another_users_credential_is_refused(tenant_sandbox, client):
    fixtures = tenant_sandbox.fixtures
    first, second = fixtures.tenants[:2]
    attempts = [
        (first.user_id, second.credentials["box"]),
        (fixtures.user_id, first.credentials["box"]),
        (first.user_id, fixtures.credentials["box"]),
    ]
    for user_id, credential_id in attempts:
        response = client.execute("box", "list-files", user_id, credential_id, {"limit": 5})
        assert response.status_code == 403, response.text
        assert "another user" in response.json()["message"]


@pytest.mark.parametrize("dialect", ["seed", "live"])
def test_one_credential_over_its_rate_limit_gets_429_while_another_is_served(dialect):
    # 0.01 per second: a bucket of one request that takes 100 s to refill, so the counts
    # below hold however slow the machine is.
    with serve(port=0, dialect=dialect, tenants=2, credential_rate_limit=0.01) as sb:
        client = Client(sb)
        first, second = sb.fixtures.tenants
        statuses = []
        for _ in range(3):
            response = client.execute(
                "box", "list-files", first.user_id, first.credentials["box"], {"limit": 5}
            )
            statuses.append(response.status_code)
        assert statuses == [200, 429, 429]
        assert int(response.headers["Retry-After"]) >= 1
        assert first.credentials["box"] in response.json()["message"]
        other = client.execute(
            "box", "list-files", second.user_id, second.credentials["box"], {"limit": 5}
        )
        assert other.status_code == 200
        same_user = client.execute(
            "xero", "list-invoices", first.user_id, first.credentials["xero"], {}
        )
        assert same_user.status_code == 200
        assert client.get("/connectors")["connectors"], "the limit covers execute calls only"


def test_the_command_line_makes_tenants():
    key = "sk_sandbox_" + "c" * 32
    process = subprocess.Popen(
        [sys.executable, "-m", "alloy_data.sandbox", "--port", "0", "--api-key", key,
         "--tenants", "4", "--tenant-records", "6", "--credential-rate-limit", "0.01"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        users = session.get(f"{match.group(0)}/users", timeout=5).json()["data"]
        tenants = [user for user in users if user["username"].startswith("tenant-")]
        assert len(tenants) == 4
        credentials = session.get(
            f"{match.group(0)}/users/{tenants[0]['userId']}/credentials", timeout=5
        ).json()["data"]
        box = next(c["credentialId"] for c in credentials if c["connectorId"] == "box")
        url = f"{match.group(0)}/connectors/box/actions/list-files/execute"
        body = {"userId": tenants[0]["userId"], "credentialId": box, "parameters": {}}
        first = session.post(url, json=body, timeout=5)
        second = session.post(url, json=body, timeout=5)
        assert len(first.json()["data"]["entries"]) == 6
        assert second.status_code == 429
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()  # type: ignore[union-attr]
