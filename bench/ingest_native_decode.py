"""What would close the ingest gap: decoding OTLP inside ClickHouse instead of in Python.

The collector's decode + normalize is per-span Python work (``bench/ingest_decode.py``: about
55-80 µs per span, against about 1 µs for protobuf parsing alone). This experiment lets chDB
parse the same OTLP protobuf body with ClickHouse's ``ProtobufSingle`` input format (a subset
schema of the OTLP messages, ``bench/otlp_proto/trace_subset.proto``) and flatten it into span
rows with ``ARRAY JOIN`` (IDs, name, times, the attribute map with typed values as text, two
typed columns taken from the map), returning Arrow, and compares it with the collector's Python
path on the same body, in the same run, alternating.

It is a measurement, not the product: it does not yet do what ``collector/normalize.py`` does
beyond those columns (the conventions mapping, events and links, per-span validation with
partial success, resource and scope attributes).

    .venv/bin/python bench/ingest_native_decode.py [--traces 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import chdb
from ingest_decode import build_request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector import otlp
from spyglass.collector.normalize import normalize

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otlp_proto", "trace_subset.proto")
_KV = (
    "Array(Tuple(key String, value Tuple(string_value String, bool_value Bool, int_value Int64, "
    "double_value Float64)))"
)
STRUCTURE = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_KV}), scope_spans Array(Tuple("
    "scope Tuple(name String, version String), spans Array(Tuple(trace_id FixedString(16), "
    "span_id FixedString(8), parent_span_id String, name String, kind Int32, "
    f"start_time_unix_nano UInt64, end_time_unix_nano UInt64, attributes {_KV}, "
    "status Tuple(message String, code Int32)))))))"
)
_VALUE = (
    "multiIf(kv.value.string_value != '', kv.value.string_value, kv.value.int_value != 0, "
    "toString(kv.value.int_value), kv.value.double_value != 0, toString(kv.value.double_value), "
    "toString(kv.value.bool_value))"
)


def query(path: str) -> str:
    return f"""
SELECT s.trace_id AS trace_id, s.span_id AS span_id, s.name AS name,
  fromUnixTimestamp64Nano(toInt64(s.start_time_unix_nano)) AS start_time,
  s.end_time_unix_nano - s.start_time_unix_nano AS duration_ns,
  mapFromArrays(arrayMap(kv -> kv.key, s.attributes), arrayMap(kv -> {_VALUE}, s.attributes)) AS attrs,
  attrs['gen_ai.request.model'] AS request_model,
  toUInt32OrNull(attrs['gen_ai.usage.input_tokens']) AS input_tokens
FROM file('{path}', 'ProtobufSingle', '{STRUCTURE}')
ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s
SETTINGS format_schema = '{SCHEMA}:ExportTraceServiceRequest'"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=1000, help="5 spans each, one export request")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    body = build_request(args.traces)
    spans = sum(
        len(ss.spans)
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans
        for ss in rs.scope_spans
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "body.bin")
        with open(path, "wb") as fh:
            fh.write(body)
        sql = query(path)
        rows = chdb.query(sql, "ArrowTable").num_rows
        assert rows == spans, (rows, spans)
        native, python = [], []
        for rnd in range(args.rounds):
            t0 = time.perf_counter()
            chdb.query(sql, "ArrowTable")
            native.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            normalize(otlp.decode(body, otlp.PROTOBUF))
            python.append(time.perf_counter() - t0)
            print(f"  round {rnd + 1}/{args.rounds}", flush=True)
    n, p = statistics.median(native), statistics.median(python)
    print(f"one request of {spans} spans ({len(body):,} bytes)")
    print(f"{'path':44s} {'spans/s':>10s} {'µs/span':>8s}")
    print(f"{'collector: otlp.decode + normalize (Python)':44s} {spans / p:10,.0f} {p / spans * 1e6:8.1f}")
    print(f"{'ClickHouse ProtobufSingle + ARRAY JOIN':44s} {spans / n:10,.0f} {n / spans * 1e6:8.1f}")
    print(f"ratio Python / ClickHouse: {p / n:.1f}x")
    print(json.dumps({"spans": spans, "python_spans_s": spans / p, "native_spans_s": spans / n}))


if __name__ == "__main__":
    main()
