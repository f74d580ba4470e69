"""Analytics: pure functions over polars frames of ClickHouse results, shared by the API,
the UI, the CLI and reports."""

from .trace import build_trace

__all__ = ["build_trace"]
