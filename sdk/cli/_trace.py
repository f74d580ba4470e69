"""``spyglass trace``: fetch a trace from the collector and draw it as an indented tree."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ._http import call


def fetch_trace(endpoint: str, trace_id: str, project: str = "default") -> tuple[int, dict[str, Any]]:
    """GET /api/traces/{id}: (status, JSON body). Connection problems become a readable body."""
    path = f"/api/traces/{urllib.parse.quote(trace_id, safe='')}"
    return call(endpoint, "GET", path, params={"project": project})


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _describe(span: dict[str, Any]) -> str:
    parts = [span["name"]]
    if span.get("kind"):
        parts.append(f"[{span['kind']}]")
    parts.append(f"+{_ms(span['offset_ms'])} {_ms(span['duration_ms'])}")
    llm = span.get("llm") or {}
    if llm.get("request_model") or llm.get("response_model"):
        route = "/".join(
            x for x in (llm.get("provider"), llm.get("response_model") or llm.get("request_model")) if x
        )
        parts.append(route)
    if llm.get("prompt_name"):
        parts.append(f"prompt {llm['prompt_name']}@{llm.get('prompt_version') or '?'}")
    if llm.get("input_tokens") is not None or llm.get("output_tokens") is not None:
        parts.append(f"tokens {llm.get('input_tokens') or 0}→{llm.get('output_tokens') or 0}")
    if llm.get("is_fallback"):
        parts.append(f"fallback from {llm.get('fallback_from') or '?'}")
    ret = span.get("retrieval") or {}
    if ret.get("corpus"):
        parts.append(f"{ret['corpus']}@{ret.get('corpus_version') or '?'}")
    if ret.get("documents"):
        docs = ", ".join(
            d["id"] + (f" {d['score']:.2f}" if d.get("score") is not None else "")
            for d in ret["documents"][:5]
        )
        more = len(ret["documents"]) - 5
        parts.append(f"docs: {docs}" + (f" (+{more})" if more > 0 else ""))
    tool = span.get("tool") or {}
    if tool.get("authorization"):
        reason = f" ({tool['authorization_reason']})" if tool.get("authorization_reason") else ""
        parts.append(tool["authorization"].upper() + reason)
    if span["status"]["code"] == "error":
        parts.append(f"ERROR {span['status'].get('message') or span.get('error_type') or ''}".rstrip())
    return "  ".join(parts)


def render_trace(trace: dict[str, Any]) -> str:
    """The trace as text: a header with totals, then one line per span, children indented."""
    t = trace["totals"]
    header = (
        f"trace {trace['trace_id']}  project {trace['project']}  {_ms(t['duration_ms'])}  "
        f"{t['span_count']} spans  {t['error_count']} errors  "
        f"tokens {t['input_tokens']} in / {t['output_tokens']} out"
    )
    cohort = next((s.get("cohort") for s in trace["spans"] if s.get("cohort")), None)
    lines = [header]
    if cohort:
        lines.append("cohort " + "  ".join(f"{k}={v}" for k, v in cohort.items()))

    def walk(span: dict[str, Any], prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + _describe(span))
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, child in enumerate(span["children"]):
            walk(child, child_prefix, i == len(span["children"]) - 1, False)

    for root in trace["spans"]:
        walk(root, "", True, True)
    return "\n".join(lines)
