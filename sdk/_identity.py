"""Tenant and user identifiers, exported raw or as a keyed hash.

With a key (``spyglass.init(identifier_key=...)`` or ``SPYGLASS_IDENTIFIER_KEY``) the tenant
and user given to ``spyglass.cohort(...)`` leave the process as ``h:`` followed by the first
32 hex characters (128 bits) of HMAC-SHA256(key, identifier as UTF-8). The same key gives
the same value in every process, so cohorts still group by tenant; without the key nobody
can recompute or test a guess. An operator deleting a tenant's data computes the stored
value with ``spyglass.hash_identifier("acme", key=KEY)``.

``identifiers="hmac"`` without a usable key fails closed: tenant and user are left out of
the spans (logged), never exported raw.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from ._guard import log_rate_limited

PREFIX = "h:"
MIN_KEY_BYTES = 16
MODES = ("raw", "hmac")


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes):
        raise TypeError(f"the identifier key must be str or bytes, not {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"the identifier key is {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes "
            '(for example python -c "import secrets; print(secrets.token_hex(32))")'
        )
    return key


def hash_identifier(value: str, *, key: str | bytes | None = None) -> str:
    """The value Spyglass exports for the tenant or user ``value`` under ``key`` (default:
    the key given to ``spyglass.init`` or ``SPYGLASS_IDENTIFIER_KEY``).

    Use it to find or delete a tenant's data when identifiers are hashed::

        hashed = spyglass.hash_identifier("acme", key=os.environ["SPYGLASS_IDENTIFIER_KEY"])
        # spyglass delete tenant <hashed>
    """
    if key is None:
        key = _policy.key if _policy.key is not None else os.environ.get("SPYGLASS_IDENTIFIER_KEY")
        if not key:
            raise ValueError("no identifier key: pass key= or set SPYGLASS_IDENTIFIER_KEY")
    digest = hmac.new(_key_bytes(key), str(value).encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


class _Policy:
    """How identifiers leave the process: ``raw`` (default), ``hmac`` with ``key``, or
    ``withheld`` (hmac asked for without a usable key)."""

    __slots__ = ("key", "mode")

    def __init__(self) -> None:
        self.mode = "raw"
        self.key: bytes | None = None

    def export(self, value: str) -> str | None:
        """The value to put on spans for an identifier (None: leave it out)."""
        if self.mode == "raw":
            return value
        if self.key is None:
            return None
        return PREFIX + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:32]


_policy = _Policy()


def configure(mode: str | None, key: str | bytes | None) -> None:
    """Set the identifier policy from ``init`` arguments, else ``SPYGLASS_IDENTIFIERS`` and
    ``SPYGLASS_IDENTIFIER_KEY``. A key alone means ``hmac``.

    Invalid arguments raise ``ValueError`` and change nothing; invalid environment values
    are logged and fail closed (identifiers withheld)."""
    from_env = mode is None and key is None
    env_mode = (os.environ.get("SPYGLASS_IDENTIFIERS") or "").strip().lower() or None
    env_key = os.environ.get("SPYGLASS_IDENTIFIER_KEY") or None
    mode = mode if mode is not None else env_mode
    key = key if key is not None else env_key
    mode = mode or ("hmac" if key else "raw")
    if mode not in MODES:
        if not from_env:
            raise ValueError(f"identifiers must be one of {MODES}, not {mode!r}")
        _withhold(f"SPYGLASS_IDENTIFIERS={mode!r} is not one of {MODES}")
        return
    if mode == "raw":
        _policy.mode, _policy.key = "raw", None
        return
    try:
        if key is None:
            raise ValueError(
                "identifiers='hmac' needs a key: pass identifier_key= or set SPYGLASS_IDENTIFIER_KEY"
            )
        key_bytes = _key_bytes(key)
    except (TypeError, ValueError) as err:
        if not from_env:
            raise
        _withhold(str(err))
        return
    _policy.mode, _policy.key = "hmac", key_bytes


def _withhold(reason: str) -> None:
    _policy.mode, _policy.key = "hmac", None
    log_rate_limited(
        "identifier policy", "spyglass: %s; tenant and user IDs will be left out of spans", reason
    )


def export_identifier(value: str) -> str | None:
    """The tenant or user ID as the policy exports it (None: withheld)."""
    return _policy.export(value)


def hashing() -> bool:
    """True unless identifiers are exported raw (the cohort skips the policy then)."""
    return _policy.mode != "raw"


# The environment applies from import on, as SPYGLASS_CAPTURE_CONTENT does: spans recorded
# before init() (through the application's own provider) follow the same policy.
configure(None, None)
