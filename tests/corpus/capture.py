"""Regenerate the corpus: real OTLP bodies exported by third-party LLM instrumentations.

Each library instruments a real ``openai`` client that talks to a tiny fake OpenAI-compatible
server on 127.0.0.1 (usage blocks, tool calls, SSE streams, embeddings); the library's own OTLP
exporter sends its spans to a capturing HTTP endpoint on 127.0.0.1, which saves every body
as it arrived. Nothing leaves the machine.

How to regenerate (the libraries live in their own virtualenv, never in Spyglass's)::

    python3 -m venv /work/corpus-venv
    /work/corpus-venv/bin/pip install openai opentelemetry-sdk opentelemetry-exporter-otlp-proto-http \\
        opentelemetry-instrumentation-openai-v2 openinference-instrumentation-openai \\
        opentelemetry-instrumentation-openai 'langfuse>=3,<4' logfire
    # openai-v2 2.4b0 imports opentelemetry.util.genai.instruments, which util-genai 1.3b0 lacks:
    /work/corpus-venv/bin/pip install --no-deps opentelemetry-util-genai==1.1b0
    /work/corpus-venv/bin/python tests/corpus/capture.py            # all libraries
    /work/corpus-venv/bin/python tests/corpus/capture.py langfuse   # one

Each library runs in a child process (instrumentations patch ``openai`` globally) and writes
``tests/corpus/<library>/export-N.pb`` (the bodies), ``meta.json`` (versions, request paths and
headers) and ``scenarios.json``: what each trace did (``trace_id`` -> scenario name). The
expected normalized results live in ``tests/corpus/expected.json`` (library -> scenario -> the
trace's totals and its model spans), written by hand from what the fake server answered (see
``SCENARIOS``: models, usage, the tool call) and what each library is known to record; after
regenerating with new library versions, check the differences by hand before changing it.
Two captures stack instrumentations on one client (``stacked``, ``langfuse_openai_v2``): each
call is recorded twice, the corpus of the count-once rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LIBRARIES = (
    "openai_v2",
    "openinference",
    "openllmetry",
    "langfuse",
    "logfire",
    "stacked",
    "langfuse_openai_v2",
)
PACKAGES = {
    "openai_v2": ("opentelemetry-instrumentation-openai-v2",),
    "openinference": ("openinference-instrumentation-openai",),
    "openllmetry": ("opentelemetry-instrumentation-openai",),
    "langfuse": ("langfuse",),
    "logfire": ("logfire",),
    # Two instrumentations on one client: each call recorded twice (the duplicate rule's corpus).
    "stacked": ("opentelemetry-instrumentation-openai-v2", "openinference-instrumentation-openai"),
    # A framework's span around the client library's: Langfuse's generation, OpenAI-v2 inside.
    "langfuse_openai_v2": ("langfuse", "opentelemetry-instrumentation-openai-v2"),
}
# What the fake server answers; the expected results are built from these numbers.
SCENARIOS: dict[str, dict[str, Any]] = {
    "chat": {"model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18", "usage": (21, 7)},
    "stream": {"model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18", "usage": (19, 5)},
    "tools": {"model": "gpt-4o", "response_model": "gpt-4o-2024-08-06", "usage": (57, 16)},
    "embedding": {
        "model": "text-embedding-3-small",
        "response_model": "text-embedding-3-small",
        "usage": (8, 0),
    },
}
COHORT = {"user": "user-42", "session": "session-7"}


# -- the fake OpenAI-compatible server ---------------------------------------------------------------
def _completion(model: str, message: dict[str, Any], finish: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{model}-{finish}",
        "object": "chat.completion",
        "created": 1_763_900_000,
        "model": SCENARIOS_BY_MODEL[model]["response_model"],
        "system_fingerprint": "fp_corpus",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


SCENARIOS_BY_MODEL = {s["model"]: s for s in SCENARIOS.values()}


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers chat completions (plain, tool call, SSE stream) and embeddings."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path.endswith("/embeddings"):
            n = 1 if isinstance(body["input"], str) else len(body["input"])
            tokens = SCENARIOS["embedding"]["usage"][0]
            self._json(
                {
                    "object": "list",
                    "model": body["model"],
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(n)
                    ],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )
        elif body.get("stream"):
            self._stream(body)
        elif body.get("tools"):
            call = {
                "id": "call_corpus_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            self._json(_completion(body["model"], message, "tool_calls", SCENARIOS["tools"]["usage"]))
        else:
            message = {"role": "assistant", "content": "Refunds are accepted within 30 days."}
            self._json(_completion(body["model"], message, "stop", SCENARIOS["chat"]["usage"]))

    def _json(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        base = {
            "id": "chatcmpl-stream",
            "object": "chat.completion.chunk",
            "created": 1_763_900_000,
            "model": SCENARIOS["stream"]["response_model"],
        }
        pieces = ["Refunds ", "take ", "5 days."]
        chunks = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
        chunks += [{"index": 0, "delta": {"content": p}, "finish_reason": None} for p in pieces]
        chunks += [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        for choice in chunks:
            self._event({**base, "choices": [choice]})
        if (body.get("stream_options") or {}).get("include_usage"):
            i, o = SCENARIOS["stream"]["usage"]
            usage = {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}
            self._event({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
        self.wfile.flush()


# -- the capturing OTLP endpoint -------------------------------------------------------------------
class Capture(BaseHTTPRequestHandler):
    """Saves every POST body with its path and headers; answers an empty OTLP success."""

    received: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        auth = self.headers.get("authorization") or ""
        Capture.received.append(
            {
                "path": self.path,
                "content_type": self.headers.get("content-type"),
                "content_encoding": self.headers.get("content-encoding"),
                "authorization_scheme": auth.split(" ", 1)[0] if auth else None,
                "body": body,
            }
        )
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- the workload, the same for every library ------------------------------------------------------
def workload(client: Any, scenario: Any) -> None:
    """The four calls; ``scenario(name)`` is a context manager a library may use to add its own
    attributes (user, session) around each call."""
    question = [{"role": "user", "content": "How long do refunds take?"}]
    with scenario("chat"):
        client.chat.completions.create(model=SCENARIOS["chat"]["model"], messages=question, user="user-42")
    with scenario("stream"):
        stream = client.chat.completions.create(
            model=SCENARIOS["stream"]["model"],
            messages=question,
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    with scenario("tools"):
        client.chat.completions.create(
            model=SCENARIOS["tools"]["model"],
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[tool],
        )
    with scenario("embedding"):
        client.embeddings.create(model=SCENARIOS["embedding"]["model"], input=["refund policy"])


def _otel_provider(endpoint: str) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "corpus"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


class _Scenarios:
    """Records which trace each scenario produced, from the span current inside it."""

    def __init__(self, wrap: Any = None) -> None:
        self.traces: dict[str, str] = {}
        self.wrap = wrap

    def __call__(self, name: str) -> Any:
        import contextlib

        from opentelemetry import trace

        @contextlib.contextmanager
        def run() -> Any:
            tracer = trace.get_tracer("corpus")
            with tracer.start_as_current_span(f"scenario {name}") as span:
                self.traces[format(span.get_span_context().trace_id, "032x")] = name
                if self.wrap is None:
                    yield
                else:
                    with self.wrap(name):
                        yield

        return run()


def run_library(library: str, endpoint: str, base_url: str) -> dict[str, str]:
    """Instrument ``openai`` with ``library``, run the workload, flush; return trace -> scenario."""
    import openai

    if library == "openai_v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        provider = _otel_provider(endpoint)
        OpenAIInstrumentor().instrument()
        scenarios = _Scenarios()
        workload(openai.OpenAI(base_url=base_url, api_key="sk-corpus"), scenarios)
        provider.force_flush()
    elif library == "openinference":
        from openinference.instrumentation import using_attributes
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIInstrumentor

        provider = _otel_provider(endpoint)
        OIInstrumentor().instrument()
        scenarios = _Scenarios(
            lambda name: using_attributes(
                user_id=COHORT["user"],
                session_id=COHORT["session"],
                prompt_template_version="v3",
                metadata={"tenant": "acme"},
            )
        )
        workload(openai.OpenAI(base_url=base_url, api_key="sk-corpus"), scenarios)
        provider.force_flush()
    elif library == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TLInstrumentor

        provider = _otel_provider(endpoint)
        TLInstrumentor().instrument()
        scenarios = _Scenarios()
        workload(openai.OpenAI(base_url=base_url, api_key="sk-corpus"), scenarios)
        provider.force_flush()
    elif library == "stacked":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIInstrumentor
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        provider = _otel_provider(endpoint)
        OpenAIInstrumentor().instrument()
        OIInstrumentor().instrument()
        scenarios = _Scenarios()
        workload(openai.OpenAI(base_url=base_url, api_key="sk-corpus"), scenarios)
        provider.force_flush()
    elif library == "langfuse":
        scenarios = _run_langfuse(base_url)
    elif library == "langfuse_openai_v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()  # on the provider Langfuse sets up; Langfuse exports it all
        scenarios = _run_langfuse(base_url)
    elif library == "logfire":
        scenarios = _run_logfire(endpoint, base_url)
    else:
        raise SystemExit(f"unknown library {library!r}: choose from {', '.join(LIBRARIES)}")
    return scenarios.traces


def _run_langfuse(base_url: str) -> _Scenarios:
    from langfuse import get_client, propagate_attributes  # type: ignore[attr-defined]
    from langfuse.openai import OpenAI  # drop-in client: each call is a Langfuse generation

    langfuse = get_client()

    class LangfuseScenarios(_Scenarios):
        def __call__(self, name: str) -> Any:
            import contextlib

            @contextlib.contextmanager
            def run() -> Any:
                with langfuse.start_as_current_span(name=f"scenario {name}") as span:
                    self.traces[span.trace_id] = name
                    with propagate_attributes(
                        user_id=COHORT["user"], session_id=COHORT["session"], metadata={"tenant": "acme"}
                    ):
                        yield

            return run()

    scenarios = LangfuseScenarios()
    workload(OpenAI(base_url=base_url, api_key="sk-corpus"), scenarios)
    langfuse.flush()
    return scenarios


def _run_logfire(endpoint: str, base_url: str) -> _Scenarios:
    import logfire
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    logfire.configure(
        send_to_logfire=False,
        service_name="corpus",
        console=False,
        additional_span_processors=[BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))],
    )
    client = openai.OpenAI(base_url=base_url, api_key="sk-corpus")
    logfire.instrument_openai(client)
    scenarios = _Scenarios()
    workload(client, scenarios)
    logfire.force_flush()
    return scenarios


def child(library: str) -> None:
    """Run one library against fresh servers and write its corpus directory."""
    fake, capture = _serve(FakeOpenAI), _serve(Capture)
    endpoint = f"http://127.0.0.1:{capture.server_address[1]}"
    os.environ.update(
        {
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
            "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
            "TRACELOOP_TRACE_CONTENT": "true",
            "LANGFUSE_PUBLIC_KEY": "pk-lf-corpus",
            "LANGFUSE_SECRET_KEY": "sk-lf-corpus",
            "LANGFUSE_HOST": endpoint,
            "LANGFUSE_BASE_URL": endpoint,
        }
    )
    traces = run_library(library, endpoint, f"http://127.0.0.1:{fake.server_address[1]}/v1")
    time.sleep(0.5)  # the exporter's last request may still be in the capture server's thread
    out = HERE / library
    out.mkdir(exist_ok=True)
    for old in out.glob("export-*.pb"):
        old.unlink()
    exports = [r for r in Capture.received if r["path"].endswith("/v1/traces")]
    for i, r in enumerate(exports):
        (out / f"export-{i}.pb").write_bytes(r["body"])
    versions = {p: metadata.version(p) for p in ("openai", *PACKAGES[library])}
    meta = {
        "library": library,
        "versions": versions,
        "requests": [{k: v for k, v in r.items() if k != "body"} for r in exports],
        "other_requests": sorted({r["path"] for r in Capture.received} - {r["path"] for r in exports}),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "scenarios.json").write_text(json.dumps(traces, indent=1) + "\n")
    print(f"{library}: {len(exports)} export bodies, {len(traces)} traces, versions {versions}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child(argv[1])
        return 0
    chosen = argv or list(LIBRARIES)
    failed = []
    for i, library in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] capturing {library} ...", flush=True)
        done = subprocess.run([sys.executable, __file__, "--child", library], check=False)
        if done.returncode:
            failed.append(library)
    if failed:
        print(f"failed: {', '.join(failed)} (see the errors above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
