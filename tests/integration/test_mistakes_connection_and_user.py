"""Mistakes in reaching the server and in choosing the user, each caught with a typed error whose
message names the fix, fast where retrying cannot help; and calls that need no user at all."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import alloy_data as ad
from alloy_data.http import HTTP_LOGGER_NAME
from alloy_data.progress import ProgressUpdate
from alloy_data.sandbox import Sandbox, serve
from alloy_data.widgets import Explorer

KEY = "sk_test_0123456789abcdef"
# Far more than failing fast takes, far less than the 40 s of retries it replaces.
FAST = 15.0


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_names(error: BaseException, *fixes: str) -> str:
    message = str(error)
    for fix in fixes:
        assert fix in message, (fix, message)
    return message


@pytest.fixture
def attempts(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The transport's log, one line per attempt sent."""
    with caplog.at_level(logging.INFO, logger=HTTP_LOGGER_NAME):
        yield caplog


def sent(log: pytest.LogCaptureFixture) -> int:
    return sum(
        1 for r in log.records if r.name == HTTP_LOGGER_NAME and "(attempt" in r.getMessage()
    )


@pytest.fixture(params=["seed", "live"])
def any_sandbox(request: pytest.FixtureRequest, sandbox: Sandbox, live_sandbox: Sandbox) -> Sandbox:
    return sandbox if request.param == "seed" else live_sandbox


# 1-7: reaching the server


def test_mistake_wrong_port(attempts: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with (
        ad.AlloyClient(KEY, base_url=url, trust_env=False) as client,
        pytest.raises(ad.AlloyConnectionError) as caught,
    ):
        client.connectors.list()
    assert time.monotonic() - started < FAST
    assert sent(attempts) == caught.value.attempts == 2
    assert_names(caught.value, url, "connection refused", "base_url", "ALLOY_BASE_URL")
    assert_names(caught.value, "ad.connect()", "alloy-data sandbox")


def test_mistake_wrong_port_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("ALLOY_BASE_URL", url)
    monkeypatch.setenv("ALLOY_API_KEY", KEY)
    with ad.connect() as client, pytest.raises(ad.AlloyConnectionError) as caught:
        client.credentials.list("hubspot")
    assert_names(caught.value, url, "ALLOY_BASE_URL")


def test_mistake_wrong_host_name(attempts: pytest.LogCaptureFixture) -> None:
    url = "https://production.runalloy.invalid"
    started = time.monotonic()
    with (
        ad.AlloyClient(KEY, base_url=url, trust_env=False) as client,
        pytest.raises(ad.AlloyConnectionError) as caught,
    ):
        client.connectors.list()
    assert time.monotonic() - started < FAST
    assert sent(attempts) == 1
    assert_names(caught.value, url, "does not resolve", "https://production.runalloy.com")


def test_mistake_https_to_a_plain_http_server(sandbox: Sandbox) -> None:
    url = sandbox.url.replace("http://", "https://")
    started = time.monotonic()
    with (
        ad.AlloyClient(sandbox.api_key, base_url=url, trust_env=False) as client,
        pytest.raises(ad.AlloyConnectionError) as caught,
    ):
        client.connectors.list()
    assert time.monotonic() - started < FAST
    assert caught.value.attempts == 1
    assert_names(caught.value, url, "TLS", "http://")


def test_mistake_plain_http_to_the_real_api() -> None:
    with pytest.raises(ad.ConfigurationError) as caught:
        ad.AlloyClient(KEY, base_url="http://production.runalloy.com")
    assert_names(caught.value, "https", "allow_insecure_http")


@pytest.mark.parametrize(
    ("pasted", "root"),
    [("{url}/connectors", "{url}"), ("{url}/connectors/shopify/actions", "{url}"),
     ("{url}/proxy/users/", "{url}/proxy")],
    ids=["connectors", "an-action-url", "behind-a-prefix"],
)  # fmt: skip
def test_mistake_an_api_path_in_the_base_url(sandbox: Sandbox, pasted: str, root: str) -> None:
    with pytest.raises(ad.ConfigurationError) as caught:
        ad.AlloyClient(sandbox.api_key, base_url=pasted.format(url=sandbox.url))
    assert_names(caught.value, "root", repr(root.format(url=sandbox.url)))


def test_mistake_a_base_url_without_a_scheme(sandbox: Sandbox) -> None:
    with pytest.raises(ad.ConfigurationError) as caught:
        ad.AlloyClient(sandbox.api_key, base_url=sandbox.url.removeprefix("http://"))
    assert_names(caught.value, "https://production.runalloy.com", "ALLOY_BASE_URL")


def test_mistake_the_wrong_key(sandbox: Sandbox) -> None:
    with (
        ad.AlloyClient(KEY, base_url=sandbox.url, trust_env=False) as client,
        pytest.raises(ad.AuthenticationError) as caught,
    ):
        client.connectors.list()
    message = assert_names(caught.value, "ALLOY_API_KEY")
    assert KEY not in message


def test_mistake_a_server_that_went_away_is_waited_for_then_named() -> None:
    sb = serve(port=0)
    sb.start()
    url = sb.url
    with ad.AlloyClient(sb.api_key, base_url=url, trust_env=False, max_retries=2) as client:
        client.connectors.list()
        sb.stop()
        with pytest.raises(ad.AlloyConnectionError) as caught:
            client.connectors.list()
    # It answered before, so it may be restarting: the client's retries, not a fast failure.
    assert caught.value.attempts == 3
    assert_names(caught.value, url, "restarting", "ALLOY_BASE_URL")


# 8-11: choosing the user


def test_mistake_an_empty_user_id(sandbox: Sandbox) -> None:
    with (
        ad.AlloyClient(sandbox.api_key, base_url=sandbox.url, trust_env=False) as client,
        pytest.raises(ad.ConfigurationError) as caught,
    ):
        client.credentials.list("hubspot", user_id=" ")
    assert_names(caught.value, "user_id", "Leave it out", "client.users.list()")


def test_mistake_another_users_credential(any_sandbox: Sandbox) -> None:
    other = any_sandbox.fixtures.other_credentials["hubspot"]
    with (
        ad.AlloyClient(any_sandbox.api_key, base_url=any_sandbox.url, trust_env=False) as client,
        pytest.raises(ad.PermissionDeniedError) as caught,
    ):
        client.pull("hubspot", "list-contacts", credential_id=other, progress=False).to_arrow()
    assert_names(caught.value, "another user", "user_id=")


def test_mistake_an_unknown_user(any_sandbox: Sandbox) -> None:
    with (
        ad.AlloyClient(any_sandbox.api_key, base_url=any_sandbox.url, trust_env=False) as client,
        pytest.raises(ad.NotFoundError) as caught,
    ):
        client.credentials.list("hubspot", user_id="usr_nobody")
    assert_names(caught.value, "usr_nobody", "client.users.list()")


def test_mistake_a_credential_id_given_as_the_user(any_sandbox: Sandbox) -> None:
    credential = any_sandbox.fixtures.credentials["hubspot"]
    with (
        ad.AlloyClient(any_sandbox.api_key, base_url=any_sandbox.url, trust_env=False) as client,
        pytest.raises(ad.NotFoundError) as caught,
    ):
        client.credentials.list("hubspot", user_id=credential)
    assert_names(caught.value, "user", "client.users.list()")


# No user at all is no mistake: the API acts as the API key's own user.


def test_credentials_without_a_user_are_the_key_users(any_sandbox: Sandbox) -> None:
    with ad.AlloyClient(any_sandbox.api_key, base_url=any_sandbox.url, trust_env=False) as client:
        assert client.user_id is None
        listed = client.credentials.list("hubspot")
    assert [c.credential_id for c in listed] == [any_sandbox.fixtures.credentials["hubspot"]]


def test_execute_and_pull_without_a_user(any_sandbox: Sandbox) -> None:
    credential = any_sandbox.fixtures.credentials["hubspot"]
    with ad.AlloyClient(any_sandbox.api_key, base_url=any_sandbox.url, trust_env=False) as client:
        result = client.actions.execute("hubspot", "list-contacts", credential_id=credential)
        table = client.pull(
            "hubspot", "list-contacts", credential_id=credential, progress=False
        ).to_arrow()
    assert result.data is not None
    expected = any_sandbox.expected_ids("hubspot", "list-contacts", credential_id=credential)
    assert table.num_rows == len(expected)


def test_the_cli_lists_credentials_without_a_user(any_sandbox: Sandbox, capsys) -> None:  # type: ignore[no-untyped-def]
    from alloy_data.cli import main

    code = main(
        ["credentials", "hubspot", "--base-url", any_sandbox.url, "--api-key",
         any_sandbox.api_key]
    )  # fmt: skip
    assert code == 0
    assert any_sandbox.fixtures.credentials["hubspot"] in capsys.readouterr().out


# The same mistakes through the command line and the Explorer


def test_a_cli_pull_against_a_closed_port_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "PYTHONPATH": str(Path(ad.__file__).parents[1])}
    env.pop("ALLOY_API_KEY", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "alloy_data", "pull", "shopify", "list-orders",
         "--credential", "68c3229752345278627ae373", "--out", str(tmp_path / "o.parquet"),
         "--base-url", url, "--api-key", KEY],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert time.monotonic() - started < FAST + 10  # the interpreter's start included
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert_names(ad.AlloyError(lines[0]), "alloy-data: error:", url, "--base-url", "refused")
    assert KEY not in done.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_an_explorer_against_a_closed_port_shows_the_error_on_preview() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with ad.AlloyClient(KEY, base_url=url, trust_env=False) as client:
        explorer = Explorer(client)
        assert "refused" in explorer.connector.status.value
        explorer.preview_button.click()
    assert time.monotonic() - started < FAST
    assert isinstance(explorer.error, ad.AlloyConnectionError)
    assert url in explorer.status.value and "ALLOY_BASE_URL" in explorer.status.value
    assert "Choose" not in explorer.status.value
    assert explorer.progress.bar_style == "danger"


def test_a_pull_whose_server_goes_away_shows_that_it_retries() -> None:
    sb = serve(port=0, records={"shopify": 60})
    sb.start()
    figures: list[ProgressUpdate] = []
    stopped: list[bool] = []

    def progress(update: ProgressUpdate) -> None:
        figures.append(update)
        if update.pages == 1 and not stopped:
            stopped.append(True)
            sb.stop()

    with ad.AlloyClient(sb.api_key, base_url=sb.url, trust_env=False) as client:
        pull = client.pull(
            "shopify",
            "list-orders",
            credential_id=sb.fixtures.credentials["shopify"],
            page_size=10,
            concurrency=1,
            retries=2,
            progress=progress,
        )
        with pytest.raises(ad.AlloyConnectionError) as caught:
            pull.to_arrow()
    assert caught.value.attempts == 3
    retrying = [f.retrying for f in figures if f.retrying is not None]
    assert [r.retry for r in retrying] == [1, 2]
    assert {r.max_retries for r in retrying} == {2}
    assert all(r.reason in ("connection refused", "connection dropped") for r in retrying)
    assert retrying[-1].gives_up_within == pytest.approx(retrying[-1].wait)
    assert retrying[0].gives_up_within >= retrying[0].wait
    assert "retry 1 of 2" in str(retrying[0]) and "giving up within" in str(retrying[0])
    assert figures[-1].done and figures[-1].retrying is None


def test_the_readmes_first_snippet_runs_on_an_account_without_a_user_id(
    any_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'credentials.list("shopify")' in snippet
    monkeypatch.setenv("ALLOY_API_KEY", any_sandbox.api_key)
    monkeypatch.setenv("ALLOY_BASE_URL", any_sandbox.url)
    monkeypatch.delenv("ALLOY_USER_ID", raising=False)
    exec(compile(snippet, "README.md", "exec"), {})
    assert capsys.readouterr().out.startswith("['#")
