"""The SDK's process-wide state: which tracer our spans use, and whether content is captured."""

from __future__ import annotations

import os

from opentelemetry import trace

TRUTHY = ("1", "true", "yes", "on")


class _State:
    __slots__ = ("capture_content", "project", "provider", "tracer")

    def __init__(self) -> None:
        # Before init() our spans go to whatever global provider the host has (no-op if none).
        self.tracer: trace.Tracer = trace.get_tracer("spyglass")
        self.capture_content = os.environ.get("SPYGLASS_CAPTURE_CONTENT", "").lower() in TRUTHY
        self.provider: object | None = None
        self.project: str | None = os.environ.get("SPYGLASS_PROJECT") or None


state = _State()
