"""What the server backend sends over HTTP, through clickhouse-connect, in every shape it uses:
compressed or not, Arrow or Native inserts, statements in the body or the URL, chunked bodies,
form-encoded parameters, errors and credentials. Against the chhttp test fixture this proves
the fixture faithful; against a real server (``SPYGLASS_TEST_CLICKHOUSE_URL``) it proves the
client settings the store relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import clickhouse_connect
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.server.conftest import ClickHouseServer

pytestmark = pytest.mark.integration

ROWS = 5_000


@pytest.fixture(scope="module")
def database(clickhouse: ClickHouseServer) -> Iterator[str]:
    name = clickhouse.dsn().rsplit("/", 1)[1]
    admin = clickhouse.client()
    admin.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    yield name
    admin.close()


def _table(n: int, offset: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(offset, offset + n), pa.uint32()),
            "text": [f"row {i} 'quoted' \\ \t\n" for i in range(offset, offset + n)],
            "attrs": pa.array([[("k", str(i))] for i in range(n)], pa.map_(pa.string(), pa.string())),
            "at": pa.array([1_700_000_000_123_456_789 + i for i in range(n)], pa.timestamp("ns", tz="UTC")),
        }
    )


def _client(clickhouse: ClickHouseServer, database: str, **kwargs: Any) -> Any:
    return clickhouse_connect.get_client(
        dsn=clickhouse.url, database=database, autogenerate_session_id=False, **kwargs
    )


@pytest.mark.parametrize("compress", [False, "lz4", "zstd", "gzip"])
def test_inserts_and_reads_round_trip_in_every_encoding(
    clickhouse: ClickHouseServer, database: str, compress: Any
) -> None:
    client = _client(clickhouse, database, compress=compress)
    table = f"t_{compress or 'plain'}"
    client.command(
        f"CREATE TABLE {table} (id UInt32, text String, attrs Map(LowCardinality(String), String), "
        "at DateTime64(9, 'UTC')) ENGINE = MergeTree ORDER BY id"
    )
    client.insert_arrow(table, _table(ROWS))  # FORMAT Arrow
    native = _table(ROWS, offset=ROWS)
    rows = [[r["id"], r["text"], dict(r["attrs"]), r["at"]] for r in native.to_pylist()]
    client.insert(table, rows, column_names=native.column_names)
    got = client.query_arrow(f"SELECT * FROM {table} ORDER BY id")  # FORMAT ArrowStream
    assert got.num_rows == 2 * ROWS
    first = got.slice(0, 1).to_pylist()[0]
    assert first["text"] == "row 0 'quoted' \\ \t\n" and first["attrs"] == [("k", "0")]
    # nanoseconds survive the trip both ways
    assert got.column("at")[2 * ROWS - 1].value == 1_700_000_000_123_456_789 + ROWS - 1
    rows = client.query(f"SELECT count(), sum(id) FROM {table}").result_rows  # FORMAT Native
    assert rows == [(2 * ROWS, sum(range(2 * ROWS)))]
    client.close()


def test_parameters_are_bound_by_the_engine_in_the_url_and_in_a_form(
    clickhouse: ClickHouseServer, database: str
) -> None:
    hostile = "x' OR 1=1 -- \\' \"; DROP TABLE t"
    for form in (False, True):
        client = _client(clickhouse, database, form_encode_query_params=form)
        got = client.query_arrow(
            "SELECT {s:String} AS s, {a:Array(String)} AS a, {n:Int64} AS n",
            parameters={"s": hostile, "a": [hostile, "b"], "n": -5},
        ).to_pylist()
        assert got == [{"s": hostile, "a": [hostile, "b"], "n": -5}]
        client.close()


def test_chunked_insert_body(clickhouse: ClickHouseServer, database: str) -> None:
    client = _client(clickhouse, database)
    client.command("CREATE TABLE chunked (a UInt32, b String) ENGINE = MergeTree ORDER BY a")
    lines = (f"{i},v{i}\n".encode() for i in range(1000))  # a generator body is sent chunked
    client.raw_insert("chunked", ["a", "b"], insert_block=lines, fmt="CSV")
    assert client.query("SELECT count(), max(b) FROM chunked").result_rows == [(1000, "v999")]
    client.close()


def test_errors_carry_the_clickhouse_code(clickhouse: ClickHouseServer, database: str) -> None:
    client = _client(clickhouse, database)
    with pytest.raises(DatabaseError, match="Code: 60"):
        client.query("SELECT * FROM no_such_table")
    with pytest.raises(DatabaseError, match="Code: 62"):
        client.query("SELEKT 1")
    client.close()


def test_wrong_password_is_refused(clickhouse: ClickHouseServer) -> None:
    base = clickhouse.url.split("@", 1)[1]
    with pytest.raises(DatabaseError, match=r"516|Authentication failed"):
        clickhouse_connect.get_client(dsn=f"http://spyglass:wrong@{base}", autogenerate_session_id=False)
