"""Analytics: pure functions over polars frames of ClickHouse results, shared by the API,
the UI, the CLI and reports."""

from .feedback import feedback_events
from .trace import build_trace
from .traces import trace_rows

__all__ = ["build_trace", "feedback_events", "trace_rows"]
