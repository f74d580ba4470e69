"""Redaction of captured content before it leaves the process.

A ``Redactor`` runs the built-in detectors (``_detectors.py``) and then the application's
own redactors over a string, replaces each finding with a typed placeholder
(``[REDACTED:email]``) and reports how many of each kind it replaced; the span records
those counts (``spyglass.redaction.email = 2``), never the values.

A redactor that raises, or returns something other than a string, fails closed: the whole
string becomes ``[REDACTED:error]`` (counted as ``error``), never the raw value.

The active redactor is process-wide (``spyglass.init(redactor=...)``); it runs on span
content only when content capture is on, and on feedback text always (see ``_feedback.py``).

What the built-in detectors make of a string depends on that string alone, so a ``Redactor``
keeps the result for the last 512 strings of up to 8 K characters (and 2048 short ones) and
redacts long text with line breaks block of lines by block of lines through that cache: a
prompt that repeats its instructions and retrieved passages around a new question rescans
only the question. The cache lives in the process's memory like the content itself; custom
redactors run on every call, on the whole text.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._detectors import DETECTORS, KINDS, LOOKBACK, Detector, digit_runs
from ._guard import log_rate_limited, report_internal_error

PLACEHOLDER = "[REDACTED:{}]"
ERROR = "error"
COUNT_PREFIX = "spyglass.redaction."
_SHORTEST = 6  # no built-in detector matches fewer characters (a@b.co)
_PLACEHOLDER_RE = re.compile(r"\[REDACTED:([a-z0-9_\-]{1,32})\]")
_CACHE_MIN = 64  # shorter strings have a cache of their own: they must not evict long ones
_CACHE_MAX = 8192  # longer ones are not kept (nor are blocks longer than this)
_CACHE_ENTRIES = 512  # at most 512 x 8 K characters held (~4 MB of ASCII), in practice far less
_SHORT_ENTRIES = 2048  # of 6-63 characters
_SIGHTINGS = 4096  # blocks remembered (by hash) as seen once
_BLOCK_MIN = 512  # text from this length with line breaks is scanned block by block
_BLOCK_LINES = 256  # of lines of at least this many characters together
# A bare number (10+ digits in a row) this close to a block's start might see a phone word on
# the line before it (``_phone_plain``): such a block cannot be scanned apart from that line.
_EARLY_NUMBER = re.compile(f".{{0,{LOOKBACK + 7}}}?[0-9]{{10}}", re.DOTALL)


# A detector with its prefilter fields unpacked: (detector, gate, triggers, caseless,
# min_digits, anchor).
_Step = tuple[Detector, str, tuple[str, ...], bool, int, "re.Pattern[str] | None"]


class Redactor:
    """Replaces secrets and personal identifiers in text with typed placeholders.

    ``custom`` are the application's own redactors, each a ``str -> str`` callable run after
    the built-in detectors, in order. What a custom redactor replaced is counted by the
    placeholders it wrote (``[REDACTED:order_id]`` counts as ``order_id``), else as one
    ``custom`` per changed string. ``detectors`` picks built-in kinds (default: all of
    ``Redactor.BUILTIN``; ``()`` turns them off). An unknown kind raises ``ValueError``.

    Example::

        def mask_order_ids(text: str) -> str:
            return re.sub(r"ORD-\\d+", "[REDACTED:order_id]", text)

        spyglass.init(capture_content=True, redactor=spyglass.Redactor([mask_order_ids]))
        spyglass.Redactor().redact("mail bob@example.com")
        # -> ('mail [REDACTED:email]', {'email': 1})
    """

    BUILTIN: tuple[str, ...] = KINDS

    __slots__ = ("_alnum_plan", "_cache", "_custom", "_detectors", "_kinds", "_plan", "_short", "_sightings")

    def __init__(
        self, custom: Sequence[Callable[[str], str]] = (), *, detectors: Iterable[str] | None = None
    ) -> None:
        if callable(custom):
            custom = [custom]
        for fn in custom:
            if not callable(fn):
                raise TypeError(f"a custom redactor must be a callable str -> str, not {fn!r}")
        if isinstance(detectors, str):
            raise TypeError(f"detectors must be a list of kinds, not the string {detectors!r}")
        chosen = KINDS if detectors is None else tuple(detectors)
        unknown = sorted(set(chosen) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown redaction detectors {unknown}; the built-in ones are {list(KINDS)}")
        self._custom = tuple(custom)
        self._kinds = frozenset(chosen)
        self._detectors = tuple(d for d in DETECTORS if self._kinds.intersection(d.kinds))
        # The detectors' prefilter fields unpacked once: this loop runs for every string.
        # Equal trigger tuples made one object: a detector with the same triggers as the one
        # before it (database_url, url_password) reuses that test instead of searching again.
        same: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._plan = tuple(
            (d, d.gate, same.setdefault(d.triggers, d.triggers), d.caseless, d.min_digits, d.anchor)
            for d in self._detectors
        )
        self._alnum_plan = tuple(step for step in self._plan if step[0].alnum)
        self._cache = _ScanCache(_CACHE_ENTRIES)  # strings and blocks of _CACHE_MIN+ characters
        self._short = _ScanCache(_SHORT_ENTRIES)  # shorter ones: keys, roles, short values
        self._sightings = _Sightings(_SIGHTINGS)

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """``text`` with every finding replaced, and the number replaced of each kind."""
        try:
            size = len(text)
            if size < _SHORTEST:
                counts: dict[str, int] = {}
            elif size < _CACHE_MIN:
                text, counts = self._scan_cached(text, self._short)
            elif size < _BLOCK_MIN or "\n" not in text:
                text, counts = self._scan_cached(text, self._cache)
            else:
                text, counts = self._scan_blocks(text)
        except Exception:
            # Only an SDK bug gets here (the patterns are ours); still never export the raw text.
            report_internal_error("redaction")
            return PLACEHOLDER.format(ERROR), {ERROR: 1}
        for fn in self._custom:
            try:
                before = Counter(_PLACEHOLDER_RE.findall(text))
                result = fn(text)
                if not isinstance(result, str):
                    raise TypeError(f"returned {type(result).__name__}, not str")
            except Exception:
                name = getattr(fn, "__qualname__", repr(fn))
                log_rate_limited(
                    f"redact {name}",
                    "spyglass: redactor %s failed; the value was replaced by [REDACTED:error]",
                    name,
                    exc_info=True,
                )
                return PLACEHOLDER.format(ERROR), {ERROR: 1}
            if result != text:
                added = Counter(_PLACEHOLDER_RE.findall(result)) - before
                _add(counts, added or {"custom": 1})
            text = result
        return text, counts

    def _scan(self, text: str) -> tuple[str, dict[str, int], bool]:
        """The built-in detectors over ``text``: (result, counts, whether a detector whose
        match can span lines was tried). A pure function of ``text`` for this Redactor."""
        counts: dict[str, int] = {}
        multiline = False
        if len(text) < _SHORTEST:
            return text, counts, multiline
        plan = self._alnum_plan if text.isalnum() else self._plan
        tested: tuple[str, ...] = ()  # the triggers tested last, and whether one was found
        found = False
        for det, gate, triggers, caseless, min_digits, anchor in plan:
            if gate and gate not in text:
                continue
            if triggers:
                if triggers is not tested:
                    tested, found = triggers, False
                    haystack = text.lower() if caseless else text  # one caseless detector
                    for trigger in triggers:  # a loop, not any(): this runs per string
                        if trigger in haystack:
                            found = True
                            break
                if not found:
                    continue
            if det.multiline:
                multiline = True
            if min_digits:
                spans = digit_runs(text, min_digits, det.bare_run) if len(text) >= min_digits else None
                if spans:
                    text = _sub_near_spans(det, text, spans, _replacer(det, self._kinds, counts))
            elif anchor is not None:
                spans = [m.span() for m in anchor.finditer(text)]
                text = _sub_near_spans(det, text, spans, _replacer(det, self._kinds, counts))
            else:
                text = det.pattern.sub(_replacer(det, self._kinds, counts), text)
        return text, counts, multiline

    def _result(self, text: str) -> _Result:
        """``_scan(text)`` in the form the caches keep."""
        out, counts, multiline = self._scan(text)
        return out, tuple(counts.items()), multiline

    def _scan_cached(self, text: str, cache: _ScanCache) -> tuple[str, dict[str, int]]:
        # Repeated content (a system prompt, a template, the same answer, a tool's argument
        # names) is scanned once.
        hit = cache.get(text)
        if hit is None:
            hit = self._result(text)
            cache.put(text, hit)
        return hit[0], dict(hit[1]) if hit[1] else {}

    def _scan_blocks(self, text: str) -> tuple[str, dict[str, int]]:
        """``_scan(text)``, block of lines by block of lines through the cache: a prompt that
        repeats its context (instructions, retrieved passages) around a new question rescans
        only the question. A block is cached from its second sighting on; blocks never seen
        before are scanned together (text never seen at all: one scan of the whole, as
        without a cache).

        Exactly what one scan finds, because a match never holds a line break and the
        detectors' look-arounds see a line break as they see the text's edge, except: a
        detector whose match can span lines (then the whole text is scanned), and the
        phone-word look back of ``LOOKBACK`` characters before a bare number (then, if a
        piece kept a bare number that close to its start, the whole text is scanned)."""
        blocks = _blocks(text)
        if len(blocks) == 1:
            return self._scan_cached(text, self._cache)
        cache, sightings = self._cache, self._sightings
        known: list[_Result | None] = []  # per block: its result, or None: new, scan it with its neighbours
        for block in blocks:
            hit = cache.get(block)
            if hit is None and sightings.seen_again(block):
                hit = self._result(block)
                cache.put(block, hit)
            known.append(hit)
        if not any(known):
            whole, found, _ = self._scan(text)
            return whole, found
        pieces: list[str] = []
        counts: dict[str, int] = {}
        new: list[str] = []
        for i, (block, result) in enumerate(zip(blocks, known, strict=True)):
            if result is None:
                new.append(block)
                if i + 1 < len(blocks) and known[i + 1] is None:
                    continue
                result = self._result("\n".join(new))
                first, new = i + 1 == len(new), []
            else:
                first = i == 0
            out = result[0]
            if result[2] or (not first and _EARLY_NUMBER.match(out) is not None):
                out, counts, _ = self._scan(text)
                return out, counts
            pieces.append(out)
            for kind, n in result[1]:
                counts[kind] = counts.get(kind, 0) + n
        return "\n".join(pieces), counts

    def __call__(self, text: str) -> str:
        """``text`` redacted (counts discarded): usable wherever a ``str -> str`` is expected."""
        return self.redact(text)[0]

    def scrub(self, value: Any) -> tuple[Any, dict[str, int]]:
        """Redact every string in a JSON-like value (dict keys, list items, and numbers and
        other objects as their text), keeping its structure so it still serializes as JSON."""
        counts: dict[str, int] = {}
        return self._scrub(value, counts), counts

    def _scrub(self, value: Any, counts: dict[str, int]) -> Any:
        # Exact types first: isinstance against an ABC (Mapping) costs more than a redaction
        # of a short string, and a message list or a tool's arguments are mostly dicts of
        # short strings, handled in the loop without a call per item.
        cls = type(value)
        if cls is str or isinstance(value, str):
            return self._text(value, counts)
        if cls is dict or isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if isinstance(k, str):
                    k = self._text(k, counts)
                kind = type(v)
                if kind is str:
                    out[k] = self._text(v, counts)
                elif v is None or kind is bool or kind is float:
                    out[k] = v
                else:
                    out[k] = self._scrub(v, counts)
            return out
        if cls is list or isinstance(value, list | tuple):
            return [self._text(v, counts) if type(v) is str else self._scrub(v, counts) for v in value]
        if value is None or isinstance(value, bool | float):
            return value
        # An int can be a card or phone number; other objects are exported as their str().
        text, found = self.redact(str(value))
        if not found and isinstance(value, int):
            return value
        _add(counts, found)
        return text

    def _text(self, text: str, counts: dict[str, int]) -> str:
        out, found = self.redact(text)
        if found:
            _add(counts, found)
        return out


def _blocks(text: str) -> list[str]:
    """``text`` cut at line breaks into blocks of whole lines, each at least ``_BLOCK_LINES``
    characters long but the last (the line break between two blocks is in neither): the same
    context after the same cut makes the same block wherever it sits in the text."""
    blocks: list[str] = []
    start = 0
    while (cut := text.find("\n", start + _BLOCK_LINES)) >= 0:
        blocks.append(text[start:cut])
        start = cut + 1
    blocks.append(text[start:])
    return blocks


_Result = tuple[str, tuple[tuple[str, int], ...], bool]
"""What ``Redactor._scan`` made of a string: (result, counts, a multiline detector tried)."""


class _Sightings:
    """The hashes of the last ``size`` blocks scanned: a block is cached when seen again, so
    text seen once costs no more than a scan (hash collisions only cache a block early)."""

    __slots__ = ("_hashes", "_lock", "_size")

    def __init__(self, size: int) -> None:
        self._hashes: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def seen_again(self, block: str) -> bool:
        key = hash(block)
        if key in self._hashes:
            return True
        with self._lock:
            hashes = self._hashes
            if len(hashes) >= self._size:
                hashes.popitem(last=False)  # O(1): a dict's first key is not, after many pops
            hashes[key] = None
        return False


class _ScanCache:
    """What the built-in detectors made of a string, for the last ``size`` strings (first in,
    first out). Keyed by the string itself: only an equal string gets a result."""

    __slots__ = ("_entries", "_lock", "_size")

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[str, _Result] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, text: str) -> _Result | None:
        return self._entries.get(text)

    def put(self, text: str, result: _Result) -> None:
        if len(text) > _CACHE_MAX:
            return
        with self._lock:
            entries = self._entries
            if len(entries) >= self._size:
                entries.popitem(last=False)
            entries[text] = result

    def __len__(self) -> int:
        return len(self._entries)


def _add(counts: dict[str, int], found: Mapping[str, int]) -> None:
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n


def _replacer(det: Detector, kinds: frozenset[str], counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        kind, accept = det.kind, det.accept
        for group, alt_kind, alt_accept in det.alternatives:
            if match.group(group) is not None:
                kind, accept = alt_kind, alt_accept
                break
        if kind not in kinds or (accept is not None and not accept(match)):
            return match.group(0)
        counts[kind] = counts.get(kind, 0) + 1
        if not det.keep_group:
            return PLACEHOLDER.format(kind)
        start, end = match.span(det.keep_group)
        whole, offset = match.group(0), match.start()
        return whole[: start - offset] + PLACEHOLDER.format(kind) + whole[end - offset :]

    return replace


def _sub_near_spans(
    det: Detector, text: str, spans: Iterable[tuple[int, int]], replace: Callable[[re.Match[str]], str]
) -> str:
    """``det.pattern.sub(replace, text)``, searching only near ``spans`` (the anchor's
    matches, in order): a scan for a literal is many times cheaper than trying the detector's
    pattern at every position. Look-behinds still see the text before each window."""
    before, after = det.window
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces already
    for anchor_start, anchor_end in spans:
        start = max(done, anchor_start - before)
        end = min(len(text), anchor_end + after)
        if start >= end:
            continue
        if det.start is not None:
            # "\Z" matches at the anchor's end: the search stops there.
            begin = det.start.search(text, start, anchor_end)
            found = det.pattern.match(text, begin.start(), end) if begin is not None else None
            if found is not None:
                pieces.append(text[done : found.start()])
                pieces.append(replace(found))
                done = found.end()
            continue
        for match in det.pattern.finditer(text, start, end):
            if match.end() == end < len(text):
                # Cut short by this window (a match that belongs to a later anchor, reaching
                # past this one's window): the whole match, as a scan of the text finds it.
                match = det.pattern.match(text, match.start()) or match
            pieces.append(text[done : match.start()])
            pieces.append(replace(match))
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Redact ``text`` with the process's active redactor: the function the collector's
    instrumentation mappers reuse for third-party content."""
    return active.redact(text)


def count_attributes(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts as span attributes: ``{"email": 2}`` -> ``{"spyglass.redaction.email": 2}``."""
    return {COUNT_PREFIX + kind: n for kind, n in counts.items() if n}


active: Redactor = Redactor()
"""The redactor in force; ``spyglass.init(redactor=...)`` replaces it."""


def resolve(redactor: Redactor | Callable[[str], str] | None) -> Redactor:
    """``redactor`` as a ``Redactor``: a bare callable runs after the built-ins, None means
    the built-ins only; anything else raises ``TypeError``."""
    if redactor is None:
        return Redactor()
    if isinstance(redactor, Redactor):
        return redactor
    if callable(redactor):
        return Redactor([redactor])
    raise TypeError(f"redactor must be a spyglass.Redactor or a callable str -> str, not {redactor!r}")


def configure(redactor: Redactor | Callable[[str], str] | None) -> Redactor:
    """Install ``redactor`` (see ``resolve``) as the active one; returns the previous one."""
    global active
    previous, active = active, resolve(redactor)
    return previous
