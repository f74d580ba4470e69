"""``spyglass.instrument``: turns on installed instrumentations with Spyglass's provider and
content setting, reports the missing and failing ones, never raises into the host."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import spyglass
from spyglass import _instrumentations as I
from spyglass._state import state

MODULE = """
class Instrumentor:
    calls = []
    is_instrumented_by_opentelemetry = False

    def instrumentation_dependencies(self):
        return ()

    def instrument(self, **kwargs):
        if FAIL:
            raise RuntimeError("boom")
        Instrumentor.calls.append(kwargs)
        Instrumentor.is_instrumented_by_opentelemetry = True
"""


@pytest.fixture()
def fake_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two instrumentation packages on sys.path for a library "demo": one whose instrument()
    works, one whose instrument() raises."""
    (tmp_path / "sg_demo_ok.py").write_text("FAIL = False\n" + MODULE)
    (tmp_path / "sg_demo_broken.py").write_text("FAIL = True\n" + MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        I.INSTRUMENTATIONS, "demo", (I.Candidate("demo-instrumentation", "sg_demo_ok", "Instrumentor"),)
    )
    monkeypatch.setitem(
        I.INSTRUMENTATIONS,
        "broken",
        (I.Candidate("broken-instrumentation", "sg_demo_broken", "Instrumentor"),),
    )
    yield
    for name in ("sg_demo_ok", "sg_demo_broken"):
        sys.modules.pop(name, None)


def test_missing_and_unknown_libraries_are_reported_not_raised() -> None:
    outcome = spyglass.instrument("openai", "no-such-library")
    assert outcome["openai"] == "not installed: pip install opentelemetry-instrumentation-openai-v2"
    assert outcome["no-such-library"].startswith("unknown: choose from openai, anthropic")


def test_installed_instrumentation_is_turned_on_once_with_spyglass_provider(
    fake_library: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = object()
    monkeypatch.setattr(state, "provider", provider)
    assert spyglass.instrument("demo") == {"demo": "on (demo-instrumentation)"}
    assert spyglass.instrument("demo") == {"demo": "already on (demo-instrumentation)"}
    assert sys.modules["sg_demo_ok"].Instrumentor.calls == [{"tracer_provider": provider}]


def test_a_failing_instrumentation_is_reported_and_the_others_still_run(fake_library: None) -> None:
    outcome = spyglass.instrument("broken", "demo")
    assert outcome["broken"] == "failed: RuntimeError: boom (broken-instrumentation)"
    assert outcome["demo"] == "on (demo-instrumentation)"


@pytest.mark.parametrize("capture", [False, True])
def test_content_switches_follow_spyglass_capture_setting(
    capture: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in I._content_environment(True):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRACELOOP_TRACE_CONTENT", "explicit")  # the application's own choice wins
    monkeypatch.setattr(state, "capture_content", capture)
    spyglass.instrument("no-such-library")
    import os

    assert os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == (
        "SPAN_ONLY" if capture else "NO_CONTENT"
    )
    assert os.environ["OPENINFERENCE_HIDE_INPUTS"] == ("false" if capture else "true")
    assert os.environ["TRACELOOP_TRACE_CONTENT"] == "explicit"
    assert ("OTEL_SEMCONV_STABILITY_OPT_IN" in os.environ) is capture
