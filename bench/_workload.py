"""Realistic span rows for the store benchmarks, as pyarrow Tables in the collector's own shape
(``queries.SPAN_COLUMNS`` order, ``normalize.SCHEMA`` types, other columns ``string``), exactly
what ``collector.normalize.normalize`` hands to ``Store.insert``.

One trace = 10 spans of an LLM application (variants differ in service, models, tools):
a workflow root; an embedding call; a retrieval and a rerank with 5 document ids each; two LLM
calls (tokens, prompt name/version, finish reasons), each with a child HTTP client span from
another instrumentation; a tool call (2% fail with an exception event); a generic span.
IDs are random (16-byte trace, 8-byte span), parents link to real span ids, the cohort
(tenant, workflow, intent, release, user, session) is the same on every span of a trace and
comes from 5 tenants with skewed traffic, and each span carries 2-4 extra attributes in the
map (some with per-span unique values). Generation is vectorized (numpy + Arrow take), and
deterministic for a given seed, so two processes can insert identical rows.

    from _workload import generate, batch, SPANS_PER_TRACE
    for table in generate(total_spans=1_000_000, batch_rows=100_000, start_ns=..., end_ns=...):
        store.insert("spans", table)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spyglass.collector.normalize import SCHEMA
from spyglass.collector.store.queries import SPAN_COLUMNS

SPANS_PER_TRACE = 10
DAY_NS = 86_400 * 10**9
RAND = object()  # placeholder: a per-span random hex value in the attribute map

TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"]
TENANT_WEIGHTS = [0.40, 0.25, 0.15, 0.12, 0.08]
USERS_PER_TENANT = 2000
INTENTS = ["refund", "order_status", "billing", "product_question", "other"]
RELEASES = ["2026.11.1", "2026.11.2", "2026.11.3"]
DOCS_PER_CORPUS = 50_000
TOOL_ERROR_RATE = 0.02


def expected_schema() -> pa.Schema:
    """The schema ``collector.normalize.normalize`` produces."""
    return pa.schema([(c, SCHEMA.field(c).type if c in SCHEMA.names else pa.string()) for c in SPAN_COLUMNS])


# --- trace templates -----------------------------------------------------------------------------
def _span(name: str, kind: str, parent: int, offset_ms: float, dur_ms: float, **cols: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "parent": parent, "offset_ms": offset_ms, "dur_ms": dur_ms, **cols}


def _llm(
    model: str, provider: str, prompt: str, version: str, offset: float, dur: float, **extra: Any
) -> dict[str, Any]:
    return _span(
        f"chat {model}",
        "llm",
        0,
        offset,
        dur,
        operation="chat",
        provider=provider,
        request_model=model,
        response_model=model + "-2024-07-18" if "gpt" in model else model,
        endpoint_type="live",
        prompt_name=prompt,
        prompt_version=version,
        prompt_hash="9f2c1e0a7b3d5c44",
        finish_reasons=["stop"],
        tokens="llm",
        attributes={
            "gen_ai.request.temperature": "0.2",
            "gen_ai.request.max_tokens": "512",
            "gen_ai.response.id": RAND,
        },
        **extra,
    )


def _http(parent: int, offset: float, dur: float, host: str) -> dict[str, Any]:
    return _span(
        "POST",
        "",
        parent,
        offset,
        dur,
        span_kind="client",
        scope_name="opentelemetry.instrumentation.httpx",
        scope_version="0.52b1",
        attributes={
            "http.request.method": "POST",
            "server.address": host,
            "url.full": f"https://{host}/v1/chat/completions",
            "http.response.status_code": "200",
        },
    )


def _variants() -> list[dict[str, Any]]:
    def trace(
        service: str,
        workflow: str,
        root: str,
        corpus: str,
        tool: str,
        m1: tuple[str, ...],
        m2: tuple[str, ...],
        **llm2: Any,
    ) -> dict[str, Any]:
        docs_attrs = {"db.system": "qdrant", "code.function": "search"}
        spans = [
            _span(root, "workflow", -1, 0, 0, attributes={"code.function": root, "thread.name": "worker-3"}),
            _span(
                "embeddings text-embedding-3-small",
                "embedding",
                0,
                2,
                40,
                operation="embeddings",
                provider="openai",
                request_model="text-embedding-3-small",
                tokens="embedding",
                attributes={"gen_ai.request.encoding_formats": '["float"]', "code.function": "embed"},
            ),
            _span(
                f"retrieval {corpus}",
                "retrieval",
                0,
                45,
                25,
                corpus=corpus,
                corpus_version="2026-11-01",
                top_k=5,
                docs=True,
                attributes=docs_attrs,
            ),
            _span(
                f"rerank {corpus}",
                "rerank",
                0,
                72,
                60,
                corpus=corpus,
                corpus_version="2026-11-01",
                top_k=5,
                request_model="rerank-v3.5",
                provider="cohere",
                docs=True,
                attributes={"code.function": "rerank", "rerank.candidates": "20"},
            ),
            _llm(*m1, 135, 900),
            _http(4, 137, 890, "api.openai.com" if m1[1] == "openai" else f"api.{m1[1]}.com"),
            _span(
                f"execute_tool {tool}",
                "tool",
                0,
                1040,
                120,
                operation="execute_tool",
                tool_name=tool,
                tool_schema_version="v2",
                tool_call_id=RAND,
                authorization="allowed",
                attributes={"code.function": tool, "tool.retry": "0"},
            ),
            _llm(*m2, 1165, 1400, **llm2),
            _http(7, 1167, 1390, "api.openai.com" if m2[1] == "openai" else f"api.{m2[1]}.com"),
            _span(
                "format_answer",
                "span",
                0,
                2570,
                8,
                attributes={"code.function": "format_answer", "answer.chars": RAND},
            ),
        ]
        assert len(spans) == SPANS_PER_TRACE
        return {"service": service, "workflow": workflow, "spans": spans}

    return [
        trace(
            "support-bot",
            "support",
            "answer_question",
            "kb-support",
            "lookup_order",
            ("gpt-4o-mini", "openai", "answer", "v3"),
            ("gpt-4o-mini", "openai", "answer_with_tool", "v1"),
        ),
        trace(
            "support-bot",
            "support",
            "answer_question",
            "kb-support",
            "issue_refund",
            ("gpt-4o-mini", "openai", "answer", "v3"),
            ("claude-3-5-sonnet", "anthropic", "answer_with_tool", "v1"),
            is_fallback=True,
            fallback_from="gpt-4o",
        ),
        trace(
            "sales-assistant",
            "sales",
            "qualify_lead",
            "crm-notes",
            "create_ticket",
            ("gpt-4o", "openai", "qualify", "v7"),
            ("gpt-4o", "openai", "summarize", "v2"),
        ),
        trace(
            "docs-search",
            "docs-qa",
            "search_docs",
            "product-docs",
            "fetch_page",
            ("gemini-1.5-flash", "google", "docs_answer", "v1"),
            ("gemini-1.5-pro", "google", "docs_cite", "v4"),
        ),
    ]


class _FlatMaps:
    """One string map per template row, flattened so a batch's map column is built with numpy
    index arithmetic (Arrow's take on map columns is slow)."""

    def __init__(self, maps: list[dict[str, Any]]) -> None:
        keys, vals, rand, start, count = [], [], [], [], []
        for m in maps:
            start.append(len(keys))
            count.append(len(m))
            for k, v in m.items():
                keys.append(k)
                vals.append("" if v is RAND else v)
                rand.append(v is RAND)
        self.keys = pa.array(keys, pa.string())
        self.vals = pa.array(vals, pa.string())
        self.rand = np.array(rand, dtype=bool)
        self.start = np.array(start, dtype=np.int64)
        self.count = np.array(count, dtype=np.int64)

    def build(self, trow: np.ndarray, rng: np.random.Generator) -> pa.Array:
        cnt = self.count[trow]
        off = np.concatenate([[0], np.cumsum(cnt)])
        flat = np.repeat(self.start[trow] - off[:-1], cnt) + np.arange(off[-1])
        idx = pa.array(flat)
        keys, vals = self.keys.take(idx), self.vals.take(idx)
        rmask = self.rand[flat]
        if rmask.any():
            vals = pc.replace_with_mask(vals, pa.array(rmask), _hex_strings(rng, int(rmask.sum()), 8))
        return pa.MapArray.from_arrays(pa.array(off, pa.int32()), keys, vals)


def _pick(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx))


class _Template:
    """All variants' spans as one small Arrow table (V*10 rows) plus numpy side arrays."""

    def __init__(self, project: str) -> None:
        variants = _variants()
        rows: list[dict[str, Any]] = []
        for v in variants:
            for s in v["spans"]:
                rows.append({**s, "service": v["service"], "workflow": v["workflow"]})
        self.n_variants = len(variants)
        self.variant_weights = np.array([0.45, 0.15, 0.25, 0.15])
        schema = expected_schema()
        resource = {
            v["service"]: {
                "service.name": v["service"],
                "service.version": "1.8.2",
                "deployment.environment": "production",
                "telemetry.sdk.language": "python",
                "telemetry.sdk.name": "opentelemetry",
                "telemetry.sdk.version": "1.45.2",
                "spyglass.project": project,
            }
            for v in variants
        }
        cols: dict[str, list[Any]] = {c: [] for c in SPAN_COLUMNS}
        for r in rows:
            defaults = {
                "project": project,
                "trace_id": b"\0" * 16,
                "span_id": b"\0" * 8,
                "parent_span_id": b"\0" * 8,
                "trace_state": "",
                "flags": 257,
                "start_time": 0,
                "duration_ns": 0,
                "span_kind": "internal",
                "status_code": "unset",
                "status_message": "",
                "service": r["service"],
                "scope_name": "spyglass",
                "scope_version": "0.1.0",
                "workflow": r["workflow"],
                "is_fallback": False,
                "finish_reasons": [],
                "document_ids": [],
                "document_scores": [],
                "attributes": {},
                "resource_attributes": resource[r["service"]],
                "scope_attributes": {},
                "events_time": [],
                "events_name": [],
                "events_attributes": [],
                "links_trace_id": [],
                "links_span_id": [],
                "links_trace_state": [],
                "links_attributes": [],
                "dropped_attributes_count": 0,
                "dropped_events_count": 0,
                "dropped_links_count": 0,
                "input_tokens": None,
                "output_tokens": None,
                "cached_input_tokens": None,
                "top_k": None,
            }
            for c in SPAN_COLUMNS:
                value = r.get(c, defaults.get(c, ""))
                if value is RAND:
                    value = ""
                if c == "attributes":
                    value = {k: ("" if v is RAND else v) for k, v in value.items()}
                cols[c].append(value)
        self.table = pa.table(
            {c: pa.array(cols[c], schema.field(c).type) for c in SPAN_COLUMNS}, schema=schema
        )
        n = len(rows)
        self.parent = np.array([r["parent"] for r in rows]).reshape(self.n_variants, SPANS_PER_TRACE)
        self.offset_ns = np.array([r["offset_ms"] * 1e6 for r in rows]).reshape(self.n_variants, -1)
        self.dur_ns = np.array([r["dur_ms"] * 1e6 for r in rows]).reshape(self.n_variants, -1)
        self.tokens = np.array([{"llm": 2, "embedding": 1}.get(r.get("tokens"), 0) for r in rows])
        self.docs = np.array([bool(r.get("docs")) for r in rows])
        self.tool = np.array([r["kind"] == "tool" for r in rows])
        self.tool_call_rand = np.array([r.get("tool_call_id") is RAND for r in rows])
        # map columns, flattened: per template row its entries' start and count, RAND flags
        self.attr = _FlatMaps([r["attributes"] for r in rows])
        self.resource = _FlatMaps([resource[r["service"]] for r in rows])
        self.corpus = [r.get("corpus", "") for r in rows]
        assert n == self.n_variants * SPANS_PER_TRACE


_TEMPLATES: dict[str, _Template] = {}
_DOC_NAMES = pa.array([f"doc-{i:06d}" for i in range(DOCS_PER_CORPUS)], pa.string())
_USERS = pa.array([f"{t}-user-{i:05d}" for t in TENANTS for i in range(USERS_PER_TENANT)], pa.string())


def _template(project: str) -> _Template:
    if project not in _TEMPLATES:
        _TEMPLATES[project] = _Template(project)
    return _TEMPLATES[project]


def _fixed_binary(raw: np.ndarray, width: int) -> pa.Array:
    buf = pa.py_buffer(np.ascontiguousarray(raw, dtype=np.uint8).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(raw) // width if raw.ndim == 1 else raw.shape[0], [None, buf]
    )


def _hex_strings(rng: np.random.Generator, n: int, nbytes: int, prefix: str = "") -> pa.Array:
    h = rng.bytes(n * nbytes).hex()
    w = 2 * nbytes
    return pa.array([prefix + h[i : i + w] for i in range(0, n * w, w)], pa.string())


def _lists(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def batch(
    n_traces: int, t_from_ns: int, t_to_ns: int, seed: int | tuple[int, ...] = 0, project: str = "bench"
) -> pa.Table:
    """``n_traces`` traces (10 spans each) whose roots start uniformly in [t_from_ns, t_to_ns)."""
    tpl = _template(project)
    rng = np.random.default_rng(seed)
    T, S = n_traces, SPANS_PER_TRACE
    n = T * S
    variant = rng.choice(tpl.n_variants, size=T, p=tpl.variant_weights)
    trow = (variant[:, None] * S + np.arange(S)[None, :]).ravel()  # template row of each row
    cols: dict[str, pa.Array] = {}

    # IDs and parent links
    trace_raw = rng.integers(0, 256, size=(T, 16), dtype=np.uint8)
    span_raw = rng.integers(0, 256, size=(T, S, 8), dtype=np.uint8)
    span_raw[:, :, 0] |= 1  # never all zero
    parent_pos = tpl.parent[variant]  # (T, S)
    parent_raw = np.take_along_axis(span_raw, np.maximum(parent_pos, 0)[:, :, None], axis=1)
    parent_raw[parent_pos < 0] = 0
    cols["trace_id"] = _fixed_binary(np.repeat(trace_raw, S, axis=0).reshape(n, 16), 16)
    cols["span_id"] = _fixed_binary(span_raw.reshape(n, 8), 8)
    cols["parent_span_id"] = _fixed_binary(parent_raw.reshape(n, 8), 8)

    # times: children at template offsets with jitter, the root spans them all
    t0 = rng.integers(t_from_ns, t_to_ns, size=T, dtype=np.int64)
    jitter = rng.lognormal(0.0, 0.35, size=(T, S))
    offset = (tpl.offset_ns[variant] * jitter).astype(np.int64)
    dur = (tpl.dur_ns[variant] * rng.lognormal(0.0, 0.5, size=(T, S))).astype(np.int64) + 1000
    start = t0[:, None] + offset
    end = start + dur
    end[:, 0] = end[:, 1:].max(axis=1) + 1_000_000
    dur = end - start
    cols["start_time"] = pa.array(start.ravel(), pa.timestamp("ns", tz="UTC"))
    cols["duration_ns"] = pa.array(dur.ravel().astype(np.uint64), pa.uint64())

    # cohort, one per trace
    tenant = rng.choice(len(TENANTS), size=T, p=TENANT_WEIGHTS)
    per_row = lambda a: np.repeat(a, S)  # noqa: E731
    cols["tenant"] = _pick(TENANTS, per_row(tenant))
    cols["intent"] = _pick(INTENTS, per_row(rng.integers(0, len(INTENTS), T)))
    cols["release"] = _pick(RELEASES, per_row(rng.choice(3, T, p=[0.2, 0.5, 0.3])))
    user = tenant * USERS_PER_TENANT + rng.zipf(1.3, size=T).clip(1, USERS_PER_TENANT) - 1
    cols["user_id"] = _USERS.take(pa.array(per_row(user)))
    cols["session_id"] = _hex_strings(rng, T, 8, "sess-").take(pa.array(np.repeat(np.arange(T), S)))

    # tokens on LLM (in, out, cached) and embedding (in) spans
    tok = tpl.tokens[trow]
    llm, emb = tok == 2, tok == 1
    inp = rng.integers(200, 4000, n).astype(np.uint32)
    out = rng.integers(10, 600, n).astype(np.uint32)
    cached = (inp * rng.choice([0.0, 0.5, 0.8], n, p=[0.6, 0.25, 0.15])).astype(np.uint32)
    cols["input_tokens"] = pa.array(inp, pa.uint32(), mask=~(llm | emb))
    cols["output_tokens"] = pa.array(out, pa.uint32(), mask=~llm)
    cols["cached_input_tokens"] = pa.array(cached, pa.uint32(), mask=~llm)

    # documents: 5 per retrieval/rerank span, rank-ordered scores
    docs = tpl.docs[trow]
    nd = int(docs.sum())
    counts = np.where(docs, 5, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    doc_idx = rng.zipf(1.2, size=nd * 5).clip(1, DOCS_PER_CORPUS) - 1
    cols["document_ids"] = _lists(offsets, _DOC_NAMES.take(pa.array(doc_idx)))
    scores = np.sort(rng.random((nd, 5), dtype=np.float32), axis=1)[:, ::-1].ravel()
    cols["document_scores"] = _lists(offsets, pa.array(scores, pa.float32()))

    # tool calls: unique call id; some fail with an exception event
    tool = tpl.tool[trow]
    call_mask = tpl.tool_call_rand[trow]
    cols["tool_call_id"] = pc.replace_with_mask(
        tpl.table.column("tool_call_id").combine_chunks().take(pa.array(trow)),
        pa.array(call_mask),
        _hex_strings(rng, int(call_mask.sum()), 12, "call_"),
    )
    failed = tool & (rng.random(n) < TOOL_ERROR_RATE)
    nf = int(failed.sum())
    err = lambda ok, bad: _pick([ok, bad], failed.astype(np.int8))  # noqa: E731
    cols["status_code"] = err("unset", "error")
    cols["status_message"] = err("", "TimeoutError: upstream did not answer in 10s")
    cols["error_type"] = err("", "TimeoutError")
    ev_off = np.concatenate([[0], np.cumsum(failed.astype(np.int64))])
    cols["events_time"] = _lists(ev_off, pa.array(end.ravel()[failed], pa.timestamp("ns", tz="UTC")))
    cols["events_name"] = _lists(ev_off, pa.array(["exception"] * nf, pa.string()))
    ev_maps = pa.MapArray.from_arrays(
        pa.array(np.arange(nf + 1) * 2, pa.int32()),
        pa.array(["exception.type", "exception.message"] * nf, pa.string()),
        pa.array(["TimeoutError", "upstream did not answer in 10s"] * nf, pa.string()),
    )
    cols["events_attributes"] = _lists(ev_off, ev_maps)

    # attribute maps: template entries, RAND values replaced by per-span random hex
    cols["attributes"] = tpl.attr.build(trow, rng)
    cols["resource_attributes"] = tpl.resource.build(trow, rng)

    # every other column comes from the template rows
    idx = pa.array(trow)
    schema = tpl.table.schema
    arrays = [cols[c] if c in cols else tpl.table.column(c).combine_chunks().take(idx) for c in schema.names]
    table = pa.Table.from_arrays(arrays, schema=schema)
    return table


def generate(
    total_spans: int, batch_rows: int, start_ns: int, end_ns: int, seed: int = 0, project: str = "bench"
) -> Iterator[pa.Table]:
    """Batches of ``batch_rows`` spans covering [start_ns, end_ns) in time order, as a collector
    receives them: batch k holds traces whose roots start in the k-th slice of the range."""
    n_batches = max(1, -(-total_spans // batch_rows))
    per_trace = SPANS_PER_TRACE
    traces_total = total_spans // per_trace
    slice_ns = (end_ns - start_ns) / n_batches
    done = 0
    for k in range(n_batches):
        n_traces = min(batch_rows // per_trace, traces_total - done)
        if n_traces <= 0:
            break
        lo = start_ns + int(k * slice_ns)
        yield batch(n_traces, lo, max(lo + 1, start_ns + int((k + 1) * slice_ns)), (seed, k), project)
        done += n_traces


if __name__ == "__main__":  # quick look: python bench/_workload.py
    now = time.time_ns()
    t = time.perf_counter()
    tb = batch(10_000, now - DAY_NS, now, 1)
    dt = time.perf_counter() - t
    assert tb.schema == expected_schema(), tb.schema
    print(
        f"{tb.num_rows} rows in {dt * 1000:.0f} ms ({tb.num_rows / dt:,.0f} rows/s), "
        f"{tb.nbytes / tb.num_rows:.0f} Arrow bytes/row"
    )
    for c in (
        "name",
        "kind",
        "tenant",
        "request_model",
        "input_tokens",
        "document_ids",
        "attributes",
        "status_code",
        "events_name",
    ):
        print(f"  {c}: {tb.column(c).slice(0, 10).to_pylist()}")
