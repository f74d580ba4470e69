"""The whole benchmark suite of issue 9 in one command, printing one table.

Runs every benchmark script as a subprocess (their output streams through, indented, and is kept
in ``bench/.data/run_all/<step>.log``), reads each script's figures from its output, and prints
figure, target, the baseline or peer measured in the same run, the ratio and whether the target
is met. Peers run from their own virtual environment (``bash bench/peers/setup.sh``).

    .venv/bin/python bench/run_all.py --quick     # small sizes, ~10 minutes on 2 busy cores
    .venv/bin/python bench/run_all.py             # full: 10M spans (cached in bench/.data/)
    .venv/bin/python bench/run_all.py --only trace_lookup,storage

The table is also written to ``bench/.data/run_all/results-{quick,full}.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / ".data" / "run_all"
NUM = r"([\d,]+(?:\.\d+)?)"


@dataclass
class Row:
    """One line of the result table; ``met`` is None where the issue sets no target."""

    item: str
    figure: str
    value: str
    target: str = ""
    baseline: str = ""
    ratio: str = ""
    met: bool | None = None


@dataclass
class Step:
    name: str
    command: list[str]  # script and arguments, relative to bench/
    parse: Callable[[str], list[Row]]
    peers: bool = False  # runs with the peers' interpreter


def num(s: str) -> float:
    return float(s.replace(",", ""))


def last_json(text: str) -> dict:
    """The last line of the output that is a JSON object (the scripts' machine-readable line)."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ValueError("no JSON line in the output")


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def parse_sdk_overhead(text: str) -> list[Row]:
    """sdk_overhead.py's last line: {"cases": {name: {bare_us, spyglass_us, ratio, added_us}}}."""
    rows = []
    for name, f in last_json(text)["cases"].items():
        rows.append(
            Row("1 SDK", f"decorated llm call, {name.replace('_', ' ')} (+{f['added_us']:.1f} µs)",
                f"{f['spyglass_us']:.2f} µs", "≤ 1.3x bare OTel", f"{f['bare_us']:.2f} µs bare OTel",
                f"{f['ratio']:.2f}x", f["ratio"] <= 1.3)
        )  # fmt: skip
    return rows


def parse_sdk_redaction(text: str) -> list[Row]:
    """sdk_redaction.py's last line: {"cases": {name: {bare_us, spyglass_us, ratio, ...}}}."""
    rows = []
    for name, f in last_json(text)["cases"].items():
        rows.append(
            Row("1 SDK", f"redaction detail, capture on: {name} (+{f['added_us']:.1f} µs)",
                f"{f['spyglass_us']:.1f} µs", "≤ 1.3x bare OTel", f"{f['bare_us']:.1f} µs bare OTel",
                f"{f['ratio']:.2f}x", f["ratio"] <= 1.3)
        )  # fmt: skip
    return rows


def parse_ingest(text: str) -> list[Row]:
    med = last_json(text)
    on, off = med["fsync"], med["no fsync"]
    shape = re.search(r"^(\d+ clients x \d+ s.*)$", text, re.M)
    note = f" ({shape.group(1).split(',')[0]})" if shape else ""
    return [
        Row("2 Ingest", f"spans/s acknowledged, fsync on{note}", f"{on['spans_s']:,.0f}", "≥ 50,000",
            f"{off['spans_s']:,.0f} no fsync", f"{on['spans_s'] / off['spans_s']:.2f}x",
            on["spans_s"] >= 50_000),
        Row("3 Freshness", "ack → GET /api/traces/{id}, p50 / p99",
            f"{on['fresh_p50_ms']:.0f} / {on['fresh_p99_ms']:.0f} ms", "p99 < 1,000 ms",
            f"{off['fresh_p50_ms']:.0f} / {off['fresh_p99_ms']:.0f} ms no fsync", "",
            on["fresh_p99_ms"] < 1000),
        Row("8 Memory", "collector peak RSS during ingest", f"{on['rss_mib']:.0f} MiB", "",
            f"{off['rss_mib']:.0f} MiB no fsync", f"{on['rss_mib'] / off['rss_mib']:.2f}x"),
    ]  # fmt: skip


def parse_decode(text: str) -> list[Row]:
    base = re.search(rf"parse only.*?\s{NUM}\s+{NUM}\s*$", text, re.M)
    full = re.search(rf"decode \+ normalize.*?\s{NUM}\s+{NUM}\s*$", text, re.M)
    if not (base and full):
        raise ValueError("no 'decode + normalize' row")
    b, f = num(base.group(1)), num(full.group(1))
    return [Row("2 Ingest", "decode + normalize, one core (ingest_decode)", f"{f:,.0f} spans/s", "",
                f"{b:,.0f} protobuf parse only", f"{b / f:.1f}x the cost")]  # fmt: skip


def parse_native(text: str) -> list[Row]:
    f = last_json(text)
    py, native = f["python_spans_s"], f["native_spans_s"]
    return [Row("2 Ingest", "experiment: OTLP decoded by chDB (ingest_native_decode)",
                f"{native:,.0f} spans/s", "", f"{py:,.0f} Python decode + normalize",
                f"{native / py:.1f}x faster")]  # fmt: skip


def parse_lookup(text: str) -> list[Row]:
    """trace_lookup.py's last line: {spans, warm: {name: {p50_ms, p99_ms, ...}}, cold: {...},
    bytes_per_span, trace_index_bytes_per_span, bulk_load_rows_per_s}; case "a" is the API's
    query, "b" the baseline."""
    f = last_json(text)
    size = f" at {f['spans'] / 1e6:g}M spans"
    rows = []
    for temp in ("cold", "warm"):
        cases = f.get(temp) or {}
        ours = next((v for k, v in cases.items() if k.startswith("a ")), None)
        base_name, base = next(((k, v) for k, v in cases.items() if k.startswith("b ")), ("", None))
        if ours is None:
            continue
        target = "p50 < 20, p99 < 50 ms" if temp == "warm" else ""
        rows.append(
            Row("4 Lookup", f"trace by ID{size}, {temp}, p50 / p99",
                f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} ms", target,
                f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f} ms {base_name[2:]}" if base else "",
                f"{ours['p50_ms'] / base['p50_ms']:.2f}x" if base else "",
                ours["p50_ms"] < 20 and ours["p99_ms"] < 50 if target else None)
        )  # fmt: skip
    api = next((v for k, v in (f.get("warm") or {}).items() if k.startswith("api ")), None)
    ours = next((v for k, v in (f.get("warm") or {}).items() if k.startswith("a ")), None)
    if api is not None and ours is not None:
        rows.append(
            Row("4 Lookup", f"GET /api/traces/{{id}}{size}, warm, in process, p50 / p99",
                f"{api['p50_ms']:.1f} / {api['p99_ms']:.1f} ms", "",
                f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} ms its query alone",
                f"{api['p50_ms'] / ours['p50_ms']:.2f}x")
        )  # fmt: skip
    b, idx = f["bytes_per_span"], f.get("trace_index_bytes_per_span", 0.0)
    rows.append(Row("7 Storage", f"bytes on disk per span, metadata{size}, spans + trace_index "
                    "(all tables: the cohort_review row)", f"{b:.1f} + {idx:.1f} B"))  # fmt: skip
    rows.append(Row("gen", f"data generator bulk load{size} (when the store was built)",
                    f"{f['bulk_load_rows_per_s']:,.0f} rows/s"))  # fmt: skip
    return rows


def parse_cohort(text: str) -> list[Row]:
    """cohort_review.py's last line: {scan_s, before_rev, backfill_s, bytes_per_span: {table: B},
    cases: {name: {median_s, x_scan, before_median_s, x_before}}}. The baseline is the same
    query as it was before the requests rollup (``before_rev``), on the same store, alternating."""
    f = last_json(text)
    size = f"{f['spans'] / 1e6:g}M spans"
    targets = {"cohorts by tenant": 1.0, "stage latency": 2.0}
    rows = []
    for label, c in f["cases"].items():
        target = next((t for k, t in targets.items() if label.startswith(k)), None)
        if "before_median_s" in c:
            base = f"{c['before_median_s']:.2f} s before the rollup ({f['before_rev']})"
            ratio = f"{c['median_s'] / c['before_median_s']:.2f}x"
        else:
            base, ratio = f"{f['scan_s']:.2f} s FINAL scan", f"{c['x_scan']:.1f}x"
        rows.append(
            Row("5 Cohort", f"{label} ({size})", f"{c['median_s']:.2f} s",
                f"< {target:g} s" if target else "", base, ratio,
                c["median_s"] < target if target else None)
        )  # fmt: skip
    if "backfill_s" in f:
        rows.append(Row("5 Cohort", f"requests rollup backfill, first start on an existing store ({size})",
                        f"{f['backfill_s']:.0f} s"))  # fmt: skip
    per_table = f.get("bytes_per_span") or {}
    if per_table:
        total = sum(per_table.values())
        parts = " + ".join(f"{t} {b:.1f}" for t, b in per_table.items())
        rows.append(
            Row("7 Storage", f"bytes on disk per span, metadata at {size}, all tables ({parts})",
                f"{total:.1f} B", "< 60 B", "", "", total < 60)
        )  # fmt: skip
    return rows


def parse_trace_list(text: str) -> list[Row]:
    """trace_list.py's last line: {before_rev, cases: {name: {rows, p50_ms, scan_p50_ms, ratio,
    before_p50_ms}}}; the baseline is the query before the requests rollup, else a FINAL scan."""
    f = last_json(text)
    rows = []
    for name, c in f["cases"].items():
        if "before_p50_ms" in c:
            base = f"{c['before_p50_ms']:.1f} ms before the rollup ({f.get('before_rev', 'd1c1768')})"
            ratio = f"{c['p50_ms'] / c['before_p50_ms']:.2f}x"
        else:
            base, ratio = f"{c['scan_p50_ms']:.1f} ms FINAL scan", f"{c['ratio']:.1f}x"
        rows.append(Row("6 Trace list", f"{name} ({c['rows']} rows, {f['spans'] / 1e6:g}M spans), p50",
                        f"{c['p50_ms']:.1f} ms", "", base, ratio))  # fmt: skip
    return rows


def parse_json_rows(text: str) -> list[Row]:
    """Scripts of this suite (storage, peers) print their rows as a final JSON line."""
    return [Row(**r) for r in last_json(text)["rows"]]


def steps(quick: bool) -> list[Step]:
    n = "200000" if quick else "10000000"
    q = quick
    return [
        Step("sdk_overhead", ["sdk_overhead.py", *(["--iterations", "2000", "--rounds", "3"] if q else [])],
             parse_sdk_overhead),
        Step("sdk_redaction", ["sdk_redaction.py", *(["--iterations", "500", "--rounds", "3"] if q else [])],
             parse_sdk_redaction),
        Step("peers_sdk", ["peers/sdk_decorators.py", *(["--quick"] if q else [])], parse_json_rows,
             peers=True),
        Step("ingest_decode", ["ingest_decode.py", *(["--requests", "5", "--rounds", "3"] if q else [])],
             parse_decode),
        Step("ingest_native_decode",
             ["ingest_native_decode.py", *(["--traces", "200", "--rounds", "3"] if q else [])], parse_native),
        Step("ingest_durability",
             ["ingest_durability.py", *(["--seconds", "5", "--rounds", "1"] if q else [])],
             parse_ingest),
        Step("storage", ["storage.py", *(["--spans", "20000"] if q else [])], parse_json_rows),
        Step("peers_phoenix", ["peers/vs_phoenix.py", *(["--quick"] if q else ["--rounds", "1"])],
             parse_json_rows),
        Step("trace_lookup", ["trace_lookup.py", "--spans", n, "--api", *(["--lookups", "60"] if q else [])],
             parse_lookup),
        Step("cohort_review", ["cohort_review.py", "--spans", n], parse_cohort),
        Step("trace_list", ["trace_list.py", "--spans", n], parse_trace_list),
    ]  # fmt: skip


def run_step(step: Step, python: str, index: int, total: int) -> tuple[str, int, float]:
    """Runs one script, echoing its output indented (progress), keeping it in a log file."""
    log = OUT / f"{step.name}.log"
    cmd = [python, "-u", str(BENCH / step.command[0]), *step.command[1:]]
    print(f"\n[{index}/{total}] {step.name}: {' '.join(cmd)}  (log: {log})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    lines = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BENCH.parent
    ) as p:
        assert p.stdout is not None
        for line in p.stdout:
            lines.append(line)
            print(f"    {line}", end="", file=sys.stderr, flush=True)
    text = "".join(lines)
    log.write_text(text)
    elapsed = time.perf_counter() - started
    print(f"[{index}/{total}] {step.name} finished in {elapsed:.0f} s (exit {p.returncode})", file=sys.stderr)
    return text, p.returncode, elapsed


def render(rows: list[Row], header: str) -> str:
    out = [header, "", "| item | figure | value | target | baseline / peer, same run | ratio | target |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        cells = [r.item, r.figure, r.value, r.target, r.baseline, r.ratio, verdict(r.met)]
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (200k-span store, short runs)")
    ap.add_argument("--only", default="", help="comma-separated step names (default: all)")
    ap.add_argument(
        "--peers-venv",
        default=os.environ.get("SPYGLASS_PEERS_VENV", "/work/peers-venv"),
        help="the peers' virtual environment (created by bench/peers/setup.sh)",
    )
    ap.add_argument("--reparse", action="store_true", help="read the last run's logs again, run nothing")
    args = ap.parse_args()
    chosen = steps(args.quick)
    names = [s.name for s in chosen]
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            sys.exit(f"--only: unknown step(s) {', '.join(unknown)}; steps are: {', '.join(names)}")
        chosen = [s for s in chosen if s.name in wanted]
    OUT.mkdir(parents=True, exist_ok=True)
    peers_python = str(Path(args.peers_venv) / "bin" / "python")
    git = ["git", "-C", str(BENCH)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    edited = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                            text=True).stdout.split("\n")  # fmt: skip
    if any(line.strip() for line in edited):  # the scripts ran the working tree as it was
        commit += " + uncommitted edits to " + ", ".join(sorted({ln[3:] for ln in edited if ln.strip()}))
    mode = "quick" if args.quick else "full"
    rows: list[Row] = []
    started = time.perf_counter()
    for i, step in enumerate(chosen, 1):
        python = peers_python if step.peers else sys.executable
        if step.peers and not Path(python).exists() and not args.reparse:
            rows.append(Row(step.name, "not run", f"no peers venv at {args.peers_venv}: run "
                            "bash bench/peers/setup.sh"))  # fmt: skip
            continue
        if args.reparse:
            log = OUT / f"{step.name}.log"
            text, code = (log.read_text() if log.exists() else ""), 0
        else:
            text, code, _ = run_step(step, python, i, len(chosen))
        try:
            if code != 0:
                raise ValueError(f"exit status {code}")
            rows.extend(step.parse(text))
        except (OSError, ValueError, KeyError, IndexError, TypeError, ZeroDivisionError) as exc:
            rows.append(Row(step.name, "FAILED", f"{exc}: see {OUT / (step.name + '.log')}"))
    header = (
        f"{mode} run, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, "
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"chdb {md.version('chdb')}; {time.perf_counter() - started:.0f} s"
    )
    table = render(rows, header)
    (OUT / f"results-{mode}.md").write_text(table + "\n")
    print()
    print(table)
    if any(r.figure == "FAILED" for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
