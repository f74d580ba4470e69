"""The public surface of the ``spyglass`` package, and the weight of importing it."""

from __future__ import annotations

import json
import subprocess
import sys

import spyglass

EXPECTED_ALL = [
    "LLMSpan",
    "Redactor",
    "RetrievalSpan",
    "SpanFactory",
    "SpanHandle",
    "ToolSpan",
    "__version__",
    "cohort",
    "current_span",
    "current_trace_id",
    "data_class",
    "embedding",
    "feedback",
    "flush",
    "hash_identifier",
    "init",
    "instrument",
    "llm",
    "rerank",
    "retrieval",
    "sdk_stats",
    "span",
    "tool",
    "workflow",
]

SERVER_ONLY_MODULES = ("fastapi", "polars", "chdb", "streamlit", "pyarrow", "uvicorn")


def test_all_is_pinned_and_sorted() -> None:
    # Adding or removing a public name must be a deliberate change to this list.
    assert list(spyglass.__all__) == EXPECTED_ALL
    assert sorted(EXPECTED_ALL) == EXPECTED_ALL
    assert len(set(spyglass.__all__)) == len(spyglass.__all__)


def test_every_public_name_exists() -> None:
    for name in spyglass.__all__:
        assert hasattr(spyglass, name), name
    assert isinstance(spyglass.__version__, str)


def test_sdk_stats_has_the_documented_counters() -> None:
    stats = spyglass.sdk_stats()
    assert set(stats) == {
        *("internal_errors", "spans_dropped", "spans_exported", "export_failures"),
        *("feedback_exported", "feedback_dropped", "feedback_invalid", "feedback_rejected"),
    }
    assert all(isinstance(v, int) for v in stats.values())


def test_import_does_not_pull_server_dependencies() -> None:
    code = (
        "import json, sys\n"
        "import spyglass\n"
        f"heavy = {SERVER_ONLY_MODULES!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(json.dumps({'file': spyglass.__file__, 'loaded': loaded}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["file"].replace("\\", "/").endswith("sdk/__init__.py")
    assert result["loaded"] == []
