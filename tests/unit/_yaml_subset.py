"""A reader for the block-style YAML subset compose.yaml is written in (no YAML library is a
dependency, and none is added for one test): nested mappings by indentation, ``- item``
sequences of scalars, of ``- key: value`` mappings and flow lists ``[a, "b"]``, quoted and
plain scalars, ``#`` comments. Anything else (anchors, block scalars, flow mappings) raises,
so the test fails rather than reading the file wrongly."""

from __future__ import annotations

import json
import re
from typing import Any

_UNSUPPORTED = re.compile(r"^(&|\*|\||>|\{)")


def load(text: str) -> Any:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = _strip_comment(raw).rstrip()
        if stripped.strip():
            lines.append((number, len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
    value, end = _block(lines, 0, lines[0][1] if lines else 0)
    if end != len(lines):
        raise ValueError(f"line {lines[end][0]}: unexpected indentation")
    return value


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] == " "):
            return line[:i]
    return line


def _block(lines: list[tuple[int, int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][2].startswith("- ") or lines[i][2] == "-":
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, int, str]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][1] == indent:
        number, _, text = lines[i]
        key, sep, rest = text.partition(":")
        if not sep or (rest and not rest.startswith(" ")):
            raise ValueError(f"line {number}: expected 'key: value', got {text!r}")
        key = _scalar(key.strip(), number)
        rest = rest.strip()
        if key in out:
            raise ValueError(f"line {number}: duplicate key {key!r}")
        if rest:
            out[key] = _scalar(rest, number)
            i += 1
        elif i + 1 < len(lines) and lines[i + 1][1] > indent:
            out[key], i = _block(lines, i + 1, lines[i + 1][1])
        elif i + 1 < len(lines) and lines[i + 1][1] == indent and lines[i + 1][2].startswith("- "):
            out[key], i = _sequence(lines, i + 1, indent)  # a sequence may sit at its key's indent
        else:
            out[key] = None
            i += 1
    return out, i


def _sequence(lines: list[tuple[int, int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][1] == indent and lines[i][2].startswith("- "):
        number, _, text = lines[i]
        item = text[2:].strip()
        if re.match(r"^[\w.-]+:( |$)", item):  # "- key: value" opens a mapping item
            inner = indent + 2
            lines[i] = (number, inner, item)
            value, i = _mapping(lines, i, inner)
            out.append(value)
        else:
            out.append(_scalar(item, number))
            i += 1
    return out, i


def _scalar(text: str, number: int) -> Any:
    if _UNSUPPORTED.match(text):
        raise ValueError(f"line {number}: YAML feature not supported by this reader: {text!r}")
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"line {number}: unterminated flow list")
        return json.loads(text)  # compose.yaml's flow lists hold double-quoted strings only
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text
