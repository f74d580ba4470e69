"""TEST FIXTURE, never used by the product: ClickHouse's HTTP interface over embedded ClickHouse.

No ClickHouse server can run on the development and CI machines, so the server backend's HTTP
path is tested against this small server. It speaks the part of ClickHouse's HTTP protocol
clickhouse-connect uses and executes every statement on chDB (the same engine as the server):

- the query in the ``query`` URL parameter, the POST body, or a multipart form; the response in
  the statement's ``FORMAT`` (``X-ClickHouse-Format``), default TabSeparated;
- ``param_NAME`` query parameters, bound by the engine; ``database``; other URL parameters are
  ClickHouse settings (HTTP-only ones are ignored);
- inserts ``INSERT INTO t (cols) FORMAT F`` with the data in the body, after the statement or
  alone (statement in the URL), compressed (``Content-Encoding``: lz4, zstd, gzip, deflate, br)
  or not, chunked or not, streamed into the engine with chDB's ``send_insert``;
- errors as ClickHouse sends them: HTTP 500 (404 for unknown tables or databases, 516 for bad
  credentials), ``X-ClickHouse-Exception-Code`` and the message as the body;
- Basic auth, ``X-ClickHouse-User``/``-Key`` or ``user``/``password`` parameters, checked when
  ``--user`` is given; ``GET /ping``.

One process owns one chDB data directory, so this runs as its own process:
``python tests/server/chhttp.py --data DIR --port N [--user U --password P]``.
Every request runs on its thread's own chDB connection (separate connections run in parallel).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import json
import re
import threading
import zlib
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters that are part of the HTTP protocol, not settings of the query.
_TRANSPORT = {
    "query", "database", "default_format", "session_id", "session_timeout", "session_check",
    "query_id", "compress", "decompress", "user", "password", "quota_key", "buffer_size",
    "wait_end_of_query", "client_protocol_version", "role", "enable_http_compression",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close", "max_result_rows", "result_overflow_mode",
}  # fmt: skip
_INSERT = re.compile(rb"^\s*(INSERT\s+INTO\s+.*?)\s+FORMAT\s+(\w+)[ \t]*\r?\n?", re.S | re.I)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"Code: (\d+)")
_NOT_FOUND_CODES = {"60", "81"}  # UNKNOWN_TABLE, UNKNOWN_DATABASE


class _Failure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _decompress(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if encoding == "zstd":
        try:
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        except ImportError:
            from backports import zstd  # type: ignore[import-not-found,unused-ignore]

            return bytes(zstd.decompress(data))
    if encoding == "br":
        import brotli  # type: ignore[import-not-found,unused-ignore]

        return bytes(brotli.decompress(data))
    raise _Failure(400, "1", f"Unknown HTTP Content-Encoding {encoding!r}")


class Engine:
    """chDB, one connection per thread; settings applied per request and restored after."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self.timezone = self._conn().query("SELECT timezone()", "TabSeparated").bytes().decode().strip()

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = chdb.connect(self.path)
            self._local.database = "default"
        return conn

    def _use(self, database: str | None) -> None:
        database = database or "default"
        if self._local.database != database:
            self._run(f"USE `{database.replace('`', '')}`")
            self._local.database = database

    def _run(self, sql: str, params: dict[str, str] | None = None) -> Any:
        try:
            return self._conn().query(sql, "TabSeparated", params=params or {})
        except Exception as exc:
            message = str(exc)
            code = (_CODE.search(message) or [None, "1"])[1]
            status = 404 if code in _NOT_FOUND_CODES else (516 if code == "516" else 500)
            raise _Failure(status, code, message) from exc

    def execute(
        self, sql: str, params: dict[str, str], settings: dict[str, str], database: str | None
    ) -> Any:
        self._conn()
        self._use(database)
        restore = self._apply(settings)
        try:
            return self._run(sql, params)
        finally:
            for name, value in restore.items():
                self._run(f"SET {name} = {_literal(value)}")

    def insert(
        self, statement: str, fmt: str, data: bytes, settings: dict[str, str], database: str | None
    ) -> int:
        self._conn()
        self._use(database)
        clause = ", ".join(f"{name} = {_literal(value)}" for name, value in settings.items())
        inserter = self._conn().send_insert(statement + (f" SETTINGS {clause}" if clause else ""), fmt)
        try:
            inserter.append(data)
            return int(inserter.finish().rows_written)
        except Exception as exc:
            with contextlib.suppress(Exception):
                inserter.cancel()
            message = str(exc)
            raise _Failure(500, (_CODE.search(message) or [None, "1"])[1], message) from exc

    def _apply(self, settings: dict[str, str]) -> dict[str, str]:
        restore: dict[str, str] = {}
        for name, value in settings.items():
            before = self._run(f"SELECT toString(getSetting('{name}'))").bytes().decode().strip()
            self._run(f"SET {name} = {_literal(value)}")
            restore[name] = before
        return restore


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: Engine
    credentials: tuple[str, str] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the test output is enough
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path in ("/ping", "/") and "query=" not in self.path:
            self._send(200, b"Ok.\n", {})
            return
        self._handle(b"")

    def do_POST(self) -> None:
        self._handle(self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self, body: bytes) -> None:
        try:
            url = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            self._authenticate(url)
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                url.update(_form_fields(content_type, body))
                body = b""
            else:
                body = _decompress(body, self.headers.get("Content-Encoding", ""))
            params = {k[6:]: v for k, v in url.items() if k.startswith("param_")}
            settings = {k: v for k, v in url.items() if k not in _TRANSPORT and not k.startswith("param_")}
            for name in settings:
                if not _SETTING_NAME.match(name):
                    raise _Failure(400, "115", f"Unknown setting {name!r}")
            database = url.get("database")
            query = url.get("query", "").encode()
            if query and _INSERT.match(query):
                statement, data = query, body
            else:
                statement, data = (query + b"\n" + body) if query else body, b""
            insert = _INSERT.match(statement)
            if insert:
                data = statement[insert.end() :] + data if statement[insert.end() :] else data
                rows = self.engine.insert(insert[1].decode(), insert[2].decode(), data, settings, database)
                summary = {"read_rows": str(rows), "written_rows": str(rows)}
                self._send(200, b"", {"X-ClickHouse-Summary": json.dumps(summary)})
                return
            sql = statement.decode()
            fmt = _TRAILING_FORMAT.search(sql)
            result = self.engine.execute(sql, params, settings, database)
            summary = {"read_rows": str(result.rows_read()), "written_rows": "0"}
            self._send(
                200,
                result.bytes() or b"",
                {
                    "X-ClickHouse-Format": fmt[1] if fmt else "TabSeparated",
                    "X-ClickHouse-Timezone": self.engine.timezone,
                    "X-ClickHouse-Summary": json.dumps(summary),
                    "Content-Type": "text/plain; charset=UTF-8",
                },
            )
        except _Failure as exc:
            self._send(exc.status, f"{exc}\n".encode(), {"X-ClickHouse-Exception-Code": exc.code})

    def _authenticate(self, url: dict[str, str]) -> None:
        if self.credentials is None:
            return
        user = self.headers.get("X-ClickHouse-User") or url.get("user")
        password = self.headers.get("X-ClickHouse-Key") or url.get("password", "")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if (user or "default", password or "") != self.credentials:
            raise _Failure(
                516, "516", f"Code: 516. DB::Exception: {user or 'default'}: Authentication failed"
            )

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            raise _Failure(400, "1", "external data tables are not supported by this test fixture")
        fields[str(name)] = part.get_payload(decode=True).decode()
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="chDB data directory (owned by this process)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default=None, help="require these credentials")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    Handler.engine = Engine(args.data)
    if args.user:
        Handler.credentials = (args.user, args.password)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"chhttp test fixture on http://{args.host}:{args.port} (data {args.data})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
