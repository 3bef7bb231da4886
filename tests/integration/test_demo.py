"""The demo (`make demo`) runs end to end and says what it did."""

from __future__ import annotations

import io
import re

import pyarrow.parquet as pq

from alloy_data.demo import DEMO_PULLS, run_demo


def test_demo_pulls_every_convention_into_parquet(tmp_path):
    out = io.StringIO()
    assert run_demo(out_dir=tmp_path, largest=600, out=out) == 0
    text = out.getvalue()
    assert "Started the offline Alloy sandbox at http://127.0.0.1:" in text
    for demo in DEMO_PULLS:
        path = tmp_path / f"{demo.connector}-{demo.action}.parquet"
        rows = pq.read_metadata(path).num_rows
        line = next(
            line for line in text.splitlines() if line.startswith(f"{demo.connector} {demo.action}")
        )
        assert re.search(rf"\b{rows}\b", line), line
        assert demo.convention in line
    assert pq.read_metadata(tmp_path / "hubspot-list-contacts.parquet").num_rows == 600
    assert "records in 7 pulls" in text
