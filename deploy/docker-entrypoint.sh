#!/bin/sh
# The Spyglass image's entrypoint: the first argument picks the process.
#   collector  the collector (spyglass up, no UI), listening on every interface
#   ui         the Streamlit UI, reading the collector at $SPYGLASS_ENDPOINT
#   anything else runs as given (spyglass demo ..., spyglass gate ..., sh)
set -e
role="${1:-collector}"
[ "$#" -gt 0 ] && shift
case "$role" in
    collector)
        exec spyglass up --no-ui --host 0.0.0.0 "$@"
        ;;
    ui)
        app="$(python -c 'import spyglass.ui; print(spyglass.ui.app_path())')"
        exec python -m streamlit run "$app" \
            --server.address 0.0.0.0 --server.port "${SPYGLASS_UI_PORT:-8501}" \
            --server.headless true --browser.gatherUsageStats false \
            --server.fileWatcherType none --client.toolbarMode minimal "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
