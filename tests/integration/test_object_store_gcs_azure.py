"""Exports to gs:// and abfs://: gcsfs against gcp-storage-emulator, adlfs against Azurite.

Both servers run as processes of their own on loopback, spoken to over HTTP by the real
filesystem packages. gcp-storage-emulator comes with the dev extra; Azurite is an npm package,
installed into ``.tools/azurite`` (``npm install --prefix .tools/azurite azurite@3``) or found
as ``azurite-blob`` on the PATH; without it the Azure tests are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest

import alloy_data as ad
from alloy_data.cli import main
from alloy_data.export import CACHE_DIR_ENV
from alloy_data.http import RetryPolicy
from alloy_data.sandbox import Sandbox, serve

# gcsfs 2026 asks a bucket's layout over Google's gRPC control API first, which an emulator
# does not serve (a minute of retries, then a fallback); its plain JSON API is what is tested.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "alloy-exports"
RECORDS = 300
STAGE = "properties.lifecyclestage"
# Azurite's documented development account: public, but shaped like a real key, so it is
# treated as a secret that must never be echoed.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_HINT = "Azurite is not installed: run `make azurite` (npm, Node.js 20) to test abfs://"


@dataclass
class Store:
    scheme: str
    options: dict[str, Any]
    secrets: tuple[str, ...]

    def url(self, path: str) -> str:
        return f"{self.scheme}://{BUCKET}/{path}"

    def files(self, prefix: str) -> list[str]:
        fs = fsspec.filesystem(self.scheme, skip_instance_cache=True, **self.options)
        fs.invalidate_cache()
        root = f"{BUCKET}/{prefix}"
        return sorted(path[len(root) + 1 :] for path in fs.find(root))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the storage server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the storage server did not listen on port {port} within 30 s")


def azurite_command() -> str | None:
    local = ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_server(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
    except BaseException:
        stop(process)
        raise
    return process


@pytest.fixture(scope="module", params=["gs", "abfs"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    port = free_port()
    if request.param == "gs":
        command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host",
                   "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"]  # fmt: skip
        options: dict[str, Any] = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "token": "anon",
            "project": "alloy-test",
        }
        made = Store("gs", options, ())
    else:
        azurite = azurite_command()
        if azurite is None:
            pytest.skip(AZURITE_HINT)
        command = [azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port),
                   "--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--loose",
                   "--disableTelemetry"]  # fmt: skip
        connection = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
        made = Store("abfs", {"connection_string": connection}, (AZURITE_KEY, connection))
    process = run_server(command, port)
    try:
        fsspec.filesystem(made.scheme, skip_instance_cache=True, **made.options).mkdir(BUCKET)
        yield made
    finally:
        stop(process)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with serve(port=0, seed=11, records=RECORDS) as running:
        yield running


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def client_for(sb: Sandbox) -> ad.AlloyClient:
    client = ad.AlloyClient(sb.api_key, base_url=sb.url, user_id=sb.fixtures.user_id)
    client._transport.retry_policy = RetryPolicy(max_retries=0)
    return client


def contacts(client: ad.AlloyClient, sb: Sandbox, **options: Any) -> Any:
    options.setdefault("progress", False)
    return client.pull(
        "hubspot", "list-contacts", credential_id=sb.fixtures.credentials["hubspot"], **options
    )


def test_a_file_of_each_format_is_read_back(sb, store, cache):
    with client_for(sb) as client:
        expected = contacts(client, sb).to_arrow().column("id").to_pylist()
        parquet = contacts(client, sb).to_parquet(
            store.url("one/contacts.parquet"), storage_options=store.options
        )
        csv = contacts(client, sb).to_file(
            store.url("one/contacts.csv"), storage_options=store.options
        )
    assert parquet == store.url("one/contacts.parquet")
    assert pd.read_parquet(parquet, storage_options=store.options)["id"].tolist() == expected
    assert (
        pd.read_csv(csv, storage_options=store.options, dtype={"id": str})["id"].tolist()
        == expected
    )
    meta = ad.read_metadata(parquet, storage_options=store.options)
    assert (meta["connector"], meta["row_count"]) == ("hubspot", str(RECORDS))
    assert store.files("one") == ["contacts.csv", "contacts.parquet"]
    assert not any(cache.rglob("*.parquet"))


def test_a_partitioned_dataset_is_published_with_success(sb, store):
    url = store.url("partitioned")
    with client_for(sb) as client:
        expected = contacts(client, sb).to_arrow()
        contacts(client, sb).to_parquet(url, partition_cols=[STAGE], storage_options=store.options)
    stages = sorted(set(expected.column(STAGE).to_pylist()))
    assert store.files("partitioned") == [
        "_SUCCESS",
        "_alloy_manifest.json",
        *[f"{STAGE}={stage}/part-0.parquet" for stage in stages],
    ]
    frame = pd.read_parquet(url, storage_options=store.options)
    assert sorted(frame["id"]) == sorted(expected.column("id").to_pylist())
    assert set(frame[STAGE].astype(str)) == set(stages)
    # Replaced whole with overwrite=True; refused without it.
    with client_for(sb) as client:
        with pytest.raises(ad.ExportError, match="overwrite=True"):
            contacts(client, sb).to_parquet(
                url, partition_cols=[STAGE], storage_options=store.options
            )
        contacts(client, sb, max_records=40).to_parquet(
            url, partition_cols=[STAGE], overwrite=True, storage_options=store.options
        )
    assert len(pd.read_parquet(url, storage_options=store.options)) == 40
    assert "_SUCCESS" in store.files("partitioned")
    assert not [name for name in store.files("partitioned") if name.startswith("_temporary")]


def test_pull_many_publishes_a_dataset_under_a_prefix(sb, store):
    url = store.url("many/")
    with client_for(sb) as client:
        many = client.pull_many("hubspot", "list-contacts", credentials="all", progress=False)
        assert many.to_parquet(url, storage_options=store.options) == url
    files = store.files("many")
    assert files[:2] == ["_SUCCESS", "_alloy_manifest.json"]
    frame = pd.read_parquet(url, storage_options=store.options)
    assert frame["_credential_id"].value_counts().to_dict() == {
        sb.fixtures.credentials["hubspot"]: RECORDS,
        sb.fixtures.other_credentials["hubspot"]: RECORDS,
    }


def test_a_missing_bucket_is_refused_before_anything_is_fetched(sb, store):
    with client_for(sb) as client:
        before = sb.request_count
        with pytest.raises(ad.ExportError, match="does not exist") as caught:
            contacts(client, sb).to_parquet(
                f"{store.scheme}://no-such-bucket/x.parquet", storage_options=store.options
            )
        assert sb.request_count == before
    for secret in store.secrets:
        assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_the_command_line_takes_the_store_options(sb, store, capsys):
    flags = [arg for key, value in store.options.items()
             for arg in ("--storage-option", f"{key}={value}")]  # fmt: skip
    url = store.url("cli/contacts.parquet")
    code = main(
        ["pull", "hubspot", "list-contacts", "--no-progress", "--out", url, *flags,
         "--credential", sb.fixtures.credentials["hubspot"], "--base-url", sb.url,
         "--api-key", sb.api_key, "--user", sb.fixtures.user_id]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"to {url} in" in captured.out
    assert len(pd.read_parquet(url, storage_options=store.options)) == RECORDS
    for secret in store.secrets:
        assert secret not in captured.out + captured.err


BLOCKED = """
import sys
sys.modules[sys.argv[1]] = None  # import fails as if the package were not installed
import alloy_data as ad
try:
    ad.AlloyClient("k", base_url="http://127.0.0.1:9").pull(
        "hubspot", "list-contacts", credential_id="c", progress=False
    ).to_parquet(sys.argv[2])
except ad.ConfigurationError as error:
    print("error:", error)
"""


@pytest.mark.parametrize(
    ("package", "url", "extra"),
    [("gcsfs", "gs://bucket/x.parquet", "gcs"), ("adlfs", "abfs://box/x.parquet", "azure")],
    ids=["gcs", "azure"],
)
def test_a_missing_filesystem_package_names_its_extra(package, url, extra):
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED, package, url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"pip install 'alloy-data[{extra}]'" in result.stdout
