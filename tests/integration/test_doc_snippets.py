"""Every code block of README.md and docs/ runs against the sandbox, or its names are checked.

The Python blocks of a page run in order in one fresh namespace, in a temporary working
directory, so later blocks use the names earlier ones made. A page whose examples assume a
name they do not define (``credential_id``, say) gets it from :data:`PRELUDES`. A block marked
``<!-- snippet: names-only (why) -->`` (it needs a real account, an object store or a Dask
cluster, or it is a fragment) is read instead: its imports, attributes, calls and keywords must
exist (see ``_doc_snippets.check_names``). SQL blocks run in DuckDB in the same directory.
Shell blocks are parsed by the command line's own parsers.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import alloy_data as ad
from alloy_data.cli import parse_args
from alloy_data.cli._main import _parser as cli_parser
from alloy_data.options import PULL_OPTION_NAMES
from alloy_data.pull import Pull
from alloy_data.sandbox import Sandbox
from alloy_data.sandbox.cli import build_parser as sandbox_parser
from tests.integration._doc_snippets import (
    MARKERS,
    ROOT,
    Block,
    check_names,
    doc_pages,
    read_blocks,
    shell_commands,
)

# What a page's examples use without defining: a credential of the connector the page is
# about, or a client for pages that start mid-way. Each is run before the page's first block,
# with the seeded sandbox's ``fixtures`` at hand (every sandbox of seed 0 has the same ids).
PRELUDES: dict[str, str] = {
    "docs/index.md": 'credential_id = fixtures.credentials["hubspot"]',
    "docs/export.md": 'credential_id = fixtures.credentials["shopify"]',
    "docs/incremental.md": 'credential_id = fixtures.credentials["shopify"]',
    "docs/store.md": 'credential_id = fixtures.credentials["shopify"]',
    "docs/pulling.md": (
        "import alloy_data as ad\n"
        "client = ad.connect()\n"
        'credential_id = fixtures.credentials["hubspot"]\n'
        'cid = fixtures.credentials["notion"]\n'
    ),
}

# Names a names-only fragment may use without defining: what the reader brings.
ASSUMED: dict[str, set[str]] = {
    # The signature's `path`, and "your own page source" of the writers' example.
    "docs/export.md": {"path", "pages"},
}

PYTHON_PAGES = [
    page for page in doc_pages() if any(b.language == "python" for b in read_blocks(page))
]
SHELL_LANGUAGES = ("bash", "console", "sh", "shell")


def _id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.fixture
def page_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own, and no real account: ``ad.connect()`` is the sandbox."""
    for name in ("ALLOY_API_KEY", "ALLOY_BASE_URL", "ALLOY_API_VERSION", "ALLOY_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALLOY_DATA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    """A page may set alloy-data's log level (the client guide shows how); put it back."""
    names = ["alloy_data", *[n for n in logging.root.manager.loggerDict if n.startswith("alloy")]]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def run_page(page: Path, fixtures: Any) -> list[tuple[Block, Any]]:
    """Run (or check) every block of a page in order; return each block with its result."""
    relative = _id(page)
    namespace: dict[str, Any] = {"__name__": "docs_" + page.stem}
    symbols: dict[str, Any] = {}  # what names-only blocks define, for later names-only blocks
    results: list[tuple[Block, Any]] = []
    if relative in PRELUDES:
        namespace["fixtures"] = fixtures
        exec(compile(PRELUDES[relative], f"<prelude of {relative}>", "exec"), namespace)
        del namespace["fixtures"]
    try:
        for block in read_blocks(page):
            if block.marker is not None and block.marker not in MARKERS:
                pytest.fail(f"{block.where}: unknown marker {block.marker!r}; use one of {MARKERS}")
            if block.language == "python" and block.marker == "names-only":
                assert block.reason, f"{block.where}: say why it cannot run: names-only (why)"
                problems, defined = check_names(
                    block.code, {**symbols, **namespace}, assumed=ASSUMED.get(relative, ())
                )
                assert not problems, f"{block.where}:\n" + "\n".join(problems)
                symbols.update({k: v for k, v in defined.items() if k not in namespace})
                results.append((block, None))
            elif block.language == "python":
                try:
                    with warnings.catch_warnings():
                        exec(compile(block.code, block.where, "exec"), namespace)
                except Exception as error:
                    raise AssertionError(
                        f"{block.where} fails: {type(error).__name__}: {error}"
                    ) from error
                results.append((block, None))
            elif block.language == "sql" and block.marker is None:
                relation = duckdb.sql(block.code)
                results.append((block, relation.fetchall() if relation is not None else None))
    finally:
        for value in namespace.values():
            if isinstance(value, ad.AlloyClient):
                value.close()
    return results


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_id)
def test_python_blocks_run_or_resolve(
    page: Path, page_directory: Path, restored_loggers: None, sandbox: Sandbox
) -> None:
    results = run_page(page, sandbox.fixtures)
    assert any(block.language == "python" for block, _ in results)


def test_most_blocks_run() -> None:
    blocks = [b for page in PYTHON_PAGES for b in read_blocks(page) if b.language == "python"]
    names_only = [b for b in blocks if b.marker == "names-only"]
    # Marking is for what cannot run here; a guide that drifted is fixed, not marked.
    assert len(names_only) * 4 < len(blocks), [b.where for b in names_only]


def _flags(parser: argparse.ArgumentParser, *commands: str | None) -> set[str]:
    """The option strings a (sub)command takes, spelt out: argparse would also take a prefix.
    ``commands`` go down subcommands (``store``, then ``drop``)."""
    for command in commands:
        if command is None:
            continue
        subparsers = [
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        ]
        if not subparsers or command not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[command]
    return {flag for action in parser._actions for flag in action.option_strings}


def _check_command(words: list[str], where: str) -> None:
    program, *args = words
    if program == "python" and args[:2] == ["-m", "alloy_data.sandbox"]:
        program, args = "sandbox", args[2:]
    elif program == "python" and args[:2] == ["-m", "alloy_data"]:
        program, args = "alloy-data", args[2:]
    if program == "alloy-data" and args[:1] == ["sandbox"]:
        program, args = "sandbox", args[1:]
    if program == "make":
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        for target in args:
            if not re.search(rf"^{re.escape(target)}:", makefile, re.M):
                pytest.fail(f"{where}: make {target}: no such target")
        return
    command: str | None = None
    if program == "alloy-data":
        parser, command = cli_parser(), args[0] if args else None
    elif program == "sandbox":
        parser = sandbox_parser()
    else:
        return  # pip, conda: not ours
    try:
        # The command line's own entry point for its commands; the sandbox's parser for its own.
        parse_args(args) if program == "alloy-data" else parser.parse_args(args)
    except SystemExit as exit_:
        pytest.fail(f"{where}: {' '.join(words)!r} is refused by the parser (exit {exit_.code})")
    known = _flags(parser, command) | _flags(parser, None)
    if program == "alloy-data" and len(args) > 1:
        known |= _flags(parser, command, args[1])  # a command's own subcommand: store drop
    for word in args:
        flag = word.split("=")[0]
        if flag.startswith("--") and flag not in known:
            pytest.fail(f"{where}: {flag} is not a flag of {program} {command or ''}".rstrip())


def test_shell_commands_exist(capsys: pytest.CaptureFixture[str]) -> None:
    checked = 0
    for page in doc_pages():
        for block in read_blocks(page):
            if block.language not in SHELL_LANGUAGES:
                continue
            for words in shell_commands(block.code):
                _check_command(words, block.where)
                checked += words[0] in ("alloy-data", "python", "make")
    assert checked >= 30, checked


@pytest.mark.parametrize(
    "words",
    [
        "alloy-data pull a b --credential c --out x.csv --max-recordz 5",
        "alloy-data pull a b --credential c --out x.csv --max-rec 5",  # a prefix argparse takes
        "alloy-data pulls a b",
        "alloy-data sandbox --ports 8080",
        "make docz",
    ],
)
def test_a_wrong_command_or_flag_is_caught(words: str) -> None:
    with pytest.raises(pytest.fail.Exception):
        _check_command(words.split(), "here")


def _fullest_call(page: str, name: str) -> ast.Call:
    """The call of ``name`` on a page that passes the most arguments: its signature block."""
    calls = [
        node
        for block in read_blocks(ROOT / page)
        if block.language == "python"
        for node in ast.walk(ast.parse(block.code))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == name
    ]
    assert calls, f"{page} has no call of {name}"
    return max(calls, key=lambda call: len(call.args) + len(call.keywords))


@pytest.mark.parametrize(
    ("page", "name", "function"),
    [
        ("docs/pulling.md", "client.pull", ad.AlloyClient.pull),
        ("docs/export.md", "pull.to_parquet", Pull.to_parquet),
        ("docs/client.md", "ad.AlloyClient", ad.AlloyClient.__init__),
    ],
    ids=["client.pull", "pull.to_parquet", "AlloyClient"],
)
def test_a_signature_block_shows_every_argument(page: str, name: str, function: Any) -> None:
    call = _fullest_call(page, name)
    parameters = [p for p in inspect.signature(function).parameters if p != "self"]
    shown = parameters[: len(call.args)] + [keyword.arg for keyword in call.keywords]
    assert sorted(map(str, shown)) == sorted(parameters)


def test_the_pull_signature_shows_every_pull_option() -> None:
    shown = {keyword.arg for keyword in _fullest_call("docs/pulling.md", "client.pull").keywords}
    assert set(PULL_OPTION_NAMES) <= shown


def test_the_operations_table_matches_the_signatures() -> None:
    guide = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `client\.(\w+)\.(\w+)\(([^`]*)\)` \|", guide, re.M)
    assert len(rows) >= 12
    wrong = []
    with ad.AlloyClient("sk_unused", base_url="http://127.0.0.1:9") as client:
        for namespace, method, shown in rows:
            signature = inspect.signature(getattr(getattr(client, namespace), method))
            names = [re.split(r"[=:]", part.strip())[0] for part in shown.split(",")]
            names = [name for name in names if name not in ("", "*", "...")]
            expected = list(signature.parameters)
            if not (set(names) <= set(expected) if "..." in shown else names == expected):
                wrong.append(f"client.{namespace}.{method}: shows {names}, takes {expected}")
    assert not wrong, "\n".join(wrong)


def test_a_renamed_keyword_or_method_is_caught() -> None:
    code = next(
        b.code for b in read_blocks(ROOT / "docs" / "pulling.md") if "max_records=None" in b.code
    )
    namespace: dict[str, Any] = {
        "client": ad.AlloyClient("sk_x", base_url="http://127.0.0.1:9"),
        "credential_id": "cred",
    }
    assert check_names(code, namespace)[0] == []
    problems, _ = check_names(code.replace("max_records=", "max_record="), namespace)
    assert any("max_record" in problem for problem in problems), problems
    problems, _ = check_names("client.credentials.lst('x', user_id='u')", namespace)
    assert any("'lst'" in problem for problem in problems), problems
    problems, _ = check_names("from alloy_data.export import read_metadta", namespace)
    assert problems


def test_the_provenance_query_gives_columns(page_directory: Path, sandbox: Sandbox) -> None:
    query = next(b.code for b in read_blocks(ROOT / "docs" / "export.md") if b.language == "sql")
    with ad.AlloyClient(sandbox.api_key, base_url=sandbox.url) as client:
        client.pull(
            "shopify",
            "list-orders",
            credential_id=sandbox.fixtures.credentials["shopify"],
            user_id=sandbox.fixtures.user_id,
            progress=False,
        ).to_parquet("orders.parquet")
    relation = duckdb.sql(query)
    assert relation is not None
    rows = relation.fetchall()
    assert len(rows) == 1, rows
    row = dict(zip(relation.columns, rows[0], strict=True))
    meta = ad.read_metadata("orders.parquet")
    assert row["connector"] == meta["connector"] == "shopify"
    assert row["action"] == meta["action"] == "list-orders"
    assert row["row_count"] == int(meta["row_count"]) > 0
