"""Tenant and user IDs exported raw or as a keyed hash: the format, stability across
processes, different keys, cohorts still grouping, and the fail-closed configurations."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

import spyglass
from spyglass import _identity
from spyglass import attributes as A
from spyglass._state import state
from spyglass.testing import capture_spans

KEY = "k" * 8 + "0123456789abcdef"
OTHER_KEY = "another-key-of-24-bytes!"


@pytest.fixture(autouse=True)
def raw_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with raw identifiers and no identifier environment, and ends so."""
    monkeypatch.delenv("SPYGLASS_IDENTIFIERS", raising=False)
    monkeypatch.delenv("SPYGLASS_IDENTIFIER_KEY", raising=False)
    _identity.configure("raw", None)
    yield
    _identity.configure("raw", None)


def test_format_is_h_and_32_hex_of_hmac_sha256() -> None:
    expected = hmac.new(KEY.encode(), b"acme", hashlib.sha256).hexdigest()[:32]
    assert spyglass.hash_identifier("acme", key=KEY) == "h:" + expected
    assert spyglass.hash_identifier("acme", key=KEY.encode()) == "h:" + expected


def test_different_keys_and_different_ids_give_different_values() -> None:
    values = {
        spyglass.hash_identifier("acme", key=KEY),
        spyglass.hash_identifier("acme", key=OTHER_KEY),
        spyglass.hash_identifier("globex", key=KEY),
        spyglass.hash_identifier("Acme", key=KEY),
    }
    assert len(values) == 4


def test_stable_across_processes() -> None:
    code = "import spyglass; print(spyglass.hash_identifier('acme'))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPYGLASS_")}
    env["SPYGLASS_IDENTIFIER_KEY"] = KEY
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == spyglass.hash_identifier("acme", key=KEY)


def test_short_key_and_missing_key_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        spyglass.hash_identifier("acme", key="short")
    with pytest.raises(ValueError, match="SPYGLASS_IDENTIFIER_KEY"):
        spyglass.hash_identifier("acme")


def cohort_spans(*tenants: str) -> list[dict[str, object]]:
    with capture_spans() as spans:
        for tenant in tenants:
            with spyglass.cohort(tenant=tenant, user=f"user-of-{tenant}", workflow="support"):
                with spyglass.workflow("answer"), spyglass.llm(model="m"):
                    pass
    return [dict(s.attributes or {}) for s in spans.all()]


def test_hashed_cohort_still_groups_by_tenant() -> None:
    _identity.configure("hmac", KEY)
    attrs = cohort_spans("acme", "acme", "globex")
    tenants = [a[A.COHORT_TENANT] for a in attrs]
    acme, globex = spyglass.hash_identifier("acme", key=KEY), spyglass.hash_identifier("globex", key=KEY)
    assert tenants == [acme] * 4 + [globex] * 2  # two spans per request
    assert attrs[0][A.USER_ID] == spyglass.hash_identifier("user-of-acme", key=KEY)
    assert all(a[A.COHORT_WORKFLOW] == "support" for a in attrs)  # other fields stay raw
    assert spyglass.hash_identifier("acme") == acme  # the configured key is the default


def test_raw_by_default() -> None:
    attrs = cohort_spans("acme")
    assert attrs[0][A.COHORT_TENANT] == "acme" and attrs[0][A.USER_ID] == "user-of-acme"


def test_a_key_in_the_environment_turns_hashing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_IDENTIFIER_KEY", KEY)
    _identity.configure(None, None)
    assert cohort_spans("acme")[0][A.COHORT_TENANT] == spyglass.hash_identifier("acme", key=KEY)


def test_hmac_without_a_key_in_the_environment_withholds_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_IDENTIFIERS", "hmac")
    _identity.configure(None, None)
    attrs = cohort_spans("acme")
    assert A.COHORT_TENANT not in attrs[0] and A.USER_ID not in attrs[0]
    assert attrs[0][A.COHORT_WORKFLOW] == "support"


def test_unknown_mode_in_the_environment_withholds_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_IDENTIFIERS", "sha1")
    _identity.configure(None, None)
    assert A.COHORT_TENANT not in cohort_spans("acme")[0]


def test_invalid_arguments_raise_and_change_nothing() -> None:
    _identity.configure("hmac", KEY)
    with pytest.raises(ValueError, match="one of"):
        _identity.configure("sha1", None)
    with pytest.raises(ValueError, match="needs a key"):
        _identity.configure("hmac", None)
    with pytest.raises(ValueError, match="at least 16"):
        _identity.configure(None, "short")
    assert cohort_spans("acme")[0][A.COHORT_TENANT] == spyglass.hash_identifier("acme", key=KEY)


def test_init_refuses_a_short_key_before_changing_anything() -> None:
    if state.provider is not None:
        pytest.skip("init() already ran in this process (it runs once)")
    with pytest.raises(ValueError, match="at least 16"):
        spyglass.init(identifier_key="short")
    with pytest.raises(ValueError, match="sample_rate"):
        spyglass.init(sample_rate=1.5)
    with pytest.raises(TypeError, match="redactor"):
        spyglass.init(redactor="email")  # type: ignore[arg-type]
    assert state.provider is None
    assert cohort_spans("acme")[0][A.COHORT_TENANT] == "acme"
