"""OTLP/HTTP request bodies -> ``ExportTraceServiceRequest``: the one decode path every
transport shares. Raises ``DecodeError`` with a message naming what is wrong."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as _PbDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class DecodeError(ValueError):
    """The body is not a valid OTLP export request (HTTP 400)."""


class TooLarge(ValueError):
    """The body, or what it decompresses to, exceeds the size limit (HTTP 413)."""


class UnsupportedMediaType(ValueError):
    """Content-Type or Content-Encoding the collector does not speak (HTTP 415)."""


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``; 415 for anything unknown."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'!r} is not supported: send {PROTOBUF} or {JSON}"
        )
    return base


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` without ever inflating past ``limit`` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc != "gzip":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported: use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid gzip: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise DecodeError("gzip body is truncated")
    return out


def _hex_to_b64(obj: dict[str, Any], keys: tuple[str, ...]) -> None:
    # OTLP/JSON encodes IDs as hex, protobuf's JSON mapping expects base64: convert. A value
    # that is not hex becomes empty, and normalization rejects that span by name.
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode() if value else ""
            except ValueError:
                obj[key] = "/w=="  # one byte: fails the length check


_SPAN_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _fix_json_ids(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise DecodeError("JSON body must be an object with a 'resourceSpans' list")
    for rs in _dicts(doc.get("resourceSpans", doc.get("resource_spans"))):
        for ss in _dicts(rs.get("scopeSpans", rs.get("scope_spans"))):
            for span in _dicts(ss.get("spans")):
                _hex_to_b64(span, _SPAN_ID_KEYS)
                for link in _dicts(span.get("links")):
                    _hex_to_b64(link, _SPAN_ID_KEYS)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def decode(body: bytes, media: str) -> ExportTraceServiceRequest:
    """Parse an (already decompressed) OTLP traces export body."""
    request = ExportTraceServiceRequest()
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (_PbDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"body is not a valid OTLP protobuf ExportTraceServiceRequest: {exc}") from exc
        return request
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    _fix_json_ids(doc)
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError, ValueError) as exc:
        raise DecodeError(f"JSON body is not a valid OTLP ExportTraceServiceRequest: {exc}") from exc
    return request


def encode_response(media: str, rejected: int = 0, message: str = "") -> bytes:
    """The ExportTraceServiceResponse, with partial success when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if media == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(media: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` error body, as OTLP/HTTP asks for 4xx and 5xx responses."""
    from google.rpc import status_pb2

    status = status_pb2.Status(code=code, message=message)
    if media == PROTOBUF:
        return status.SerializeToString()
    return json_format.MessageToJson(status, indent=None).encode()
