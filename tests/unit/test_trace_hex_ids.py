"""analytics.trace.hex_ids: the trace lookup reads IDs as stored (binary) and the API shows
them as lowercase hex; rows that already carry hex pass through unchanged."""

from __future__ import annotations

import polars as pl

from spyglass.analytics.trace import hex_ids


def test_binary_ids_become_lowercase_hex() -> None:
    frame = pl.DataFrame(
        {
            "trace_id": [bytes.fromhex("00AB" * 8)],
            "span_id": [bytes.fromhex("FF00" * 4)],
            "parent_span_id": [bytes(8)],
            "links_trace_id": [[bytes.fromhex("0F" * 16), bytes.fromhex("A0" * 16)]],
            "links_span_id": [[bytes.fromhex("01" * 8), bytes.fromhex("10" * 8)]],
            "name": ["root"],
        }
    )
    out = hex_ids(frame)
    row = out.row(0, named=True)
    assert row["trace_id"] == "00ab" * 8
    assert row["span_id"] == "ff00" * 4
    assert row["parent_span_id"] == "0" * 16
    assert row["links_trace_id"] == ["0f" * 16, "a0" * 16]
    assert row["links_span_id"] == ["01" * 8, "10" * 8]
    assert row["name"] == "root"


def test_hex_ids_pass_through() -> None:
    frame = pl.DataFrame({"trace_id": ["ab" * 16], "span_id": ["cd" * 8], "links_span_id": [["ef" * 8]]})
    assert hex_ids(frame).equals(frame)
