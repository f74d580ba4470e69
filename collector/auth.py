"""API keys: scopes (ingest, read, admin), one project per key, stored hashed.

A key reads ``sg_<key_id>_<secret>``: the ID finds the stored row, the secret (32 random bytes)
proves possession. Only SHA-256 of the secret is stored. A slow password hash (bcrypt, scrypt)
protects secrets people choose, which are guessable; a 256-bit random secret is not, so one
SHA-256 is as safe and costs microseconds instead of the ~100 ms per request bcrypt would add
to every ingest call.

Lookups are cached for ``cache_seconds`` (ingest must not query the store per request);
revoking a key drops it from this process's cache at once, and other collector processes see
the revocation within ``cache_seconds``.

The operator's first key is ``SPYGLASS_ADMIN_KEY`` (``Settings.admin_key``): every scope on
every project. Keys are on when ``require_keys`` is set or an admin key is given; without
keys the collector serves loopback only and everyone who reaches it may do everything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .ingest import Denied
from .store import Store
from .store import governance_sql as sql

SCOPES = ("ingest", "read", "admin")
ALL_PROJECTS = "*"
KEY_PREFIX = "sg_"
MIN_ADMIN_KEY_CHARS = 24
_CACHE_LIMIT = 10_000


class AuthConfigError(ValueError):
    """The collector cannot start with these key settings; the message says what to change."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's ID (``admin-env`` for ``SPYGLASS_ADMIN_KEY``, ``local`` with
    keys off), its project (``*``: any) and scopes."""

    key_id: str
    project: str
    scopes: frozenset[str]

    def may_read(self, project: str) -> bool:
        return self.project in (ALL_PROJECTS, project)


LOCAL = Principal("local", ALL_PROJECTS, frozenset(SCOPES))


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_key() -> tuple[str, str, str]:
    """A fresh key: (key_id, the key to hand out, SHA-256 hex of its secret)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}{key_id}_{secret}", _digest(secret)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The key in an ``Authorization`` header: ``Bearer KEY``, or ``Basic`` with the key as the
    password (the Langfuse SDK's form, whose user name is ignored); None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "basic" and token:
        try:
            token = base64.b64decode(token, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None
    elif scheme.lower() != "bearer":
        return None
    return token or None


def parse_scopes(text: str | list[str]) -> list[str]:
    """``ingest,read`` -> ``["ingest", "read"]``; ``ValueError`` names an unknown scope."""
    items = text.split(",") if isinstance(text, str) else text
    scopes = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    return scopes


class KeyChecker:
    """Turns an ``Authorization`` header into a ``Principal``, or raises ``Denied``."""

    def __init__(
        self, store: Store, *, enabled: bool, admin_key: str = "", cache_seconds: float = 5.0
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.cache_seconds = cache_seconds
        self._admin_digest = hashlib.sha256(admin_key.encode()).digest() if admin_key else None
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    # -- checks -------------------------------------------------------------------------------
    def principal(self, authorization: str | None) -> Principal:
        """Who sent this header; ``Denied(401)`` for no, malformed, wrong or revoked keys."""
        if not self.enabled:
            return LOCAL
        token = bearer(authorization)
        if token is None:
            raise Denied(401, "this collector requires an API key: send Authorization: Bearer KEY")
        if self._admin_digest and hmac.compare_digest(
            hashlib.sha256(token.encode()).digest(), self._admin_digest
        ):
            return Principal("admin-env", ALL_PROJECTS, frozenset(SCOPES))
        key_id, secret = _split(token)
        row = self._lookup(key_id) if key_id else None
        if row is None or not hmac.compare_digest(bytes.fromhex(_digest(secret)), row["secret_sha256"]):
            raise Denied(
                401, "API key not recognised: check the key (spyglass keys list shows the valid IDs)"
            )
        if row["revoked_at"] is not None:
            raise Denied(401, f"API key {key_id} was revoked; ask an admin for a new one")
        return Principal(key_id, row["project"], frozenset(row["scopes"]))

    def require(self, authorization: str | None, scope: str) -> Principal:
        """The caller, who must hold ``scope``; ``Denied(403)`` names the missing scope."""
        who = self.principal(authorization)
        if scope not in who.scopes:
            raise Denied(
                403,
                f"API key {who.key_id} lacks the {scope!r} scope (it has {', '.join(sorted(who.scopes))}); "
                f"use a key created with --scopes {scope}",
            )
        return who

    def ingest_project(self, authorization: str | None) -> str | None:
        """``Ingest.authorize``: the project an ingest call writes into (None: the data's own)."""
        if not self.enabled:
            return None
        who = self.require(authorization, "ingest")
        return None if who.project == ALL_PROJECTS else who.project

    def read_project(self, authorization: str | None, requested: str) -> Principal:
        """The caller, who must hold read and may read ``requested``; another project's data
        gets 403 naming the key's project (the same for every ID, so nothing leaks)."""
        who = self.require(authorization, "read")
        if not who.may_read(requested):
            raise Denied(
                403,
                f"API key {who.key_id} reads project {who.project!r} only, not {requested[:80]!r}: "
                f"pass project={who.project}",
            )
        return who

    # -- the key table ------------------------------------------------------------------------
    def _lookup(self, key_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        rows = self.store.query(sql.KEY_BY_ID, {"key_id": key_id}).to_pylist()
        row = rows[0] if rows else None
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:  # unknown IDs must not grow it without bound
                self._cache.clear()
            self._cache[key_id] = (now, row)
        return row

    def forget(self, key_id: str) -> None:
        """Drop ``key_id`` from the cache (after revoking it)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def create(self, project: str, scopes: list[str], name: str, created_by: str) -> dict[str, Any]:
        """Store a new key; returns its record with ``key``, the only time the secret is seen."""
        key_id, key, digest = new_key()
        now_ms = time.time_ns() // 10**6
        self.store.command(
            sql.INSERT_KEY,
            {
                "key_id": key_id,
                "secret_sha256": digest,
                "project": project,
                "scopes": scopes,
                "name": name,
                "created_by": created_by,
                "created_ms": now_ms,
                "revoked_ms": -1,
                "version": now_ms,
            },
        )
        self.forget(key_id)
        return {"id": key_id, "key": key, "project": project, "scopes": scopes, "name": name}

    def revoke(self, key_id: str, by: Principal) -> dict[str, Any] | None:
        """Revoke ``key_id`` (a key of ``by``'s project unless ``by`` is an operator key);
        None when there is no such key for it."""
        self.forget(key_id)
        rows = self.store.query(sql.KEY_BY_ID, {"key_id": key_id}).to_pylist()
        if not rows or not by.may_read(rows[0]["project"]):
            return None
        row = rows[0]
        now_ms = time.time_ns() // 10**6
        if row["revoked_at"] is None:
            created_ms = int(row["created_at"].timestamp() * 1000)
            self.store.command(
                sql.INSERT_KEY,
                {
                    "key_id": key_id,
                    "secret_sha256": row["secret_sha256"].hex(),
                    "project": row["project"],
                    "scopes": list(row["scopes"]),
                    "name": row["name"],
                    "created_by": row["created_by"],
                    "created_ms": created_ms,
                    "revoked_ms": now_ms,
                    "version": max(now_ms, created_ms + 1),  # the newest version wins
                },
            )
        self.forget(key_id)
        return {"id": key_id, "project": row["project"], "revoked": True}

    def list(self, by: Principal) -> list[dict[str, Any]]:
        """Keys ``by`` may manage, without secrets or hashes."""
        project = "" if by.project == ALL_PROJECTS else by.project
        rows = self.store.query(sql.KEYS_LIST, {"project": project}).to_pylist()
        return [
            {
                "id": r["key_id"],
                "project": r["project"],
                "scopes": list(r["scopes"]),
                "name": r["name"],
                "created_by": r["created_by"],
                "created_at": r["created_at"].isoformat(),
                "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None,
            }
            for r in rows
        ]


def _split(token: str) -> tuple[str, str]:
    """``sg_<id>_<secret>`` -> (id, secret); ('', '') when it is not shaped like a key."""
    if not token.startswith(KEY_PREFIX):
        return "", ""
    key_id, _, secret = token[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != 12 or not secret:
        return "", ""
    return key_id, secret


def check_key_settings(settings: Any) -> bool:
    """Whether keys are on; ``AuthConfigError`` when the settings are unsafe or unusable: a
    non-loopback address without keys, or keys without an admin key to create the others."""
    admin_key = settings.admin_key
    enabled = bool(settings.require_keys or admin_key)
    if not enabled and not is_loopback(settings.host):
        raise AuthConfigError(
            f"refusing to listen on {settings.host} without API keys: anyone who can reach it could "
            "read and delete every trace. Set SPYGLASS_ADMIN_KEY and pass --require-keys (or "
            "SPYGLASS_REQUIRE_KEYS=1), or listen on 127.0.0.1"
        )
    if admin_key and len(admin_key) < MIN_ADMIN_KEY_CHARS:
        raise AuthConfigError(
            f"SPYGLASS_ADMIN_KEY is too short to be secret ({len(admin_key)} characters; at least "
            f"{MIN_ADMIN_KEY_CHARS}): generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if enabled and not admin_key:
        raise AuthConfigError(
            "API keys are required but SPYGLASS_ADMIN_KEY is not set: set it in the collector's "
            "environment to a long random string (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'); it is the key that creates all others"
        )
    return enabled


def describe_keys(settings: Any) -> str:
    """One line for the start banner saying whether requests need keys (checks the settings)."""
    if check_key_settings(settings):
        return "API keys required (Authorization: Bearer KEY); the operator key is SPYGLASS_ADMIN_KEY"
    return (
        f"running WITHOUT API keys: anyone who can reach {settings.host}:{settings.port} may read and "
        "delete every trace (fine on a single-user machine; --require-keys turns keys on)"
    )


def checker_from_settings(store: Store, settings: Any) -> KeyChecker:
    """The key checker the settings ask for (``check_key_settings`` raises when they are unsafe)."""
    enabled = check_key_settings(settings)
    return KeyChecker(
        store, enabled=enabled, admin_key=settings.admin_key, cache_seconds=settings.key_cache_seconds
    )


def _checker(request: Request) -> KeyChecker:
    checker: KeyChecker = request.app.state.keys
    return checker


def require_read(request: Request) -> Principal:
    """FastAPI dependency for read routes: a read key for the requested ``project`` (default
    ``default``, as the read routes' own default)."""
    requested = request.query_params.get("project") or "default"
    return _checker(request).read_project(request.headers.get("authorization"), requested)


def require_admin(request: Request) -> Principal:
    """FastAPI dependency for admin routes."""
    return _checker(request).require(request.headers.get("authorization"), "admin")
