"""Model cost in US dollars: llm and embedding spans priced from their token counts and a price table.

The price table
---------------
A :class:`PriceTable` is a set of :class:`Price` entries, each the USD price per million input, output
and (optionally) cached-input tokens of one model from an ``effective`` date (UTC) on. The shipped table
is ``prices.toml`` next to this module: list prices as known when it was recorded, to be checked.
``PriceTable.load(path)`` adds an operator's TOML file in the same format (``[[price]]`` entries with
``model``, ``effective``, ``input_per_mtok``, ``output_per_mtok`` and optional ``cached_input_per_mtok``
and ``provider``): an entry with the same (model, provider, effective) as a shipped one replaces it,
any other entry is added. A file that cannot be used raises :class:`PriceFileError` naming the file,
the entry and the field; nothing is skipped silently (unknown keys are errors too, so a misspelt field
cannot quietly drop a price).

Which price a span gets
-----------------------
Only spans whose ``kind`` is ``llm`` or ``embedding`` are priced. Model names are compared after
normalising: trimmed, lower-cased, and everything up to the last ``/`` dropped (``openai/gpt-4o``,
``models/gemini-2.5-flash``). The candidates, first match wins:

1. ``response_model`` as is (after normalising),
2. ``response_model`` without a version suffix,
3. ``request_model`` as is,
4. ``request_model`` without a version suffix.

An empty or null model is no candidate. A version suffix is one trailing ``@anything`` (Vertex AI:
``claude-3-5-haiku@20241022``) or ``-`` followed by a date ``YYYY-MM-DD`` (OpenAI:
``gpt-4o-mini-2024-07-18``), ``YYYYMMDD`` (Anthropic: ``claude-3-5-haiku-20241022``), 4 digits
(Mistral ``mistral-large-2411``, OpenAI ``gpt-4-0613``), 3 digits (Google ``gemini-2.0-flash-001``) or
``latest`` (``mistral-large-latest``). Only one suffix is removed; ``-preview...``, ``-exp`` and
Bedrock-style names (``anthropic.claude-...-v1:0``) are not rewritten, so they are unknown unless the
table names them. Because the exact name is tried first, a dated entry (``gpt-4o-2024-05-13``) beats the
undated one.

A candidate matches if the table has an entry for that model with no ``provider``, or one whose
``provider`` equals the span's ``provider`` column (case-insensitive; a frame without a ``provider``
column only matches entries without one). When both exist, the provider-specific entries are used
and the generic ones ignored for that span. The model is chosen by name alone; the price is then the
entry of that model with the latest ``effective`` <= the span's ``start_time``. A span that starts
before the chosen model's first ``effective`` date has no price (it does not fall back to the request
model). ``price_model`` reports the matched entry's model name.

Cost and status
---------------
``cost_usd = ((input - cached) * input_price + cached * cached_price + output * output_price) / 1e6``
where ``cached_price`` is ``input_price`` when the entry has none. A null token count is 0 when the
other of input/output is present; cached is clamped to ``[0, input]`` and negative counts to 0. Input
tokens are taken to include the cached ones (the OpenTelemetry GenAI convention); cache-write
surcharges, batch discounts and long-context tiers are not modelled.

``cost_status``: null for spans that are not llm/embedding (cost null too); ``"no_usage"`` when input
and output tokens are both null (checked first; ``price_model`` is still reported if the model matched);
``"unknown_model"`` when no candidate matches or the matched model has no price in force at the span's
start time (cost null, never 0); ``"ok"`` otherwise.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

PRICED_KINDS = ("llm", "embedding")
STATUS_OK = "ok"
STATUS_UNKNOWN_MODEL = "unknown_model"
STATUS_NO_USAGE = "no_usage"
SHIPPED_PRICES = "prices.toml"

REQUIRED_COLUMNS = (
    "kind",
    "request_model",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "start_time",
)

# Model-name normalisation (polars/Rust regex syntax). See the module docstring.
_PREFIX_RE = r"^.*/"
_SUFFIX_RE = r"(@[0-9a-z._:-]+|-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3}|latest))$"

_REQUIRED_FIELDS = ("model", "effective", "input_per_mtok", "output_per_mtok")
_OPTIONAL_FIELDS = ("cached_input_per_mtok", "provider")

# Temporary column names used inside price_spans (never left in its result).
_PRICED, _REQ, _RESP, _SPROV = "__sg_priced", "__sg_req", "__sg_resp", "__sg_span_provider"
_KEY, _PKEY, _GID, _EFF = "__sg_key", "__sg_provider_key", "__sg_gid", "__sg_eff"
_IN, _OUT, _CACHED = "__sg_in_price", "__sg_out_price", "__sg_cached_price"
_SEP = "\x1f"  # joins model and provider into one membership key


class PriceFileError(ValueError):
    """A price file that cannot be used: unreadable, not TOML, or an entry with a missing/bad field."""


def _check_price(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (write the number without quotes)" if isinstance(value, str) else ""
        raise ValueError(
            f"field {name!r} must be a number of US dollars per million tokens, "
            f"got {value!r} ({type(value).__name__}){hint}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"field {name!r} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Price:
    """One model's price from ``effective`` on, in US dollars per million tokens.

    ``model`` is stored lower-cased and trimmed, ``provider`` likewise (empty -> None), ``effective``
    converted to UTC; invalid values raise ``ValueError`` naming the field.

    >>> Price("GPT-4o", datetime(2024, 10, 1, tzinfo=UTC), 2.5, 10.0, 1.25).model
    'gpt-4o'
    """

    model: str
    effective: datetime
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    provider: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"field 'model' must be a non-empty string, got {self.model!r}")
        model = self.model.strip().lower()
        if "/" in model:
            raise ValueError(
                f"field 'model' must not contain '/', got {self.model!r}: span model names are matched "
                f"after dropping any 'provider/' prefix, so write {model.rsplit('/', 1)[1]!r} "
                '(and set provider = "..." to restrict the entry to one provider)'
            )
        if not isinstance(self.effective, datetime) or self.effective.tzinfo is None:
            raise ValueError(f"field 'effective' must be a timezone-aware datetime, got {self.effective!r}")
        provider = self.provider
        if provider is not None:
            if not isinstance(provider, str):
                raise ValueError(f"field 'provider' must be a string, got {provider!r}")
            provider = provider.strip().lower() or None
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "effective", self.effective.astimezone(UTC))
        object.__setattr__(self, "input_per_mtok", _check_price("input_per_mtok", self.input_per_mtok))
        object.__setattr__(self, "output_per_mtok", _check_price("output_per_mtok", self.output_per_mtok))
        if self.cached_input_per_mtok is not None:
            cached = _check_price("cached_input_per_mtok", self.cached_input_per_mtok)
            object.__setattr__(self, "cached_input_per_mtok", cached)

    @property
    def identity(self) -> tuple[str, str | None, datetime]:
        """(model, provider, effective): an override entry with the same identity replaces this one."""
        return (self.model, self.provider, self.effective)


@dataclass(frozen=True)
class PriceTable:
    """Model prices over time. ``PriceTable.load()`` gives the shipped table (plus an operator file).

    Two entries with the same (model, provider, effective) are rejected with ``ValueError``.

    >>> table = PriceTable.load()
    >>> table.frame().filter(pl.col("model") == "gpt-4o")["input_per_mtok"].to_list()
    [5.0, 2.5]
    """

    prices: tuple[Price, ...]

    def __post_init__(self) -> None:
        prices = tuple(self.prices)
        seen: set[tuple[str, str | None, datetime]] = set()
        for p in prices:
            if not isinstance(p, Price):
                raise ValueError(f"PriceTable.prices must hold Price entries, got {p!r}")
            if p.identity in seen:
                raise ValueError(
                    f"two prices for model {p.model!r} (provider {p.provider or 'any'}) "
                    f"effective {p.effective.isoformat()}"
                )
            seen.add(p.identity)
        object.__setattr__(self, "prices", prices)

    @classmethod
    def load(cls, override: str | os.PathLike[str] | None = None) -> PriceTable:
        """The shipped price table, with the operator's TOML file ``override`` applied if given.

        Entries in ``override`` with the same (model, provider, effective) as a shipped entry replace
        it; the others are added. Raises :class:`PriceFileError` if either file cannot be used.

        >>> PriceTable.load().frame().height > 0
        True
        >>> PriceTable.load("/nonexistent/prices.toml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        spyglass.analytics.cost.PriceFileError: /nonexistent/prices.toml: price file not found ...
        """
        shipped = resources.files(__package__ or "spyglass.analytics").joinpath(SHIPPED_PRICES)
        try:
            shipped_bytes = shipped.read_bytes()
        except OSError as exc:
            raise PriceFileError(f"{shipped}: cannot read the shipped price table: {exc}") from exc
        merged = {p.identity: p for p in _parse_price_file(shipped_bytes, str(shipped))}
        if override is not None:
            path = Path(override)
            try:
                data = path.read_bytes()
            except FileNotFoundError as exc:
                raise PriceFileError(
                    f"{path}: price file not found (the operator price file passed to PriceTable.load); "
                    "check the path"
                ) from exc
            except OSError as exc:
                raise PriceFileError(f"{path}: cannot read the price file: {exc}") from exc
            for p in _parse_price_file(data, str(path)):
                merged[p.identity] = p
        return cls(tuple(merged.values()))

    def frame(self) -> pl.DataFrame:
        """The table as polars, sorted by model, provider (generic first) and effective.

        Columns: model, provider (null = any), effective (Datetime ns UTC), input_per_mtok,
        output_per_mtok, cached_input_per_mtok (null = priced as input).

        >>> PriceTable.load().frame().columns
        ['model', 'provider', 'effective', 'input_per_mtok', 'output_per_mtok', 'cached_input_per_mtok']
        """
        ps = self.prices
        return pl.DataFrame(
            {
                "model": pl.Series([p.model for p in ps], dtype=pl.Utf8),
                "provider": pl.Series([p.provider for p in ps], dtype=pl.Utf8),
                "effective": pl.Series([p.effective for p in ps], dtype=pl.Datetime("ns", "UTC")),
                "input_per_mtok": pl.Series([p.input_per_mtok for p in ps], dtype=pl.Float64),
                "output_per_mtok": pl.Series([p.output_per_mtok for p in ps], dtype=pl.Float64),
                "cached_input_per_mtok": pl.Series([p.cached_input_per_mtok for p in ps], dtype=pl.Float64),
            }
        ).sort(["model", "provider", "effective"], nulls_last=False)


def _effective(value: Any) -> datetime:
    """A TOML date, date-time or ISO string -> aware UTC datetime; naive date-times are taken as UTC."""
    parsed: date | datetime | None = None
    if isinstance(value, date):  # datetime is a subclass of date
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                parsed = parse(text)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(
            f"field 'effective' must be a date like 2024-10-01 (taken as UTC midnight) or an RFC 3339 "
            f"date-time like 2024-10-01T00:00:00Z, got {value!r}"
        )
    if isinstance(parsed, datetime):
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return datetime.combine(parsed, time(0), tzinfo=UTC)


def _describe(index: int, entry: dict[str, Any]) -> str:
    parts = []
    if isinstance(entry.get("model"), str):
        parts.append(f"model {entry['model']!r}")
    if "effective" in entry:
        parts.append(f"effective {entry['effective']}")
    return f"price entry #{index}" + (f" ({', '.join(parts)})" if parts else "")


def _parse_price_file(data: bytes, name: str) -> list[Price]:
    """Parse one price file's bytes; ``name`` is used in error messages."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PriceFileError(f"{name}: not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(f"{name}: not valid TOML: {exc}") from exc
    extra = sorted(set(doc) - {"price"})
    if extra:
        raise PriceFileError(
            f"{name}: unknown top-level key(s) {', '.join(map(repr, extra))}; "
            "write each price as a [[price]] table (see the shipped prices.toml)"
        )
    entries = doc.get("price", [])
    if not isinstance(entries, list):
        raise PriceFileError(
            f"{name}: 'price' must be an array of tables: start each entry with its own [[price]] header "
            "(double brackets)"
        )
    prices: list[Price] = []
    first_index: dict[tuple[str, str | None, datetime], int] = {}
    for i, entry in enumerate(entries, start=1):
        where = f"{name}: {_describe(i, entry) if isinstance(entry, dict) else f'price entry #{i}'}"
        if not isinstance(entry, dict):
            raise PriceFileError(f"{where}: must be a table of fields under a [[price]] header")
        unknown = sorted(set(entry) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS))
        if unknown:
            raise PriceFileError(
                f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; allowed fields are "
                f"{', '.join(_REQUIRED_FIELDS + _OPTIONAL_FIELDS)}. Fix the spelling or remove them"
            )
        missing = [f for f in _REQUIRED_FIELDS if f not in entry]
        if missing:
            raise PriceFileError(
                f"{where}: missing required field(s) {', '.join(map(repr, missing))}; every [[price]] entry "
                "needs model, effective, input_per_mtok and output_per_mtok (use 0 for the output price of "
                "embedding models)"
            )
        try:
            price = Price(
                model=entry["model"],
                effective=_effective(entry["effective"]),
                input_per_mtok=entry["input_per_mtok"],
                output_per_mtok=entry["output_per_mtok"],
                cached_input_per_mtok=entry.get("cached_input_per_mtok"),
                provider=entry.get("provider"),
            )
        except ValueError as exc:
            raise PriceFileError(f"{where}: {exc}. Fix this entry or remove it") from exc
        if price.identity in first_index:
            raise PriceFileError(
                f"{where}: same model, provider and effective date as price entry "
                f"#{first_index[price.identity]} in the same file; keep one of them"
            )
        first_index[price.identity] = i
        prices.append(price)
    return prices


def _model_name(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase().str.replace(_PREFIX_RE, "")


@dataclass(frozen=True)
class _Lookup:
    """The price table laid out for vectorised as-of lookup.

    Entries are grouped by (model, provider) into group ids ``gid``; ``boundaries`` are the table's
    distinct effective instants (Int64 ns, sorted). Entry j gets the key ``gid * stride + rank + 1``,
    rank being its effective date's index in ``boundaries``; a span of group gid starting at t gets
    ``gid * stride + (number of boundaries <= t)``. The entry in force is then the last entry whose key
    is <= the span's key, provided it belongs to the same group. Keys are sorted because the frame is
    sorted by (model, provider, effective) and gids are assigned in that order.
    """

    groups: pl.DataFrame  # model, provider ("" = any), gid
    boundaries: pl.Series
    keys: pl.Series
    entries: pl.DataFrame  # the price frame in key order, with gid
    stride: int
    resolved: dict[tuple[tuple[str, str, str], ...], pl.DataFrame] = field(default_factory=dict)
    """Distinct (request, response, provider) combinations -> their group ids, as computed
    before: the same few models recur, and resolving them is most of pricing one trace."""


_LOOKUPS: dict[int, tuple[PriceTable, _Lookup]] = {}
_MAX_CACHED = 8  # price tables laid out (a process normally has one)
_MAX_RESOLVED = 1024  # combination sets resolved per table
_MAX_COMBOS_CACHED = 64  # larger sets (a whole window's) are resolved each time


def _lookup(prices: PriceTable) -> _Lookup:
    """``prices`` laid out for lookup, once per table (the entry keeps ``prices`` alive, so its
    id is not reused while cached)."""
    hit = _LOOKUPS.get(id(prices))
    if hit is not None and hit[0] is prices:
        return hit[1]
    if len(_LOOKUPS) >= _MAX_CACHED:
        _LOOKUPS.clear()
    lookup = _lay_out(prices)
    _LOOKUPS[id(prices)] = (prices, lookup)
    return lookup


def _lay_out(prices: PriceTable) -> _Lookup:
    table = prices.frame().with_columns(pl.col("provider").fill_null(""))
    new_group = (pl.col("model") != pl.col("model").shift()) | (
        pl.col("provider") != pl.col("provider").shift()
    )
    table = table.with_columns(new_group.fill_null(True).cast(pl.Int64).cum_sum().sub(1).alias(_GID))
    effective_ns = table["effective"].cast(pl.Int64)
    boundaries = effective_ns.unique().sort()
    stride = len(boundaries) + 1
    rank = boundaries.search_sorted(effective_ns, side="left").cast(pl.Int64)
    keys = table[_GID] * stride + rank + 1
    return _Lookup(table.select("model", "provider", _GID).unique(), boundaries, keys, table, stride)


def _resolve(combos: pl.DataFrame, lookup: _Lookup) -> pl.DataFrame:
    """The price group id (``_GID``, null = unknown model) of each distinct (request, response,
    provider) combination of ``combos``."""
    groups = lookup.groups
    generic = groups.filter(pl.col("provider") == "")["model"]
    specific = groups.filter(pl.col("provider") != "").select(
        pl.concat_str([pl.col("model"), pl.lit(_SEP), pl.col("provider")])
    )
    provider = pl.col(_SPROV).str.strip_chars().str.to_lowercase()

    def specific_match(name: pl.Expr) -> pl.Expr:
        return pl.concat_str([name, pl.lit(_SEP), provider]).is_in(specific.to_series().implode())

    response, request = _model_name(pl.col(_RESP)), _model_name(pl.col(_REQ))
    key = pl.lit(None, dtype=pl.Utf8)
    for name in reversed(
        (response, response.str.replace(_SUFFIX_RE, ""), request, request.str.replace(_SUFFIX_RE, ""))
    ):
        key = pl.when(name.is_in(generic.implode()) | specific_match(name)).then(name).otherwise(key)
    combos = (
        combos.with_columns(key.alias(_KEY))
        .with_columns(
            # Provider-specific entries of the chosen model win over its generic ones.
            pl.when(specific_match(pl.col(_KEY)).fill_null(False))
            .then(provider)
            .otherwise(pl.lit(""))
            .alias(_PKEY)
        )
        .join(groups, left_on=[_KEY, _PKEY], right_on=["model", "provider"], how="left")
        .select(_REQ, _RESP, _SPROV, _GID)
    )
    return combos


def price_spans(spans: pl.DataFrame, prices: PriceTable) -> pl.DataFrame:
    """``spans`` plus ``cost_usd`` (Float64), ``cost_status`` and ``price_model`` (Utf8), rows in order.

    Needs columns kind, request_model, response_model ("" or null = absent), input_tokens,
    output_tokens, cached_input_tokens and start_time (Datetime; naive is taken as UTC); ``provider`` is
    used if present. Existing columns named cost_usd/cost_status/price_model are replaced. Rules: the
    module docstring. Vectorised, no per-row Python and no sort of the spans: model names are resolved
    once per distinct (request_model, response_model, provider), then the price in force is found with
    a binary search of (model group, effective date) keys.

    >>> spans = pl.DataFrame({
    ...     "kind": ["llm", "llm", "tool"],
    ...     "request_model": ["gpt-4o", "my-finetune", ""],
    ...     "response_model": ["gpt-4o-2024-08-06", "", ""],
    ...     "input_tokens": [1000, 10, None], "output_tokens": [500, 10, None],
    ...     "cached_input_tokens": [None, None, None],
    ...     "start_time": [datetime(2025, 1, 2, tzinfo=UTC)] * 3,
    ... }).with_columns(pl.col("start_time").dt.cast_time_unit("ns"))
    >>> out = price_spans(spans, PriceTable.load())
    >>> out["cost_usd"].round(6).to_list(), out["cost_status"].to_list(), out["price_model"].to_list()
    ([0.0075, None, None], ['ok', 'unknown_model', None], ['gpt-4o', None, None])
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in spans.columns]
    if missing:
        raise ValueError(f"price_spans: spans frame lacks column(s) {', '.join(missing)}")
    start_dtype = spans.schema["start_time"]
    if not isinstance(start_dtype, pl.Datetime):
        raise ValueError(f"price_spans: start_time must be a polars Datetime column, got {start_dtype}")
    lookup = _lookup(prices)

    # 1. Which price group each distinct (request, response, provider) combination resolves to.
    span_provider = pl.col("provider").cast(pl.Utf8) if "provider" in spans.columns else pl.lit("")
    base = spans.select(
        pl.col("kind").cast(pl.Utf8).is_in(PRICED_KINDS).fill_null(False).alias(_PRICED),
        pl.col("request_model").cast(pl.Utf8).fill_null("").alias(_REQ),
        pl.col("response_model").cast(pl.Utf8).fill_null("").alias(_RESP),
        span_provider.fill_null("").alias(_SPROV),
    )
    combos = base.filter(pl.col(_PRICED)).select(_REQ, _RESP, _SPROV).unique()
    if combos.height > _MAX_COMBOS_CACHED:
        combos = _resolve(combos, lookup)
    else:
        cache_key = tuple(sorted(combos.iter_rows()))
        resolved = lookup.resolved.get(cache_key)
        if resolved is None:
            resolved = _resolve(combos, lookup)
            if len(lookup.resolved) >= _MAX_RESOLVED:
                lookup.resolved.clear()
            lookup.resolved[cache_key] = resolved
        combos = resolved
    narrow = base.join(combos, on=[_REQ, _RESP, _SPROV], how="left", maintain_order="left")

    # 2. The entry in force at each span's start: binary search of the (group, effective) keys.
    start = pl.col("start_time")
    if start_dtype.time_zone is None:
        start = start.dt.replace_time_zone("UTC")
    start_ns = spans.select(start.dt.cast_time_unit("ns").cast(pl.Int64)).to_series()
    gid = narrow.select(pl.when(pl.col(_PRICED)).then(pl.col(_GID))).to_series()
    span_key = gid * lookup.stride + lookup.boundaries.search_sorted(start_ns, side="right").cast(pl.Int64)
    span_key = pl.select(pl.when(start_ns.is_not_null()).then(span_key)).to_series()
    if len(lookup.keys):
        pos = lookup.keys.search_sorted(span_key.fill_null(-1), side="right").cast(pl.Int64) - 1
        in_group = lookup.entries[_GID].gather(pos.clip(lower_bound=0)) == gid
        index = pl.select(pl.when((pos >= 0) & in_group.fill_null(False)).then(pos)).to_series()
    else:
        index = pl.Series([None] * spans.height, dtype=pl.Int64)
    # gather, not frame[index]: a null index must give a null row (no price).
    entry = {
        name: lookup.entries[name].gather(index)
        for name in ("model", "effective", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok")
    }

    # 3. Cost and status.
    work = pl.DataFrame(
        [
            narrow[_PRICED],
            entry["model"].alias(_KEY),
            entry["effective"].alias(_EFF),
            entry["input_per_mtok"].alias(_IN),
            entry["output_per_mtok"].alias(_OUT),
            entry["cached_input_per_mtok"].alias(_CACHED),
            spans["input_tokens"].cast(pl.Float64).alias("__sg_in"),
            spans["output_tokens"].cast(pl.Float64).alias("__sg_out"),
            spans["cached_input_tokens"].cast(pl.Float64).alias("__sg_cached"),
        ]
    )
    inp, out, cached = pl.col("__sg_in"), pl.col("__sg_out"), pl.col("__sg_cached")
    has_usage = inp.is_not_null() | out.is_not_null()
    i = inp.fill_null(0.0).clip(lower_bound=0.0)
    o = out.fill_null(0.0).clip(lower_bound=0.0)
    c = pl.min_horizontal(cached.fill_null(0.0).clip(lower_bound=0.0), i)
    cost = ((i - c) * pl.col(_IN) + c * pl.coalesce(pl.col(_CACHED), pl.col(_IN)) + o * pl.col(_OUT)) / 1e6
    found = pl.col(_EFF).is_not_null()
    is_priced = pl.col(_PRICED)
    status = (
        pl.when(~is_priced)
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(~has_usage)
        .then(pl.lit(STATUS_NO_USAGE))
        .when(~found)
        .then(pl.lit(STATUS_UNKNOWN_MODEL))
        .otherwise(pl.lit(STATUS_OK))
    )
    result = work.select(
        pl.when(is_priced & has_usage & found).then(cost).otherwise(None).cast(pl.Float64).alias("cost_usd"),
        status.cast(pl.Utf8).alias("cost_status"),
        pl.when(is_priced & found).then(pl.col(_KEY)).otherwise(None).cast(pl.Utf8).alias("price_model"),
    )
    return spans.with_columns(result.get_columns())
