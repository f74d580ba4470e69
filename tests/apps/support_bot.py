"""A small decorated application, run as its own process by the end-to-end tests.

It answers one question: a workflow that retrieves documents, calls a model that fails and
falls back to a second model, streams a follow-up suggestion, and asks for a tool the
application refuses. Prints {"trace_id": ...} on stdout. With ``--feedback`` the user then
gives the answer a thumbs-down pointing at the fallback call, and support escalates it.

Usage: support_bot.py ENDPOINT [--capture] [--feedback]
"""

from __future__ import annotations

import asyncio
import json
import sys

import spyglass


class ProviderTimeout(Exception):
    pass


FALLBACK_SPAN: list[str] = []


@spyglass.retrieval(corpus="kb", corpus_version="2026-11-01", top_k=2)
def search(query: str) -> list[str]:
    docs, scores = ["doc-1", "doc-7"], [0.92, 0.71]
    spyglass.current_span().set_documents(docs, scores=scores)
    spyglass.current_span().set_input(query)
    return docs


@spyglass.llm(
    model="gpt-4o",
    provider="openai",
    prompt_name="answer",
    prompt_version="v3",
    prompt_template="Answer using {docs}: {question}",
)
def primary_model(question: str) -> str:
    raise ProviderTimeout("gpt-4o timed out after 30 s")


@spyglass.llm(
    model="gpt-4o-mini", provider="openai", prompt_name="answer", prompt_version="v3", fallback_from="gpt-4o"
)
async def fallback_model(question: str) -> str:
    call = spyglass.current_span()
    FALLBACK_SPAN.append(call.span_id)
    call.set_input(question)
    call.set_usage(input_tokens=120, output_tokens=30, cached_input_tokens=64)
    call.set_response(model="gpt-4o-mini-2024-07-18", finish_reason="stop", response_id="resp-1")
    await asyncio.sleep(0.01)
    call.set_output("You can get a refund within 30 days.")
    return "You can get a refund within 30 days."


@spyglass.llm(
    "suggest_followups",
    model="claude-haiku-4-5",
    provider="anthropic",
    prompt_name="followups",
    prompt_version="v1",
)
async def stream_followups() -> object:
    for token in ("Anything", " else", "?"):
        await asyncio.sleep(0.005)
        yield token
    spyglass.current_span().set_usage(input_tokens=40, output_tokens=3)


async def answer_question(question: str) -> str:
    with spyglass.workflow("answer_question"):
        search(question)
        try:
            primary_model(question)
        except ProviderTimeout:
            pass
        answer = await fallback_model(question)
        followup = "".join([t async for t in stream_followups()])
        with spyglass.tool("issue_refund", schema_version="2", call_id="call-9") as t:
            t.set_arguments({"order": "A-17", "amount": 30})
            t.set_authorization(allowed=False, reason="role lacks refunds")
        trace_id = spyglass.current_trace_id()
    if "--feedback" in sys.argv and trace_id:
        spyglass.feedback(
            trace_id, thumbs="down", comment="refund window is 60 days", span_id=FALLBACK_SPAN[0]
        )
        spyglass.feedback(
            trace_id, source="support", escalation_reason="customer complaint", override="60 days"
        )
    print(
        json.dumps(
            {"trace_id": trace_id, "answer": answer, "followup": followup, "fallback_span": FALLBACK_SPAN[0]}
        )
    )
    return answer


def main() -> None:
    endpoint = sys.argv[1]
    spyglass.init(
        endpoint=endpoint,
        service_name="support-bot",
        capture_content=True if "--capture" in sys.argv else None,
    )
    with spyglass.cohort(
        tenant="acme",
        workflow="support",
        intent="refund",
        release="2026.11.2",
        user="user-42",
        session="sess-7",
    ):
        asyncio.run(answer_question("How do I get a refund?"))
    assert spyglass.flush(timeout=30), "spans were not exported"


if __name__ == "__main__":
    main()
