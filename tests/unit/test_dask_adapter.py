"""alloy_data.dask without a cluster: the masked spec, the missing extra, the options handed
down, the columns unified as pull_many unifies them."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import pyarrow as pa
import pytest

import alloy_data as ad
from alloy_data import dask as alloy_dask
from alloy_data.config import ClientConfig
from alloy_data.dask import _columns, _read, _task
from alloy_data.frames import TableBuilder
from alloy_data.many import CredentialTarget
from alloy_data.options import MANY_OPTION_NAMES, PULL_OPTION_NAMES, ManyOptions, PullOptions

KEY = "sk_test_" + "dask0123" * 4  # 40 characters, made up


def config() -> ClientConfig:
    return ClientConfig.resolve(
        KEY, base_url="http://127.0.0.1:9", user_id="usr_1", timeout=7, trust_env=False
    )


def test_a_masked_secret_never_shows_its_value() -> None:
    secret = alloy_dask.MaskedSecret(KEY)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert KEY not in text
    assert str(secret) == "sk_t…(40 chars)"
    assert secret.reveal() == KEY
    copy = pickle.loads(pickle.dumps(secret))
    assert copy == secret and copy.reveal() == KEY and hash(copy) == hash(secret)
    assert copy != alloy_dask.MaskedSecret(KEY + "x")
    with pytest.raises(ad.ConfigurationError):
        alloy_dask.MaskedSecret("")


def test_the_graph_token_of_a_secret_is_stable_and_says_nothing_of_it() -> None:
    tokenize = pytest.importorskip("dask.base").tokenize
    secret = alloy_dask.MaskedSecret(KEY)
    assert tokenize(secret) == tokenize(alloy_dask.MaskedSecret(KEY))
    assert tokenize(secret) != tokenize(alloy_dask.MaskedSecret(KEY[:-1] + "0"))
    import hashlib

    # Not a plain hash of the key, which would let anyone confirm a guess.
    assert hashlib.sha256(KEY.encode()).hexdigest() not in secret.__dask_tokenize__()
    assert KEY not in tokenize(secret)


def test_a_client_spec_builds_the_same_client_and_masks_the_key() -> None:
    spec = alloy_dask.ClientSpec.from_config(config())
    assert KEY not in repr(spec) and KEY not in str(spec)
    assert "MaskedSecret('sk_t…(40 chars)')" in repr(spec)
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    with copy.connect() as client:
        assert client.config == config()


def test_without_dask_it_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("dask", "dask.dataframe"):
        monkeypatch.setitem(sys.modules, name, None)  # what Python does for a missing module
    # Nothing listens on port 9: the error must come before any request.
    with ad.AlloyClient(KEY, base_url="http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ad.ConfigurationError, match=r"pip install 'alloy-data\[dask\]'"):
            alloy_dask.read_pull(client, "box", "list-files", credentials=["cred_1"])
        many = client.pull_many("box", "list-files", credentials=["cred_1"])
        with pytest.raises(ad.ConfigurationError, match=r"alloy-data\[dask\]"):
            alloy_dask.from_pull_many(many)


def test_wrong_arguments_are_refused_before_anything_is_fetched() -> None:
    pytest.importorskip("dask.dataframe")
    with ad.AlloyClient(KEY, base_url="http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ad.ConfigurationError, match="AlloyClient or its ClientConfig"):
            alloy_dask.read_pull("key", "box", "list-files", credentials=["c"])  # type: ignore[arg-type]
        with pytest.raises(ad.ConfigurationError, match="page_size"):
            alloy_dask.read_pull(client, "box", "list-files", credentials=["c"], page_size=0)
        with pytest.raises(ad.ConfigurationError, match="credentials"):
            alloy_dask.read_pull(client, "box", "list-files", credentials="some")  # type: ignore[arg-type]
        with pytest.raises(ad.ConfigurationError, match="schema"):
            alloy_dask.read_pull(
                client, "box", "list-files", credentials=["c"], schema={"id": "integer-ish"}
            )
        with pytest.raises(ad.ConfigurationError, match="dtype_backend"):
            alloy_dask.read_pull(
                client,
                "box",
                "list-files",
                credentials=["c"],
                dtype_backend="arrow",  # type: ignore[arg-type]
            )
        with pytest.raises(ad.ConfigurationError, match="MultiPull"):
            alloy_dask.from_pull_many(client)  # type: ignore[arg-type]


def test_a_progress_function_is_refused_before_anything_is_fetched() -> None:
    pytest.importorskip("dask.dataframe")
    with ad.AlloyClient(KEY, base_url="http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ad.ConfigurationError, match="progress cannot be a function on Dask"):
            alloy_dask.read_pull(
                client, "box", "list-files", credentials=["c"], progress=lambda update: None
            )
        many = client.pull_many("box", "list-files", credentials=["c"], progress=print)
        with pytest.raises(ad.ConfigurationError, match="progress=True"):
            alloy_dask.from_pull_many(many)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string", pa.string()),
        ("int64", pa.int64()),
        ("double", pa.float64()),
        ("bool", pa.bool_()),
        ("timestamp[us, tz=UTC]", pa.timestamp("us", tz="UTC")),
        ("timestamp[ms]", pa.timestamp("ms")),
        (pa.list_(pa.string()), pa.list_(pa.string())),
    ],
)
def test_column_types_by_name_or_pyarrow_type(text: object, expected: pa.DataType) -> None:
    assert _columns.arrow_type("c", text) == expected


TAGS = ("_user_id", "_credential_id")


def tagged(credential: str, columns: dict[str, Any], *, batches: bool = True) -> pa.Table:
    rows = len(next(iter(columns.values()))) if columns else 0
    tags = {
        "_user_id": pa.array(["usr_1"] * rows, pa.string()),
        "_credential_id": pa.array([credential] * rows, pa.string()),
    }
    table = pa.table({**columns, **tags})
    if batches and not table.to_batches():
        # as a pull that fetched an empty page gives it
        table = pa.Table.from_batches([pa.RecordBatch.from_pylist([], schema=table.schema)])
    return table


def shape(credential: str, table: pa.Table | None) -> _columns.CredentialShape:
    return _task.shape_of(_task.Pulled(CredentialTarget("usr_1", credential), table))


def pull_many_schema(tables: list[pa.Table]) -> pa.Schema:
    """What MultiPull.to_arrow does with the credentials' tables."""
    batches = [batch for table in tables for batch in table.to_batches()]
    return TableBuilder().to_table(batches).schema if batches else tables[0].schema


@pytest.mark.parametrize(
    "tables",
    [
        # a column only the second credential has, after the tag columns as pull_many puts it
        [
            tagged("a", {"id": pa.array(["1"]), "n": pa.array([1])}),
            tagged("b", {"id": pa.array(["2"]), "late": pa.array([True]), "n": pa.array([2.5])}),
        ],
        # a type that differs: widened to text
        [
            tagged("a", {"ext": pa.array([1, 2])}),
            tagged("b", {"ext": pa.array(["EXT-1"])}),
        ],
        # a column null in every row stays null; an object's null parent goes
        [
            tagged("a", {"x": pa.nulls(2), "c": pa.nulls(2)}),
            tagged("b", {"c.d": pa.array([1]), "x": pa.nulls(1)}),
        ],
        # no rows anywhere: a null column becomes text
        [tagged("a", {"x": pa.nulls(0)}), tagged("b", {"y": pa.array([], pa.int64())})],
        # no rows and no batches: the first credential's columns as they are
        [
            tagged("a", {"x": pa.nulls(0)}, batches=False),
            tagged("b", {"y": pa.array([], pa.int64())}, batches=False),
        ],
    ],
    ids=["late-column", "widened", "nulls", "no-rows", "no-batches"],
)
def test_the_columns_are_those_pull_many_unifies(tables: list[pa.Table]) -> None:
    shapes = [shape(f"cred_{i}", table) for i, table in enumerate(tables)]
    unified = _columns.unified_schema(shapes, TAGS)
    assert unified == pull_many_schema(tables)
    # every partition fits them, and holds its own rows
    for table in tables:
        frame = _task.partition(
            _task.Pulled(CredentialTarget("usr_1", "c"), table), unified, "numpy_nullable"
        )
        assert list(frame.columns) == unified.names
        assert len(frame) == table.num_rows


def test_failed_credentials_count_for_nothing_and_none_left_gives_the_tags() -> None:
    good = tagged("a", {"id": pa.array(["1"])})
    shapes = [shape("failed", None), shape("a", good)]
    assert _columns.unified_schema(shapes, TAGS) == pull_many_schema([good])
    assert _columns.unified_schema([shape("failed", None)], TAGS).names == list(TAGS)
    empty = _task.partition(
        _task.Pulled(CredentialTarget("usr_1", "failed"), None, failure="boom"),
        pull_many_schema([good]),
        "pyarrow",
    )
    assert empty.empty and list(empty.columns) == ["id", *TAGS]


def test_a_schema_of_your_own_overrides_or_replaces_the_unified_columns() -> None:
    unified = pa.schema([("id", pa.string()), ("n", pa.int64()), *[(t, pa.string()) for t in TAGS]])
    option = _columns.schema_option({"n": "double", "extra": "bool"})
    assert _columns.target_schema(unified, option, TAGS) == pa.schema(
        [
            ("id", pa.string()),
            ("n", pa.float64()),
            *[(t, pa.string()) for t in TAGS],
            ("extra", pa.bool_()),
        ]
    )
    full = _columns.schema_option(pa.schema([("n", pa.float64()), ("_user_id", pa.int64())]))
    assert _columns.target_schema(unified, full, TAGS).names == ["n", *TAGS]
    assert _columns.target_schema(unified, None, TAGS) is unified


def test_records_that_do_not_fit_your_schema_name_the_columns_and_the_fix() -> None:
    schema = pa.schema(
        [("id", pa.string()), ("external_id", pa.int64()), *[(t, pa.string()) for t in TAGS]]
    )
    table = tagged("cred_b", {"id": ["a"], "external_id": ["x-1"], "late": [True]})
    with pytest.raises(ad.ConfigurationError) as raised:
        _columns.check_fit(shape("cred_b", table), schema, where="hubspot list-contacts", tags=TAGS)
    message = str(raised.value)
    assert "hubspot list-contacts, credential cred_b" in message
    assert "'external_id' is string here, int64 there" in message
    assert "'late' (bool) is not among them" in message
    assert "schema={'external_id': 'string', 'late': 'bool'}" in message
    # narrower types fit, and are widened as pull_many widens them
    fits = tagged("cred_c", {"external_id": pa.array([5]), "id": pa.array([7])})
    _columns.check_fit(shape("cred_c", fits), schema, where="-", tags=TAGS)
    frame = _task.partition(_task.Pulled(CredentialTarget("u", "cred_c"), fits), schema, "pyarrow")
    assert frame["id"].tolist() == ["7"]


@pytest.mark.parametrize("entry", ["read_pull", "read_tables"])
def test_every_option_is_built_once_and_handed_down_to_the_pulls(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    pytest.importorskip("dask.dataframe")
    import dask

    from tests.unit.test_options import NOT_DEFAULT

    jobs: list[_task.Job] = []

    def fake_pull(target: CredentialTarget, job: _task.Job, lease: Any = None) -> _task.Pulled:
        jobs.append(job)
        return _task.Pulled(target, pa.table({"id": ["1"], "user": ["u"], "credential": ["c"]}))

    monkeypatch.setattr(_read, "pull_credential", fake_pull)
    rebuilt: list[PullOptions] = []
    original = PullOptions.__post_init__

    def counting(self: PullOptions) -> None:
        rebuilt.append(self)
        original(self)

    monkeypatch.setattr(PullOptions, "__post_init__", counting)
    pull_values = {name: NOT_DEFAULT[name] for name in PULL_OPTION_NAMES}
    many_values = {name: NOT_DEFAULT[name] for name in MANY_OPTION_NAMES}
    with (
        ad.AlloyClient(KEY, base_url="http://127.0.0.1:9", max_retries=0) as client,
        dask.config.set(scheduler="sync"),
    ):
        read = getattr(alloy_dask, entry)
        got = read(
            client, "box", "list-files", credentials=["c1", "c2"], **pull_values, **many_values
        )
    ddf = got if entry == "read_pull" else got["files"]
    assert len(rebuilt) == 1  # built once, never rebuilt on the way down
    assert [job.options for job in jobs] == [PullOptions(**pull_values)] * 2
    assert jobs[0].options is jobs[1].options
    many = ManyOptions(**many_values)
    assert (jobs[0].user_column, jobs[0].credential_column, jobs[0].on_error) == (
        many.user_column,
        many.credential_column,
        many.on_error,
    )
    # workers=3 lets both credentials run at once: each gets half of the total rate
    assert many.max_total_requests_per_second is not None
    assert jobs[0].requests_per_second == many.max_total_requests_per_second / 2
    assert list(ddf.columns) == ["id", "user", "credential"]
