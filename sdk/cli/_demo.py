"""A small demo application for ``spyglass up --demo``: a support assistant answering
questions through the real SDK, exported to the collector that just started."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import urllib.request

TENANTS = ("acme", "globex", "initech")
INTENTS = ("refund", "shipping", "account")


def _wait_until_up(endpoint: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/healthz", timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def answer(rng: random.Random) -> str | None:
    """One request of the demo app; returns its trace ID."""
    import spyglass

    tenant, intent = rng.choice(TENANTS), rng.choice(INTENTS)
    with spyglass.cohort(tenant=tenant, workflow="support", intent=intent, release="2026.11.2"):
        with spyglass.workflow("answer_question"):
            with spyglass.retrieval(corpus="kb", corpus_version="2026-11-01", top_k=3) as r:
                time.sleep(rng.uniform(0.005, 0.02))
                docs = rng.sample([f"doc-{i}" for i in range(1, 40)], 3)
                r.set_documents(docs, scores=sorted((rng.random() for _ in docs), reverse=True))
            model = "gpt-4o-mini"
            if rng.random() < 0.1:
                try:
                    with spyglass.llm(
                        model="gpt-4o", provider="openai", prompt_name="answer", prompt_version="v3"
                    ):
                        time.sleep(rng.uniform(0.02, 0.05))
                        raise TimeoutError("provider timed out after 30 s")
                except TimeoutError:
                    pass
                fallback = {"fallback_from": "gpt-4o"}
            else:
                fallback = {}
            with spyglass.llm(
                model=model, provider="openai", prompt_name="answer", prompt_version="v3", **fallback
            ) as call:
                time.sleep(rng.uniform(0.02, 0.08))
                call.set_usage(input_tokens=rng.randint(300, 900), output_tokens=rng.randint(20, 200))
                call.set_response(model=model + "-2024-07-18", finish_reason="stop")
            if intent == "refund":
                with spyglass.tool("issue_refund", schema_version="2") as t:
                    allowed = rng.random() < 0.5
                    t.set_authorization(allowed=allowed, reason=None if allowed else "role lacks refunds")
            return spyglass.current_trace_id()


def run(endpoint: str, traces: int = 50, seed: int = 7) -> list[str]:
    """Send ``traces`` demo requests through the SDK to ``endpoint``; returns their trace IDs."""
    import spyglass

    if not _wait_until_up(endpoint):
        print(f"demo: the collector at {endpoint} did not come up; no demo data sent")
        return []
    spyglass.init(endpoint=endpoint, service_name="demo-support-bot")
    rng = random.Random(seed)
    ids = [tid for _ in range(traces) if (tid := answer(rng))]
    spyglass.flush()
    if ids:
        print(f"demo: sent {len(ids)} traces. Look one up:  spyglass trace {ids[-1]}", flush=True)
    return ids


def run_in_background(endpoint: str, traces: int = 50) -> subprocess.Popen[bytes]:
    """Run the demo app as its own process, as a real application would be: in the
    collector's process its spans would mix with the collector's own instrumentation."""
    return subprocess.Popen([sys.executable, "-m", "spyglass.cli._demo", endpoint, str(traces)])


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50)
