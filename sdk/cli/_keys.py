"""``spyglass keys create|list|revoke``: API keys, through the collector's admin API.

Authenticated by ``SPYGLASS_API_KEY`` (an admin key; the operator's first is the collector's
``SPYGLASS_ADMIN_KEY``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ._http import call


def failed(status: int, body: dict[str, Any]) -> int:
    """Print the API's explanation (with what to do about a missing key) and return exit code 1."""
    detail = body.get("detail", body)
    hint = ""
    if status == 401 and "SPYGLASS_API_KEY" not in os.environ:
        hint = " (set SPYGLASS_API_KEY to an admin key)"
    print(f"spyglass: {detail}{hint}", file=sys.stderr)
    return 1


def run_keys(args: argparse.Namespace, endpoint: str) -> int:
    if args.keys_command == "create":
        body = {"project": args.project, "scopes": args.scopes.split(","), "name": args.name}
        status, answer = call(endpoint, "POST", "/api/keys", body=body)
        if status != 201:
            return failed(status, answer)
        if args.json:
            print(json.dumps(answer, indent=2))
            return 0
        print(answer["key"])
        print(
            f"key {answer['id']} for project {answer['project']!r}, scopes {','.join(answer['scopes'])}. "
            "This is the only time the key is shown: store it now.",
            file=sys.stderr,
        )
        return 0
    if args.keys_command == "list":
        status, answer = call(endpoint, "GET", "/api/keys")
        if status != 200:
            return failed(status, answer)
        if args.json:
            print(json.dumps(answer["keys"], indent=2))
            return 0
        print(f"{'ID':<14}{'PROJECT':<20}{'SCOPES':<20}{'CREATED':<22}{'REVOKED':<22}NAME")
        for key in answer["keys"]:
            print(
                f"{key['id']:<14}{key['project'][:19]:<20}{','.join(key['scopes']):<20}"
                f"{key['created_at'][:19]:<22}{(key['revoked_at'] or '-')[:19]:<22}{key['name']}"
            )
        return 0
    status, answer = call(endpoint, "DELETE", f"/api/keys/{urllib.parse.quote(args.key_id, safe='')}")
    if status != 200:
        return failed(status, answer)
    print(f"revoked key {answer['id']} (project {answer['project']!r})")
    return 0


def add_parser(sub: Any, endpoint_help: str) -> None:
    """``spyglass keys ...`` on the main parser's subcommands."""
    keys = sub.add_parser(
        "keys",
        help="create, list or revoke API keys (needs an admin key in SPYGLASS_API_KEY)",
        description="API keys of a collector that requires them. Authenticated by SPYGLASS_API_KEY.",
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--project", required=True, help="the one project the key may touch")
    create.add_argument("--scopes", required=True, help="comma-separated: ingest, read, admin")
    create.add_argument("--name", default="", help="what the key is for, e.g. the service using it")
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's ID, as spyglass keys list shows it")
    for command in keys_sub.choices.values():
        command.add_argument("--endpoint", default=None, help=endpoint_help)
        command.add_argument("--json", action="store_true", help="print the API's JSON")
