"""compose.yaml, the Dockerfile and the ClickHouse config they mount, checked against what the
code reads: services, pinned images, health checks and start order, environment variables that
exist, a store DSN that points at the ClickHouse service with its user and database, and system
log tables that cannot grow without bound."""

from __future__ import annotations

import dataclasses
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from spyglass.collector.settings import Settings
from spyglass.collector.store import parse_dsn
from tests.unit._yaml_subset import load

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_ENV = {f"SPYGLASS_{f.name.upper()}" for f in dataclasses.fields(Settings)}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load((ROOT / "compose.yaml").read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping"
    return env


def test_services_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"clickhouse", "collector", "ui"}
    assert services["collector"]["depends_on"] == {"clickhouse": {"condition": "service_healthy"}}
    assert services["ui"]["depends_on"] == {"collector": {"condition": "service_healthy"}}
    for name, service in services.items():
        check = service["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 2, name
        assert service["restart"] == "unless-stopped", name


def test_clickhouse_is_the_official_image_at_a_pinned_version_with_a_volume(compose: dict[str, Any]) -> None:
    clickhouse = compose["services"]["clickhouse"]
    image, _, tag = clickhouse["image"].partition(":")
    assert image == "clickhouse/clickhouse-server"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)*", tag), f"pinned version, not {tag!r}"
    volumes = clickhouse["volumes"]
    assert "clickhouse-data:/var/lib/clickhouse" in volumes and "clickhouse-data" in compose["volumes"]
    for mount in volumes[1:]:
        source = mount.split(":")[0]
        assert (ROOT / source).is_file(), f"{source} is mounted but missing"
    assert "/ping" in " ".join(clickhouse["healthcheck"]["test"])
    assert clickhouse["deploy"]["resources"]["limits"]["memory"]


def test_the_collector_environment_is_what_settings_read(compose: dict[str, Any]) -> None:
    services = compose["services"]
    collector = _env(services["collector"])
    unknown = set(collector) - SETTINGS_ENV
    assert not unknown, f"the collector reads no such settings: {unknown}"
    assert int(collector["SPYGLASS_WORKERS"]) >= 2  # several collector processes
    ports = {p.split(":")[1] for p in services["collector"]["ports"]}
    assert {collector["SPYGLASS_PORT"], collector["SPYGLASS_GRPC_PORT"]} <= ports
    assert collector["SPYGLASS_PORT"] in " ".join(services["collector"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["collector"]["healthcheck"]["test"])


def test_the_store_dsn_reaches_the_clickhouse_service_as_its_user(compose: dict[str, Any]) -> None:
    services = compose["services"]
    clickhouse = _env(services["clickhouse"])
    dsn = _env(services["collector"])["SPYGLASS_STORE"]
    address = parse_dsn(dsn.replace("${CLICKHOUSE_PASSWORD}", "secret"))
    assert not address.embedded and address.database == clickhouse["CLICKHOUSE_DB"]
    assert address.dsn.startswith(f"http://{clickhouse['CLICKHOUSE_USER']}:secret@clickhouse:8123/")
    assert clickhouse["CLICKHOUSE_PASSWORD"].startswith("${CLICKHOUSE_PASSWORD:?")  # required


def test_the_ui_reads_the_collector_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ui = _env(services["ui"])
    collector_port = _env(services["collector"])["SPYGLASS_PORT"]
    assert ui["SPYGLASS_ENDPOINT"] == f"http://collector:{collector_port}"
    entrypoint = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    assert "SPYGLASS_UI_PORT" in entrypoint and ui["SPYGLASS_UI_PORT"] in services["ui"]["ports"][0]
    assert ui["SPYGLASS_UI_PORT"] in " ".join(services["ui"]["healthcheck"]["test"])


def test_one_image_whose_command_picks_the_process(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["collector"]["image"] == services["ui"]["image"]
    assert services["collector"]["command"] == ["collector"] and services["ui"]["command"] == ["ui"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["spyglass-entrypoint"]' in dockerfile
    assert "COPY deploy/docker-entrypoint.sh /usr/local/bin/spyglass-entrypoint" in dockerfile
    entrypoint = (ROOT / "deploy" / "docker-entrypoint.sh").read_text()
    assert "collector)" in entrypoint and "ui)" in entrypoint
    exposed = set(re.search(r"^EXPOSE (.+)$", dockerfile, re.M)[1].split())  # type: ignore[index]
    assert {"4318", "4317", "8501"} <= exposed


def test_every_system_log_has_a_ttl_and_memory_is_bounded() -> None:
    config = ET.parse(ROOT / "deploy/clickhouse/config.d/spyglass.xml").getroot()
    logs = [e for e in config if e.tag.endswith("_log")]
    assert {"query_log", "part_log", "trace_log", "metric_log", "asynchronous_metric_log"} <= {
        e.tag for e in logs
    }
    for log in logs:
        ttl = log.findtext("ttl") or ""
        assert re.fullmatch(r"\w+_date \+ INTERVAL \d+ DAY DELETE", ttl), log.tag
    assert 0 < float(config.findtext("max_server_memory_usage_to_ram_ratio") or 0) <= 0.9
    profile = ET.parse(ROOT / "deploy/clickhouse/users.d/spyglass.xml").getroot().find("profiles/default")
    assert profile is not None and int(profile.findtext("max_memory_usage") or 0) > 0


def test_the_subset_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not supported"):
        load("a: &anchor\n  b: 1\n")
    with pytest.raises(ValueError, match="not supported"):
        load("a: |\n  text\n")
    assert load("a:\n  - x: 1\n    y: '2'\n  - z\nb: [\"c\"]  # note\n") == {
        "a": [{"x": "1", "y": "2"}, "z"],
        "b": ["c"],
    }


def test_the_collector_starts_with_this_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It listens beyond loopback, so the collector's own start-up check must accept its keys."""
    from spyglass.collector.auth import check_key_settings

    for name in list(os.environ):
        if name.startswith("SPYGLASS_"):
            monkeypatch.delenv(name)
    for name, value in _env(compose["services"]["collector"]).items():
        value = re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "x" * 32, value)  # what the operator exports
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.host == "0.0.0.0" and settings.workers == 2
    assert check_key_settings(settings) is True  # keys on, and an admin key long enough
    assert compose["services"]["ui"]["ports"] == ["127.0.0.1:8501:8501"]  # no login: loopback only
    assert _env(compose["services"]["ui"])["SPYGLASS_API_KEY"].startswith("${SPYGLASS_UI_KEY:?")
