"""The store DSN: what each form means, and a clear error for each mistake."""

from __future__ import annotations

import os

import pytest

from spyglass.collector.server import store_dsn
from spyglass.collector.settings import Settings
from spyglass.collector.store import InvalidDsn, parse_dsn


def test_embedded_forms() -> None:
    absolute = parse_dsn("chdb:///var/lib/spyglass")
    assert absolute.embedded and absolute.path == "/var/lib/spyglass"
    assert absolute.dsn == "chdb:///var/lib/spyglass" and absolute.location == "/var/lib/spyglass"
    relative = parse_dsn("chdb://spyglass-data")
    assert relative.path == os.path.abspath("spyglass-data")
    assert parse_dsn("./spyglass-data") == relative  # a plain path is the short form


def test_server_forms() -> None:
    address = parse_dsn("https://spyglass:s%40cret@abc.eu-west-1.aws.clickhouse.cloud:8443/traces")
    assert not address.embedded and address.database == "traces"
    assert address.dsn == "https://spyglass:s%40cret@abc.eu-west-1.aws.clickhouse.cloud:8443/traces"
    assert address.location == "https://spyglass:***@abc.eu-west-1.aws.clickhouse.cloud:8443/traces"
    plain = parse_dsn("http://clickhouse")
    assert plain.dsn == "http://clickhouse:8123/default" and plain.database == "default"
    assert parse_dsn("https://host/db").dsn == "https://host:8443/db"
    settings = parse_dsn("http://u:p@host:8123/db?async_insert=1&wait_for_async_insert=1")
    assert settings.dsn.endswith("/db?async_insert=1&wait_for_async_insert=1")


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("", "empty"),
        ("chdb://", "names no directory"),
        ("clickhouse://host:9000/db", "native protocol"),
        ("postgres://host/db", "not supported"),
        ("http://:8123/db", "names no host"),
        ("http://host:80x/db", "invalid port"),
        ("http://host:8123/my-db", "not a plain name"),
        ("http://host:8123/db;DROP", "not a plain name"),
        ("chdb:///data?x=1", "takes no options"),
    ],
)
def test_mistakes_are_named(dsn: str, message: str) -> None:
    with pytest.raises(InvalidDsn, match=message):
        parse_dsn(dsn)


def test_a_bad_dsn_never_shows_the_password() -> None:
    with pytest.raises(InvalidDsn) as failure:
        parse_dsn("http://user:hunter2@host:80x/db")
    assert "hunter2" not in str(failure.value)


def test_settings_pick_the_store() -> None:
    assert store_dsn(Settings(data_dir="d")) == "chdb://" + os.path.abspath("d")
    assert store_dsn(Settings(data_dir="d", store="http://h:8123/x")) == "http://h:8123/x"
