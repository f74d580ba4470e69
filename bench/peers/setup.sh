#!/usr/bin/env bash
# Creates the peers' own virtual environment (never the project's): Arize Phoenix for ingest,
# freshness and lookup; Langfuse and OpenLLMetry (traceloop-sdk) for SDK overhead.
# Usage: bash bench/peers/setup.sh [VENV]   (default /work/peers-venv, or $SPYGLASS_PEERS_VENV)
set -euo pipefail
VENV="${1:-${SPYGLASS_PEERS_VENV:-/work/peers-venv}}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV ..."
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
# Phoenix first: it pins opentelemetry versions the others must live with.
echo "installing arize-phoenix (a few minutes) ..."
"$VENV/bin/pip" install --quiet arize-phoenix
echo "installing langfuse, traceloop-sdk (traceloop resolves slowly) ..."
"$VENV/bin/pip" install --quiet langfuse traceloop-sdk
# Spyglass's SDK beside them, without dependencies (they bring OpenTelemetry), so
# peers/sdk_decorators.py measures every SDK with one interpreter and one harness.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
"$VENV/bin/pip" install --quiet --no-deps -e "$ROOT"
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
for name in ("arize-phoenix", "langfuse", "traceloop-sdk", "spyglass", "opentelemetry-sdk"):
    try:
        print(f"{name} {version(name)}")
    except Exception as exc:  # report every peer, installed or not
        print(f"{name} NOT INSTALLED: {exc}")
PY
echo "peers ready in $VENV"
