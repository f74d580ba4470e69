"""``spyglass delete trace ID`` / ``spyglass delete tenant T``: deletion through the collector's
admin API (authenticated by ``SPYGLASS_API_KEY``, admin scope). The collector logs each
deletion in its audit table."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

from ._http import call
from ._keys import failed


def run_delete(args: argparse.Namespace, endpoint: str) -> int:
    quoted = urllib.parse.quote(args.target, safe="")
    if args.what == "tenant" and not args.yes:
        if not sys.stdin.isatty():
            print(
                f"spyglass: deleting tenant {args.target!r} removes all its traces and feedback in "
                f"project {args.project!r}; pass --yes to confirm",
                file=sys.stderr,
            )
            return 2
        answer = input(f"Delete every trace of tenant {args.target!r} in project {args.project!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    path = f"/api/traces/{quoted}" if args.what == "trace" else f"/api/tenants/{quoted}"
    print(
        f"deleting {args.what} {args.target} (waits for accepted data to be stored first)...", file=sys.stderr
    )
    status, body = call(endpoint, "DELETE", path, params={"project": args.project})
    if status != 200:
        return failed(status, body)
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in body["deleted"].items())
    print(f"deleted {body['target']} in project {body['project']!r}: {counts}")
    return 0


def add_parser(sub: Any, endpoint_help: str) -> None:
    """``spyglass delete ...`` on the main parser's subcommands."""
    delete = sub.add_parser(
        "delete",
        help="delete a trace or all data of a tenant (needs an admin key in SPYGLASS_API_KEY)",
        description="Delete one trace, or every trace of a tenant with its feedback (a right-to-be-"
        "forgotten request). Afterwards no endpoint returns any of it; the deletion is audited.",
    )
    delete.add_argument("what", choices=("trace", "tenant"))
    delete.add_argument("target", help="the trace ID (32 hex characters) or the tenant")
    delete.add_argument("--project", default="default")
    delete.add_argument("--yes", action="store_true", help="do not ask before deleting a tenant")
    delete.add_argument("--endpoint", default=None, help=endpoint_help)
    delete.add_argument("--json", action="store_true", help="print the API's JSON")
