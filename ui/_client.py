"""The UI's only way to the data: a small client for the collector's query API.

The embedded store belongs to the collector process, so the UI reads over HTTP like any other
client. Every failure becomes a ``CollectorError`` whose message can be shown as is:
``Unreachable`` (no collector answering), ``ApiError`` (the API's own ``detail``, with the
status code).

Example::

    client = Client.from_env()
    try:
        trace = client.trace("3257b499f40c67775b10e9c544736965")
    except ApiError as err:
        print(err.status, err.detail)
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
ENDPOINT_ENV = "SPYGLASS_ENDPOINT"


class CollectorError(Exception):
    """Any failure to get an answer from the collector; ``str()`` is a readable message."""


class Unreachable(CollectorError):
    """Nothing answered at the endpoint (refused, unknown host, timed out)."""


class ApiError(CollectorError):
    """The collector answered with an error status; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _detail(body: bytes, status: int) -> str:
    """The ``detail`` of an error body: the API's own string, or FastAPI's validation list
    rendered as ``param: message`` lines."""
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError):
        text = body.decode(errors="replace").strip()
        return text[:500] or f"HTTP {status} without an explanation"
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "path", "body"))
                parts.append(f"{where}: {item.get('msg', item)}" if where else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


class Client:
    """GET requests to one collector. ``endpoint`` is its base URL, e.g. ``http://127.0.0.1:4318``."""

    def __init__(self, endpoint: str, timeout: float = 15.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> Client:
        """The collector named by ``SPYGLASS_ENDPOINT`` (default ``http://127.0.0.1:4318``)."""
        return cls(os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT)

    def trace(self, trace_id: str, project: str = "default") -> dict[str, Any]:
        """``GET /api/traces/{id}``: the trace with its span tree, totals and feedback."""
        # quote everything: a pasted value must not be able to change the path
        return self.get(f"/api/traces/{urllib.parse.quote(trace_id, safe='')}", {"project": project})

    def traces(self, **filters: Any) -> dict[str, Any]:
        """``GET /api/traces``: recent traces; ``filters`` are the contract's query parameters
        (``None`` values are left out)."""
        return self.get("/api/traces", filters)

    def feedback(self, **filters: Any) -> dict[str, Any]:
        """``GET /api/feedback``: the negative feedback and escalations inbox."""
        return self.get("/api/feedback", filters)

    def analytics(self, report: str, **params: Any) -> dict[str, Any]:
        """``GET /api/analytics/{report}`` (``cohorts``, ``stages``, ``week-over-week``,
        ``compare``, ``examples``); a list ``by`` is sent comma-separated."""
        return self.get(f"/api/analytics/{urllib.parse.quote(report, safe='-')}", params)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET returning the decoded JSON object, or a ``CollectorError``."""
        query = urllib.parse.urlencode(
            {k: _param(v) for k, v in (params or {}).items() if v is not None and v != ""}
        )
        url = f"{self.endpoint}{path}" + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        key = os.environ.get("SPYGLASS_API_KEY", "").strip()
        if key:  # a collector with API keys on needs a read key
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            raise ApiError(err.code, _detail(err.read(), err.code)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, TimeoutError):
                raise Unreachable(
                    f"the collector at {self.endpoint} did not answer within {self.timeout:g} s"
                ) from None
            raise Unreachable(
                f"cannot reach the collector at {self.endpoint}: is `spyglass up` running? ({reason})"
            ) from None
        try:
            data = json.loads(body)
        except ValueError:
            raise CollectorError(f"the collector at {self.endpoint} answered {path} with non-JSON") from None
        if not isinstance(data, dict):
            raise CollectorError(f"the collector at {self.endpoint} answered {path} with a non-object")
        return data


def _param(value: Any) -> str:
    if isinstance(value, bool):  # the API parses lowercase booleans
        return "true" if value else "false"
    if isinstance(value, list | tuple):  # by=tenant,release
        return ",".join(str(v) for v in value)
    return str(value)
