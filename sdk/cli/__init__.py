"""The ``spyglass`` command: ``up`` starts the collector and the UI, ``demo`` sends a demo
workload, ``trace ID`` prints a trace, ``gate`` judges a candidate release against a baseline,
``report`` writes the weekly evidence pack, ``keys`` manages API keys, ``delete`` deletes a
trace or a tenant."""

from __future__ import annotations

import argparse
import os
import signal
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
    if args.store and args.data_dir:
        print(
            "spyglass: give --store or --data-dir, not both (--data-dir D is --store chdb://D)",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        data_dir=args.data_dir,
        prices_file=args.prices,
        store=args.store or (args.data_dir and f"chdb://{os.path.abspath(args.data_dir)}"),
        workers=args.workers,
        cluster=args.cluster,
        require_keys=True if args.require_keys else None,
        policy_file=args.policy,
    )
    from spyglass.collector.auth import AuthConfigError, check_key_settings

    try:  # before the UI starts: an unsafe address is refused at once
        check_key_settings(settings)
    except AuthConfigError as exc:
        print(f"spyglass: {exc}", file=sys.stderr)
        return 2
    # The UI and the demo reach the collector on loopback when it listens on every interface.
    local_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    endpoint = f"http://{local_host}:{settings.port}"
    children = []
    ui_url = None
    if not args.no_ui:
        if args.ui_port == settings.port:
            print(
                f"spyglass: --ui-port {args.ui_port} is the collector's port; pick another", file=sys.stderr
            )
            return 2
        from spyglass.ui import launch

        children.append(launch(endpoint, port=args.ui_port, host=settings.host))
        ui_url = f"http://{local_host}:{args.ui_port}"
        print(f"Spyglass UI on {ui_url}", flush=True)
    if args.demo:
        from ._demo import run_in_background

        children.append(run_in_background(endpoint, traces=args.demo_traces, ui_url=ui_url))
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into an exception here
    # so the UI and demo processes are stopped below instead of outliving the collector.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        serve(settings)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except Exception:
                child.kill()
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run

    result = run(
        _endpoint(args.endpoint), traces=args.traces, days=args.days, seed=args.seed, progress=not args.quiet
    )
    for problem in result.problems:
        print(f"spyglass demo: {problem}", file=sys.stderr)
    return 0 if result.trace_ids and not result.problems else 1


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


def _cmd_gate(args: argparse.Namespace) -> int:
    try:
        from ._review import run_gate
    except ImportError as exc:
        print(
            f"spyglass gate needs the server extra ({exc.name} is missing): pip install 'spyglass[server]'",
            file=sys.stderr,
        )
        return 2
    return run_gate(args, _endpoint(args.endpoint))


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        from ._review import run_report
    except ImportError as exc:
        print(
            f"spyglass report needs the server extra ({exc.name} is missing): pip install 'spyglass[server]'",
            file=sys.stderr,
        )
        return 2
    return run_report(args, _endpoint(args.endpoint))


def _cmd_keys(args: argparse.Namespace) -> int:
    from ._keys import run_keys

    return run_keys(args, _endpoint(args.endpoint))


def _cmd_delete(args: argparse.Namespace) -> int:
    from ._delete import run_delete

    return run_delete(args, _endpoint(args.endpoint))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spyglass", description="LLM tracing and reliability.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the collector (embedded store) and the UI")
    up.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="OTLP/HTTP and API port (default 4318)")
    up.add_argument(
        "--grpc-port", type=int, default=None, help="OTLP/gRPC port on the same host (default 4317; 0: off)"
    )
    up.add_argument("--data-dir", default=None, help="embedded store directory (default ./spyglass-data)")
    up.add_argument(
        "--store", default=None, help="store DSN: http(s)://user:pass@host:8123/db or chdb:///path"
    )
    up.add_argument("--workers", type=int, default=None, help="collector processes (server store only)")
    up.add_argument("--cluster", default=None, help="ClickHouse cluster to create the schema on")
    up.add_argument("--ui-port", type=int, default=8501, help="the UI's port (default 8501)")
    up.add_argument("--no-ui", action="store_true", help="start the collector only")
    up.add_argument(
        "--prices", default=None, help="TOML price table overriding and extending the shipped one"
    )
    up.add_argument("--demo", action="store_true", help="load demo data (spyglass demo) once started")
    up.add_argument("--demo-traces", type=int, default=4000, help="how many demo traces (default 4000)")
    up.add_argument(
        "--require-keys",
        action="store_true",
        help="every request needs an API key (SPYGLASS_REQUIRE_KEYS; needs SPYGLASS_ADMIN_KEY); "
        "required to listen beyond 127.0.0.1",
    )
    up.add_argument("--policy", default=None, help="data governance policy TOML (retention, content)")
    up.set_defaults(func=_cmd_up)

    demo = sub.add_parser("demo", help="send a realistic demo workload to a running collector")
    demo.add_argument("--endpoint", default=None, help=f"collector URL (default {DEFAULT_ENDPOINT})")
    demo.add_argument("--traces", type=int, default=4000, help="how many requests (default 4000)")
    demo.add_argument("--days", type=int, default=14, help="spread over the last N days (default 14)")
    demo.add_argument("--seed", type=int, default=7, help="same seed, same data (default 7)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_cmd_demo)

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

    endpoint_help = f"collector URL (default $SPYGLASS_ENDPOINT, else {DEFAULT_ENDPOINT})"
    by_help = (
        "what differs between baseline and candidate: release (default), prompt_version (or prompt), model"
    )
    gate = sub.add_parser(
        "gate",
        help="judge a candidate against a baseline: exit 0 ship, 1 block, 3 not enough data, 2 error",
        description="Compare a candidate release, prompt version or model route with its baseline "
        "through the collector's API and decide: ship (exit 0), block (1) or not enough data (3); "
        "2 when the collector cannot be asked. Rules and thresholds: --config (TOML).",
    )
    gate.add_argument("--baseline", required=True, help="the baseline's value, e.g. 2026.11.1 or answer@v3")
    gate.add_argument("--candidate", required=True, help="the candidate's value, e.g. 2026.11.2 or answer@v4")
    gate.add_argument("--by", default="release", help=by_help)
    gate.add_argument(
        "--cohorts",
        default="tenant",
        help="judge each cohort of these dimensions too (default tenant; '' for none)",
    )
    gate.add_argument(
        "--config", default=None, help="TOML file of thresholds (min_tasks, max_p95_increase_pct...)"
    )
    gate.add_argument(
        "--since", default=None, help="window start: a date (UTC) or ISO 8601 time (default 7 days ago)"
    )
    gate.add_argument(
        "--until", default=None, help="window end: a date (inclusive) or ISO 8601 time (default now)"
    )
    gate.add_argument("--project", default="default")
    gate.add_argument("--endpoint", default=None, help=endpoint_help)
    gate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    gate.set_defaults(func=_cmd_gate)

    report = sub.add_parser(
        "report",
        help="write the weekly evidence pack (report.html and report.md)",
        description="Fetch the cohort review of a window through the collector's API and write "
        "report.html (self-contained, SVG charts) and report.md: cohort scorecards, week over week, "
        "stage latency and tail attribution, cost, example traces, and the gate when a candidate is named.",
    )
    report.add_argument(
        "--from",
        dest="from_",
        default=None,
        help="first day (UTC date or ISO time; default --to minus 6 days)",
    )
    report.add_argument(
        "--to", default=None, help="last day, inclusive (UTC date or ISO time; default today)"
    )
    report.add_argument("--candidate", default=None, help="include the release gate for this candidate...")
    report.add_argument("--baseline", default=None, help="...against this baseline")
    report.add_argument("--by", default="release", help=by_help)
    report.add_argument("--config", default=None, help="the gate's TOML thresholds")
    report.add_argument("--out", default=None, help="output directory (default ./spyglass-report-<to-date>)")
    report.add_argument("--ui-url", default="http://127.0.0.1:8501", help="the UI, for links to traces")
    report.add_argument("--project", default="default")
    report.add_argument("--endpoint", default=None, help=endpoint_help)
    report.set_defaults(func=_cmd_report)

    from . import _delete, _keys

    _keys.add_parser(sub, endpoint_help)
    sub.choices["keys"].set_defaults(func=_cmd_keys)
    _delete.add_parser(sub, endpoint_help)
    sub.choices["delete"].set_defaults(func=_cmd_delete)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
