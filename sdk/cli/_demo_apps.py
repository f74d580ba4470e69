"""The demo's two applications, written as a real application would be, against the public SDK:
a retrieval-augmented support assistant and a ticket classifier.

Calls to providers, the vector store and tools are simulated: they advance the virtual clock
(``Sim.wait``) and sometimes raise, inside their spans, the errors a real client raises; the
applications catch them as real ones do (fall back to the cheaper model, answer without
context, carry on without the customer record).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import spyglass

from ._demo_world import FALLBACK_MODEL, INTENTS, PRIMARY_MODEL, Request, Sim

KB_VERSION = "2026-11-01"
PROVIDER_TIMEOUT_S = 6.0
TEMPLATES = {  # hashed into spyglass.prompt.template_hash, never exported
    "v3": "You are a support agent for {tenant}. Answer using only these documents:\n{docs}\nQ: {question}",
    "v4": "Answer briefly as {tenant}'s assistant. Cite the documents.\n{docs}\nCustomer: {question}",
}
# The tool the model asks for, per intent, and how often it asks (turn one).
ACTIONS = {
    "refund": ("issue_refund", 0.7),
    "shipping": ("track_shipment", 0.6),
    "account": ("reset_password", 0.5),
    "billing": ("lookup_invoice", 0.5),
    "technical": ("create_bug_report", 0.4),
}
DENIALS = {  # tool -> (share denied by the application, reasons)
    "issue_refund": (0.22, ("amount exceeds the agent refund limit", "order outside the 30-day window")),
    "reset_password": (0.12, ("identity not verified",)),
}


class ProviderTimeout(TimeoutError):
    """The model provider did not answer in time."""


class RateLimited(Exception):
    """HTTP 429 from the model provider."""


class ProviderError(Exception):
    """HTTP 5xx from the model provider."""


class ToolError(Exception):
    """A backend behind a tool failed."""


class VectorStoreTimeout(TimeoutError):
    """The vector store did not answer in time."""


class OutputParseError(ValueError):
    """The classifier's answer was not the JSON it was asked for."""


@dataclass
class Outcome:
    """What happened in one request, for feedback and for picking example traces."""

    request: Request
    trace_id: str = ""
    end_ns: int = 0
    answer_span_id: str | None = None  # the LLM call whose answer the user saw
    failed: bool = False  # the workflow raised; the user saw an apology
    fallback: bool = False
    denied_tool: str | None = None
    errors: int = 0  # spans that ended with an error
    label: str | None = None  # the triage app's predicted category


def _complete(sim: Sim, call: spyglass.LLMSpan, model: str, input_tokens: int, tool_turn: bool) -> None:
    """A successful completion: time to first token, then tokens at the model's speed."""
    fast = model == FALLBACK_MODEL
    output = round(sim.lognormal(40 if tool_turn else 120, 0.35))
    sim.wait(0.3 if fast else 0.45, 0.35)
    sim.clock.advance(output * (0.006 if fast else 0.010) * sim.lognormal(1.0, 0.15))
    cached = 1024 * (input_tokens // 1024) if sim.chance(0.3) else None
    call.set_usage(input_tokens=input_tokens, output_tokens=output, cached_input_tokens=cached)
    reason = "tool_calls" if tool_turn else ("length" if sim.chance(0.01) else "stop")
    dated = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}[model]
    call.set_response(
        model=dated, finish_reason=reason, response_id=f"chatcmpl-{sim.rng.getrandbits(48):012x}"
    )


def _answer(sim: Sim, req: Request, out: Outcome, context_docs: int, tool_turn: bool) -> None:
    """One turn of the model route: the primary model, and the cheaper one when it fails.
    If the fallback fails too the error propagates and the whole request fails."""
    tokens = 420 + 190 * context_docs + (0 if tool_turn else 260) + sim.rng.randint(0, 120)
    prompt = {"prompt_name": "answer", "prompt_version": req.prompt_version}
    template = TEMPLATES[req.prompt_version]
    try:
        with spyglass.llm(model=PRIMARY_MODEL, provider="openai", prompt_template=template, **prompt) as call:
            # Timeouts are rare (0.15%) so that chance ones do not set the p99 of small
            # cohorts; rate limits (1.2%) and 5xx (0.5%) fail fast.
            roll = sim.rng.random()
            if roll < 0.0015:
                sim.clock.advance(PROVIDER_TIMEOUT_S)
                raise ProviderTimeout(f"{PRIMARY_MODEL} did not answer within {PROVIDER_TIMEOUT_S:g} s")
            if roll < 0.0135:
                sim.wait(0.2, 0.3)
                raise RateLimited(f"429 Too Many Requests: rate limit reached for {PRIMARY_MODEL}")
            if roll < 0.0185:
                sim.wait(0.5, 0.5)
                raise ProviderError("500 Internal Server Error from openai")
            _complete(sim, call, PRIMARY_MODEL, tokens, tool_turn)
            out.answer_span_id = call.span_id
            return
    except (ProviderTimeout, RateLimited, ProviderError):
        out.errors += 1
        out.fallback = True
    with spyglass.llm(
        model=FALLBACK_MODEL,
        provider="openai",
        fallback_from=PRIMARY_MODEL,
        prompt_template=template,
        **prompt,
    ) as call:
        if sim.chance(0.04):
            sim.wait(0.4, 0.5)
            out.errors += 1
            raise ProviderError("503 Service Unavailable from openai")
        _complete(sim, call, FALLBACK_MODEL, tokens, tool_turn)
        out.answer_span_id = call.span_id


def _retrieve(sim: Sim, out: Outcome, corpus: str, top_k: int, universe: int) -> list[str]:
    """Embed the question and search the corpus; an empty list when nothing came back."""
    with spyglass.embedding(model="text-embedding-3-small", provider="openai") as emb:
        sim.wait(0.045, 0.35)
        emb.set_usage(input_tokens=sim.rng.randint(8, 90))
    try:
        with spyglass.retrieval(corpus=corpus, corpus_version=KB_VERSION, top_k=top_k) as found:
            if sim.chance(0.003):
                sim.clock.advance(2.0)
                raise VectorStoreTimeout("vector store did not answer within 2 s")
            sim.wait(0.07, 0.45)
            if sim.chance(0.05):  # nothing close enough to the question
                found.set_documents([], scores=[])
                return []
            n = sim.rng.randint(max(2, top_k - 3), top_k)
            ids = [f"{corpus}-{i:04d}" for i in sim.rng.sample(range(1, universe), n)]
            scores = sorted((round(sim.rng.uniform(0.35, 0.93), 4) for _ in ids), reverse=True)
            found.set_documents(ids, scores=scores)
            return ids
    except VectorStoreTimeout:
        out.errors += 1
        return []  # answer without context rather than not at all


def _rerank(sim: Sim, ids: list[str], top_k: int) -> list[str]:
    with spyglass.rerank(corpus="kb", corpus_version=KB_VERSION, top_k=top_k, model="rerank-v3.5") as rr:
        sim.wait(0.11, 0.4)
        scored = sorted(((sim.rng.random(), doc) for doc in ids), reverse=True)[:top_k]
        rr.set_documents([doc for _, doc in scored], scores=[round(s, 4) for s, _ in scored])
        return [doc for _, doc in scored]


def _lookup_customer(sim: Sim, req: Request, out: Outcome) -> None:
    """The CRM lookup both apps make; planted problem 1 makes it slow for one tenant."""
    try:
        with spyglass.tool("lookup_customer", schema_version="1"):
            if req.slow_tool:
                sim.clock.advance(sim.rng.uniform(2.0, 6.0))
            else:
                sim.wait(0.09, 0.5)
            if sim.chance(0.008):
                out.errors += 1
                raise ToolError("crm returned 503")
    except ToolError:
        pass  # carry on without the customer's tier


def _action(sim: Sim, req: Request, out: Outcome) -> None:
    """The tool the model asked for; the application may refuse it."""
    name = ACTIONS[req.intent][0]
    call_id = f"call_{sim.rng.getrandbits(40):010x}"
    try:
        with spyglass.tool(name, schema_version="2", call_id=call_id) as t:
            denied_share, reasons = DENIALS.get(name, (0.0, ()))
            if sim.chance(denied_share):
                t.set_authorization(allowed=False, reason=sim.rng.choice(reasons))
                out.denied_tool = name
                sim.wait(0.002, 0.3)
                return
            t.set_authorization(allowed=True)
            if name == "track_shipment" and sim.chance(0.005):
                sim.clock.advance(3.0)
                out.errors += 1
                raise ToolError("carrier API timed out after 3 s")
            sim.wait(0.15, 0.6)
    except ToolError:
        pass  # the model answers without the tool's result


def support_answer(sim: Sim, req: Request) -> Outcome:
    """The retrieval-augmented assistant answering one customer question."""
    out = Outcome(req)
    try:
        with _cohort(req, "support"), spyglass.workflow("answer_question") as root:
            out.trace_id = root.trace_id
            sim.wait(0.004, 0.3)
            docs = _retrieve(sim, out, "kb", top_k=8, universe=420)
            context = _rerank(sim, docs, top_k=3) if docs else []
            _lookup_customer(sim, req, out)
            wants_tool = sim.chance(ACTIONS[req.intent][1])
            _answer(sim, req, out, len(context), tool_turn=wants_tool)
            if wants_tool:
                _action(sim, req, out)
                _answer(sim, req, out, len(context), tool_turn=False)
            sim.wait(0.003, 0.3)
    except ProviderError:
        out.failed = True  # both model routes failed: the user is told to try again
        out.errors += 1  # the workflow span records it too
    out.end_ns = sim.clock.now_ns()
    return out


def triage_ticket(sim: Sim, req: Request) -> Outcome:
    """The classifier: label an incoming ticket with a category and route it to a queue."""
    out = Outcome(req)
    with _cohort(req, "triage"), spyglass.workflow("classify_ticket") as root:
        out.trace_id = root.trace_id
        _lookup_customer(sim, req, out)
        similar = _retrieve(sim, out, "tickets", top_k=5, universe=5000)
        tokens = 300 + 120 * len(similar) + sim.rng.randint(0, 200)
        for attempt in (1, 2):  # one retry when the answer is not valid JSON
            try:
                with spyglass.llm(
                    model=FALLBACK_MODEL, provider="openai", prompt_name="classify", prompt_version="v2"
                ) as call:
                    sim.wait(0.35, 0.3)
                    call.set_usage(input_tokens=tokens, output_tokens=sim.rng.randint(12, 40))
                    call.set_response(model="gpt-4o-mini-2024-07-18", finish_reason="stop")
                    if attempt == 1 and sim.chance(0.025):
                        out.errors += 1
                        raise OutputParseError("expected a JSON object with 'category', got prose")
                    out.answer_span_id = call.span_id
                break
            except OutputParseError:
                continue
        intents = list(INTENTS)
        out.label = req.intent if sim.chance(0.88) else sim.rng.choice(intents)
        with spyglass.tool("route_ticket", schema_version="1") as t:
            if sim.chance(0.06):
                t.set_authorization(allowed=False, reason="urgent priority requires on-call approval")
                out.denied_tool = "route_ticket"
            else:
                t.set_authorization(allowed=True)
            sim.wait(0.03, 0.4)
    out.end_ns = sim.clock.now_ns()
    return out


def _cohort(req: Request, workflow: str) -> AbstractContextManager[None]:
    return spyglass.cohort(
        tenant=req.tenant,
        workflow=workflow,
        intent=req.intent,
        release=req.release,
        user=req.user,
        session=req.session,
    )


APPS = {"support": support_answer, "triage": triage_ticket}
