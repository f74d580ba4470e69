"""Application processes for the SDK resilience and configuration tests.

Usage: sdk_probe.py busy CALLS      decorated calls against whatever endpoint the env names
       sdk_probe.py host_provider   the host set up OpenTelemetry itself before spyglass.init
       sdk_probe.py env             configured only through environment variables
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import spyglass


@spyglass.llm(model="gpt-4o-mini", provider="openai", prompt_name="answer", prompt_version="v3")
def call_model(i: int) -> int:
    spyglass.current_span().set_usage(input_tokens=i, output_tokens=1)
    return i * 2


def busy(calls: int) -> None:
    spyglass.init(service_name="busy-app", max_queue_size=256)
    start = time.perf_counter()
    total = 0
    latencies = []
    with spyglass.cohort(tenant="t1"):
        for i in range(calls):
            began = time.perf_counter()
            with spyglass.workflow("request"):
                total += call_model(i)
            latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    latencies.sort()
    calls_s = {
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "max": latencies[-1],
    }
    out = {"total": total, "elapsed_s": elapsed, "call_s": calls_s, "stats": spyglass.sdk_stats()}
    print(json.dumps(out), flush=True)


def host_provider() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "host-app"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)

    returned = spyglass.init(service_name="ignored-name")
    host_tracer = trace.get_tracer("host")
    with spyglass.cohort(tenant="t-host"), spyglass.workflow("host_request"):
        with host_tracer.start_as_current_span("host-own-span"):
            call_model(1)
        trace_id = spyglass.current_trace_id()
    spyglass.flush(timeout=30)
    print(
        json.dumps(
            {
                "trace_id": trace_id,
                "same_provider": returned is provider,
                "global_is_host": trace.get_tracer_provider() is provider,
                "memory_spans": sorted(s.name for s in memory.get_finished_spans()),
            }
        ),
        flush=True,
    )


def env() -> None:
    spyglass.init()
    with spyglass.workflow("from_env"):
        trace_id = spyglass.current_trace_id()
    spyglass.flush(timeout=30)
    print(json.dumps({"trace_id": trace_id}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "busy":
        busy(int(sys.argv[2]))
    elif mode == "host_provider":
        host_provider()
    else:
        env()
