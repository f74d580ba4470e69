"""The data governance policy: retention by data class (enforced by ClickHouse TTL) and which
data classes and projects may carry captured content (enforced again on arrival).

One TOML file: the shipped ``governance.toml`` next to this module, with the operator's file
(``spyglass up --policy FILE`` / ``SPYGLASS_POLICY_FILE``) merged over it.

Example::

    policy = load_policy("my-governance.toml")
    apply_retention(store, policy)                    # at collector start; idempotent
    ingest.transforms.append(content_filter(policy))  # drop forbidden content on arrival
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spyglass import attributes as A

from .store import Store
from .store import governance_sql as sql

log = logging.getLogger("spyglass.collector.governance")

SHIPPED_POLICY = "governance.toml"
MAX_DAYS = 36_500
_CLASS_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

CONTENT_DROPPED = "spyglass.content_dropped"
"""Set to ``policy`` on a span whose content the collector dropped on arrival."""

# Attributes that carry content when a span has it, beyond the input/output columns the
# normalizer fills: the GenAI conventions (current and older), OpenLLMetry's indexed prompts,
# OpenInference's values and messages.
CONTENT_ATTRIBUTES = frozenset(
    {
        A.GEN_AI_INPUT_MESSAGES,
        A.GEN_AI_OUTPUT_MESSAGES,
        A.GEN_AI_TOOL_CALL_ARGUMENTS,
        A.GEN_AI_TOOL_CALL_RESULT,
        A.INPUT,
        A.OUTPUT,
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "input.value",
        "output.value",
    }
)
CONTENT_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages", "llm.output_messages")
# Events whose attributes are all content (the GenAI event conventions, current and older).
CONTENT_EVENTS = frozenset(
    {
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.client.inference.operation.details",
    }
)


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Retention:
    """Days to keep a span's content (input, output) and its metadata (the row)."""

    content_days: int
    metadata_days: int


@dataclass(frozen=True)
class Policy:
    default: Retention = Retention(7, 90)
    """Spans whose data class has no entry in ``classes`` (and spans without one)."""
    classes: dict[str, Retention] = field(default_factory=dict)
    """Data class name -> its retention."""
    feedback: Retention = Retention(90, 365)
    """Feedback: comment and override text, and the event itself."""
    forbid_content_classes: frozenset[str] = frozenset()
    """Data classes whose spans' content is dropped on arrival."""
    forbid_content_projects: frozenset[str] = frozenset()
    """Projects whose spans' content is dropped on arrival."""
    source: str = SHIPPED_POLICY
    """Where the policy came from, for messages."""

    def statements(self) -> list[sql.Statement]:
        """The retention ALTERs that make the tables enforce this policy."""
        return sql.ttl_statements(
            ({k: r.content_days for k, r in self.classes.items()}, self.default.content_days),
            ({k: r.metadata_days for k, r in self.classes.items()}, self.default.metadata_days),
            self.feedback.content_days,
            self.feedback.metadata_days,
        )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _read(path: Path | Any, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {where} is not valid TOML: {exc}") from None


def load_policy(path: str | None = None) -> Policy:
    """The shipped policy, with the file at ``path`` (if any) merged over it; ``PolicyError``
    names what is wrong."""
    data = _read(resources.files(__package__).joinpath(SHIPPED_POLICY), SHIPPED_POLICY)
    source = SHIPPED_POLICY
    if path:
        data = _merge(data, _read(Path(path), path))
        source = path
    return parse_policy(data, source)


def _unknown(table: dict[str, Any], allowed: set[str], where: str, source: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise PolicyError(
            f"{source}: unknown entry {where}{extra[0]!r}; expected one of {', '.join(sorted(allowed))}"
        )


def _retention(table: Any, where: str, source: str, fallback: Retention) -> Retention:
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: [{where}] must be a table with content_days and metadata_days")
    _unknown(table, {"content_days", "metadata_days", "class"}, f"in [{where}]: ", source)
    values = {}
    for name in ("content_days", "metadata_days"):
        value = table.get(name, getattr(fallback, name))
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
            raise PolicyError(
                f"{source}: {where}.{name} must be a whole number of days from 1 to {MAX_DAYS}, got {value!r}"
            )
        values[name] = value
    if values["content_days"] > values["metadata_days"]:
        raise PolicyError(
            f"{source}: {where}: content_days ({values['content_days']}) is longer than metadata_days "
            f"({values['metadata_days']}); content expires with its row, so it cannot outlive it"
        )
    return Retention(**values)


def _names(value: Any, where: str, source: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and _CLASS_NAME.match(v) for v in value):
        raise PolicyError(
            f"{source}: {where} must be a list of names (letters, digits, _ . : -), got {value!r}"
        )
    return frozenset(value)


def parse_policy(data: dict[str, Any], source: str = "policy") -> Policy:
    """A policy from the parsed TOML ``data``."""
    _unknown(data, {"retention", "feedback", "content"}, "", source)
    retention = data.get("retention", {})
    default = _retention(retention, "retention", source, Policy.default)
    classes = {}
    class_tables = retention.get("class", {})
    if not isinstance(class_tables, dict):
        raise PolicyError(f"{source}: retention.class must hold one table per data class")
    for name, table in class_tables.items():
        if not _CLASS_NAME.match(name):
            raise PolicyError(
                f"{source}: data class name {name[:80]!r} may use only letters, digits, _ . : -"
            )
        if isinstance(table, dict) and "class" in table:
            raise PolicyError(f"{source}: retention.class.{name} cannot have classes of its own")
        classes[name] = _retention(table, f"retention.class.{name}", source, default)
    feedback = data.get("feedback", {})
    if isinstance(feedback, dict) and "class" in feedback:
        raise PolicyError(f"{source}: feedback has no data classes")
    content = data.get("content", {})
    if not isinstance(content, dict):
        raise PolicyError(f"{source}: [content] must be a table")
    _unknown(content, {"forbid_classes", "forbid_projects"}, "in [content]: ", source)
    return Policy(
        default=default,
        classes=classes,
        feedback=_retention(feedback, "feedback", source, Policy.feedback),
        forbid_content_classes=_names(content.get("forbid_classes", []), "content.forbid_classes", source),
        forbid_content_projects=_names(content.get("forbid_projects", []), "content.forbid_projects", source),
        source=source,
    )


def apply_retention(store: Store, policy: Policy, *, force: bool = False) -> list[str]:
    """Make the tables enforce ``policy``'s retention; returns the targets it changed.

    A statement equal to the one applied last is skipped: each ALTER makes ClickHouse rewrite
    the table's TTL information in every part, so an unchanged policy must not repeat them.
    """
    applied = {} if force else _applied(store)
    changed = []
    for statement in policy.statements():
        fingerprint = statement.fingerprint()
        if applied.get(statement.target) == fingerprint:
            continue
        # On a cluster Store.command runs it ON CLUSTER on the local tables (store/cluster.py).
        store.command(statement.sql, statement.params)
        store.command(sql.RECORD_APPLIED, {"target": statement.target, "statement": fingerprint})
        changed.append(statement.target)
    if changed:
        log.info("retention policy from %s applied to %s", policy.source, ", ".join(changed))
    return changed


def _applied(store: Store) -> dict[str, str]:
    table = store.query(sql.APPLIED)
    return dict(zip(table.column("target").to_pylist(), table.column("statement").to_pylist(), strict=True))


def _is_content(key: str) -> bool:
    return key in CONTENT_ATTRIBUTES or key.startswith(CONTENT_PREFIXES)


def _strip(attrs: list[tuple[str, str]] | None) -> tuple[list[tuple[str, str]], bool]:
    kept = [(k, v) for k, v in attrs or () if not _is_content(k)]
    return kept, len(kept) != len(attrs or ())


def content_filter(policy: Policy) -> Callable[[pa.Table], pa.Table]:
    """An ingest transform: spans of a data class or project whose policy forbids content lose
    their ``input`` and ``output``, their content attributes and the attributes of content
    events, and are marked ``spyglass.content_dropped=policy``. Other spans pass untouched."""
    classes = pa.array(sorted(policy.forbid_content_classes), pa.string())
    projects = pa.array(sorted(policy.forbid_content_projects), pa.string())

    def drop_forbidden_content(table: pa.Table) -> pa.Table:
        if table.num_rows == 0 or (len(classes) == 0 and len(projects) == 0):
            return table
        mask = pc.or_(
            pc.is_in(table.column("data_class"), value_set=classes),
            pc.is_in(table.column("project"), value_set=projects),
        )
        if not pc.any(mask).as_py():
            return table  # the common case: nothing forbidden, no per-row work
        return _drop_content(table, mask.to_pylist())

    return drop_forbidden_content


def _drop_content(table: pa.Table, forbidden: list[bool]) -> pa.Table:
    inputs, outputs = table.column("input").to_pylist(), table.column("output").to_pylist()
    attrs = table.column("attributes").to_pylist()
    names = table.column("events_name").to_pylist()
    events = table.column("events_attributes").to_pylist()
    for row, drop in enumerate(forbidden):
        if not drop:
            continue
        dropped = bool(inputs[row] or outputs[row])
        inputs[row] = outputs[row] = ""
        new_events: list[list[tuple[str, str]]] = []
        for name, event_attrs in zip(names[row] or [], events[row] or [], strict=True):
            if name in CONTENT_EVENTS:
                dropped = dropped or bool(event_attrs)
                new_events.append([])
            else:
                kept, changed = _strip(event_attrs)
                dropped = dropped or changed
                new_events.append(kept)
        events[row] = new_events
        kept, changed = _strip(attrs[row])
        attrs[row] = [*kept, (CONTENT_DROPPED, "policy")] if dropped or changed else kept
    for name, values in (
        ("input", inputs),
        ("output", outputs),
        ("attributes", attrs),
        ("events_attributes", events),
    ):
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, table.schema.field(index), pa.array(values, table.schema.field(index).type)
        )
    return table
