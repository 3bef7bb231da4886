"""A catalogue of bad answers: each ends in a typed error that says what to do, or in the right
table, and a pull that fails part-way keeps what it fetched.

The answers come from a scripted Alloy API on loopback (the sandbox never answers this badly):
it describes one list action and answers each execute call with whatever the test scripts.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.http import RetryPolicy

Answer = tuple[int, str, bytes]
JSON = "application/json"
# An action that pages by cursor, so that scripts can answer page by page.
CURSOR_ACTION = {
    "actionId": "list-things",
    "parameters": [{"name": "cursor", "type": "string", "in": "query"}],
}


class ScriptedApi:
    """What the scripted server answers: the action's metadata, then the script's answers."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.action: dict[str, Any] = dict(CURSOR_ACTION)
        self.answer: Callable[[dict[str, Any]], Answer] = lambda _: (200, JSON, b'{"data": []}')
        self.executed: list[dict[str, Any]] = []


def _handler(api: ScriptedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(200, JSON, json.dumps(api.action).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            parameters = body.get("parameters") or {}
            api.executed.append(parameters)
            self._send(*api.answer(parameters))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ScriptedApi]]:
    api = ScriptedApi()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", api
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def api(server: tuple[str, ScriptedApi]) -> ScriptedApi:
    server[1].reset()
    return server[1]


@pytest.fixture
def client(server: tuple[str, ScriptedApi]) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient("sk_test_0123456789abcdef", base_url=server[0], trust_env=False) as made:
        # Short waits: a bad body may be retried, and these tests check what comes after.
        made._transport.retry_policy = RetryPolicy(
            max_retries=1, backoff_base=0.001, backoff_cap=0.001, retry_after_cap=0.01
        )
        yield made


def pull_of(client: ad.AlloyClient, **options: Any) -> ad.Pull:
    return client.pull("acme", "list-things", credential_id="cred_1", progress=False, **options)


def body(payload: Any) -> Answer:
    return 200, JSON, json.dumps(payload).encode()


def cursor_pages(*pages: bytes) -> Callable[[dict[str, Any]], Answer]:
    """Answers page ``n`` (from 0) when asked with ``cursor=n``; each page names the next."""

    def answer(parameters: dict[str, Any]) -> Answer:
        return 200, JSON, pages[int(parameters.get("cursor") or 0)]

    return answer


def page(records: bytes, number: int, last: int) -> bytes:
    following = b"null" if number == last else b'"%d"' % (number + 1)
    return b'{"data": [' + records + b'], "next_cursor": ' + following + b"}"


def plain_records(first: int, count: int) -> bytes:
    return b",".join(b'{"id": %d, "n": %d, "x": 1.5}' % (i, i) for i in range(first, first + count))


def pages_with_odd_record(odd: bytes, where: str) -> list[bytes]:
    """Four pages of 1,000 records; ``odd`` is the last record of page 1 or of page 4.

    The first ~2,000 records are converted from decoded records; later pages are read from
    their bytes by Arrow's JSON reader, which must refuse what it cannot read exactly.
    """
    pages = []
    for number in range(4):
        records = plain_records(number * 1000, 1000)
        if (where == "first-page" and number == 0) or (where == "later-page" and number == 3):
            records += b"," + odd
        pages.append(page(records, number, 3))
    return pages


def odd_row(table: pa.Table) -> dict[str, Any]:
    ids = table.column("id").to_pylist()
    row: dict[str, Any] = table.slice(ids.index(-1), 1).to_pylist()[0]
    return row


# -- records that are not what a table expects ------------------------------------------


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([1, 2, 3], {"value": [1, 2, 3]}),
        (["a", "b"], {"value": ["a", "b"]}),
        ([{"id": 1}, "x"], {"id": [1, None], "value": [None, "x"]}),
    ],
    ids=["numbers", "strings", "objects-and-strings"],
)
def test_records_that_are_not_objects(
    api: ScriptedApi, client: ad.AlloyClient, records: list[Any], expected: dict[str, list[Any]]
) -> None:
    api.answer = lambda _: body({"data": records})
    assert pull_of(client).to_arrow().to_pydict() == expected


def test_the_records_path_changes_between_pages(api: ScriptedApi, client: ad.AlloyClient) -> None:
    api.answer = cursor_pages(
        json.dumps({"data": [{"id": 1}], "next_cursor": "1"}).encode(),
        json.dumps({"items": [{"id": 2}], "next_cursor": "2"}).encode(),
        json.dumps({"results": {"rows": [{"id": 3}]}, "next_cursor": None}).encode(),
    )
    pull = pull_of(client)
    assert pull.to_arrow().to_pydict() == {"id": [1, 2, 3]}
    assert any("no longer at 'data'" in note for note in pull.stats.notes)


def test_a_page_without_records_adds_no_record(api: ScriptedApi, client: ad.AlloyClient) -> None:
    # Without its list, the whole answer could pass for one record: paging fields as columns.
    api.answer = cursor_pages(
        json.dumps({"data": [{"id": 1}], "next_cursor": "1"}).encode(),
        json.dumps({"next_cursor": "2", "message": "warming up"}).encode(),
        json.dumps({"data": [{"id": 3}], "next_cursor": None}).encode(),
    )
    pull = pull_of(client)
    assert pull.to_arrow().to_pydict() == {"id": [1, 3]}
    assert pull.stats.pages == 3
    assert any("counts as a page without records" in note for note in pull.stats.notes)


@pytest.mark.parametrize("where", ["first-page", "later-page"])
def test_duplicate_keys_keep_the_last_value(
    api: ScriptedApi, client: ad.AlloyClient, where: str
) -> None:
    api.answer = cursor_pages(*pages_with_odd_record(b'{"id": -1, "n": 1, "n": 2, "x": 0}', where))
    table = pull_of(client).to_arrow()
    assert table.num_rows == 4001
    assert table.column_names == ["id", "n", "x"]
    assert odd_row(table) == {"id": -1, "n": 2, "x": 0.0}


BIG_INTEGERS = [
    "18446744073709551615",  # 2**64 - 1: fits no int64
    "9223372036854775808",  # 2**63
    "-9223372036854775809",  # -2**63 - 1
    "1180591620717411303424",  # 2**70
    "123456789012345678901234567890",
]


@pytest.mark.parametrize("where", ["first-page", "later-page"])
def test_integers_beyond_64_bits_keep_every_digit(
    api: ScriptedApi, client: ad.AlloyClient, tmp_path: Path, where: str
) -> None:
    odd = b",".join(
        b'{"id": %d, "n": %s, "x": 0}' % (-1 - i, digits.encode())
        for i, digits in enumerate(BIG_INTEGERS)
    )
    api.answer = cursor_pages(*pages_with_odd_record(odd, where))
    pull = pull_of(client)
    table = pull.to_arrow()
    # The column becomes text, exact for every value, small ones included.
    assert table.schema.field("n").type == pa.string()
    n = dict(zip(table.column("id").to_pylist(), table.column("n").to_pylist(), strict=True))
    assert [n[-1 - i] for i in range(len(BIG_INTEGERS))] == BIG_INTEGERS
    assert [n[0], n[1], n[3999]] == ["0", "1", "3999"]
    frame = pull.to_dataframe().set_index("id")
    assert frame.loc[[-1 - i for i in range(len(BIG_INTEGERS))], "n"].tolist() == BIG_INTEGERS
    saved = pq.read_table(pull.to_parquet(tmp_path / "big.parquet")).to_pydict()
    assert dict(zip(saved["id"], saved["n"], strict=True)) == n


@pytest.mark.parametrize("where", ["first-page", "later-page"])
def test_nan_and_infinity(api: ScriptedApi, client: ad.AlloyClient, where: str) -> None:
    odd = b'{"id": -1, "n": 0, "x": NaN}, {"id": -2, "n": 0, "x": Infinity}, '
    odd += b'{"id": -3, "n": 0, "x": -Infinity}, {"id": -4, "n": 0, "x": null}'
    api.answer = cursor_pages(*pages_with_odd_record(odd, where))
    pull = pull_of(client)
    table = pull.to_arrow()
    ids = table.column("id").to_pylist()
    x = dict(zip(ids, table.column("x").to_pylist(), strict=True))
    assert math.isnan(x[-1])
    assert (x[-2], x[-3], x[-4]) == (math.inf, -math.inf, None)
    assert table.column("x").null_count == 1
    # pandas' Float64 reads NaN as missing; the pyarrow backend keeps it apart from null.
    frame = pull.to_dataframe(dtype_backend="pyarrow").set_index("id")
    assert frame.loc[[-1, -2, -3, -4], "x"].isna().tolist() == [False, False, False, True]
    assert frame["x"].dtype == "double[pyarrow]"


def test_invalid_utf8_in_a_body_keeps_the_pages_before_it(
    api: ScriptedApi, client: ad.AlloyClient
) -> None:
    api.answer = cursor_pages(
        page(plain_records(0, 10), 0, 2),
        page(plain_records(10, 10), 1, 2),
        page(b'{"id": 20, "n": 0, "name": "caf\xe9"}', 2, 2),
    )
    pull = pull_of(client)
    with pytest.raises(ad.ResponseError) as caught:
        pull.to_arrow()
    assert "is not UTF-8 text (byte " in str(caught.value)
    assert "b'\\xe9'" in str(caught.value)
    assert "narrow the pull" in str(caught.value)
    # The same answer would come back: it is not retried.
    assert not caught.value.transient
    assert caught.value.attempts == 1
    assert pull.stats.retries == 0
    assert pull.partial_arrow().column("id").to_pylist() == list(range(20))
    assert "20 records fetched before this are kept" in " ".join(caught.value.__notes__)


def test_an_escaped_lone_surrogate_keeps_its_escape(
    api: ScriptedApi, client: ad.AlloyClient
) -> None:
    # Valid JSON, but no Unicode text: UTF-8 (and so Arrow) cannot hold it as a character.
    api.answer = lambda _: (
        200,
        JSON,
        b'{"data": [{"id": 1, "name": "a\\ud800b", "ok": "\\u00e9"}]}',
    )
    assert pull_of(client).to_arrow().to_pylist() == [{"id": 1, "name": "a\\ud800b", "ok": "é"}]


def nested(depth: int, leaf: Any, key: str | None) -> Any:
    value = leaf
    for _ in range(depth):
        value = {key: value} if key else [value]
    return value


@pytest.mark.parametrize(
    ("depth", "key"),
    [(50, "k"), (50, None), (500, "k"), (500, None)],
    ids=["objects-50", "lists-50", "objects-500", "lists-500"],
)
def test_deep_nesting(
    api: ScriptedApi, client: ad.AlloyClient, depth: int, key: str | None
) -> None:
    deep = nested(depth, 7, key)
    api.answer = lambda _: body({"data": [{"id": 1, "deep": deep}]})
    row = pull_of(client).to_arrow().to_pylist()[0]
    if key is None:
        assert row == {"id": 1, "deep": deep}
    elif depth == 50:
        assert row == {"id": 1, "deep" + ".k" * 50: 7}
    else:
        # Flattened as far as 64 levels; what is deeper stays one column of JSON text.
        [(column, text)] = [(c, v) for c, v in row.items() if c != "id"]
        assert column == "deep" + ".k" * 63
        assert json.loads(text) == nested(depth - 63, 7, key)


@pytest.fixture(scope="module")
def big_page() -> bytes:
    """One answer of about 50 MB: 100,000 records of some 500 bytes."""
    record = '{"id": %d, "email": "c%d@example.com", "note": "' + "x" * 460 + '"}'
    records = ",".join(record % (i, i) for i in range(100_000))
    return ('{"data": [' + records + "]}").encode()


def test_a_50_mb_page(
    api: ScriptedApi, client: ad.AlloyClient, big_page: bytes, tmp_path: Path
) -> None:
    assert len(big_page) > 50_000_000
    api.answer = lambda _: (200, JSON, big_page)
    pull = pull_of(client)
    table = pull.to_arrow()
    assert table.column("id").to_pylist() == list(range(100_000))
    path = pull.to_parquet(tmp_path / "big.parquet")
    assert pq.read_metadata(path).num_rows == 100_000


def test_a_record_with_10000_keys(api: ScriptedApi, client: ad.AlloyClient, tmp_path: Path) -> None:
    record = {f"field_{i}": i for i in range(10_000)}
    api.answer = lambda _: body({"data": [record, record]})
    pull = pull_of(client)
    frame = pull.to_dataframe()
    assert frame.shape == (2, 10_000)
    assert frame["field_9999"].tolist() == [9999, 9999]
    path = pull.to_parquet(tmp_path / "wide.parquet")
    assert pq.read_table(path).to_pylist() == [record, record]


# -- paging that goes wrong -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "advice"),
    [
        ({"after": "abc", "count": 2}, "cursor_path='next_cursor.after'"),
        (["abc"], "paginator=fn(sent_parameters, result, records)"),
    ],
    ids=["object", "list"],
)
def test_a_cursor_that_is_not_text(
    api: ScriptedApi, client: ad.AlloyClient, cursor: Any, advice: str
) -> None:
    # It used to read as "no cursor": the pull ended after that page, saying nothing.
    api.answer = cursor_pages(
        json.dumps({"data": [{"id": 1}], "next_cursor": "1"}).encode(),
        json.dumps({"data": [{"id": 2}], "next_cursor": cursor}).encode(),
    )
    pull = pull_of(client)
    with pytest.raises(ad.PaginationError) as caught:
        pull.to_arrow()
    assert advice in str(caught.value)
    # The page that carried the cursor is as good as the one before it.
    assert pull.partial_arrow().to_pydict() == {"id": [1, 2]}


def test_a_next_link_without_query_parameters(api: ScriptedApi, client: ad.AlloyClient) -> None:
    api.action = {"actionId": "list-things", "parameters": []}
    links = {"1": "https://api.acme.test/things?page=2", "2": "https://api.acme.test/things/3"}

    def answer(parameters: dict[str, Any]) -> Answer:
        number = int(parameters.get("page") or 1)
        return body({"data": [{"id": number}], "next": links.get(str(number))})

    api.answer = answer
    pull = pull_of(client)
    with pytest.raises(ad.PaginationError) as caught:
        pull.to_arrow()
    assert "no query string" in str(caught.value)
    assert "FunctionPaginator" in str(caught.value)
    assert pull.partial_arrow().to_pydict() == {"id": [1, 2]}


@pytest.mark.parametrize(
    "odd_next",
    [3, {"rel": "next"}, ["https://api.acme.test/things?page=3"]],
    ids=["a-number", "an-object-without-href", "a-list"],
)
def test_a_next_field_that_is_not_a_link_stops_with_advice(
    api: ScriptedApi, client: ad.AlloyClient, odd_next: Any
) -> None:
    api.action = {"actionId": "list-things", "parameters": []}

    def answer(parameters: dict[str, Any]) -> Answer:
        number = int(parameters.get("page") or 1)
        following = "https://api.acme.test/things?page=2" if number == 1 else odd_next
        return body({"data": [{"id": number}], "next": following})

    api.answer = answer
    pull = pull_of(client)
    with pytest.raises(ad.PaginationError) as caught:
        pull.to_arrow()
    assert "is not a link to the next page" in str(caught.value)
    assert "paginator='page_number'" in str(caught.value)
    assert pull.partial_arrow().to_pydict() == {"id": [1, 2]}


OFFSET_ACTION = {
    "actionId": "list-things",
    "parameters": [
        {"name": "offset", "type": "integer"},
        {"name": "limit", "type": "integer", "maximum": 2},
    ],
}


@pytest.mark.parametrize(
    ("total", "records", "note"),
    [
        (10, 5, "total (10) disagrees with the 5 records"),
        (3, 7, "total (3) is below the 4 records received"),
        (-1, 5, None),
        ("many", 5, None),
    ],
    ids=["above-the-records", "below-the-records", "negative", "text"],
)
@pytest.mark.parametrize("concurrency", [1, "auto"], ids=["one-at-a-time", "side-by-side"])
def test_a_total_that_disagrees_with_the_records(
    api: ScriptedApi,
    client: ad.AlloyClient,
    total: Any,
    records: int,
    note: str | None,
    concurrency: Any,
) -> None:
    api.action = OFFSET_ACTION

    def answer(parameters: dict[str, Any]) -> Answer:
        start = int(parameters.get("offset") or 0)
        ids = list(range(start, min(start + int(parameters["limit"]), records)))
        return body({"data": [{"id": i} for i in ids], "total": total})

    api.answer = answer
    pull = pull_of(client, concurrency=concurrency)
    assert pull.to_arrow().column("id").to_pylist() == list(range(records))
    assert pull.stats.stop_reason == "end"
    if note is not None and concurrency == 1:
        assert any(note in text for text in pull.stats.notes), pull.stats.notes
    if note is not None and concurrency == "auto" and total < records:
        assert any("where the answer's total says" in text for text in pull.stats.notes)


def test_an_answer_that_says_it_failed_keeps_the_pages_before_it(
    api: ScriptedApi, client: ad.AlloyClient
) -> None:
    api.answer = cursor_pages(
        page(plain_records(0, 5), 0, 2),
        page(plain_records(5, 5), 1, 2),
        json.dumps({"success": False, "message": "token expired"}).encode(),
    )
    pull = pull_of(client)
    with pytest.raises(ad.BadRequestError) as caught:
        pull.to_arrow()
    assert "token expired" in str(caught.value)
    assert "check the parameters" in str(caught.value)
    assert pull.partial_dataframe()["id"].tolist() == list(range(10))


def test_an_answer_that_is_a_bare_list(api: ScriptedApi, client: ad.AlloyClient) -> None:
    api.answer = lambda _: body([{"id": 1}])
    with pytest.raises(ad.ResponseError) as caught:
        pull_of(client).to_arrow()
    assert "JSON list where a JSON object belongs" in str(caught.value)
    assert "base URL" in str(caught.value)


def test_an_export_that_meets_a_bad_answer_resumes(
    api: ScriptedApi, client: ad.AlloyClient, tmp_path: Path
) -> None:
    good = [page(plain_records(n * 1000, 1000), n, 3) for n in range(4)]
    broken = [*good[:3], b'{"data": [{"id": 1' + b"\xff" * 3 + b"}]}"]
    api.answer = cursor_pages(*broken)
    path = tmp_path / "things.parquet"
    with pytest.raises(ad.ResponseError) as caught:
        pull_of(client).to_parquet(path)
    assert not path.exists()
    notes = " ".join(caught.value.__notes__)
    assert "resume=True" in notes
    saved = int(notes.split(" records fetched")[0].split()[-1])
    assert 0 < saved <= 3000

    api.answer = cursor_pages(*good)
    resumed = pull_of(client)
    resumed.to_parquet(path, resume=True)
    assert pq.read_table(path).column("id").to_pylist() == list(range(4000))
    assert api.executed[-1] == {"cursor": "3"}
    assert resumed.stats.records == 4000


# A 200 that is not a page: a proxy's HTML page, or nothing at all


@pytest.mark.parametrize(
    ("content_type", "raw", "reason", "words"),
    [
        ("text/html", b"<html><body><h1>Down for maintenance</h1></body></html>",
         "body not JSON", "is not JSON"),
        ("application/json", b"", "body empty", "is empty"),
    ],
    ids=["html-200", "empty-200"],
)  # fmt: skip
@pytest.mark.parametrize("times", [1, 3], ids=["once", "every-attempt"])
def test_a_200_that_is_not_a_page_is_retried_then_reported(
    api: ScriptedApi,
    client: ad.AlloyClient,
    content_type: str,
    raw: bytes,
    reason: str,
    words: str,
    times: int,
) -> None:
    pages = [page(plain_records(i * 10, 10), i, 2) for i in range(3)]
    failures = {"left": times}

    def answer(parameters: dict[str, Any]) -> Answer:
        index = int(parameters.get("cursor") or 0)
        if index == 1 and failures["left"] > 0:
            failures["left"] -= 1
            return 200, content_type, raw
        return 200, JSON, pages[index]

    api.answer = answer
    pull = pull_of(client, retries=2)
    if times == 1:
        assert pull.to_arrow().column("id").to_pylist() == list(range(30))
        assert pull.stats.retry_reasons == {reason: 1}
        return
    with pytest.raises(ad.ResponseError) as caught:
        pull.to_arrow()
    assert words in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert caught.value.attempts == 3
    assert pull.stats.retry_reasons == {reason: 2}
    assert pull.partial_arrow().column("id").to_pylist() == list(range(10))
