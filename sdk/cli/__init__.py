"""The ``spyglass`` command: ``up`` starts the collector, ``trace ID`` prints a trace."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


def _endpoint(value: str | None) -> str:
    return (value or os.environ.get("SPYGLASS_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _cmd_up(args: argparse.Namespace) -> int:
    try:
        from spyglass.collector.server import serve
        from spyglass.collector.settings import Settings
    except ImportError as exc:
        print(
            f"spyglass up needs the server extra ({exc.name} is missing): pip install 'spyglass[server]'",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
    if args.demo:
        from ._demo import run_in_background

        run_in_background(f"http://{settings.host}:{settings.port}", traces=args.demo_traces)
    serve(settings)
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from ._trace import fetch_trace, render_trace

    code, body = fetch_trace(_endpoint(args.endpoint), args.trace_id, args.project)
    if code != 200:
        print(f"spyglass: {body.get('detail', body)}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(body, indent=2))
    else:
        print(render_trace(body))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spyglass", description="LLM tracing and reliability.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the collector on the embedded store")
    up.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="OTLP/HTTP and API port (default 4318)")
    up.add_argument("--data-dir", default=None, help="embedded store directory (default ./spyglass-data)")
    up.add_argument("--demo", action="store_true", help="send demo traces from a sample app once started")
    up.add_argument("--demo-traces", type=int, default=50, help="how many demo traces (default 50)")
    up.set_defaults(func=_cmd_up)

    tr = sub.add_parser("trace", help="print one trace as a tree")
    tr.add_argument("trace_id", help="32 hex characters, as spyglass.current_trace_id() returns")
    tr.add_argument(
        "--endpoint",
        default=None,
        help=f"collector URL (default $SPYGLASS_ENDPOINT, else {DEFAULT_ENDPOINT})",
    )
    tr.add_argument("--project", default="default")
    tr.add_argument("--json", action="store_true", help="print the API's JSON instead of a tree")
    tr.set_defaults(func=_cmd_trace)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
