"""Trace reconstruction's linking of client-supplied parent IDs, which are not trusted."""

from __future__ import annotations

from typing import Any

from spyglass.analytics.trace import MAX_DEPTH, _link


def nodes(parents: list[tuple[str, str | None]]) -> dict[str, dict[str, Any]]:
    return {sid: {"span_id": sid, "parent_span_id": parent, "children": []} for sid, parent in parents}


def shape(roots: list[dict[str, Any]]) -> list[Any]:
    return [(n["span_id"], shape(n["children"])) for n in roots]


def test_children_under_parents_in_start_order() -> None:
    roots = _link(nodes([("r", None), ("a", "r"), ("b", "r"), ("a1", "a")]))
    assert shape(roots) == [("r", [("a", [("a1", [])]), ("b", [])])]


def test_missing_parent_and_self_parent_become_flagged_roots() -> None:
    ns = nodes([("r", None), ("orphan", "gone"), ("selfish", "selfish")])
    assert [n["span_id"] for n in _link(ns)] == ["r", "orphan", "selfish"]
    assert ns["orphan"]["parent_missing"] is True and ns["selfish"]["parent_cycle"] is True


def test_cycle_with_a_tail_keeps_every_span_once() -> None:
    # x -> y -> z -> x is a cycle; t hangs off z.
    ns = nodes([("x", "z"), ("y", "x"), ("z", "y"), ("t", "z")])
    roots = _link(ns)
    assert shape(roots) == [("x", [("y", [("z", [("t", [])])])])]
    assert ns["x"]["parent_cycle"] is True


def test_depth_is_capped() -> None:
    chain = [("s0", None)] + [(f"s{i}", f"s{i - 1}") for i in range(1, MAX_DEPTH + 5)]
    roots = _link(nodes(chain))
    assert [r["span_id"] for r in roots] == ["s0", f"s{MAX_DEPTH + 1}"]
    assert roots[1]["reattached_depth"] is True
