"""The collector's decode path without any service: content types, gzip limits, OTLP/JSON IDs."""

from __future__ import annotations

import gzip
import json

import pytest

from spyglass.collector import otlp


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", otlp.PROTOBUF),
        ("application/json", otlp.JSON),
        ("Application/JSON; charset=utf-8", otlp.JSON),
    ],
)
def test_media_type_accepts_otlp_types(header: str, expected: str) -> None:
    assert otlp.media_type(header) == expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/protobuf", "application/jsonx"])
def test_media_type_rejects_others(header: str | None) -> None:
    with pytest.raises(otlp.UnsupportedMediaType, match="is not supported"):
        otlp.media_type(header)


def test_decompress_identity_and_gzip() -> None:
    assert otlp.decompress(b"abc", None, 10) == b"abc"
    assert otlp.decompress(b"abc", "identity", 10) == b"abc"
    assert otlp.decompress(gzip.compress(b"hello"), "gzip", 10) == b"hello"


def test_decompress_stops_at_the_limit() -> None:
    assert otlp.decompress(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100
    with pytest.raises(otlp.TooLarge, match="exceeds the limit of 99 bytes"):
        otlp.decompress(gzip.compress(b"x" * 100), "gzip", 99)


def test_decompress_rejects_bad_gzip_and_unknown_encodings() -> None:
    with pytest.raises(otlp.DecodeError, match="not valid gzip"):
        otlp.decompress(b"plain", "gzip", 100)
    with pytest.raises(otlp.DecodeError, match="truncated"):
        otlp.decompress(gzip.compress(b"y" * 50)[:-12], "gzip", 100)
    with pytest.raises(otlp.UnsupportedMediaType, match="'deflate'"):
        otlp.decompress(b"", "deflate", 100)


def _json_span(**fields: object) -> bytes:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "s",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        **fields,
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


def test_json_ids_are_hex_as_the_otlp_spec_says() -> None:
    req = otlp.decode(
        _json_span(
            parentSpanId="EEE19B7EC3C1B173",
            links=[{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002"}],
        ),
        otlp.JSON,
    )
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert span.links[0].span_id.hex() == "0000000000000002"


def test_json_snake_case_field_names_are_accepted() -> None:
    body = json.dumps(
        {
            "resource_spans": [
                {
                    "scope_spans": [
                        {
                            "spans": [
                                {
                                    "trace_id": "5b8efff798038103d269b633813fc60c",
                                    "span_id": "eee19b7ec3c1b174",
                                    "name": "snake",
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )
    span = otlp.decode(body.encode(), otlp.JSON).resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "snake" and span.span_id.hex() == "eee19b7ec3c1b174"


def test_json_non_hex_id_decodes_to_an_invalid_length() -> None:
    # Not a request-level failure: the span is rejected alone by normalization.
    span = otlp.decode(_json_span(spanId="zzzz"), otlp.JSON).resource_spans[0].scope_spans[0].spans[0]
    assert len(span.span_id) not in (0, 8)


def test_unknown_json_fields_are_ignored() -> None:
    assert (
        otlp.decode(_json_span(futureField=1), otlp.JSON).resource_spans[0].scope_spans[0].spans[0].name
        == "s"
    )


def test_partial_success_response_encodings() -> None:
    assert otlp.encode_response(otlp.JSON) == b"{}"
    body = json.loads(otlp.encode_response(otlp.JSON, 2, "two bad"))
    assert body == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "two bad"}}
    assert json.loads(otlp.encode_status(otlp.JSON, 3, "why")) == {"code": 3, "message": "why"}
