"""``spyglass.cohort``: stamped on every span inside the block, merged when nested, carried
wherever OpenTelemetry context propagates (and, as documented, nowhere else)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.trace import format_span_id

import spyglass
from spyglass import attributes as A
from spyglass.testing import capture_spans

COHORT_KEYS = tuple(A.COHORT_ATTRIBUTES.values())


def cohort_of(span) -> dict[str, object]:
    return {k: v for k, v in (span.attributes or {}).items() if k in COHORT_KEYS}


FULL = {
    "tenant": "acme",
    "workflow": "support",
    "intent": "refund",
    "release": "2026.11.2",
    "user": "u-1",
    "session": "s-9",
}
FULL_ATTRS = {
    A.COHORT_TENANT: "acme",
    A.COHORT_WORKFLOW: "support",
    A.COHORT_INTENT: "refund",
    A.COHORT_RELEASE: "2026.11.2",
    A.USER_ID: "u-1",
    A.SESSION_ID: "s-9",
}


def test_cohort_stamped_on_every_span_and_not_after() -> None:
    with capture_spans() as spans:
        with spyglass.cohort(**FULL), spyglass.workflow("wf"):
            with spyglass.llm(model="m"):
                pass
            with spyglass.tool("t"):
                pass
        with spyglass.span("after"):
            pass
    inside = [s for s in spans.all() if s.name != "after"]
    assert len(inside) == 3
    for s in inside:
        assert cohort_of(s) == FULL_ATTRS, s.name
    (after,) = spans.by_name("after")
    assert cohort_of(after) == {}


def test_nested_cohorts_merge() -> None:
    with capture_spans() as spans, spyglass.cohort(tenant="acme", workflow="support", user="u-1"):
        with spyglass.cohort(workflow="billing", intent="refund"), spyglass.span("inner"):
            pass
        with spyglass.span("outer"):
            pass
    (inner,) = spans.by_name("inner")
    (outer,) = spans.by_name("outer")
    assert cohort_of(inner) == {
        A.COHORT_TENANT: "acme",
        A.COHORT_WORKFLOW: "billing",
        A.COHORT_INTENT: "refund",
        A.USER_ID: "u-1",
    }
    assert cohort_of(outer) == {A.COHORT_TENANT: "acme", A.COHORT_WORKFLOW: "support", A.USER_ID: "u-1"}


def test_cohort_values_are_strings() -> None:
    with capture_spans() as spans, spyglass.cohort(release=42), spyglass.span("s"):  # type: ignore[arg-type]
        pass
    assert spans.all()[0].attributes[A.COHORT_RELEASE] == "42"


@spyglass.span("worker")
def sync_worker() -> str:
    return threading.current_thread().name


def test_cohort_survives_to_thread() -> None:
    async def main() -> str:
        with spyglass.cohort(tenant="acme"):
            return await asyncio.to_thread(sync_worker)

    with capture_spans() as spans:
        thread_name = asyncio.run(main())
    assert thread_name != threading.current_thread().name
    (s,) = spans.by_name("worker")
    assert cohort_of(s) == {A.COHORT_TENANT: "acme"}


@spyglass.llm(model="m")
async def async_call(i: int) -> int:
    await asyncio.sleep(0)
    return i


def test_cohort_survives_into_gathered_tasks() -> None:
    async def main() -> list[int]:
        with spyglass.cohort(tenant="acme", session="s-1"):
            return await asyncio.gather(*(async_call(i) for i in range(3)))

    with capture_spans() as spans:
        assert asyncio.run(main()) == [0, 1, 2]
    calls = spans.by_kind("llm")
    assert len(calls) == 3
    for s in calls:
        assert cohort_of(s) == {A.COHORT_TENANT: "acme", A.SESSION_ID: "s-1"}


def test_concurrent_tasks_keep_their_own_cohorts() -> None:
    async def one(tenant: str) -> None:
        with spyglass.cohort(tenant=tenant):
            await asyncio.sleep(0)
            await async_call(0)

    async def main() -> None:
        await asyncio.gather(one("a"), one("b"), one("c"))

    with capture_spans() as spans:
        asyncio.run(main())
    assert sorted(s.attributes[A.COHORT_TENANT] for s in spans.by_kind("llm")) == ["a", "b", "c"]


def test_cohort_survives_thread_pool_with_copied_context() -> None:
    with capture_spans() as spans, ThreadPoolExecutor(max_workers=2) as pool:
        with spyglass.cohort(tenant="acme", release="r1"):
            futures = [pool.submit(contextvars.copy_context().run, sync_worker) for _ in range(2)]
        names = [f.result() for f in futures]
    assert threading.current_thread().name not in names
    workers = spans.by_name("worker")
    assert len(workers) == 2
    for s in workers:
        assert cohort_of(s) == {A.COHORT_TENANT: "acme", A.COHORT_RELEASE: "r1"}


def test_plain_thread_without_propagation_loses_cohort() -> None:
    # Documented limit: a thread started without copying the context sees no cohort.
    with capture_spans() as spans, spyglass.cohort(tenant="acme"):
        t = threading.Thread(target=sync_worker)
        t.start()
        t.join()
        with spyglass.span("same-thread"):
            pass
    (worker,) = spans.by_name("worker")
    assert cohort_of(worker) == {}
    (same,) = spans.by_name("same-thread")
    assert cohort_of(same) == {A.COHORT_TENANT: "acme"}


def test_cohort_applies_to_foreign_tracer_spans() -> None:
    # The CohortProcessor stamps any span the provider starts, not only those of spyglass kinds.
    from spyglass._state import state

    with capture_spans() as spans, spyglass.cohort(tenant="acme"):
        state.tracer.start_span("foreign").end()
    (s,) = spans.by_name("foreign")
    assert A.SPAN_KIND not in s.attributes
    assert cohort_of(s) == {A.COHORT_TENANT: "acme"}


# --- One factory object reused as a context manager by concurrent tasks --------------------------
STEP = spyglass.span("step")  # e.g. a module-level factory shared by request handlers


def test_shared_factory_in_interleaved_tasks() -> None:
    async def handler(me: str, entered: asyncio.Event, may_exit: asyncio.Event) -> tuple[str, object]:
        with STEP as handle:
            entered.set()
            await may_exit.wait()
        return handle.span_id, spyglass.current_trace_id()

    async def main() -> list[tuple[str, object]]:
        a_in, a_out, b_in, b_out = (asyncio.Event() for _ in range(4))
        task_a = asyncio.create_task(handler("a", a_in, a_out))
        await a_in.wait()
        task_b = asyncio.create_task(handler("b", b_in, b_out))
        await b_in.wait()
        a_out.set()  # A leaves its block first, while B is still inside its own
        result_a = await task_a
        b_out.set()
        return [result_a, await task_b]

    with capture_spans() as spans:
        (a_id, a_after), (b_id, b_after) = asyncio.run(main())
        ended = [format_span_id(s.context.span_id) for s in spans.by_name("step")]
    assert a_after is None and b_after is None  # each task's context restored on exit
    assert ended == [a_id, b_id]  # A's exit ended A's span, not B's
