"""An OTLP/HTTP client that behaves like a well-built exporter: it retries a failed export
(connection refused or reset, 429, 502-504) with backoff, honouring Retry-After up to a cap,
until a deadline. Used in-process by the fault tests and as a process by the soak test:

    python tests/apps/otlp_sender.py URL --project P --rate 20 --seconds 15 --spans 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import payloads as P

RETRYABLE = {429, 502, 503, 504}


def trace_body(project: str, spans: int) -> tuple[str, bytes]:
    """One request holding one whole trace of ``spans`` spans in ``project``."""
    tid = P.new_trace_id()
    root = os.urandom(8)
    items = [P.span(tid, name="root", span_id=root)]
    items += [P.span(tid, name=f"step-{i}", parent=root) for i in range(spans - 1)]
    req = P.request(*items, resource={"service.name": "sender", "spyglass.project": project})
    return tid.hex(), req.SerializeToString()


def post(url: str, body: bytes, *, deadline: float, max_sleep: float = 0.5) -> int:
    """POST ``body`` to ``url``/v1/traces until it is acknowledged; returns the attempts made.
    Raises ``TimeoutError`` at ``deadline`` (monotonic) and ``RuntimeError`` on a 4xx."""
    attempts, backoff = 0, 0.05
    while True:
        attempts += 1
        request = urllib.request.Request(
            url + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
        )
        wait = backoff
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                resp.read()
                return attempts
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRYABLE:
                raise RuntimeError(f"export refused with {exc.code}: {exc.read()[:300]!r}") from exc
            retry_after = exc.headers.get("Retry-After")
            if retry_after and retry_after.isdigit():
                wait = float(retry_after)
        except (OSError, http.client.HTTPException):
            pass  # refused, reset, timed out: the collector is down or restarting
        if time.monotonic() + min(wait, max_sleep) > deadline:
            raise TimeoutError(f"export not acknowledged after {attempts} attempts")
        time.sleep(min(wait, max_sleep))
        backoff = min(backoff * 2, max_sleep)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--project", required=True)
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--spans", type=int, default=20, help="spans per request")
    args = parser.parse_args()
    started = time.monotonic()
    requests = attempts = 0
    while (now := time.monotonic()) - started < args.seconds:
        _, body = trace_body(args.project, args.spans)
        attempts += post(args.url, body, deadline=now + 60)
        requests += 1
        next_at = started + requests / args.rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "requests": requests,
                "spans": requests * args.spans,
                "retries": attempts - requests,
                "seconds": round(elapsed, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
