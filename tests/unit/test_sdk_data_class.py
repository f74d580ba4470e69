"""``spyglass.data_class``: a label inherited by every span of a block (children, tasks,
other tracers on the provider), overridable per span, validated without raising."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import spyglass
from spyglass import attributes as A
from spyglass._processors import CohortProcessor
from spyglass.testing import capture_spans


def labels(spans: object) -> dict[str, object]:
    return {s.name: (s.attributes or {}).get(A.DATA_CLASS) for s in spans.all()}  # type: ignore[attr-defined]


def test_workflow_block_labels_every_span_inside() -> None:
    with capture_spans() as spans:
        with spyglass.data_class("regulated"), spyglass.workflow("claim"):
            with spyglass.llm("call"), spyglass.tool("lookup"):
                pass
        with spyglass.workflow("outside"):
            pass
    assert labels(spans) == {
        "execute_tool lookup": "regulated",
        "call": "regulated",
        "claim": "regulated",
        "outside": None,
    }


def test_nesting_span_override_and_cohort() -> None:
    with capture_spans() as spans:
        with spyglass.data_class("customer"), spyglass.cohort(tenant="acme"), spyglass.workflow("wf"):
            with spyglass.data_class("internal"), spyglass.span("inner"):
                pass
            with spyglass.span("own") as s:
                s.set_data_class("public")
            with spyglass.span("after"):
                pass
    assert labels(spans) == {"inner": "internal", "own": "public", "after": "customer", "wf": "customer"}
    assert all(s.attributes[A.COHORT_TENANT] == "acme" for s in spans.all())


def test_asyncio_tasks_inherit_the_label() -> None:
    async def child() -> None:
        with spyglass.span("task"):
            await asyncio.sleep(0)

    async def main() -> None:
        with spyglass.data_class("customer"), spyglass.workflow("wf"):
            await asyncio.gather(asyncio.create_task(child()), asyncio.to_thread(lambda: None))

    with capture_spans() as spans:
        asyncio.run(main())
    assert labels(spans) == {"task": "customer", "wf": "customer"}


def test_other_instrumentations_spans_get_the_label() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CohortProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    other = provider.get_tracer("some.instrumentation")
    with spyglass.data_class("regulated"), other.start_as_current_span("http.request"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.DATA_CLASS] == "regulated"


def test_operator_names_are_normalized_and_invalid_ones_ignored() -> None:
    ran = []
    with capture_spans() as spans:
        with spyglass.data_class(" Finance-EU_2 "), spyglass.span("ok"):
            pass
        with spyglass.data_class("customer"):
            for bad in ("has space", "", "x" * 33, "émoji", None):
                with spyglass.data_class(bad), spyglass.span(f"bad {bad!r}"):  # type: ignore[arg-type]
                    ran.append(bad)
        with spyglass.span("own bad") as s:
            s.set_data_class("Not Valid!")
    got = labels(spans)
    assert got.pop("ok") == "finance-eu_2"
    assert got.pop("own bad") is None
    assert len(ran) == 5 and set(got.values()) == {"customer"}  # the outer label stays
