"""Where the store lives, as one string: a DSN for clickhouse-connect.

- ``chdb:///abs/path`` (or ``chdb://relative/path``): embedded ClickHouse (chDB) in a data
  directory, owned by this process. A plain path without ``://`` means the same.
- ``http://user:password@host:8123/database`` or ``https://...:8443/...``: a ClickHouse server
  (or ClickHouse Cloud) over its HTTP interface. Query-string options are ClickHouse settings
  applied to every request (``?async_insert=1``); the database defaults to ``default``.

Example::

    parse_dsn("https://spyglass:secret@abc.clickhouse.cloud:8443/spyglass").location
    # 'https://spyglass:***@abc.clickhouse.cloud:8443/spyglass'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

_SERVER_SCHEMES = {"http": 8123, "https": 8443}
# The database name is an identifier in CREATE DATABASE, which takes no parameters.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class InvalidDsn(ValueError):
    """The store address cannot be used; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class StoreAddress:
    embedded: bool
    """True for chDB in a local directory, False for a ClickHouse server."""
    dsn: str
    """What clickhouse-connect's ``get_client(dsn=...)`` takes (password included)."""
    location: str
    """For people and logs: the directory, or the URL with the password masked."""
    database: str = ""
    """The server database (``default`` when the DSN names none); empty when embedded."""
    path: str = ""
    """The data directory, absolute; empty for a server."""


def embedded_dsn(data_dir: str) -> str:
    """The DSN of the embedded store in ``data_dir``."""
    return "chdb://" + os.path.abspath(data_dir)


def parse_dsn(text: str) -> StoreAddress:
    """Check a store DSN and split it into what the store needs; ``InvalidDsn`` says why not."""
    text = text.strip()
    if not text:
        raise InvalidDsn(
            "the store DSN is empty: give chdb:///path/to/data or http(s)://user:pass@host:8123/db"
        )
    if "://" not in text:
        return _embedded(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "chdb":
        rest = text.split("://", 1)[1]
        if not rest:
            raise InvalidDsn(f"store DSN {text!r} names no directory: write chdb:///path/to/data")
        return _embedded(rest)
    if scheme in ("clickhouse", "tcp", "native"):
        raise InvalidDsn(
            f"store DSN scheme {scheme!r} is ClickHouse's native protocol; Spyglass talks to the HTTP "
            "interface: write http://user:pass@host:8123/db (https on port 8443 for ClickHouse Cloud)"
        )
    if scheme not in _SERVER_SCHEMES:
        raise InvalidDsn(
            f"store DSN scheme {scheme!r} is not supported: use chdb:///path/to/data (embedded) or "
            "http(s)://user:pass@host:8123/db (a ClickHouse server)"
        )
    return _server(text, scheme)


def _embedded(path: str) -> StoreAddress:
    if "?" in path or "#" in path:
        raise InvalidDsn(f"embedded store path {path!r} takes no options: write chdb:///path/to/data")
    absolute = os.path.abspath(os.path.expanduser(path))
    return StoreAddress(embedded=True, dsn="chdb://" + absolute, location=absolute, path=absolute)


def _server(text: str, scheme: str) -> StoreAddress:
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise InvalidDsn(f"store DSN {_mask(text)!r} has an invalid port: write host:8123") from None
    if not parts.hostname:
        raise InvalidDsn(f"store DSN {_mask(text)!r} names no host: write {scheme}://host:8123/db")
    database = unquote(parts.path.strip("/")) or "default"
    if not _IDENTIFIER.match(database):
        raise InvalidDsn(
            f"store DSN database {database!r} is not a plain name: use letters, digits and "
            "underscores, starting with a letter or underscore"
        )
    netloc = parts.netloc if port else f"{parts.netloc}:{_SERVER_SCHEMES[scheme]}"
    dsn = urlunsplit((scheme, netloc, "/" + quote(database), parts.query, ""))
    return StoreAddress(embedded=False, dsn=dsn, location=_mask(dsn), database=database)


def _mask(url: str) -> str:
    """The URL with its password replaced by ``***``, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
