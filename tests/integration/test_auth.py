"""API keys against the real embedded store: the auth matrix (no key, wrong key, revoked key,
wrong scope, another project's data) on ingest (OTLP and feedback), read and admin routes."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from spyglass.collector import Settings, create_app
from spyglass.collector.auth import AuthConfigError, checker_from_settings
from spyglass.collector.store import Store
from tests import payloads as P

pytestmark = pytest.mark.integration
ADMIN = "operator-" + "k" * 32
PB = {"content-type": "application/x-protobuf"}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, str]
    trace_a: str
    trace_b: str


def export(client: TestClient, key: str | None, *spans: object, resource: dict | None = None) -> int:
    headers = {**PB, **(bearer(key) if key else {})}
    body = P.request(*spans, resource=resource).SerializeToString()  # type: ignore[arg-type]
    return client.post("/v1/traces", content=body, headers=headers).status_code


def wait_for(client: TestClient, key: str, trace_id: str, project: str) -> None:
    for _ in range(100):
        if (
            client.get(
                f"/api/traces/{trace_id}", params={"project": project}, headers=bearer(key)
            ).status_code
            == 200
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id} never arrived in {project}")


@pytest.fixture(scope="module")
def world(store: Store) -> Iterator[World]:
    settings = Settings(batch_max_delay=0.01, admin_key=ADMIN, key_cache_seconds=60)
    with TestClient(create_app(store, settings)) as client:
        keys, ids = {}, {}
        for name, project, scopes in [
            ("ingest_a", "auth-a", ["ingest"]),
            ("read_a", "auth-a", ["read"]),
            ("admin_a", "auth-a", ["admin"]),
            ("all_b", "auth-b", ["ingest", "read", "admin"]),
            ("revoked_a", "auth-a", ["ingest", "read", "admin"]),
        ]:
            resp = client.post(
                "/api/keys", json={"project": project, "scopes": scopes, "name": name}, headers=bearer(ADMIN)
            )
            assert resp.status_code == 201, resp.text
            keys[name], ids[name] = resp.json()["key"], resp.json()["id"]
        # The revoked key is used (and cached) before it is revoked: revocation must still win.
        assert (
            client.get(
                "/api/traces", params={"project": "auth-a"}, headers=bearer(keys["revoked_a"])
            ).status_code
            == 200
        )
        assert client.delete(f"/api/keys/{ids['revoked_a']}", headers=bearer(ADMIN)).status_code == 200
        trace_a, trace_b = P.new_trace_id(), P.new_trace_id()
        # The resource claims project auth-b: an auth-a ingest key must write into auth-a anyway.
        assert (
            export(
                client, keys["ingest_a"], P.span(trace_a, name="a"), resource={"spyglass.project": "auth-b"}
            )
            == 200
        )
        assert export(client, keys["all_b"], P.span(trace_b, name="b")) == 200
        wait_for(client, keys["read_a"], trace_a.hex(), "auth-a")
        wait_for(client, keys["all_b"], trace_b.hex(), "auth-b")
        yield World(client, keys, ids, trace_a.hex(), trace_b.hex())


def headers_for(world: World, who: str) -> dict[str, str]:
    if who == "none":
        return {}
    return {
        "wrong": bearer("sg_000000000000_not-a-real-secret"),
        "wrong_secret": bearer(world.keys["read_a"][:-4] + "AAAA"),
        "garbage": {"authorization": "Token abc"},
        "revoked": bearer(world.keys["revoked_a"]),
    }.get(who) or bearer(world.keys[who])


UNAUTHENTICATED = ["none", "wrong", "wrong_secret", "garbage", "revoked"]


# --- ingest --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", UNAUTHENTICATED)
def test_ingest_without_a_valid_key_is_401_and_stores_nothing(world: World, who: str) -> None:
    tid = P.new_trace_id()
    headers = {**PB, **headers_for(world, who)}
    resp = world.client.post(
        "/v1/traces", content=P.request(P.span(tid)).SerializeToString(), headers=headers
    )
    assert resp.status_code == 401
    feedback = world.client.post(
        "/v1/feedback", json={"trace_id": tid.hex(), "thumbs": "down"}, headers=headers_for(world, who)
    )
    assert feedback.status_code == 401, feedback.text
    assert "key" in feedback.json()["detail"]
    time.sleep(0.2)
    for project in ("auth-a", "default"):
        got = world.client.get(f"/api/traces/{tid.hex()}", params={"project": project}, headers=bearer(ADMIN))
        assert got.status_code == 404


def test_ingest_with_a_key_lacking_the_scope_is_403_naming_it(world: World) -> None:
    resp = world.client.post(
        "/v1/feedback",
        json={"trace_id": world.trace_a, "thumbs": "down"},
        headers=bearer(world.keys["read_a"]),
    )
    assert resp.status_code == 403
    assert "lacks the 'ingest' scope" in resp.json()["detail"]
    assert export(world.client, world.keys["read_a"], P.span(P.new_trace_id())) == 403


def test_feedback_with_a_key_lands_in_the_keys_project(world: World) -> None:
    event = {"trace_id": world.trace_a, "thumbs": "down", "comment": "auth", "project": "auth-b"}
    resp = world.client.post("/v1/feedback", json=event, headers=bearer(world.keys["ingest_a"]))
    assert resp.status_code == 200, resp.text
    for _ in range(100):
        trace = world.client.get(
            f"/api/traces/{world.trace_a}", params={"project": "auth-a"}, headers=bearer(world.keys["read_a"])
        ).json()
        if trace["feedback"]:
            break
        time.sleep(0.05)
    assert [e["comment"] for e in trace["feedback"]] == ["auth"]


def test_basic_auth_with_the_key_as_password_is_accepted(world: World) -> None:
    token = base64.b64encode(f"pk-anything:{world.keys['read_a']}".encode()).decode()
    resp = world.client.get(
        "/api/traces", params={"project": "auth-a"}, headers={"authorization": f"Basic {token}"}
    )
    assert resp.status_code == 200


# --- reads ---------------------------------------------------------------------------------

READS = [
    "/api/traces",
    "/api/feedback",
    "/api/traces/{trace_a}",
    "/api/analytics/cohorts",
    "/api/analytics/stages",
    "/api/analytics/week-over-week",
    "/api/analytics/compare?dimension=release&baseline=x&candidate=y",
    "/api/analytics/examples",
]


def read_response(world: World, path: str, who: str, project: str | None) -> httpx.Response:
    url, _, query = path.format(trace_a=world.trace_a).partition("?")
    params = dict(urllib.parse.parse_qsl(query)) | ({"project": project} if project else {})
    return world.client.get(url, params=params, headers=headers_for(world, who))


def read(world: World, path: str, who: str, project: str | None) -> tuple[int, dict]:
    resp = read_response(world, path, who, project)
    return resp.status_code, resp.json()


@pytest.mark.parametrize("path", READS)
def test_read_matrix(world: World, path: str) -> None:
    for who in UNAUTHENTICATED:
        resp = read_response(world, path, who, "auth-a")
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer", who
    status, body = read(world, path, "ingest_a", "auth-a")
    assert status == 403 and "lacks the 'read' scope" in body["detail"]
    status, body = read(world, path, "read_a", "auth-b")
    assert status == 403 and "reads project 'auth-a' only" in body["detail"]
    assert read(world, path, "read_a", None)[0] == 403  # the default project is another project
    assert read(world, path, "read_a", "auth-a")[0] == 200
    assert read(world, path, "all_b", "auth-b")[0] in (200, 404)  # trace_a is not in auth-b
    assert read(world, path, "none", None)[0] == 401


def test_another_projects_trace_is_not_found_in_the_keys_project(world: World) -> None:
    resp = world.client.get(
        f"/api/traces/{world.trace_b}", params={"project": "auth-a"}, headers=bearer(world.keys["read_a"])
    )
    assert resp.status_code == 404  # exists in auth-b; the answer is the same as for no trace at all
    listed = world.client.get(
        "/api/traces", params={"project": "auth-a"}, headers=bearer(world.keys["read_a"])
    )
    ids = [t["trace_id"] for t in listed.json()["traces"]]
    assert world.trace_a in ids and world.trace_b not in ids


# --- admin ---------------------------------------------------------------------------------


def admin_calls(world: World) -> list[tuple[str, str, dict]]:
    return [
        ("DELETE", f"/api/traces/{world.trace_a}", {"params": {"project": "auth-a"}}),
        ("DELETE", "/api/tenants/nobody", {"params": {"project": "auth-a"}}),
        ("POST", "/api/keys", {"json": {"project": "auth-a", "scopes": ["read"]}}),
        ("GET", "/api/keys", {}),
        ("DELETE", f"/api/keys/{world.ids['read_a']}", {}),
        ("GET", "/api/audit", {}),
    ]


@pytest.mark.parametrize("who", [*UNAUTHENTICATED, "read_a", "ingest_a"])
def test_admin_routes_need_an_admin_key(world: World, who: str) -> None:
    for method, url, kwargs in admin_calls(world):
        resp = world.client.request(method, url, headers=headers_for(world, who), **kwargs)
        assert resp.status_code == (401 if who in UNAUTHENTICATED else 403), (method, url, resp.text)
    # nothing happened: trace_a and the read key are still there
    assert read(world, "/api/traces/{trace_a}", "read_a", "auth-a")[0] == 200


def test_a_projects_admin_cannot_touch_another_project(world: World) -> None:
    admin_a = bearer(world.keys["admin_a"])
    client = world.client
    resp = client.delete(f"/api/traces/{world.trace_b}", params={"project": "auth-b"}, headers=admin_a)
    assert resp.status_code == 403 and "administers project 'auth-a' only" in resp.json()["detail"]
    assert client.delete("/api/tenants/x", params={"project": "auth-b"}, headers=admin_a).status_code == 403
    resp = client.post("/api/keys", json={"project": "auth-b", "scopes": ["read"]}, headers=admin_a)
    assert resp.status_code == 403
    assert client.delete(f"/api/keys/{world.ids['all_b']}", headers=admin_a).status_code == 404
    listed = client.get("/api/keys", headers=admin_a).json()["keys"]
    assert {k["project"] for k in listed} == {"auth-a"}
    assert read(world, "/api/traces/{trace_a}", "all_b", "auth-b")[0] == 404
    assert (
        client.get(
            f"/api/traces/{world.trace_b}", params={"project": "auth-b"}, headers=bearer(world.keys["all_b"])
        ).status_code
        == 200
    )


def test_keys_are_listed_without_secrets_and_stored_hashed(world: World, store: Store) -> None:
    listed = world.client.get("/api/keys", headers=bearer(ADMIN)).json()["keys"]
    text = json.dumps(listed)
    by_id = {k["id"]: k for k in listed}
    assert by_id[world.ids["revoked_a"]]["revoked_at"] is not None
    assert by_id[world.ids["read_a"]]["revoked_at"] is None and by_id[world.ids["read_a"]]["scopes"] == [
        "read"
    ]
    stored = json.dumps(store.query("SELECT * FROM api_keys").to_pylist(), default=repr)
    for key in world.keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in text and secret not in stored


def test_revocation_is_immediate_and_audited(world: World) -> None:
    client = world.client
    created = client.post(
        "/api/keys",
        json={"project": "auth-a", "scopes": ["read"], "name": "short-lived"},
        headers=bearer(ADMIN),
    ).json()
    assert (
        client.get("/api/traces", params={"project": "auth-a"}, headers=bearer(created["key"])).status_code
        == 200
    )
    assert (
        client.delete(f"/api/keys/{created['id']}", headers=bearer(world.keys["admin_a"])).status_code == 200
    )
    resp = client.get("/api/traces", params={"project": "auth-a"}, headers=bearer(created["key"]))
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    audit = client.get("/api/audit", headers=bearer(world.keys["admin_a"])).json()["events"]
    actions = [(e["action"], e["target"], e["actor"]) for e in audit]
    assert ("revoke_key", f"key {created['id']}", world.ids["admin_a"]) in actions
    assert ("create_key", f"key {created['id']}", "admin-env") in actions
    assert all(e["project"] == "auth-a" for e in audit)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"project": "auth-a", "scopes": ["write"]}, "scopes must be some of ingest, read, admin"),
        ({"project": "*", "scopes": ["read"]}, "reserved"),
        ({"project": "", "scopes": ["read"]}, "project"),
        ({"scopes": ["read"]}, "project"),
    ],
)
def test_bad_key_requests_are_400_naming_the_field(world: World, body: dict, message: str) -> None:
    resp = world.client.post("/api/keys", json=body, headers=bearer(ADMIN))
    assert resp.status_code == 400 and message in resp.json()["detail"], resp.text


# --- start-up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(host="0.0.0.0"), "refusing to listen on 0.0.0.0 without API keys"),
        (Settings(host="10.1.2.3"), "refusing to listen on 10.1.2.3"),
        (Settings(require_keys=True), "SPYGLASS_ADMIN_KEY is not set"),
        (Settings(admin_key="short"), "too short"),
    ],
)
def test_unsafe_key_settings_refuse_to_start(store: Store, settings: Settings, message: str) -> None:
    with pytest.raises(AuthConfigError, match=message):
        checker_from_settings(store, settings)
    with pytest.raises(AuthConfigError):
        create_app(store, settings)


def test_loopback_without_keys_lets_everyone_in(store: Store) -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert checker_from_settings(store, Settings(host=host)).enabled is False
    assert checker_from_settings(store, Settings(host="0.0.0.0", require_keys=True, admin_key=ADMIN)).enabled
