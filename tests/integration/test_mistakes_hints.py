"""Mistakes a user makes, caught with advice in the words of the front end they are in: Python
calls in Python, commands and flags on the command line; and exit statuses as documented."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import alloy_data as ad
from alloy_data.cli import main
from alloy_data.cli._output import EXIT_STATUSES
from alloy_data.sandbox import Sandbox, serve

ROOT = Path(__file__).resolve().parents[2]
# What Python advice looks like, and the command line must never print.
PYTHON_SYNTAX = re.compile(r"=True|=False|\bclient\.|\(\.\.\.\)|\w\(\)|\w+=\.\.\.")


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def api_args(sb: Sandbox) -> list[str]:
    return ["--base-url", sb.url, "--api-key", sb.api_key, "--user", sb.fixtures.user_id]


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[ad.AlloyClient]:
    with ad.AlloyClient(
        sandbox.api_key, base_url=sandbox.url, user_id=sandbox.fixtures.user_id
    ) as client:
        yield client


# -- in Python: typed errors whose advice names the call that fixes them ------------------------


def test_a_wrong_connector_id_names_the_call_that_lists_connectors(client):
    with pytest.raises(ad.NotFoundError) as caught:
        client.connectors.resources("shopifyy")
    assert "connector" in str(caught.value)
    assert "client.connectors.list()" in str(caught.value)
    assert "base URL" not in str(caught.value)


def test_a_wrong_action_id_names_the_call_that_lists_the_connector_s_actions(client):
    with pytest.raises(ad.NotFoundError) as caught:
        client.actions.get("shopify", "list-order")
    assert "client.connectors.actions('shopify')" in str(caught.value)
    assert "client.connectors.list()" not in str(caught.value)


def test_a_wrong_credential_id_names_the_call_that_lists_a_user_s_credentials(client):
    pull = client.pull("shopify", "list-orders", credential_id="cred_typo", progress=False)
    with pytest.raises(ad.NotFoundError) as caught:
        pull.to_arrow()
    assert "credential id" in str(caught.value)
    assert "client.credentials.list('shopify', user_id=" in str(caught.value)


def test_a_route_the_server_lacks_points_at_the_base_url_and_version(sandbox):
    wrong = ad.AlloyClient(sandbox.api_key, base_url=f"{sandbox.url}/v2")
    with wrong, pytest.raises(ad.NotFoundError) as caught:
        wrong.connectors.list()
    text = str(caught.value)
    assert "base URL" in text and "API version" in text
    assert "client.connectors.list()" not in text  # not taken for a wrong id


def test_a_taken_username_is_a_conflict_that_points_at_the_users(client):
    with pytest.raises(ad.ConflictError) as caught:
        client.users.create("sandbox-user")
    assert caught.value.status == 409
    assert isinstance(caught.value, ad.BadRequestError)
    assert "client.users.list()" in str(caught.value)
    assert "client.actions.get" not in str(caught.value)


def test_an_existing_file_without_overwrite_names_the_argument(client, sandbox, tmp_path):
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"kept")
    pull = client.pull(
        "shopify", "list-orders", credential_id=sandbox.fixtures.credentials["shopify"]
    )
    with pytest.raises(ad.ExportError, match=r"overwrite=True"):
        pull.to_parquet(path)
    assert path.read_bytes() == b"kept"


def test_a_bad_option_value_names_the_keyword(client, sandbox):
    with pytest.raises(ad.ConfigurationError, match=r"^page_size must be a positive"):
        client.pull(
            "shopify", "list-orders", credential_id=sandbox.fixtures.credentials["shopify"],
            page_size=0,
        )  # fmt: skip


# -- on the command line: exit statuses, and commands and flags instead of calls ----------------


def cli_mistakes(sb: Sandbox, tmp: Path) -> list[tuple[str, list[str], int, list[str]]]:
    """(case, argv, exit status, words the message must hold)."""
    existing = tmp / "orders.parquet"
    existing.write_bytes(b"kept")
    dataset = tmp / "orders"
    (dataset).mkdir()
    (dataset / "_SUCCESS").write_text("")
    shopify = sb.fixtures.credentials["shopify"]
    pull = ["pull", "shopify", "list-orders", "--no-progress"]
    return [
        ("wrong-connector", ["resources", "shopifyy", *api_args(sb)], 1, ["alloy-data connectors"]),
        ("wrong-action", ["action", "shopify", "list-order", *api_args(sb)], 1,
         ["action id", "alloy-data resources shopify"]),
        ("wrong-credential", [*pull, "--credential", "cred_typo", "--out", str(tmp / "a.csv"),
                              *api_args(sb)], 1,
         ["credential id", "alloy-data credentials shopify --user"]),
        ("missing-route", ["connectors", *api_args(sb)[2:], "--base-url", f"{sb.url}/v2"], 1,
         ["--base-url", "--api-version"]),
        ("taken-username", ["users", "--create", "sandbox-user", *api_args(sb)], 1,
         ["username is taken", "alloy-data users"]),
        ("existing-file", [*pull, "--credential", shopify, "--out", str(existing),
                           *api_args(sb)], 1, ["--overwrite"]),
        ("existing-dataset", [*pull, "--all-credentials", "--out", str(dataset), *api_args(sb)],
         1, ["--overwrite"]),
        ("page-size", [*pull, "--credential", shopify, "--page-size", "0", "--out",
                       str(tmp / "b.csv"), *api_args(sb)], 2, ["--page-size must be"]),
        ("rate", [*pull, "--credential", shopify, "--max-requests-per-second", "-1", "--out",
                  str(tmp / "c.csv"), *api_args(sb)], 2, ["--max-requests-per-second must be"]),
        ("on-error", [*pull, "--all-credentials", "--on-error", "skip", "--out",
                      str(tmp / "d"), *api_args(sb)], 2, ["--on-error must be"]),
        ("http-url", ["connectors", "--api-key", "k", "--base-url", "ftp://example.com"], 2,
         ["--base-url or ALLOY_BASE_URL"]),
        ("no-credential", [*pull, "--out", str(tmp / "e.csv"), *api_args(sb)], 2,
         ["--credential", "alloy-data credentials shopify"]),
    ]  # fmt: skip


CASES = [
    "wrong-connector", "wrong-action", "wrong-credential", "missing-route", "taken-username",
    "existing-file", "existing-dataset", "page-size", "rate", "on-error", "http-url",
    "no-credential",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_command_line_mistake_is_told_in_commands_and_flags(capsys, sandbox, tmp_path, case):
    mistakes = {name: rest for name, *rest in cli_mistakes(sandbox, tmp_path)}
    argv, status, words = mistakes[case]
    code, output = run(capsys, *argv)
    assert code == status, output
    assert output.startswith("alloy-data: error: "), output
    for word in words:
        assert word in output, output
    assert not PYTHON_SYNTAX.search(output), output


def test_every_case_is_run(sandbox, tmp_path):
    assert [case for case, *_ in cli_mistakes(sandbox, tmp_path)] == CASES


def test_the_python_advice_keeps_naming_calls(client):
    # The same mistake as wrong-action, in Python: the call, not the command.
    with pytest.raises(ad.NotFoundError) as caught:
        client.actions.get("shopify", "list-order")
    assert "alloy-data" not in str(caught.value)


# -- Ctrl-C in the middle of a pull, as a real process ------------------------------------------


@pytest.fixture(scope="module")
def slow() -> Iterator[Sandbox]:
    with serve(port=0, seed=5, records={"box": 6_000}) as running:
        yield running


def cli_process(sb: Sandbox, *argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "alloy_data", *argv, *api_args(sb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_ctrl_c_says_what_was_kept_and_that_resume_continues(slow, tmp_path):
    out = tmp_path / "files.parquet"
    argv = [
        "pull", "box", "list-files", "--credential", slow.fixtures.credentials["box"],
        "--page-size", "100", "--max-requests-per-second", "10", "--no-progress",
        "--out", str(out),
    ]  # fmt: skip
    process = cli_process(slow, *argv)
    try:
        checkpoint = out.with_name(out.name + ".alloy-checkpoint")
        deadline = time.monotonic() + 30
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # 1,000 records a second: a chunk of 2,000 is on disk well before 3.5 s.
        time.sleep(3.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.startswith("alloy-data: interrupted"), err
    kept = re.search(r"(\d+) records fetched before this are kept", err)
    assert kept and int(kept.group(1)) >= 2_000, err
    assert "--resume" in err and not PYTHON_SYNTAX.search(err), err
    assert not out.exists()
    resumed = cli_process(slow, *argv, "--resume")
    stdout, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert pq.read_metadata(out).num_rows == 6_000
    assert f"this run fetched {6_000 - int(kept.group(1))}" in stdout


# -- exit statuses: one table, documented, and what the command line returns ---------------------


def test_the_exit_statuses_are_documented_as_the_table_says():
    reference = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for status, meaning in EXIT_STATUSES.items():
        assert f"| {status} | {meaning} |" in reference


def test_each_exit_status_is_what_a_case_of_it_returns(capsys, sandbox, tmp_path):
    mistakes = {name: rest for name, *rest in cli_mistakes(sandbox, tmp_path)}
    returned = {
        0: run(capsys, "connectors", *api_args(sandbox))[0],
        1: run(capsys, *mistakes["existing-file"][0])[0],
        2: run(capsys, *mistakes["page-size"][0])[0],
        3: run(
            capsys, "pull", "stripe", "list-charges", "--no-progress",
            "--credential", sandbox.fixtures.credentials["stripe"], "--credential", "cred_nope",
            "--out", str(tmp_path / "charges"), *api_args(sandbox),
        )[0],
    }  # fmt: skip
    for status, code in returned.items():
        assert code == status
    # 130 is returned by a real process on Ctrl-C (the test above).
    assert set(returned) | {130} == set(EXIT_STATUSES)
