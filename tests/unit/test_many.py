"""MultiPull without sockets: credentials of different shapes, unified, drift per credential."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from alloy_data.config import ClientConfig
from alloy_data.http import RetryPolicy
from alloy_data.many import MultiPull
from alloy_data.models import Action, ActionResult, Credential, User
from alloy_data.options import MANY_OPTION_NAMES, ManyOptions, PullOptions

RECORDS = {
    "cred_a": [{"id": 1, "amount": 5}, {"id": 2, "amount": 7, "note": "late"}],
    "cred_b": [{"id": 3, "amount": 2.5}],
}


class FakeActions:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get(self, connector_id: str, action_id: str, **_: Any) -> Action:
        return Action(action_id=action_id, parameters=())

    def rate_limits(self, credential_id: str) -> list[Any]:
        return []  # no answer of a fake tells a rate limit

    def execute(self, connector_id: str, action_id: str, *, credential_id: str, **_: Any):
        self.calls.append(credential_id)
        if credential_id not in RECORDS:
            from alloy_data.errors import NotFoundError

            raise NotFoundError("no such credential", status=404)
        return ActionResult.from_json({"success": True, "data": {"data": RECORDS[credential_id]}})


class FakeUsers:
    def list(self) -> list[User]:
        return [User(user_id="u1"), User(user_id="u2")]


class FakeCredentials:
    def list(self, connector_id: str, *, user_id: str) -> list[Credential]:
        owned = {"u1": ["cred_a"], "u2": ["cred_b"]}[user_id]
        return [Credential(credential_id=c, user_id=user_id) for c in owned]


class FakeClient:
    def __init__(self) -> None:
        self.actions = FakeActions()
        self.users = FakeUsers()
        self.credentials = FakeCredentials()
        self.config = ClientConfig.resolve(
            "sk_fake_0123456789", base_url="http://127.0.0.1:1", environ={}
        )
        self.retry_policy = RetryPolicy(max_retries=0)
        self.user_id = "u1"


def many(*, credentials: Any, **options: Any) -> MultiPull:
    """A MultiPull over a fake client, built as client.pull_many builds one."""
    many_options = ManyOptions(**{k: v for k, v in options.items() if k in MANY_OPTION_NAMES})
    pull_options = PullOptions(
        progress=False, **{k: v for k, v in options.items() if k not in MANY_OPTION_NAMES}
    )
    return MultiPull(
        FakeClient(),  # type: ignore[arg-type]
        "shop",
        "list-orders",
        credentials=credentials,
        options=pull_options,
        many=many_options,
    )


def test_credentials_of_different_shapes_become_one_table_with_drift_per_credential() -> None:
    job = many(credentials="all", workers=1)
    table = job.to_arrow()
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.schema.field("amount").type == pa.float64()
    assert table.column("note").to_pylist() == [None, "late", None]
    assert table.column("_user_id").to_pylist() == ["u1", "u1", "u2"]
    assert table.column("_credential_id").to_pylist() == ["cred_a", "cred_a", "cred_b"]
    assert job.stats.drift == {
        "cred_a": ["amount: int64 -> double"],
        "cred_b": ["note: absent"],
    }


def test_bare_credential_ids_belong_to_the_clients_user() -> None:
    job = many(credentials=["cred_b"])
    assert [(t.user_id, t.credential_id) for t in job.targets()] == [("u1", "cred_b")]


def test_a_failure_leaves_the_credential_out_and_records_it() -> None:
    job = many(credentials=["cred_a", "cred_x"])
    table = job.to_arrow()
    assert table.num_rows == 2
    (failure,) = job.stats.failures
    assert failure.credential_id == "cred_x"
    assert "no such credential" in str(failure)
    assert job.stats.failed == 1 and job.stats.done == 1


def test_records_carry_their_credential() -> None:
    records = list(many(credentials="all", workers=1).iter_records())
    assert [(r["id"], r["_credential_id"]) for r in records] == [
        (1, "cred_a"),
        (2, "cred_a"),
        (3, "cred_b"),
    ]


def test_nothing_is_fetched_until_asked() -> None:
    client = FakeClient()
    MultiPull(client, "shop", "list-orders", credentials="all")  # type: ignore[arg-type]
    assert client.actions.calls == []


@pytest.mark.parametrize("workers", [0, -2, 1.5, True])
def test_workers_must_be_a_positive_count(workers: Any) -> None:
    from alloy_data.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="workers"):
        many(credentials="all", workers=workers)


@pytest.mark.parametrize(
    ("workers", "chunk"), [(1, 2000), (8, 2000), (16, 1000), (50, 320), (200, 250)]
)
def test_many_pulls_in_flight_share_a_budget_of_records_in_conversion(
    workers: int, chunk: int
) -> None:
    job = many(credentials=[f"cred_{i}" for i in range(workers)], workers=workers)
    seen: set[int | None] = set()
    original = job.pull_for

    def spy(*args: Any, **kwargs: Any) -> Any:
        pull = original(*args, **kwargs)
        seen.add(pull.context.chunk_records)
        return pull

    job.pull_for = spy  # type: ignore[method-assign]
    job.to_arrow()
    assert seen == {chunk}
