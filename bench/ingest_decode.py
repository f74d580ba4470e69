"""The collector's CPU cost per span: OTLP decode + normalization into Arrow rows.

Builds realistic export requests with the real SDK (a workflow with retrieval, two LLM calls
and a tool per trace, cohort, 512 spans per request as the batch exporter sends), encodes them
with OpenTelemetry's own OTLP encoder, then times, alternating, per request:

  baseline: protobuf parsing alone (ExportTraceServiceRequest.ParseFromString)
  collector: spyglass.collector.otlp.decode + normalize.normalize (what POST /v1/traces runs)

Usage: .venv/bin/python bench/ingest_decode.py [--requests 20] [--rounds 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import spyglass
from spyglass.collector import otlp
from spyglass.collector.normalize import normalize
from spyglass.testing import capture_spans


def build_request(traces: int) -> bytes:
    with capture_spans() as captured:
        for i in range(traces):
            with spyglass.cohort(tenant=f"t{i % 7}", workflow="support", intent="refund", release="r1"):
                with spyglass.workflow("answer_question"):
                    with spyglass.retrieval(corpus="kb", corpus_version="v1", top_k=5) as r:
                        r.set_documents([f"doc-{i}-{k}" for k in range(5)], [0.9, 0.8, 0.7, 0.6, 0.5])
                    for model in ("gpt-4o", "gpt-4o-mini"):
                        with spyglass.llm(
                            model=model, provider="openai", prompt_name="a", prompt_version="v3"
                        ) as c:
                            c.set_usage(input_tokens=500 + i, output_tokens=80)
                            c.set_response(model=model + "-2024", finish_reason="stop")
                    with spyglass.tool("issue_refund", schema_version="2") as t:
                        t.set_authorization(allowed=False, reason="role lacks refunds")
        spans = captured.all()
    return encode_spans(spans).SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20, help="requests per round (512 spans each)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(__doc__.splitlines()[0])
    print(f"machine: {platform.platform()}, python {platform.python_version()}")
    body = build_request(traces=103)  # 103 traces x 5 spans = 515 spans
    spans = sum(
        len(ss.spans)
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans
        for ss in rs.scope_spans
    )
    print(f"request: {spans} spans, {len(body):,} bytes of protobuf")

    parse_s, full_s = [], []
    for rnd in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(args.requests):
            ExportTraceServiceRequest().ParseFromString(body)
        parse_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(args.requests):
            normalize(otlp.decode(body, otlp.PROTOBUF))
        full_s.append(time.perf_counter() - t0)
        print(f"  round {rnd + 1}/{args.rounds}", flush=True)
    n = spans * args.requests
    parse_rate = n / statistics.median(parse_s)
    full_rate = n / statistics.median(full_s)
    print(f"{'step':40s} {'spans/s':>12s} {'µs/span':>9s}")
    print(f"{'protobuf parse only (baseline)':40s} {parse_rate:12,.0f} {1e6 / parse_rate:9.2f}")
    print(f"{'decode + normalize (collector)':40s} {full_rate:12,.0f} {1e6 / full_rate:9.2f}")
    print(f"ratio collector / parse-only cost: {parse_rate / full_rate:.1f}x")


if __name__ == "__main__":
    main()
