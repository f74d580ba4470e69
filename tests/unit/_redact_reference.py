"""The reference the redaction tests compare against: every built-in detector's pattern tried
at every position of the whole text, with no prefilter, anchor or cache."""

from __future__ import annotations

from collections import Counter

import spyglass
from spyglass import _redact
from spyglass._detectors import DETECTORS


def full_scan(text: str) -> tuple[str, dict[str, int]]:
    """``text`` redacted by a full scan, and the count of findings per kind."""
    counts: Counter[str] = Counter()
    kinds = frozenset(spyglass.Redactor.BUILTIN)
    for det in DETECTORS:
        text = det.pattern.sub(_redact._replacer(det, kinds, counts), text)
    return text, dict(counts)
