"""The alloy-data command line, run in-process and as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.cli import COMMANDS, OPTION_FLAGS, main, parse_params, parse_storage_options
from alloy_data.export import CACHE_DIR_ENV
from alloy_data.sandbox import serve
from tests.integration._s3 import BUCKET, SECRET, options_for, start_moto

DOCS = Path(__file__).resolve().parents[2] / "docs"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def api_args(sandbox) -> list[str]:
    return [
        "--base-url",
        sandbox.url,
        "--api-key",
        sandbox.api_key,
        "--user",
        sandbox.fixtures.user_id,
    ]


def test_connectors_table_and_json(capsys, sandbox):
    code, out, _ = run(capsys, "connectors", *api_args(sandbox))
    assert code == 0
    assert re.search(r"^shopify\s+Shopify\s+E-Commerce$", out, re.MULTILINE)
    code, out, _ = run(capsys, "connectors", "--category", "CRM", "--json", *api_args(sandbox))
    rows = json.loads(out)
    assert code == 0 and rows and {r["category"] for r in rows} == {"CRM"}


def test_resources_show_resolved_action_ids(capsys, sandbox):
    code, out, _ = run(capsys, "resources", "shopify", "--json", *api_args(sandbox))
    rows = {r["resource"]: r["actions"].split() for r in json.loads(out)}
    assert code == 0 and "list-orders" in rows["orders"]


def test_action_shows_parameters(capsys, sandbox):
    code, out, _ = run(capsys, "action", "stripe", "list-charges", *api_args(sandbox))
    assert code == 0
    # The maximum is read from the description's words ("between 1 and 100").
    assert re.search(r"^limit\s+integer\s+100\s+A limit on the number", out, re.MULTILINE)


def test_credentials_and_users(capsys, sandbox):
    code, out, _ = run(capsys, "credentials", "stripe", "--json", *api_args(sandbox))
    ids = [r["credential"] for r in json.loads(out)]
    assert code == 0 and sandbox.fixtures.credentials["stripe"] in ids
    code, out, _ = run(capsys, "users", "--create", "cli-user", "--json", *api_args(sandbox))
    created = json.loads(out)[0]
    assert code == 0 and created["username"] == "cli-user"
    code, out, _ = run(capsys, "users", "--json", *api_args(sandbox))
    assert created["user"] in [r["user"] for r in json.loads(out)]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_pull_writes_each_format(capsys, sandbox, tmp_path, suffix):
    out_file = tmp_path / f"charges{suffix}"
    code, out, err = run(
        capsys,
        "pull",
        "stripe",
        "list-charges",
        "--credential",
        sandbox.fixtures.credentials["stripe"],
        "--out",
        str(out_file),
        "--max-records",
        "250",
        *api_args(sandbox),
    )
    assert code == 0, err
    assert "wrote 250 records" in out
    frame = duckdb.sql(f"select id from '{out_file}'").df()
    assert len(frame) == 250 and frame["id"].is_unique
    assert sandbox.api_key not in out + err


def test_pull_progress_bar_goes_to_stderr(capsys, sandbox, tmp_path):
    out_file = tmp_path / "contacts.parquet"
    code, out, err = run(
        capsys,
        "pull",
        "hubspot",
        "list-contacts",
        "--credential",
        sandbox.fixtures.credentials["hubspot"],
        "--out",
        str(out_file),
        *api_args(sandbox),
    )
    assert code == 0
    assert "hubspot list-contacts" in err and "hubspot list-contacts" not in out
    assert (
        pq.read_metadata(out_file).num_rows == sandbox.api.listings[("hubspot", "contacts")].total
    )


def test_pull_refuses_to_overwrite_then_overwrites(capsys, sandbox, tmp_path):
    out_file = tmp_path / "files.csv"
    args = [
        "pull",
        "box",
        "list-files",
        "--credential",
        sandbox.fixtures.credentials["box"],
        "--out",
        str(out_file),
        "--no-progress",
        *api_args(sandbox),
    ]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.count("\n") == 1 and "overwrite" in err
    assert run(capsys, *args, "--overwrite")[0] == 0
    assert len(pd.read_csv(out_file)) == sandbox.api.listings[("box", "files")].total


def test_errors_are_one_line_without_traceback(capsys, sandbox):
    code, out, err = run(capsys, "resources", "nosuchapp", *api_args(sandbox))
    assert code == 1 and out == ""
    assert err.startswith("alloy-data: error:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys, sandbox):
    with pytest.raises(Exception, match="nosuchapp"):
        main(["resources", "nosuchapp", "--debug", *api_args(sandbox)])


def test_missing_key_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("ALLOY_API_KEY", raising=False)
    code, _, err = run(capsys, "connectors")
    assert code == 2 and "ALLOY_API_KEY" in err


def test_pull_without_credential_says_how_to_find_one(capsys, sandbox, tmp_path):
    code, _, err = run(
        capsys,
        "pull",
        "stripe",
        "list-charges",
        "--out",
        str(tmp_path / "x.parquet"),
        *api_args(sandbox),
    )
    assert code == 2 and "alloy-data credentials stripe" in err


def test_embedded_sandbox_option(capsys, tmp_path):
    out_file = tmp_path / "orders.jsonl"
    code, _out, err = run(
        capsys,
        "pull",
        "shopify",
        "list-orders",
        "--sandbox",
        "--out",
        str(out_file),
        "--max-records",
        "120",
        "--no-progress",
    )
    assert code == 0, err
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 120 and json.loads(lines[0])["id"]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["a=1"], {"a": 1}),
        (["name=Zoë"], {"name": "Zoë"}),
        (['tags=["x","y"]'], {"tags": ["x", "y"]}),
        (["flag=true", "q=a=b"], {"flag": True, "q": "a=b"}),
    ],
    ids=["int", "unicode", "json-list", "bool-and-equals"],
)
def test_parse_params(pairs, expected):
    assert parse_params(pairs) == expected


def test_parse_params_refuses_pairs_without_equals(capsys):
    code, _, err = run(capsys, "pull", "a", "b", "--sandbox", "--param", "oops", "--out", "x.csv")
    assert code == 2 and "KEY=VALUE" in err


def test_console_script_runs_as_a_subprocess(sandbox):
    result = subprocess.run(
        [sys.executable, "-m", "alloy_data", "connectors", "--json", *api_args(sandbox)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert any(row["connector"] == "hubspot" for row in json.loads(result.stdout))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_documented(command):
    guide = (DOCS / "cli.md").read_text(encoding="utf-8")
    reference = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert f"## {command}" in guide
    assert f"alloy-data {command}" in reference


def test_every_documented_command_exists():
    guide = (DOCS / "cli.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (\S+)$", guide, re.MULTILINE))
    assert documented == set(COMMANDS)


def test_sandbox_command_serves_until_stopped():
    process = subprocess.Popen(
        [sys.executable, "-m", "alloy_data", "sandbox", "--port", "0", "--records", "stripe=12"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        key = line.rsplit(" ", 1)[-1].strip()
        code = main(["connectors", "--json", "--base-url", url, "--api-key", key])
        assert code == 0
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
        process.stdout.close()


def test_pull_all_credentials_into_one_dataset(capsys, sandbox, tmp_path):
    target = tmp_path / "contacts"
    code, out, _ = run(
        capsys,
        "pull",
        "hubspot",
        "list-contacts",
        "--all-credentials",
        "--no-progress",
        "--json",
        "--out",
        str(target),
        *api_args(sandbox),
    )
    assert code == 0
    summary = json.loads(out)[0]
    assert (summary["credentials"], summary["failed"]) == (2, 0)
    assert (target / "_SUCCESS").exists()
    frame = pd.read_parquet(target)
    assert len(frame) == summary["records"]
    assert set(frame["_credential_id"]) == {
        sandbox.fixtures.credentials["hubspot"],
        sandbox.fixtures.other_credentials["hubspot"],
    }


def test_pull_several_credentials_with_one_failing_exits_3(capsys, sandbox, tmp_path):
    code, _, err = run(
        capsys,
        "pull",
        "stripe",
        "list-charges",
        "--credential",
        sandbox.fixtures.credentials["stripe"],
        "--credential",
        "cred_nope",
        "--no-progress",
        "--out",
        str(tmp_path / "charges"),
        *api_args(sandbox),
    )
    assert code == 3
    assert "credential failed: cred_nope" in err
    assert len(list((tmp_path / "charges").glob("part-*.parquet"))) == 1


def test_pull_with_both_credential_options_is_a_usage_error(capsys, sandbox, tmp_path):
    code, _, err = run(
        capsys,
        "pull",
        "stripe",
        "list-charges",
        "--credential",
        "c1",
        "--all-credentials",
        "--out",
        str(tmp_path / "x.csv"),
        *api_args(sandbox),
    )
    assert code == 2
    assert "not both" in err


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {}),
        (["key=AKIA", "secret=s/3+cr=t"], {"key": "AKIA", "secret": "s/3+cr=t"}),
        (
            ["anon=true", "default_block_size=5242880"],
            {"anon": True, "default_block_size": 5242880},
        ),
        (
            ["client_kwargs.endpoint_url=http://127.0.0.1:9000", "client_kwargs.region_name=eu"],
            {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu"}},
        ),
        (
            ['config_kwargs={"retries": {"max_attempts": 1}}', "config_kwargs.connect_timeout=2"],
            {"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}},
        ),
        (['secret="12345"', "token=12345"], {"secret": "12345", "token": 12345}),
        (["region=eu", "region=us"], {"region": "us"}),
    ],
    ids=["none", "text", "json", "nested", "json-then-nested", "quoted", "later-wins"],
)
def test_parse_storage_options(pairs, expected):
    assert parse_storage_options(pairs) == expected


@pytest.mark.parametrize(
    "pairs",
    [["hunter2-secret-value"], ["=hunter2-secret-value"], ["a..b=hunter2-secret-value"],
     ["a=hunter2-secret-value", "a.b=hunter2-secret-value"]],
    ids=["no-equals", "no-key", "empty-part", "value-and-group"],
)  # fmt: skip
def test_bad_storage_options_are_usage_errors_that_hide_the_value(capsys, pairs, tmp_path):
    flags = [arg for pair in pairs for arg in ("--storage-option", pair)]
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--sandbox", *flags,
        "--out", f"s3://{BUCKET}/x.parquet",
    )  # fmt: skip
    assert code == 2 and "--storage-option" in err
    assert "hunter2-secret-value" not in out + err


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    server, endpoint = start_moto()
    try:
        options = options_for(endpoint)
        fsspec.filesystem("s3", skip_instance_cache=True, **options).makedirs(BUCKET, exist_ok=True)
        yield options
    finally:
        server.stop()


KEY_ID = "AKIA-cli-test-key-id"  # moto takes any key id; this one must not be echoed either


def storage_flags(options: dict[str, Any]) -> list[str]:
    endpoint = options["client_kwargs"]["endpoint_url"]
    pairs = [
        f"key={KEY_ID}",
        f"secret={options['secret']}",
        f"client_kwargs.endpoint_url={endpoint}",
        "client_kwargs.region_name=eu-west-1",
        'config_kwargs={"retries": {"max_attempts": 1}}',
    ]
    return [arg for pair in pairs for arg in ("--storage-option", pair)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_pull_to_s3_with_storage_options(capsys, sandbox, s3, cache):
    url = f"s3://{BUCKET}/cli/contacts.parquet"
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--json", "--out", url, *storage_flags(s3),
        "--credential", sandbox.fixtures.credentials["hubspot"], *api_args(sandbox),
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)[0]
    assert summary["file"] == url and summary["bytes"] is None
    assert len(pd.read_parquet(url, storage_options=s3)) == summary["records"] > 0
    assert SECRET not in out + err
    # The object is there now: refused without --overwrite, and the error hides the secret.
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--out", url, *storage_flags(s3),
        "--credential", sandbox.fixtures.credentials["hubspot"], *api_args(sandbox),
    )  # fmt: skip
    assert code == 1 and "overwrite" in err
    assert SECRET not in out + err and KEY_ID not in out + err


def test_pull_all_credentials_to_an_s3_prefix(capsys, sandbox, s3, cache):
    url = f"s3://{BUCKET}/cli/all-contacts/"
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--all-credentials", "--no-progress",
        "--out", url, *storage_flags(s3), *api_args(sandbox),
    )  # fmt: skip
    assert code == 0, err
    assert f"to {url} in" in out
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **s3)
    assert fs.exists(f"{BUCKET}/cli/all-contacts/_SUCCESS")
    frame = pd.read_parquet(url, storage_options=s3)
    assert set(frame["_credential_id"]) == {
        sandbox.fixtures.credentials["hubspot"],
        sandbox.fixtures.other_credentials["hubspot"],
    }
    assert SECRET not in out + err


def test_a_storage_error_on_the_command_line_hides_every_value(capsys, sandbox, s3, cache):
    # No such bucket: the library's message, with the filesystem's text in it, goes to stderr.
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--out", "s3://no-such-bucket/x.parquet",
        *storage_flags(s3), "--credential", sandbox.fixtures.credentials["hubspot"],
        *api_args(sandbox),
    )  # fmt: skip
    assert code == 1 and "does not exist" in err
    assert SECRET not in out + err


def test_storage_options_with_a_local_out_are_a_usage_error(capsys, sandbox, tmp_path):
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--sandbox", "--out",
        str(tmp_path / "x.parquet"), "--storage-option", f"secret={SECRET}",
    )  # fmt: skip
    assert code == 2 and "local path" in err
    assert SECRET not in out + err


def test_debug_logs_to_s3_show_no_storage_credentials(sandbox, s3, tmp_path):
    url = f"s3://{BUCKET}/cli/debug.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "alloy_data", "pull", "hubspot", "list-contacts", "--debug",
         "--no-progress", "--max-records", "20", "--out", url, *storage_flags(s3),
         "--credential", sandbox.fixtures.credentials["hubspot"], *api_args(sandbox)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, CACHE_DIR_ENV: str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alloy_data.http" in result.stderr  # the request log is shown
    for secret in (SECRET, KEY_ID, sandbox.api_key):
        assert secret not in result.stdout + result.stderr
    assert len(pd.read_parquet(url, storage_options=s3)) == 20


@pytest.mark.parametrize(("choice", "kind"), [("auto", "timestamp[us, tz=UTC]"), ("off", "int64")])
def test_pull_timestamps_option_decides_stripe_s_created(capsys, sandbox, tmp_path, choice, kind):
    out_file = tmp_path / "charges.parquet"
    code, _, err = run(
        capsys,
        "pull",
        "stripe",
        "list-charges",
        "--credential",
        sandbox.fixtures.credentials["stripe"],
        "--out",
        str(out_file),
        "--max-records",
        "50",
        "--timestamps",
        choice,
        "--no-progress",
        *api_args(sandbox),
    )
    assert code == 0, err
    assert str(pq.read_schema(out_file).field("created").type) == kind


def test_pull_many_stops_at_the_first_failure_with_one_worker_and_on_error_raise(
    capsys, sandbox, tmp_path
):
    target = tmp_path / "charges"
    code, _, err = run(
        capsys, "pull", "stripe", "list-charges", "--credential", "cred_nope",
        "--credential", sandbox.fixtures.credentials["stripe"], "--workers", "1",
        "--on-error", "raise", "--no-progress", "--out", str(target), *api_args(sandbox),
    )  # fmt: skip
    assert code == 1 and "cred_nope" in err and err.count("\n") == 1
    # One worker: the good credential, second in line, was never started.
    assert not list(target.glob("*.parquet"))


def test_pull_many_names_its_columns(capsys, sandbox, tmp_path):
    target = tmp_path / "contacts"
    code, _, err = run(
        capsys, "pull", "hubspot", "list-contacts", "--all-credentials", "--max-records", "5",
        "--user-column", "owner", "--credential-column", "connection", "--no-progress",
        "--out", str(target), *api_args(sandbox),
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_parquet(target)
    assert {"owner", "connection"} <= set(frame.columns)
    assert not {"_user_id", "_credential_id"} & set(frame.columns)
    assert set(frame["connection"]) == {
        sandbox.fixtures.credentials["hubspot"],
        sandbox.fixtures.other_credentials["hubspot"],
    }
    assert set(frame["owner"]) == {sandbox.fixtures.user_id, sandbox.fixtures.other_user_id}


def _rate_limited_pull(sb, *flags: str) -> list[str]:
    return [
        "pull", "hubspot", "list-contacts", "--page-size", "10", "--retries", "0",
        "--no-progress", "--json", "--overwrite", *flags,
        "--base-url", sb.url, "--api-key", sb.api_key, "--user", sb.fixtures.user_id,
    ]  # fmt: skip


def test_max_requests_per_second_keeps_a_pull_under_the_app_s_limit(capsys, tmp_path):
    # The app answers more than 4 requests a second (bursts of 4) with 429; no retries.
    out_file = str(tmp_path / "contacts.parquet")
    with serve(port=0, rate_limit=4) as sb:
        credential = sb.fixtures.credentials["hubspot"]
        argv = _rate_limited_pull(
            sb, "--credential", credential, "--max-pages", "6", "--out", out_file
        )
        code, out, err = run(capsys, *argv, "--max-requests-per-second", "3")
        assert code == 0, err
        summary = json.loads(out)[0]
        assert (summary["pages"], summary["retries"]) == (6, 0)
        assert summary["seconds"] >= (summary["requests"] - 1) / 3 - 0.05
        time.sleep(1.1)  # the app's burst back
        code, _, err = run(capsys, *argv)
        assert code == 1 and "429" in err  # uncapped, the same pull outruns the app


def test_max_total_requests_per_second_keeps_several_credentials_under_the_app_s_limit(
    capsys, tmp_path
):
    # 8 requests a second (bursts of 8); finding the credentials and the action takes 5.
    target = str(tmp_path / "contacts")
    with serve(port=0, rate_limit=8) as sb:
        argv = _rate_limited_pull(sb, "--all-credentials", "--max-pages", "4", "--out", target)
        code, out, err = run(capsys, *argv, "--max-total-requests-per-second", "4")
        assert code == 0, err
        summary = json.loads(out)[0]
        assert (summary["credentials"], summary["failed"], summary["pages"]) == (2, 0, 8)
        assert summary["seconds"] >= 7 / 4 - 0.05
        time.sleep(1.1)
        code, out, err = run(capsys, *argv)
        assert code == 3 and "429" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--page-size", "0"], "--page-size must be a positive whole number"),
        (["--max-requests-per-second", "0"], "--max-requests-per-second must be a positive number"),
        (["--paginator", "sideways"], "Unknown paginator"),
        (["--timestamps", "sometimes"], "--timestamps must be"),
        (["--all-credentials", "--on-error", "ignore"], "--on-error must be"),
        (["--all-credentials", "--workers", "0"], "--workers must be a positive whole number"),
        (["--all-credentials", "--user-column", "x", "--credential-column", "x"], "must differ"),
        (["--workers", "2"], "go with several credentials"),
        (["--lookback", "60"], "go with --incremental"),
    ],
    ids=lambda value: value[0].lstrip("-") if isinstance(value, list) else None,
)
def test_values_the_options_refuse_are_usage_errors(capsys, sandbox, tmp_path, flags, message):
    code, out, err = run(
        capsys, "pull", "hubspot", "list-contacts", *flags, "--out", str(tmp_path / "x.parquet"),
        "--credential", sandbox.fixtures.credentials["hubspot"], *api_args(sandbox),
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("alloy-data: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.parquet").exists()


def test_every_option_flag_is_documented():
    guide = (DOCS / "cli.md").read_text(encoding="utf-8")
    reference = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    for flag in OPTION_FLAGS.values():
        assert f"`{flag}" in guide, f"{flag} is not in docs/cli.md"
        assert f"`{flag}" in reference, f"{flag} is not in docs/reference/cli.md"


@pytest.mark.parametrize("abbreviated", ["--max-rec", "--page", "--over"])
def test_flags_are_spelled_out(abbreviated: str, capsys: pytest.CaptureFixture[str]) -> None:
    from alloy_data.cli import parse_args

    argv = ["pull", "box", "list-files", "--sandbox", "--out", "files.parquet", abbreviated]
    if abbreviated != "--over":
        argv.append("5")
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert f"unrecognized arguments: {abbreviated}" in capsys.readouterr().err


def test_pull_keeps_the_columns_asked_for_in_their_order_and_flattens_as_asked(
    capsys, sandbox, tmp_path
):
    out_file = tmp_path / "orders.parquet"
    code, _, err = run(
        capsys,
        "pull",
        "shopify",
        "list-orders",
        "--credential",
        sandbox.fixtures.credentials["shopify"],
        "--columns",
        "total_price, customer.email,id",
        "--flatten",
        "struct",
        "--max-records",
        "300",
        "--out",
        str(out_file),
        *api_args(sandbox),
    )
    assert code == 0, err
    relation = duckdb.sql(f"select customer.email as email, id from '{out_file}'")
    assert relation.columns == ["email", "id"]
    rows = relation.fetchall()
    assert len(rows) == 300 and all("@" in email for email, _ in rows)
    assert duckdb.sql(f"select * from '{out_file}'").columns == ["total_price", "customer", "id"]


def test_pull_refuses_a_bad_flatten_as_a_usage_error(capsys, sandbox, tmp_path):
    code, _, err = run(
        capsys,
        "pull",
        "shopify",
        "list-orders",
        "--credential",
        sandbox.fixtures.credentials["shopify"],
        "--flatten",
        "json",
        "--flatten-depth",
        "2",
        "--out",
        str(tmp_path / "x.parquet"),
        *api_args(sandbox),
    )
    assert code == 2
    assert "leave --flatten-depth out" in err and "--flatten struct" in err


def test_pull_with_max_age_then_store_list_sql_and_drop(capsys, sandbox, tmp_path):
    store = str(tmp_path / "store")
    pull = [
        "pull",
        "stripe",
        "list-charges",
        "--credential",
        sandbox.fixtures.credentials["stripe"],
        "--max-age",
        "1h",
        "--store",
        store,
        *api_args(sandbox),
    ]
    code, out, err = run(capsys, *pull, "--out", str(tmp_path / "a.parquet"))
    assert code == 0, err
    before = sandbox.request_count
    code, out, err = run(capsys, *pull, "--out", str(tmp_path / "b.csv"))
    assert code == 0, err
    assert sandbox.request_count == before  # the same cell again: served from the store
    written = duckdb.sql(f"select count(*) from '{tmp_path / 'b.csv'}'").fetchall()[0]
    assert written == duckdb.sql(f"select count(*) from '{tmp_path / 'a.parquet'}'").fetchall()[0]

    code, out, err = run(capsys, "store", "list", "--store", store, "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["connector"], row["action"]) == ("stripe", "list-charges")
    assert row["rows"] == written[0]

    query = "select count(*) as n from stripe.list_charges"
    code, out, err = run(capsys, "store", "sql", query, "--store", store, "--json")
    assert code == 0, err
    assert json.loads(out) == [{"n": written[0]}]

    code, out, err = run(capsys, "store", "drop", "--store", store)
    assert code == 2 and "needs what to drop" in err
    code, out, err = run(capsys, "store", "drop", "stripe", "--store", store)
    assert code == 0 and "dropped 1 stored copy" in out
    code, out, err = run(capsys, "store", "list", "--store", store, "--json")
    assert json.loads(out) == []
    code, out, err = run(capsys, "store", "sql", query, "--store", store)
    assert code == 2 and "none yet" in err


@pytest.mark.parametrize("many", [False, True])
def test_pull_tables_writes_a_parent_and_child_datasets_that_join_exactly(
    capsys, sandbox, tmp_path, many
):
    out_dir = tmp_path / "shop"
    who = (
        ["--all-credentials"] if many else ["--credential", sandbox.fixtures.credentials["shopify"]]
    )
    code, _, err = run(
        capsys,
        "pull",
        "shopify",
        "list-orders",
        *who,
        "--max-records",
        "120",
        "--tables",
        "--out",
        str(out_dir),
        *api_args(sandbox),
    )
    assert code == 0, err
    orders = f"read_parquet('{out_dir}/orders/**/*.parquet')"
    items = f"read_parquet('{out_dir}/orders__line_items/**/*.parquet')"
    credentials = 1
    if many:
        query = f"select count(distinct _credential_id) from {orders}"
        credentials = duckdb.sql(query).fetchall()[0][0]
        assert credentials > 1
    assert duckdb.sql(f"select count(*) from {orders}").fetchall()[0] == (120 * credentials,)
    with ad.AlloyClient(
        sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
    ) as client:
        if many:
            whole = client.pull_many(
                "shopify", "list-orders", credentials="all", max_records=120, progress=False
            )
        else:
            credential_id = sandbox.fixtures.credentials["shopify"]
            whole = client.pull(
                "shopify",
                "list-orders",
                credential_id=credential_id,
                max_records=120,
                progress=False,
            )
        line_items = whole.to_arrow().column("line_items").to_pylist()
    expected_items = sum(len(items_of) for items_of in line_items)
    assert expected_items > 0
    assert duckdb.sql(f"select count(*) from {items}").fetchall()[0] == (expected_items,)
    same_credential = " and i._credential_id = o._credential_id" if many else ""
    joined = duckdb.sql(
        f"select count(*) from {items} i join {orders} o on i._parent_id = o.id{same_credential}"
    ).fetchall()[0]
    assert joined == (expected_items,)


def test_pull_paces_to_the_rate_limit_and_says_so(capsys, tmp_path):
    with serve(port=0, records=600, limits=["5/0.5s:ietf"]) as limited:
        out_file = tmp_path / "customers.parquet"
        code, out, err = run(
            capsys, "pull", "quickbooks", "list-customers",
            "--credential", limited.fixtures.credentials["quickbooks"], "--no-progress",
            "--out", str(out_file), "--json", *api_args(limited),
        )  # fmt: skip
    assert code == 0, err
    [summary] = json.loads(out)
    assert summary["rate_limit_waits"] > 0 and summary["refused"] <= 1
    assert "for the API's rate limit" in err
    assert pq.read_metadata(out_file).num_rows == 600
