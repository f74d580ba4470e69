"""The built-in redaction detectors: what a secret or a personal identifier looks like.

Each detector is a regular expression, a cheap substring test that skips it on text that
cannot match (every trigger is a literal its pattern requires, tested case-sensitively on the
raw text unless the pattern ignores case), and for the ambiguous kinds (card numbers, phone
numbers, bearer tokens) a check on the match that rejects near-misses: a 16-digit order
number that fails the Luhn checksum, a date, a version string, an IP address. Every
repetition is bounded, so no pattern backtracks quadratically on long text.

They run in the order of ``DETECTORS``: the specific before the general (a database URL
before the password in it, a provider key before the bearer token that carries it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detector:
    """One kind of sensitive value. ``kind`` names the placeholder (``[REDACTED:kind]``) and
    the count attribute (``spyglass.redaction.kind``)."""

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()
    """Run only if one of these substrings is in the text (empty: always run): a substring
    test costs far less than a regular-expression scan. Each must be a literal that every
    match contains, spelled as the pattern spells it."""
    gate: str = ""
    """One character every trigger holds, tested first: a one-character test is a ``memchr``,
    several times cheaper than a substring search, and most prose lacks ``_`` or ``J``."""
    alnum: bool = False
    """A match can consist of letters and digits alone. Detectors without it are skipped on
    text for which ``str.isalnum()`` holds (a dict key, a role, one word): each needs ``-``,
    ``.``, ``:``, ``_``, ``@``, ``+`` or a space."""
    caseless: bool = False
    """Test ``triggers`` (then lower-case) on the lower-cased text: for a pattern that
    ignores case and whose triggers hold letters."""
    accept: Callable[[re.Match[str]], bool] | None = None
    """Reject a match that is a near-miss (None: every match is redacted)."""
    keep_group: int = 0
    """Redact only this group of the match (0: the whole match)."""
    alternatives: tuple[tuple[str, str, Callable[[re.Match[str]], bool] | None], ...] = ()
    """For one pattern holding several kinds as named groups: (group, kind, accept) each."""
    anchor: re.Pattern[str] | None = None
    """Search ``pattern`` only near matches of this cheaper pattern (None: the whole text).
    Every match of ``pattern`` must lie within ``window`` characters of an anchor."""
    window: tuple[int, int] = (0, 0)
    """Characters before the anchor's start and after its end searched for ``pattern``."""
    start: re.Pattern[str] | None = None
    """With ``anchor``: where the only match that can hold this anchor starts, as the leftmost
    match of this pattern ending at the anchor's end (at most ``window[0]`` characters
    before it). ``pattern`` is then tried at that one position instead of all through the
    window, and never past the end of its match."""
    min_digits: int = 0
    """Instead of ``anchor``: search ``pattern`` only near runs of ASCII digits and the
    separators `` ().-`` that hold at least this many digits (see ``digit_runs``); every
    match the detector accepts must lie in one such run."""
    bare_run: Callable[[str], bool] | None = None
    """With ``min_digits``: a run of digits with no separator inside is searched only if
    this says a match the detector accepts can lie in it (given the run's digits)."""
    multiline: bool = False
    """A match can hold a line break. Every other detector's matches, look-arounds and
    ``accept`` stay within one line, except ``_phone_plain``'s look back (``LOOKBACK``), so
    the redactor may redact a long text line block by line block (see ``_redact.py``)."""

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for _, kind, _ in self.alternatives) or (self.kind,)


def luhn_ok(digits: str) -> bool:
    """The payment-card checksum (ISO/IEC 7812): catches one wrong digit and most swaps."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> bool:
    digits = match.group(0).replace(" ", "").replace("-", "")
    # Issuer ranges start with 2-6 (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6).
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


LOOKBACK = 24
"""How far before a bare 10-11 digit number ``_phone_plain`` looks for a phone word: the only
detector that reads text outside its match (beyond a one-character look-behind)."""

_PHONE_WORDS = re.compile(
    r"\b(?:phone|telephone|tel|call|mobile|cell|sms|text|whatsapp|fax)\b", re.IGNORECASE
)


def _phone_international(match: re.Match[str]) -> bool:
    return 8 <= sum(c.isdigit() for c in match.group(0)) <= 15  # E.164: at most 15 digits


def _phone_trunk(match: re.Match[str]) -> bool:
    groups = re.findall(r"\d+", match.group(0))
    digits = sum(len(g) for g in groups)
    if match.group("tsep") == "." and len(groups) == 4 and all(len(g) <= 3 for g in groups):
        return False  # 010.001.002.003 is a zero-padded IP address, not a phone number
    return 9 <= digits <= 12


def _phone_plain(match: re.Match[str]) -> bool:
    # A bare run of 10-11 digits is as likely an order number or a Unix time: only with a
    # phone word just before it ("call 4155552671", "tel: 07700900123").
    before = match.string[max(0, match.start() - LOOKBACK) : match.start()]
    before = re.split(r"\d", before)[-1]  # only the words since the previous number
    return _PHONE_WORDS.search(before) is not None


def _bare_run_may_match(digits: str) -> bool:
    # In a run of digits alone only two alternatives can match, each the whole run (a start
    # inside it fails the look-behind, an end inside it the look-ahead): a card (13-19
    # digits, then _card decides) or a plain 10-11 digit number (then _phone_plain decides).
    # A 16-digit order number failing the checksum, a 12- or 20-digit ID: nothing to search.
    n = len(digits)
    return n in (10, 11) or (13 <= n <= 19 and digits[0] in "23456" and luhn_ok(digits))


def _bearer(match: re.Match[str]) -> bool:
    token = match.group(2)
    # "Bearer instruments": a token has a digit or mixes cases; prose does neither.
    return any(c.isdigit() for c in token) or (token.lower() != token and token.upper() != token)


# The digit detectors share one pattern (one scan of the text instead of four), bounded so a
# match is never inside a longer word, number, version or ID. The look-ahead first lets the
# regular-expression engine skip quickly to the next digit or parenthesis.
_NUM_START = r"(?=[\d(])(?<![\w.+\-/:])"
_NUM_END = r"(?![\w\-]|[.:/]\d)"
_DIGITS = re.compile(
    _NUM_START
    + "(?:"
    # Payment cards: 13-19 digits, optionally grouped by spaces or dashes.
    + r"(?P<card>\d(?:[ \-]?\d){12,18})"
    # North American: (415) 555-2671, 415-555-2671, 415.555.2671, 1-415-555-2671.
    + r"|(?P<nanp>(?:1[ .\-])?(?:\([2-9]\d{2}\) ?\d{3}[ .\-]|[2-9]\d{2}(?P<nsep>[ .\-])\d{3}(?P=nsep))\d{4})"
    # National with a trunk 0: 020 7946 0958, 07700 900123, 01 23 45 67 89, 030-1234567.
    + r"|(?P<trunk>0\d{1,4}(?P<tsep>[ .\-])\d{2,8}(?:(?P=tsep)\d{2,8}){0,4})"
    # A bare run of 10-11 digits, only right after a phone word.
    + r"|(?P<plain>\d{10,11})"
    + ")"
    + _NUM_END,
    re.ASCII,  # ASCII digits only: the Luhn check and the anchor below count on it
)

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private_key",
        re.compile(
            r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY[A-Z ]{0,10}-----"
            r"(?:.{0,20000}?-----END[A-Z ]{0,40}PRIVATE KEY[A-Z ]{0,10}-----|[A-Za-z0-9+/=\s\\]{0,20000})",
            re.DOTALL,
        ),
        ("-----BEGIN",),
        multiline=True,
    ),
    Detector(
        "jwt",
        re.compile(r"eyJ(?<!\weyJ)[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}"),
        ("eyJ",),
        gate="J",
    ),
    Detector(
        "database_url",
        re.compile(
            r"\b(?:jdbc:)?(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql"
            r"|sqlserver|oracle|clickhouse|cockroachdb|snowflake)(?:\+[a-z0-9]{1,20})?"
            r"://[^\s\"'<>`]{1,2048}",
            re.IGNORECASE,
        ),
        ("://",),
        gate=":",
        anchor=re.compile("://"),
        window=(40, 2049),  # the longest scheme before it, the longest URL after
    ),
    Detector(
        "url_password",
        re.compile(r"://[^\s:/@\"'<>`]{0,256}:([^\s/@\"'<>`]{1,256})@"),
        ("://",),
        gate=":",
        keep_group=1,
    ),
    Detector(
        "anthropic_key", re.compile(r"sk-ant-(?<!\wsk-ant-)[A-Za-z0-9_\-]{20,512}"), ("sk-ant-",), gate="-"
    ),
    Detector(
        "openai_key",
        # The body must hold a digit: "sk-" at the start of a long hyphenated phrase is prose.
        re.compile(r"sk-(?<!\wsk-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z_\-]{0,511}\d)[A-Za-z0-9_\-]{20,512}"),
        ("sk-",),
        gate="-",
    ),
    Detector(
        "stripe_key",
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,256}"),
        ("_live_", "_test_"),
        gate="_",
    ),
    Detector("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), ("IA",), gate="I", alnum=True),
    Detector(
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        "_",
    ),
    Detector("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,255}"), ("xox",)),
    Detector(
        "google_api_key",
        re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
        ("AIza",),
        gate="z",
        alnum=True,
    ),
    Detector(
        "bearer_token",
        re.compile(r"\b(Bearer\s{1,5})([A-Za-z0-9\-._~+/]{16,4096}=*)", re.IGNORECASE),
        ("bearer",),
        caseless=True,
        accept=_bearer,
        keep_group=2,
        multiline=True,  # "Bearer" and its token may be a line apart (\s)
    ),
    Detector(
        "email",
        re.compile(r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"),
        ("@",),
        anchor=re.compile("@"),
        window=(64, 8 * 64 + 26),  # the longest local part before it, the longest domain after
        # A match starts where the run of local-part characters before its "@" starts (the
        # look-behind refuses any later start), so one attempt per "@" decides it.
        start=re.compile(r"[A-Za-z0-9._%+\-]{1,64}@\Z"),
    ),
    # E.164 and international notation: +44 20 7946 0958, +1 (415) 555-2671, +33 1 23 45 67 89.
    Detector(
        "phone",
        re.compile(r"\+(?<![\w+]\+)[1-9](?:[ .\-]{0,2}\(?\d\)?){6,14}(?!\d)"),
        ("+",),
        accept=_phone_international,
    ),
    Detector(
        "card_number",
        _DIGITS,
        alternatives=(
            ("card", "card_number", _card),
            ("nanp", "phone", None),
            ("trunk", "phone", _phone_trunk),
            ("plain", "phone", _phone_plain),
        ),
        # Every accepted match holds 9+ digits (a card 13, North American 10, trunk 9 by
        # _phone_trunk, plain 10): one character before a run for "(", two after for the
        # boundary look-ahead.
        min_digits=9,
        bare_run=_bare_run_may_match,
        alnum=True,  # a bare run of digits
        window=(1, 2),
    ),
)

# ``digit_runs`` maps the text to bytes of the same length: each ASCII digit to "0", each
# separator to "-", anything else (a non-Latin-1 character becomes "?") to "x". A search for
# a literal "0" then skips to the next digit in C, where a pattern starting with a character
# class would be tried at every position.
_DIGIT_VIEW = bytes(48 if 48 <= b <= 57 else 45 if b in b" ().-" else 120 for b in range(256))
_DIGIT_RUN = re.compile(rb"0[0-]{7,}")


def digit_runs(
    text: str, min_digits: int, bare_run: Callable[[str], bool] | None = None
) -> list[tuple[int, int]]:
    """The (start, end) of each maximal run of digits and separators `` ().-`` in ``text``,
    from its first digit, that holds at least ``min_digits`` ASCII digits (in order); a run
    of digits alone (separators only after them) only if ``bare_run`` (when given) accepts
    its digits."""
    if text.isdigit() and text.isascii():  # an ID, an amount: one run, the whole text
        if len(text) < max(min_digits, 8) or (bare_run is not None and not bare_run(text)):
            return []
        return [(0, len(text))]
    view = text.encode("latin-1", "replace").translate(_DIGIT_VIEW)  # one byte per character
    if view.count(b"0") < min_digits or b"0" * min_digits not in view.translate(None, b"-"):
        return []  # (with the separators taken out, a qualifying run is min_digits "0"s in a row)
    runs = []
    for m in _DIGIT_RUN.finditer(view):
        run = m.group()
        if run.count(b"0") < min_digits:
            continue
        if bare_run is not None:
            digits = run.rstrip(b"-")
            if b"-" not in digits and not bare_run(text[m.start() : m.start() + len(digits)]):
                continue
        runs.append(m.span())
    return runs


KINDS: tuple[str, ...] = tuple(dict.fromkeys(k for d in DETECTORS for k in d.kinds))
"""The built-in detector kinds, in the order they run."""
