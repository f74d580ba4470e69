"""Admin routes (deletion, API keys, the audit log) and the one call that puts data governance
into the collector app: key checks on every transport and read route, the content policy on
ingest, retention applied to the tables.

Every route here needs the ``admin`` scope, for the key's own project (operator keys: any).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from .auth import ALL_PROJECTS, KeyChecker, Principal, checker_from_settings, parse_scopes, require_admin
from .governance import apply_retention, content_filter, load_policy
from .ingest import Denied, Ingest
from .settings import Settings
from .store import Store, StoreError
from .store import governance_sql as sql

log = logging.getLogger("spyglass.collector")

TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
FLUSH_TIMEOUT_S = 30.0

Admin = Annotated[Principal, Depends(require_admin)]
Project = Annotated[str, Query(min_length=1, max_length=200, description="the project (default: default)")]


def install(app: FastAPI, store: Store, settings: Settings, ingest: Ingest) -> KeyChecker:
    """Governance for ``app``: raises ``AuthConfigError`` / ``PolicyError`` when the settings
    cannot be served safely, so the collector does not start."""
    keys = checker_from_settings(store, settings)
    policy = load_policy(getattr(settings, "policy_file", "") or None)
    try:
        apply_retention(store, policy)
    except StoreError as exc:
        # The collector still takes data while the store is down (the spool keeps it); the
        # tables keep the retention they had until a collector starts with the store up.
        log.error("retention policy from %s not applied, the store failed: %s", policy.source, exc)
    app.state.keys = keys
    app.state.policy = policy
    ingest.authorize = keys.ingest_project
    ingest.transforms.append(content_filter(policy))

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    app.include_router(create_router(store, keys, ingest))
    return keys


def _check_project(who: Principal, project: str) -> None:
    if not who.may_read(project):
        raise Denied(
            403,
            f"API key {who.key_id} administers project {who.project!r} only, not {project[:80]!r}: "
            f"pass project={who.project}",
        )


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=404)


def create_router(store: Store, keys: KeyChecker, ingest: Ingest) -> APIRouter:
    """The admin routes over ``store``."""
    router = APIRouter()

    def audit(who: Principal, action: str, project: str, target: str, detail: dict[str, Any]) -> None:
        store.command(
            sql.AUDIT_INSERT,
            {
                "actor": who.key_id,
                "action": action,
                "project": project,
                "target": target,
                "detail": json.dumps(detail, sort_keys=True),
            },
        )

    async def delete(
        who: Principal,
        action: str,
        project: str,
        target: str,
        count: str,
        statements: tuple[str, ...],
        params: dict[str, Any],
    ) -> JSONResponse:
        # Everything accepted before this request must be in the store first, or a span still
        # on its way would bring the trace back after the deletion.
        if not await ingest.flush(FLUSH_TIMEOUT_S):
            return JSONResponse(
                {"detail": "accepted data could not be written to the store in time; nothing deleted, retry"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        counts = (await run_in_threadpool(store.query, count, params)).to_pylist()[0]
        if not counts["spans"] and not counts["feedback"]:
            return _not_found(f"nothing to delete: no {target} in project {project!r}")
        for statement in statements:
            await run_in_threadpool(store.command, statement, params)
        await run_in_threadpool(audit, who, action, project, target, counts)
        log.warning("%s deleted %s in project %r (%s)", who.key_id, target, project, counts)
        return JSONResponse({"deleted": counts, "project": project, "target": target})

    @router.delete("/api/traces/{trace_id}", summary="Delete one trace: spans, feedback, index (admin)")
    async def delete_trace(who: Admin, trace_id: str, project: Project = "default") -> JSONResponse:
        _check_project(who, project)
        if not TRACE_ID.match(trace_id) or not int(trace_id, 16):
            return JSONResponse(
                {"detail": f"trace ID {trace_id[:64]!r} is malformed: expected 32 hex digits, not all zero"},
                status_code=400,
            )
        params = {"project": project, "trace_id": trace_id.lower()}
        return await delete(
            who,
            "delete_trace",
            project,
            f"trace {trace_id.lower()}",
            sql.COUNT_TRACE,
            sql.DELETE_TRACE,
            params,
        )

    @router.delete(
        "/api/tenants/{tenant}", summary="Delete every trace of a tenant, with its feedback (admin)"
    )
    async def delete_tenant(
        who: Admin,
        tenant: Annotated[str, Path(min_length=1, max_length=200)],
        project: Project = "default",
    ) -> JSONResponse:
        _check_project(who, project)
        params = {"project": project, "tenant": tenant}
        return await delete(
            who, "delete_tenant", project, f"tenant {tenant}", sql.COUNT_TENANT, sql.DELETE_TENANT, params
        )

    @router.post("/api/keys", summary="Create an API key; the answer is the only time its secret is shown")
    def create_key(
        who: Admin,
        project: Annotated[str, Body(min_length=1, max_length=200)],
        scopes: Annotated[list[str], Body(min_length=1, max_length=3)],
        name: Annotated[str, Body(max_length=200)] = "",
    ) -> JSONResponse:
        _check_project(who, project)
        if project == ALL_PROJECTS:
            return JSONResponse({"detail": "project '*' is reserved for SPYGLASS_ADMIN_KEY"}, status_code=400)
        try:
            valid = parse_scopes(scopes)
        except ValueError as exc:
            return JSONResponse({"detail": f"body field 'scopes': {exc}"}, status_code=400)
        created = keys.create(project, valid, name, who.key_id)
        audit(who, "create_key", project, f"key {created['id']}", {"scopes": valid, "name": name})
        return JSONResponse(created, status_code=201)

    @router.get("/api/keys", summary="API keys (without secrets)")
    def list_keys(who: Admin) -> JSONResponse:
        return JSONResponse({"keys": keys.list(who)})

    @router.delete("/api/keys/{key_id}", summary="Revoke an API key")
    def revoke_key(who: Admin, key_id: Annotated[str, Path(max_length=64)]) -> JSONResponse:
        revoked = keys.revoke(key_id, who)
        if revoked is None:
            return _not_found(
                f"no API key {key_id[:64]!r} that this key may revoke (spyglass keys list shows them)"
            )
        audit(who, "revoke_key", revoked["project"], f"key {key_id}", {})
        return JSONResponse(revoked)

    @router.get("/api/audit", summary="The audit log: deletions and key changes, newest first")
    def audit_log(who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
        project = "" if who.project == ALL_PROJECTS else who.project
        rows = store.query(sql.AUDIT_LIST, {"project": project, "limit": limit}).to_pylist()
        for row in rows:
            row["at"] = row["at"].isoformat()
            row["detail"] = json.loads(row["detail"] or "{}")
        return JSONResponse({"events": rows})

    return router
