"""The dataset publisher: parts, resume, updates, the manifest and ``_SUCCESS`` last.

Local directories, and fsspec's in-memory filesystem for a prefix of an object store.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alloy_data.errors import ConfigurationError, ExportError
from alloy_data.export import (
    CACHE_DIR_ENV,
    MANIFEST,
    SUCCESS,
    DatasetPublisher,
    Part,
    Remote,
    read_metadata,
)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder


def writer(rows: list[dict[str, Any]], calls: list[str] | None = None, **entry: Any) -> Any:
    def write(file: Path) -> dict[str, Any]:
        if calls is not None:
            calls.append(file.name)
        pq.write_table(pa.Table.from_pylist(rows), file)
        return entry

    return write


def failing(file: Path) -> dict[str, Any]:
    raise ExportError("the pull of this part failed")


def memory_prefix() -> Remote:
    return Remote(f"memory://datasets/{uuid.uuid4().hex}", {})


def test_parts_are_published_with_the_manifest_then_success(tmp_path: Path) -> None:
    directory = tmp_path / "orders"
    publisher = DatasetPublisher(directory)
    publisher.open()
    a = publisher.write_part("part-a.parquet", writer([{"id": 1}, {"id": 2}], mark="m1"))
    b = publisher.write_part("part-b.parquet", writer([{"id": 3}]))
    assert not (directory / SUCCESS).exists()
    assert not (directory / MANIFEST).exists()
    assert publisher.publish([a, b], {"connector": "shop"}) == directory
    assert (directory / SUCCESS).read_text() == ""
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["connector"] == "shop"
    assert manifest["files"] == ["part-a.parquet", "part-b.parquet"]
    assert manifest["row_count"] == 3
    assert (a.rows, a.entry) == (2, {"file": "part-a.parquet", "mark": "m1"})
    assert pq.read_table(directory).num_rows == 3


def test_a_complete_dataset_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    directory = tmp_path / "orders"
    first = DatasetPublisher(directory)
    first.open()
    first.publish([first.write_part("part-old.parquet", writer([{"id": 1}]))])
    with pytest.raises(ExportError, match="overwrite=True"):
        DatasetPublisher(directory).open()
    assert (directory / SUCCESS).exists()  # a refused run unpublishes nothing
    again = DatasetPublisher(directory, overwrite=True)
    again.open()
    # Unpublished at once, and started from nothing.
    assert list(directory.iterdir()) == []
    again.publish([again.write_part("part-new.parquet", writer([{"id": 2}]))])
    assert pq.read_table(directory).column("id").to_pylist() == [2]


def test_a_file_where_the_directory_must_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "orders").write_text("not a dataset")
    with pytest.raises(ExportError, match="is a file"):
        DatasetPublisher(tmp_path / "orders").open()


def test_resume_skips_the_parts_that_are_complete(tmp_path: Path) -> None:
    directory = tmp_path / "orders"
    stopped = DatasetPublisher(directory)
    stopped.open()
    stopped.write_part("part-a.parquet", writer([{"id": 1}]))
    with pytest.raises(ExportError):
        stopped.write_part("part-b.parquet", failing)
    calls: list[str] = []
    resumed = DatasetPublisher(directory, resume=True)
    resumed.open()
    a = resumed.write_part("part-a.parquet", writer([{"id": 99}], calls))
    b = resumed.write_part("part-b.parquet", writer([{"id": 2}], calls))
    assert calls == ["part-b.parquet"]
    assert (a.rows, a.entry) == (1, {"file": "part-a.parquet", "skipped": True})
    resumed.publish([a, b])
    assert sorted(pq.read_table(directory).column("id").to_pylist()) == [1, 2]


def test_an_update_keeps_the_parts_and_unpublishes_until_it_is_done(tmp_path: Path) -> None:
    directory = tmp_path / "orders"
    first = DatasetPublisher(directory, mode="merge")
    first.open()
    first.publish([first.write_part("part-a.parquet", writer([{"id": 1}]))])
    seen: list[Any] = []

    def update(file: Path) -> dict[str, Any]:
        seen.append((pq.read_table(file).column("id").to_pylist(), (directory / SUCCESS).exists()))
        pq.write_table(pa.Table.from_pylist([{"id": 1}, {"id": 2}]), file)
        return {"high_water_mark": "2026-01-02T00:00:00+00:00"}

    second = DatasetPublisher(directory, mode="merge")  # no overwrite needed: an update
    second.open()
    part = second.write_part("part-a.parquet", update)
    assert seen == [([1], False)]
    second.publish([part])
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["row_count"] == 2
    assert (directory / SUCCESS).exists()


def test_an_update_of_a_prefix_downloads_each_object_to_update(tmp_path: Path) -> None:
    remote = memory_prefix()
    first = DatasetPublisher(remote, mode="merge")
    first.open()
    assert first.publish([first.write_part("part-a.parquet", writer([{"id": 1}]))]) == remote.url
    assert not first.directory.exists()  # the staging is cleared once published
    seen: list[Any] = []

    def update(file: Path) -> dict[str, Any]:
        seen.append((pq.read_table(file).column("id").to_pylist(), remote.child(SUCCESS).exists()))
        pq.write_table(pa.Table.from_pylist([{"id": 1}, {"id": 2}]), file)
        return {}

    second = DatasetPublisher(remote, mode="merge")
    second.open()
    fresh = second.write_part("part-b.parquet", writer([{"id": 7}]))  # no object yet: started
    part = second.write_part("part-a.parquet", update)
    assert seen == [([1], False)]  # the object's copy, while the dataset is unpublished
    second.publish([part, fresh])
    assert remote.files() == [SUCCESS, MANIFEST, "part-a.parquet", "part-b.parquet"]
    with remote.child("part-a.parquet").open() as handle:
        assert pq.read_table(handle).column("id").to_pylist() == [1, 2]


def test_a_resumed_prefix_skips_what_the_stopped_run_uploaded(tmp_path: Path) -> None:
    remote = memory_prefix()
    stopped = DatasetPublisher(remote)
    stopped.open()
    stopped.write_part("part-a.parquet", writer([{"id": 1}, {"id": 2}]))
    assert remote.files() == ["part-a.parquet"]  # uploaded as soon as complete
    stopped.directory.joinpath("part-a.parquet").unlink()  # its staged copy is gone
    calls: list[str] = []
    resumed = DatasetPublisher(remote, resume=True)
    resumed.open()
    part = resumed.write_part("part-a.parquet", writer([{"id": 9}], calls))
    assert calls == []
    assert (part.rows, part.entry["skipped"]) == (2, True)


def test_a_dataset_is_published_whole_under_a_prefix(tmp_path: Path) -> None:
    remote = memory_prefix()
    remote.child("old/part-0.parquet").write_bytes(b"old")
    with pytest.raises(ExportError, match="overwrite=True"):
        DatasetPublisher(remote).check_whole()
    staged = tmp_path / "staged"
    (staged / "k=1").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"id": 1}]), staged / "k=1" / "part-0.parquet")
    publisher = DatasetPublisher(remote, overwrite=True)
    publisher.check_whole()
    publisher.publish_whole(staged, rows=1)
    assert remote.files() == [SUCCESS, MANIFEST, "k=1/part-0.parquet"]
    manifest = json.loads(fsspec.filesystem("memory").cat(remote.child(MANIFEST).path))
    assert (manifest["files"], manifest["row_count"]) == (["k=1/part-0.parquet"], 1)


def test_an_object_where_the_prefix_must_be_is_refused() -> None:
    remote = memory_prefix()
    remote.write_bytes(b"an object")
    with pytest.raises(ExportError, match="is an object"):
        DatasetPublisher(remote).open()
    with pytest.raises(ExportError, match="is an object"):
        DatasetPublisher(remote, overwrite=True).check_whole()


def test_parts_staged_beside_one_file_are_streamed_into_it(tmp_path: Path) -> None:
    target = tmp_path / "orders.parquet"
    publisher = DatasetPublisher.for_file(target)
    parts: list[Part] = [
        publisher.write_part("part-a.parquet", writer([{"id": 1, "name": "x"}])),
        publisher.write_part("part-b.parquet", writer([{"id": 2, "total": 1.5}])),
    ]
    assert publisher.publish_file(parts, {"connector": "shop"}) == target
    table = pq.read_table(target)
    assert table.column("id").to_pylist() == [1, 2]
    assert table.column("name").to_pylist() == ["x", None]
    assert table.column("total").to_pylist() == [None, 1.5]
    assert read_metadata(target)["connector"] == "shop"
    assert not publisher.directory.exists()
    with pytest.raises(ExportError, match="overwrite=True"):
        DatasetPublisher.for_file(target)
    with pytest.raises(ConfigurationError):
        DatasetPublisher.for_file(tmp_path / "orders.xlsx")


def test_part_names_are_safe_in_a_path() -> None:
    assert DatasetPublisher.part_name("cred/1 a") == "part-cred%2F1%20a.parquet"
