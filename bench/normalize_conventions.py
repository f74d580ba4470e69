"""What the convention mapping (``collector/conventions.py``) and the duplicate rule
(``collector/duplicates.py``) add to normalization, per span.

Times ``normalize`` on the same realistic 515-span request built with the Spyglass SDK (the
common case: nothing foreign to map), alternating, per request:

  baseline: normalize with ``conventions.translate`` and ``duplicates.count_once`` replaced by
            no-ops (normalization as it was before the mapping layer)
  mapped:   normalize as the collector runs it

and reports the corpus (third-party spans) normalized the same way, for scale.

Usage: .venv/bin/python bench/normalize_conventions.py [--requests 20] [--rounds 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_decode import build_request

from spyglass.collector import conventions, duplicates, normalize

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def _time(request: ExportTraceServiceRequest, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        normalize.normalize(request)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(__doc__.splitlines()[0])
    print(f"machine: {platform.platform()}, python {platform.python_version()}")
    request = ExportTraceServiceRequest.FromString(build_request(traces=103))
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    translate, count_once = conventions.translate, duplicates.count_once
    base, mapped = [], []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds} ...", file=sys.stderr, flush=True)
        conventions.translate = lambda attrs, events: None  # type: ignore[assignment]
        duplicates.count_once = lambda cols: None  # type: ignore[assignment]
        base.append(_time(request, args.requests) / spans * 1e6)
        conventions.translate, duplicates.count_once = translate, count_once  # type: ignore[assignment]
        mapped.append(_time(request, args.requests) / spans * 1e6)
    b, m = statistics.median(base), statistics.median(mapped)
    print(
        f"SDK spans ({spans} per request): baseline {b:.2f} µs/span, "
        f"mapped {m:.2f} µs/span, ratio {m / b:.2f}x"
    )
    corpus = ExportTraceServiceRequest()
    for body in sorted(CORPUS.glob("*/export-*.pb")):
        corpus.MergeFromString(body.read_bytes())
    n = sum(len(ss.spans) for rs in corpus.resource_spans for ss in rs.scope_spans)
    per_span = statistics.median(_time(corpus, args.requests) for _ in range(args.rounds)) / n * 1e6
    print(f"corpus ({n} third-party spans, content included): {per_span:.2f} µs/span")


if __name__ == "__main__":
    main()
