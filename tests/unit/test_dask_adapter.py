"""alloy_data.dask without a cluster: the masked spec, the missing extra, fitting partitions."""

from __future__ import annotations

import pickle
import sys

import pyarrow as pa
import pytest

import alloy_data as ad
from alloy_data import dask as alloy_dask
from alloy_data.config import ClientConfig
from alloy_data.many import CredentialTarget
from alloy_data.options import PullOptions

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
    assert alloy_dask._arrow_type("c", text) == expected


def job(schema: pa.Schema) -> alloy_dask._Job:
    return alloy_dask._Job(
        client=alloy_dask.ClientSpec.from_config(config()),
        connector_id="hubspot",
        action_id="list-contacts",
        options=PullOptions(),
        user_column="_user_id",
        credential_column="_credential_id",
        on_error="continue",
        schema=schema,
        schema_source="the first page of credential cred_a",
        dtype_backend="numpy_nullable",
    )


TARGET = CredentialTarget("usr_1", "cred_b")


def test_a_partition_is_fitted_to_the_columns_as_pages_of_one_pull_are() -> None:
    schema = pa.schema([("id", pa.string()), ("amount", pa.float64()), ("note", pa.string())])
    table = pa.table({"amount": pa.array([1, 2], pa.int64()), "id": ["a", "b"]})
    fitted = alloy_dask._fit(table, job(schema), TARGET)
    assert fitted.schema == schema
    assert fitted.to_pylist() == [
        {"id": "a", "amount": 1.0, "note": None},
        {"id": "b", "amount": 2.0, "note": None},
    ]
    # A number where text is expected becomes its JSON text, as pull_many widens it.
    texts = alloy_dask._fit(pa.table({"note": pa.array([5, None])}), job(schema), TARGET)
    assert texts.column("note").to_pylist() == ["5", None]
    assert alloy_dask._fit(None, job(schema), TARGET).schema == schema
    empty = pa.table({"other": pa.array([], pa.int64())})
    assert alloy_dask._fit(empty, job(schema), TARGET).num_rows == 0


def test_a_partition_that_does_not_fit_names_the_columns_and_the_fix() -> None:
    schema = pa.schema([("id", pa.string()), ("external_id", pa.int64())])
    table = pa.table({"id": ["a"], "external_id": ["x-1"], "late": [True]})
    with pytest.raises(ad.ConfigurationError) as raised:
        alloy_dask._fit(table, job(schema), TARGET)
    message = str(raised.value)
    assert "credential cred_b" in message
    assert "the first page of credential cred_a" in message
    assert "'external_id' is string here, int64 there" in message
    assert "'late' (bool) is not among them" in message
    assert "schema={'external_id': 'string', 'late': 'bool'}" in message


def test_no_credential_found_gives_one_empty_partition_with_the_tag_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("dask.dataframe")
    from alloy_data.many import MultiPull

    monkeypatch.setattr(MultiPull, "targets", lambda self: [])
    with ad.AlloyClient(KEY, base_url="http://127.0.0.1:9", max_retries=0) as client:
        ddf = alloy_dask.read_pull(client, "box", "list-files", credentials="all")
        expected = client.pull_many("box", "list-files", credentials="all").to_dataframe()
    assert ddf.npartitions == 1
    computed = ddf.compute(scheduler="sync")
    assert list(computed.columns) == list(expected.columns) == ["_user_id", "_credential_id"]
    assert list(computed.dtypes) == list(expected.dtypes)
    assert computed.empty
