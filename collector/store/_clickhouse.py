"""The store on clickhouse-connect: one implementation for every ClickHouse the collector
can use, chosen by a DSN (``dsn.py``): embedded ClickHouse (chDB) through clickhouse-connect's
``chdb://`` interface, or a ClickHouse server (or cluster) over HTTP. The SQL is the same.

clickhouse-connect was chosen over chDB's own Python API by measurement
(``bench/store_insert.py``: equal insert throughput at 10k-row batches, faster at 1k; equal
trace-lookup latency), so one client serves both backends.

Each thread gets its own client: reads run in parallel with the writer's inserts (chDB
releases the GIL; a server takes concurrent requests), and clients are not shared across
threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from typing import Any

import pyarrow as pa

from . import StoreError, queries
from .cluster import ClusterRenderError, check_cluster_name, render_cluster, render_command
from .dsn import StoreAddress, embedded_dsn, parse_dsn

__all__ = ["ClickHouseStore", "embedded_dsn"]

log = logging.getLogger("spyglass.collector")

# ClickHouse's error code for a database that does not exist.
_UNKNOWN_DATABASE = "Code: 81"
# Another collector may run the same idempotent DDL at the same moment; ClickHouse can then
# answer "already exists" or "is being created" once. Re-running the statement settles it.
_DDL_ATTEMPTS = 5


def _locked_by_another_process(data_dir: str) -> bool:
    """ClickHouse holds an exclusive ``flock`` on ``status`` while it owns a data directory;
    chDB's own error does not say so, so ask the lock directly."""
    status = os.path.join(data_dir, "status")
    if not os.path.exists(status):
        return False
    with open(status, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
    return False


class ClickHouseStore:
    """The ``Store`` over one ClickHouse, embedded or server.

    ``cluster`` (servers only) names a ``<remote_servers>`` cluster: the schema is then created
    ``ON CLUSTER`` as replicated local tables behind ``Distributed`` ones (``cluster.py``), and
    inserts wait until the shards have the rows.
    """

    def __init__(self, dsn: str, *, cluster: str = "") -> None:
        self.address: StoreAddress = parse_dsn(dsn)
        self.location = self.address.location
        self.cluster = cluster
        self._insert_settings: dict[str, Any] = {}
        self._client_args: dict[str, Any] = {}
        if cluster:
            try:
                check_cluster_name(cluster)
            except ClusterRenderError as exc:
                raise StoreError(f"SPYGLASS_CLUSTER: {exc}") from None
        if self.address.embedded:
            if cluster:
                raise StoreError(
                    f"SPYGLASS_CLUSTER={cluster!r} needs a ClickHouse server store; the embedded "
                    "store is one process. Give --store http(s)://host:8123/db or unset the cluster."
                )
            self._prepare_embedded(self.address.path)
        else:
            # No server-side sessions: a session pins a client to one server and serializes its
            # requests; behind a load balancer it breaks, and the store keeps no session state.
            self._client_args["autogenerate_session_id"] = False
            if cluster:
                # Distributed inserts are queued on the receiving node by default; the collector
                # answers success only for stored rows, so wait for the shards.
                self._insert_settings["distributed_foreground_insert"] = 1
        import clickhouse_connect

        self._connect = clickhouse_connect.get_client
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        try:
            self._client()
        except Exception as exc:
            if not self.address.embedded and _UNKNOWN_DATABASE in str(exc):
                self._create_database()
            else:
                raise StoreError(self._cannot_open(exc)) from exc

    def _prepare_embedded(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        if _locked_by_another_process(path):
            raise StoreError(
                f"the embedded store at {path} is in use by another process. Another Spyglass "
                "collector may be using this directory: stop it, or pass a different --data-dir. "
                "Several collectors need a ClickHouse server: --store http://host:8123/db."
            )

    def _cannot_open(self, exc: Exception) -> str:
        return (
            f"cannot open the store at {self.location}: {exc}. Check the address (or path), the "
            "user's password and permissions, and that the server is running."
        )

    def _create_database(self) -> None:
        """Create the DSN's database (it did not exist), then connect to it."""
        on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        try:
            bootstrap = self._connect(dsn=self.address.dsn, database="default", **self._client_args)
            try:
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{self.address.database}`{on_cluster}")
            finally:
                bootstrap.close()
            self._client()
        except Exception as exc:
            raise StoreError(self._cannot_open(exc)) from exc
        log.warning("created database %s at %s", self.address.database, self.location)

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._connect(dsn=self.address.dsn, **self._client_args)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def migrate(self) -> None:
        """Apply the migrations this database has not recorded, in version order. Every
        statement is idempotent and a version is recorded after its last statement, so two
        collectors starting at once both succeed and leave one schema."""
        for statement in self._for_topology([queries.MIGRATIONS_TABLE]):
            self._ddl(statement, "the migrations table")
        applied = set(self.query(queries.APPLIED_MIGRATIONS).column("version").to_pylist())
        for version, name, statements in queries.migrations():
            if version in applied:
                continue
            for statement in self._for_topology(statements):
                self._ddl(statement, name)
            self.command(queries.RECORD_MIGRATION, {"version": version, "name": name})
            log.info("applied migration %s to %s", name, self.location)

    def _for_topology(self, statements: list[str]) -> list[str]:
        """The statements as written for one server, or their cluster form."""
        return render_cluster(statements, self.cluster) if self.cluster else statements

    def _ddl(self, statement: str, name: str) -> None:
        for attempt in range(1, _DDL_ATTEMPTS + 1):
            try:
                self._client().command(statement)
                return
            except Exception as exc:
                if attempt == _DDL_ATTEMPTS:
                    raise StoreError(
                        f"migration {name} failed at: {statement[:300]!r}: {exc}. Statements before "
                        "it are applied; fix the cause and restart the collector (migrations resume "
                        "where they stopped)."
                    ) from exc
                time.sleep(0.1 * attempt)

    def insert(self, table: str, batch: pa.Table) -> None:
        try:
            self._client().insert_arrow(table, batch, settings=self._insert_settings or None)
        except Exception as exc:
            raise StoreError(f"insert of {batch.num_rows} rows into {table} failed: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        try:
            return self._client().query_arrow(sql, parameters=params or None)
        except Exception as exc:
            raise StoreError(f"query failed: {exc}") from exc

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        statements = render_command(sql, self.cluster) if self.cluster else [sql]
        try:
            for statement in statements:
                self._client().command(statement, parameters=params or None)
        except Exception as exc:
            raise StoreError(f"statement failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception:
                pass
