"""Model cost in US dollars: price table loading/overrides and span pricing (pure polars, no services)."""

from __future__ import annotations

import doctest
import random
import tomllib
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from spyglass.analytics import cost
from spyglass.analytics.cost import Price, PriceFileError, PriceTable, price_spans

SHIPPED = PriceTable.load()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def span(
    request_model: str = "",
    response_model: str | None = "",
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cached_input_tokens: int | None = None,
    start: datetime | None = None,
    kind: str = "llm",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "request_model": request_model,
        "response_model": response_model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": cached_input_tokens,
        "start_time": start or utc(2025, 11, 1),
        **extra,
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, Any] = {
        "kind": pl.Utf8,
        "request_model": pl.Utf8,
        "response_model": pl.Utf8,
        "input_tokens": pl.UInt32,
        "output_tokens": pl.UInt32,
        "cached_input_tokens": pl.UInt32,
        "start_time": pl.Datetime("ns", "UTC"),
    }
    for row in rows:
        for key in row:
            schema.setdefault(key, pl.Utf8)
    return pl.DataFrame(rows, schema=schema)


def priced(rows: list[dict[str, Any]], table: PriceTable = SHIPPED) -> list[tuple[Any, Any, Any]]:
    out = price_spans(frame(rows), table)
    return list(zip(out["cost_usd"], out["cost_status"], out["price_model"], strict=True))


def one(table: PriceTable = SHIPPED, **kw: Any) -> tuple[Any, Any, Any]:
    (result,) = priced([span(**kw)], table)
    return result


def write(tmp_path: Path, text: str, name: str = "prices.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------- pricing a span


def test_known_model_priced_exactly() -> None:
    # gpt-4o-mini: $0.15 in / $0.60 out per million -> 1000*0.15e-6 + 2000*0.60e-6 = 0.00015 + 0.0012
    cost_usd, status, model = one(request_model="gpt-4o-mini", input_tokens=1000, output_tokens=2000)
    assert status == "ok" and model == "gpt-4o-mini"
    assert cost_usd == pytest.approx(0.00135, rel=1e-12)


def test_cached_input_priced_at_cached_price() -> None:
    # gpt-4.1: in 2.00, cached 0.50, out 8.00. 10_000 in of which 4_000 cached, 1_000 out:
    # 6_000*2.00 + 4_000*0.50 + 1_000*8.00 = 12_000 + 2_000 + 8_000 = 22_000 / 1e6
    cost_usd, status, _ = one(
        request_model="gpt-4.1", input_tokens=10_000, cached_input_tokens=4_000, output_tokens=1_000
    )
    assert status == "ok"
    assert cost_usd == pytest.approx(0.022, rel=1e-12)


def test_cached_without_cached_price_is_priced_as_input() -> None:
    # mistral-large since 2024-09-17: in 2.00 / out 6.00, no cached price.
    with_cache = one(request_model="mistral-large", input_tokens=1_000_000, cached_input_tokens=600_000)
    without = one(request_model="mistral-large", input_tokens=1_000_000)
    assert with_cache[0] == pytest.approx(2.0) and without[0] == pytest.approx(2.0)


def test_cached_more_than_input_is_clamped() -> None:
    # gpt-4o-mini: 100 input reported, 500 cached -> all 100 at the cached price 0.075, none at 0.15.
    cost_usd, status, _ = one(request_model="gpt-4o-mini", input_tokens=100, cached_input_tokens=500)
    assert status == "ok"
    assert cost_usd == pytest.approx(100 * 0.075 / 1e6, rel=1e-12)


def test_null_counts_are_zero_when_one_is_present() -> None:
    only_output = one(request_model="gpt-4o-mini", output_tokens=1_000_000)
    only_input = one(request_model="text-embedding-3-small", kind="embedding", input_tokens=1_000_000)
    assert only_output[:2] == (pytest.approx(0.60), "ok")
    assert only_input[:2] == (pytest.approx(0.02), "ok")


def test_response_model_wins_when_it_has_a_price() -> None:
    # Asked for gpt-4o, served by gpt-4o-mini: priced as gpt-4o-mini.
    cost_usd, _, model = one(
        request_model="gpt-4o", response_model="gpt-4o-mini-2024-07-18", input_tokens=1_000_000
    )
    assert model == "gpt-4o-mini" and cost_usd == pytest.approx(0.15)


def test_request_model_used_when_response_model_absent_or_unknown() -> None:
    rows = [
        span(request_model="gpt-4o-mini", response_model="", input_tokens=1_000_000),
        span(request_model="gpt-4o-mini", response_model=None, input_tokens=1_000_000),
        span(request_model="gpt-4o-mini", response_model="azure-deployment-7", input_tokens=1_000_000),
    ]
    assert [(round(c, 9), s, m) for c, s, m in priced(rows)] == [(0.15, "ok", "gpt-4o-mini")] * 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-3-5-haiku@20241022", "claude-3-5-haiku"),
        ("mistral-large-2411", "mistral-large"),
        ("mistral-large-latest", "mistral-large"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("OpenAI/GPT-4.1-Mini", "gpt-4.1-mini"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        (" claude-sonnet-4-5-20250929 ", "claude-sonnet-4-5"),
        # Exact entries beat suffix stripping: the dated snapshot has its own (launch) price.
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        # Not rewritten: previews and Bedrock ids stay unknown.
        ("gemini-2.5-flash-preview-05-20", None),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", None),
        ("gpt-4o-mini-extra", None),
    ],
)
def test_model_name_matching(name: str, expected: str | None) -> None:
    _, status, model = one(request_model=name, input_tokens=10, output_tokens=10)
    assert model == expected
    assert status == ("ok" if expected else "unknown_model")


def test_dated_snapshot_keeps_its_own_price() -> None:
    # After 2024-10-01 "gpt-4o" is $2.50 in, but the 2024-05-13 snapshot is still $5.
    snapshot = one(request_model="gpt-4o-2024-05-13", input_tokens=1_000_000, start=utc(2025, 1, 1))
    alias = one(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2025, 1, 1))
    assert snapshot[0] == pytest.approx(5.0) and alias[0] == pytest.approx(2.5)


def test_unknown_model_is_null_not_zero() -> None:
    cost_usd, status, model = one(request_model="my-finetune", input_tokens=10, output_tokens=10)
    assert cost_usd is None and status == "unknown_model" and model is None


def test_no_usage() -> None:
    cost_usd, status, model = one(request_model="gpt-4o", cached_input_tokens=5)
    assert cost_usd is None and status == "no_usage"
    assert model == "gpt-4o"  # the match is still reported


def test_non_llm_spans_are_not_priced() -> None:
    rows = [
        span(kind=kind, request_model="gpt-4o", input_tokens=10, output_tokens=10)
        for kind in ("tool", "retrieval", "workflow", "")
    ]
    assert priced(rows) == [(None, None, None)] * 4


def test_price_in_force_at_span_start() -> None:
    rows = [
        span(request_model="gpt-4o", input_tokens=1_000_000, output_tokens=1_000_000, start=start)
        for start in (
            utc(2024, 5, 12, 23, 59),  # before gpt-4o's first price: unknown
            utc(2024, 5, 13),  # first day of the launch price
            utc(2024, 9, 30, 23, 59),
            utc(2024, 10, 1),  # the new price takes effect at 00:00 UTC
            utc(2026, 1, 1),
        )
    ]
    results = priced(rows)
    assert [s for _, s, _ in results] == ["unknown_model", "ok", "ok", "ok", "ok"]
    assert results[0][0] is None and results[0][2] is None
    assert [c for c, _, _ in results[1:]] == pytest.approx([20.0, 20.0, 12.5, 12.5])


def test_no_fallback_to_request_model_before_response_models_first_price() -> None:
    # The response model is known but had no price yet: unknown, not silently priced as the request model.
    _, status, _ = one(
        request_model="gpt-4o-mini", response_model="gpt-5", input_tokens=10, start=utc(2025, 1, 1)
    )
    assert status == "unknown_model"


def test_row_order_and_other_columns_preserved() -> None:
    starts = [utc(2025, 9, 1), utc(2024, 6, 1), utc(2025, 12, 1), utc(2024, 11, 1), utc(2024, 6, 2)]
    models = ["gpt-4o-mini", "gpt-4o", "nobody", "gpt-4o", "my-tool"]
    kinds = ["llm", "llm", "llm", "llm", "tool"]
    rows = [
        span(request_model=m, kind=k, start=s, input_tokens=1_000_000, span_id=f"s{i}", cost_usd="old")
        for i, (m, k, s) in enumerate(zip(models, kinds, starts, strict=True))
    ]
    df = frame(rows)
    out = price_spans(df, SHIPPED)
    assert out.columns == [*df.columns, "cost_status", "price_model"]  # cost_usd replaced in place
    assert out["span_id"].to_list() == ["s0", "s1", "s2", "s3", "s4"]
    assert out["start_time"].to_list() == starts
    assert out["cost_usd"].dtype == pl.Float64  # the stale column is replaced
    assert out["cost_usd"].to_list() == pytest.approx([0.15, 5.0, None, 2.5, None])
    assert out["cost_status"].to_list() == ["ok", "ok", "unknown_model", "ok", None]


def test_large_shuffled_frame_matches_rowwise_expectation() -> None:
    n = 20_000
    base = frame(
        [
            span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2024, 9, 1)),
            span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2025, 1, 1)),
        ]
    )
    df = pl.concat([base] * (n // 2)).with_row_index("i").sample(fraction=1.0, shuffle=True, seed=7)
    out = price_spans(df, SHIPPED)
    assert out["i"].to_list() == df["i"].to_list()
    expected = [5.0 if i % 2 == 0 else 2.5 for i in df["i"]]
    assert out["cost_usd"].to_list() == pytest.approx(expected)


def test_naive_and_microsecond_start_times_are_taken_as_utc() -> None:
    df = frame([span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2024, 10, 1))])
    naive = df.with_columns(pl.col("start_time").dt.replace_time_zone(None).dt.cast_time_unit("us"))
    assert price_spans(naive, SHIPPED)["cost_usd"].to_list() == pytest.approx([2.5])


def test_categorical_columns_and_empty_frame() -> None:
    df = frame([span(request_model="gpt-4o-mini", input_tokens=1_000_000)]).with_columns(
        pl.col("kind", "request_model", "response_model").cast(pl.Categorical)
    )
    assert price_spans(df, SHIPPED)["cost_usd"].to_list() == pytest.approx([0.15])
    empty = price_spans(frame([]), SHIPPED)
    assert empty.height == 0
    assert empty.schema["cost_usd"] == pl.Float64 and empty.schema["cost_status"] == pl.Utf8


def test_missing_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="cached_input_tokens"):
        price_spans(frame([span()]).drop("cached_input_tokens"), SHIPPED)


def test_provider_restricted_entries() -> None:
    table = PriceTable(
        (
            Price("llama-3.1-70b", utc(2024, 1, 1), 1.0, 1.0),
            Price("llama-3.1-70b", utc(2024, 1, 1), 0.5, 0.5, provider="Groq"),
            Price("only-on-azure", utc(2024, 1, 1), 3.0, 3.0, provider="azure"),
        )
    )
    rows = [
        span(request_model="llama-3.1-70b", input_tokens=1_000_000, provider="groq"),
        span(request_model="llama-3.1-70b", input_tokens=1_000_000, provider="together"),
        span(request_model="only-on-azure", input_tokens=1_000_000, provider="AZURE"),
        span(request_model="only-on-azure", input_tokens=1_000_000, provider="openai"),
    ]
    assert [(c, s) for c, s, _ in priced(rows, table)] == [
        (pytest.approx(0.5), "ok"),
        (pytest.approx(1.0), "ok"),
        (pytest.approx(3.0), "ok"),
        (None, "unknown_model"),
    ]
    # Without a provider column, only generic entries apply.
    no_provider = [span(request_model=m, input_tokens=1_000_000) for m in ("llama-3.1-70b", "only-on-azure")]
    assert [s for _, s, _ in priced(no_provider, table)] == ["ok", "unknown_model"]


# ------------------------------------------------------------------------------------ the price table


def test_shipped_table_is_valid() -> None:
    text = resources.files("spyglass.analytics").joinpath("prices.toml").read_text()
    raw = tomllib.loads(text)["price"]
    assert len(SHIPPED.prices) == len(raw) >= 30  # nothing dropped or merged away
    keys = [(p.model, p.effective) for p in SHIPPED.prices]
    assert len(keys) == len(set(keys))
    for p in SHIPPED.prices:
        assert p.input_per_mtok >= 0 and p.output_per_mtok >= 0
        assert p.cached_input_per_mtok is None or 0 <= p.cached_input_per_mtok <= p.input_per_mtok
        assert p.effective.tzinfo is UTC
        assert p.provider is None
    models = {p.model for p in SHIPPED.prices}
    required = {
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o3",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "claude-opus-4",
        "claude-opus-4-1",
        "claude-sonnet-4",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-5-haiku",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "mistral-large",
        "mistral-small",
    }
    assert required <= models
    # At least one real price change over time is recorded.
    assert sum(p.model == "gpt-4o" for p in SHIPPED.prices) >= 2


def test_frame_shape() -> None:
    f = SHIPPED.frame()
    assert f.schema == pl.Schema(
        {
            "model": pl.Utf8,
            "provider": pl.Utf8,
            "effective": pl.Datetime("ns", "UTC"),
            "input_per_mtok": pl.Float64,
            "output_per_mtok": pl.Float64,
            "cached_input_per_mtok": pl.Float64,
        }
    )
    assert f.height == len(SHIPPED.prices)
    gpt4o = f.filter(pl.col("model") == "gpt-4o")
    assert gpt4o["effective"].to_list() == [utc(2024, 5, 13), utc(2024, 10, 1)]


def test_override_replaces_and_extends(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        # replaces the shipped 2024-10-01 gpt-4o entry
        [[price]]
        model = "gpt-4o"
        effective = 2024-10-01
        input_per_mtok = 2.0
        output_per_mtok = 8.0

        # adds a later gpt-4o price
        [[price]]
        model = "GPT-4o"
        effective = "2025-03-01T12:00:00Z"
        input_per_mtok = 1
        output_per_mtok = 4
        cached_input_per_mtok = 0.5

        # a model the shipped table does not know
        [[price]]
        model = "my-finetune"
        effective = 2024-01-01
        input_per_mtok = 7.5
        output_per_mtok = 0
        """,
    )
    table = PriceTable.load(path)
    assert len(table.prices) == len(SHIPPED.prices) + 2
    rows = [
        span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2024, 5, 20)),  # shipped, untouched
        span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2025, 3, 1, 11)),  # replaced
        span(request_model="gpt-4o", input_tokens=1_000_000, start=utc(2025, 3, 1, 12)),  # added
        span(request_model="my-finetune", input_tokens=1_000_000),
    ]
    assert [c for c, _, _ in priced(rows, table)] == pytest.approx([5.0, 2.0, 1.0, 7.5])
    # The shipped table object is unaffected.
    assert one(request_model="my-finetune", input_tokens=1)[1] == "unknown_model"


def test_empty_override_file_is_fine(tmp_path: Path) -> None:
    table = PriceTable.load(write(tmp_path, "# nothing to override yet\n"))
    assert table.prices == SHIPPED.prices


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # missing field
            'model = "m"\neffective = 2024-01-01\ninput_per_mtok = 1.0',
            [
                "price entry #2 (model 'm', effective 2024-01-01)",
                "missing required field",
                "'output_per_mtok'",
            ],
        ),
        (  # a number written as a string
            'model = "m"\neffective = 2024-01-01\ninput_per_mtok = "2.5"\noutput_per_mtok = 1.0',
            ["price entry #2", "'input_per_mtok'", "must be a number", "without quotes"],
        ),
        (  # negative price
            'model = "m"\neffective = 2024-01-01\ninput_per_mtok = 1.0\noutput_per_mtok = -1.0',
            ["price entry #2", "'output_per_mtok'", ">= 0"],
        ),
        (  # not a finite number
            'model = "m"\neffective = 2024-01-01\ninput_per_mtok = nan\noutput_per_mtok = 1.0',
            ["'input_per_mtok'", "finite"],
        ),
        (  # bad date
            'model = "m"\neffective = "2024-13-01"\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0',
            ["price entry #2", "'effective'", "2024-13-01", "like 2024-10-01"],
        ),
        (  # a date that is not a date at all
            'model = "m"\neffective = 20240101\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0',
            ["'effective'", "20240101"],
        ),
        (  # misspelt optional field must not be silently ignored
            'model = "m"\neffective = 2024-01-01\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0\ncached = 0.1',
            ["unknown field(s) 'cached'", "cached_input_per_mtok"],
        ),
        (  # provider prefix in the model name
            'model = "openai/m"\neffective = 2024-01-01\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0',
            ["'model'", "must not contain '/'", "provider"],
        ),
        (  # duplicate of entry #1
            'model = "ok"\neffective = 2024-01-01\ninput_per_mtok = 9.0\noutput_per_mtok = 1.0',
            ["price entry #2", "same model, provider and effective date as price entry #1"],
        ),
    ],
)
def test_broken_entry_names_file_entry_and_field(tmp_path: Path, body: str, expected: list[str]) -> None:
    text = (
        '[[price]]\nmodel = "ok"\neffective = 2024-01-01\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0\n\n'
        f"[[price]]\n{body}\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(PriceFileError) as info:
        PriceTable.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[price]\nmodel = 1", "not valid TOML"),
        ('[price]\nmodel = "m"', "[[price]] header"),
        ('[[prices]]\nmodel = "m"', "unknown top-level key(s) 'prices'"),
        ("price = [1, 2]", "price entry #1: must be a table"),
    ],
)
def test_broken_file_structure(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PriceFileError, match=r"^" + str(path).replace("\\", "\\\\")) as info:
        PriceTable.load(path)
    assert expected in str(info.value)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="price file not found"):
        PriceTable.load(tmp_path / "nope.toml")


def test_price_and_table_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Price("m", datetime(2024, 1, 1), 1.0, 1.0)
    with pytest.raises(ValueError, match="'input_per_mtok'"):
        Price("m", utc(2024, 1, 1), True, 1.0)
    with pytest.raises(ValueError, match="two prices for model 'm'"):
        PriceTable((Price("m", utc(2024, 1, 1), 1.0, 1.0), Price("M", utc(2024, 1, 1), 2.0, 2.0)))
    p = Price(" M ", datetime(2024, 1, 1, 2, tzinfo=UTC), 1, 2, provider=" ")
    assert (p.model, p.provider, p.input_per_mtok) == ("m", None, 1.0)
    assert isinstance(p.input_per_mtok, float)


def test_docstring_examples() -> None:
    result = doctest.testmod(cost)
    assert result.attempted >= 5 and result.failed == 0


def test_empty_table_and_null_start_time() -> None:
    empty_table = PriceTable(())
    assert one(empty_table, request_model="gpt-4o", input_tokens=1)[1] == "unknown_model"
    df = frame([span(request_model="gpt-4o", input_tokens=1)]).with_columns(
        pl.lit(None, dtype=pl.Datetime("ns", "UTC")).alias("start_time")
    )
    out = price_spans(df, SHIPPED)
    assert out["cost_status"].to_list() == ["unknown_model"] and out["cost_usd"].to_list() == [None]


def test_lookup_agrees_with_a_plain_python_reference() -> None:
    # Several models and providers with interleaved effective dates; every span checked against a
    # straightforward "latest effective <= start among the applicable entries" reference.
    rng = random.Random(11)
    days = [utc(2024, 1, 1) + timedelta(days=d) for d in range(0, 400, 7)]
    entries: dict[tuple[str, str | None, datetime], Price] = {}
    for n in range(60):
        model, provider = rng.choice(["a", "b", "c", "d-x"]), rng.choice([None, None, "p", "q"])
        eff = rng.choice(days)
        entries[(model, provider, eff)] = Price(model, eff, float(n + 1), 0.0, provider=provider)
    table = PriceTable(tuple(entries.values()))

    def reference(model: str, provider: str, start: datetime) -> float | None:
        names = [p for p in table.prices if p.model == model]
        specific = [p for p in names if p.provider == provider]
        applicable = specific or [p for p in names if p.provider is None]
        if not applicable:
            return None
        in_force = [p for p in applicable if p.effective <= start]
        return max(in_force, key=lambda p: p.effective).input_per_mtok if in_force else None

    rows, expected = [], []
    for _ in range(3000):
        model, provider = rng.choice(["a", "b", "c", "d-x", "e"]), rng.choice(["", "p", "q", "r"])
        start = utc(2023, 12, 25) + timedelta(hours=rng.randrange(0, 24 * 420))
        if rng.random() < 0.1:
            start = rng.choice(days)  # exactly on a boundary
        rows.append(span(request_model=model, provider=provider, start=start, input_tokens=1_000_000))
        expected.append(reference(model, provider, start))
    assert [c for c, _, _ in priced(rows, table)] == expected
