"""Fetching the review through the collector's HTTP API (never the store: the embedded store
belongs to the collector process). ``ApiClient`` is shared with ``spyglass gate``."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from ..gate import GateConfig, GateResult, evaluate

COMPARE_DIMENSIONS = {"release": "release", "prompt": "prompt", "prompt_version": "prompt", "model": "model"}
"""``--by`` values -> the compare API's ``dimension``."""


class ApiError(Exception):
    """The collector could not be reached or refused a request; the message says what to do."""


class ApiClient:
    """GET JSON from the collector's ``/api/...`` for one project.

    Example::

        client = ApiClient("http://127.0.0.1:4318", project="default")
        rows = client.get("/api/analytics/cohorts", by="tenant")["rows"]
    """

    def __init__(self, endpoint: str, project: str = "default", timeout: float = 120.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self.timeout = timeout

    def url(self, path: str, **params: Any) -> str:
        query = {"project": self.project, **{k: v for k, v in params.items() if v not in (None, "")}}
        return f"{self.endpoint}{path}?{urllib.parse.urlencode(query)}"

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """The JSON body of ``GET path?params``; raises :class:`ApiError` with a readable message."""
        url = self.url(path, **params)
        try:
            key = os.environ.get("SPYGLASS_API_KEY", "").strip()  # collectors with API keys on
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as err:
            raise ApiError(self._http_error(path, err)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ApiError(
                f"cannot reach the collector at {self.endpoint} ({reason}). Is `spyglass up` running? "
                "Point --endpoint or SPYGLASS_ENDPOINT at it."
            ) from None
        except ValueError as err:
            raise ApiError(
                f"the collector at {self.endpoint} answered {path} with invalid JSON: {err}"
            ) from None
        if not isinstance(body, dict):
            raise ApiError(f"the collector at {self.endpoint} answered {path} with unexpected JSON")
        return body

    def _http_error(self, path: str, err: urllib.error.HTTPError) -> str:
        try:
            detail = json.load(err).get("detail")
        except (ValueError, AttributeError):
            detail = None
        detail = str(detail) if detail else f"HTTP {err.code}"
        if err.code == 404 and path.startswith("/api/analytics"):
            return (
                f"the collector at {self.endpoint} has no {path} ({detail}): it predates the cohort "
                "review API; upgrade it (pip install -U spyglass) and restart it"
            )
        if err.code == 400:
            return f"the collector rejected the request: {detail}"
        if err.code == 503:
            return f"the collector could not answer ({detail}); retry in a moment"
        return f"the collector answered {path} with HTTP {err.code}: {detail}"


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """API rows -> a frame (every row read to type the columns; nulls stay nulls)."""
    return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()


def parse_day_or_time(value: str, *, end: bool = False) -> datetime:
    """``2026-11-16`` (a whole UTC day: its start, or with ``end`` the start of the next day)
    or an ISO 8601 instant (``2026-11-16T12:00:00Z``; no offset means UTC).

    >>> parse_day_or_time("2026-11-16", end=True).isoformat()
    '2026-11-17T00:00:00+00:00'
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date (2026-11-16) or an ISO 8601 time (2026-11-16T12:00:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ReportData:
    """Everything the report shows, fetched once; the renderers only format it."""

    project: str
    since: datetime
    until: datetime
    ui_url: str
    scorecards: dict[str, pl.DataFrame]
    """Cohort dimension ("tenant", "prompt", "model") -> its scorecard; "" -> the overall row."""
    week_over_week: pl.DataFrame
    """By tenant, previous window (``_base``) against the report's window (``_cand``)."""
    week_over_week_overall: pl.DataFrame
    previous: tuple[str, str]
    """The previous window (since, until) as the API gave it."""
    stages: pl.DataFrame
    """Stage time by tenant, then one row for everything (tenant null)."""
    examples: dict[str, dict[str, Any] | None]
    gate: GateResult | None = None
    comparison: dict[str, Any] | None = None
    endpoint: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86_400


def compare(
    client: ApiClient,
    by: str,
    baseline: str,
    candidate: str,
    config: GateConfig,
    cohorts: list[str],
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """``GET /api/analytics/compare`` with the gate's ``min_tasks``; ``by`` may be
    ``prompt_version`` (the API's ``prompt``)."""
    dimension = COMPARE_DIMENSIONS.get(by)
    if dimension is None:
        raise ApiError(f"cannot compare by {by!r}: use one of {', '.join(COMPARE_DIMENSIONS)}")
    return client.get(
        "/api/analytics/compare",
        dimension=dimension,
        baseline=baseline,
        candidate=candidate,
        by=",".join(cohorts),
        min_tasks=config.min_tasks,
        since=since,
        until=until,
    )


def collect(
    client: ApiClient,
    since: datetime,
    until: datetime,
    *,
    ui_url: str,
    candidate: str | None = None,
    baseline: str | None = None,
    by: str = "release",
    config: GateConfig | None = None,
) -> ReportData:
    """Fetch the report's data for the window [since, until): scorecards by tenant, prompt and
    model, week over week against the window of the same length before, stage time, example
    traces, and the gate's comparison when ``candidate`` and ``baseline`` are named."""
    window = {"since": iso(since), "until": iso(until)}
    scorecards = {
        dim: frame(client.get("/api/analytics/cohorts", by=dim, **window)["rows"])
        for dim in ("", "tenant", "prompt", "model")
    }
    days = f"{(until - since).total_seconds() / 86_400:.6f}".rstrip("0").rstrip(".")
    wow = client.get("/api/analytics/week-over-week", until=window["until"], days=days, by="tenant")
    wow_all = client.get("/api/analytics/week-over-week", until=window["until"], days=days)
    stages = frame(client.get("/api/analytics/stages", by="tenant", **window)["rows"])
    stages_all = frame(client.get("/api/analytics/stages", **window)["rows"])
    if stages_all.height:
        stages = pl.concat([stages, stages_all.with_columns(tenant=pl.lit(None, pl.String))], how="diagonal")
    examples = client.get("/api/analytics/examples", **window)
    data = ReportData(
        project=client.project,
        since=since,
        until=until,
        ui_url=ui_url.rstrip("/"),
        scorecards=scorecards,
        week_over_week=frame(wow["rows"]),
        week_over_week_overall=frame(wow_all["rows"]),
        previous=(wow["previous"]["since"], wow["previous"]["until"]),
        stages=stages,
        examples={k: examples.get(k) for k in ("good", "bad", "escalated")},
        endpoint=client.endpoint,
    )
    if candidate and baseline:
        config = config or GateConfig()
        data.comparison = compare(client, by, baseline, candidate, config, ["tenant"], **window)
        data.gate = evaluate(data.comparison, config)
    return data
