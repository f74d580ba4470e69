"""The one small HTTP client the CLI's commands share: JSON in and out, the API key from
``SPYGLASS_API_KEY``, and an unreachable collector turned into a readable answer."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def auth_headers() -> dict[str, str]:
    """``Authorization: Bearer $SPYGLASS_API_KEY`` when the variable is set."""
    key = os.environ.get("SPYGLASS_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def call(
    endpoint: str, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """One admin request: (status, JSON body); 0 and a readable ``detail`` when unreachable."""
    url = f"{endpoint}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", **auth_headers()}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.load(err)
        except ValueError:
            return err.code, {"detail": f"HTTP {err.code} from {url}"}
    except (urllib.error.URLError, OSError) as err:
        return 0, {
            "detail": f"cannot reach the collector at {endpoint} ({err}). Is `spyglass up` running? "
            "Set --endpoint or SPYGLASS_ENDPOINT to point elsewhere."
        }
