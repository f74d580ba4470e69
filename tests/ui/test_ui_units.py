"""The UI's pure parts, without a collector: formatting, markdown escaping, timeline rows,
the HTTP client's error messages, and that ``import spyglass`` stays free of Streamlit."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from spyglass.ui import _format, _waterfall, app_path
from spyglass.ui._client import ApiError, Client, CollectorError, Unreachable
from tests.conftest import free_port


def test_trace_cost_says_unknown_and_lower_bound() -> None:
    assert _format.trace_cost(None, 0) == "unknown"
    assert _format.trace_cost(None, 2) == "unknown (2 spans unpriced)"
    assert _format.trace_cost(0.0123, 0) == "$0.0123"
    assert _format.trace_cost(0.0123, 1) == "≥ $0.0123 (1 span unpriced)"
    assert _format.trace_cost(2.5, 3) == "≥ $2.50 (3 spans unpriced)"


def test_usd_never_scientific() -> None:
    assert _format.usd(8.62e-05) == "$0.0000862"
    assert _format.usd(0.5) == "$0.50"
    assert _format.usd(1234.5) == "$1,234.50"
    assert "e" not in _format.usd(1e-9)


def test_span_cost_explains_unknown() -> None:
    assert _format.span_cost(None) is None
    assert _format.span_cost({"usd": 3.12e-05, "status": "priced", "model": "m"}) == "$0.0000312"
    assert _format.span_cost({"usd": None, "status": "unknown_model"}) == "unknown (no price for this model)"


def test_timestamp_and_duration() -> None:
    assert _format.timestamp("2026-11-23T16:39:48.738149787Z") == "2026-11-23 16:39:48.738 UTC"
    assert _format.timestamp("garbage") == "garbage"
    assert _format.duration(0.1331) == "0.13 ms"
    assert _format.duration(28.05) == "28.1 ms"
    assert _format.duration(1500) == "1.50 s"


def test_md_makes_client_text_inert() -> None:
    hostile = "[click](https://evil.example) **bold** :red[alarm] <img src=x> $x$\n- item\n1. step"
    escaped = _format.md(hostile)
    for raw in ("[click]", "**bold**", ":red[", "<img", "$x$", "\n- item", "\n1. step"):
        assert not re.search(r"(?<!\\)" + re.escape(raw), escaped), raw  # only escaped occurrences
    assert _format.md("doc-1 v2.0 (beta)") == "doc-1 v2.0 (beta)"  # ordinary text unchanged


def _span(
    span_id: str, name: str, *, kind: str | None = "llm", error: bool = False, children: Any = ()
) -> dict[str, Any]:
    return {
        "span_id": span_id,
        "name": name,
        "kind": kind,
        "offset_ms": 1.0,
        "duration_ms": 2.0,
        "status": {"code": "error" if error else "unset", "message": None},
        "llm": {"request_model": "gpt-4o"},
        "children": list(children),
    }


def test_rows_in_tree_order_with_depth_and_unique_labels() -> None:
    trace = {
        "spans": [
            _span(
                "a",
                "root",
                kind="workflow",
                children=[_span("b", "call", children=[_span("c", "inner", kind=None)]), _span("d", "call")],
            )
        ]
    }
    rows = _waterfall.rows(trace)
    assert [r.span_id for r in rows] == ["a", "b", "c", "d"]
    assert [r.depth for r in rows] == [0, 1, 2, 1]
    assert len({r.label for r in rows}) == 4  # the two "call" spans stay distinct rows
    assert rows[2].kind == "other"
    assert rows[0].option().startswith("root [workflow]")
    assert _waterfall.default_span(rows) == "a"


def test_default_span_is_first_error() -> None:
    trace = {"spans": [_span("a", "root", children=[_span("b", "ok"), _span("c", "bad", error=True)])]}
    rows = _waterfall.rows(trace)
    assert _waterfall.default_span(rows) == "c"
    assert rows[2].option().endswith("✕ error")
    assert not rows[1].flag
    spec = _waterfall.chart(rows, "c").to_dict()
    values = spec["data"]["values"]
    assert [v["error"] for v in values] == [False, False, True]
    assert [v["flag"] for v in values] == ["", "", "✕ error"]
    assert [v["selected"] for v in values] == [False, False, True]
    assert all(v["end"] > v["start"] for v in values)


def test_long_traces_get_denser_rows() -> None:
    short = _waterfall.rows({"spans": [_span(str(i), f"s{i}") for i in range(5)]})
    long = _waterfall.rows({"spans": [_span(str(i), f"s{i}") for i in range(200)]})
    assert _waterfall.row_height(long) < _waterfall.row_height(short)
    assert _waterfall.height(long) < 200 * _waterfall.ROW_HEIGHT
    assert _waterfall.chart(long).to_dict()["height"] == 200 * _waterfall.row_height(long)


def test_denied_tool_is_flagged() -> None:
    tool = _span("t", "execute_tool refund", kind="tool")
    tool["tool"] = {"name": "refund", "authorization": "denied", "authorization_reason": "no"}
    (row,) = _waterfall.rows({"spans": [tool]})
    assert row.flag == "⊘ denied" and row.option().endswith("⊘ denied")
    tool["tool"]["authorization"] = "allowed"
    assert not _waterfall.rows({"spans": [tool]})[0].flag


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers: dict[str, tuple[int, bytes]] = {
            "/api/traces/abc": (404, b'{"detail": "no trace abc"}'),
            "/api/feedback": (400, b'{"detail": [{"loc": ["query", "limit"], "msg": "too big"}]}'),
            "/api/traces": (200, b'{"traces": [], "has_more": false}'),
        }
        status, data = answers.get(self.path.split("?")[0], (200, b"not json"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    """A stand-in HTTP server for the client's error paths only (pages test the real one)."""
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_client_errors_are_readable(fake_api: str) -> None:
    client = Client(fake_api + "/")
    assert client.traces(tenant=None, negative_feedback=True) == {"traces": [], "has_more": False}
    with pytest.raises(ApiError) as not_found:
        client.trace("abc")
    assert (not_found.value.status, not_found.value.detail) == (404, "no trace abc")
    with pytest.raises(ApiError, match="limit: too big"):
        client.feedback(limit=9999)
    with pytest.raises(CollectorError, match="non-JSON"):
        client.get("/elsewhere")


def test_client_unreachable_names_the_endpoint() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    expected = rf"cannot reach the collector at {url}: is `spyglass up` running\?"
    with pytest.raises(Unreachable, match=expected):
        Client(url, timeout=5).trace("0" * 31 + "1")


def test_import_spyglass_does_not_import_streamlit() -> None:
    code = (
        "import sys, spyglass, spyglass.ui; "
        "assert spyglass.ui.app_path().name == 'app.py'; "
        "heavy = [m for m in ('streamlit', 'altair', 'pandas') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert app_path().is_file()
