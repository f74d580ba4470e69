# One image for Spyglass: the collector or the UI, picked by the command (deploy/docker-entrypoint.sh).
#   docker build -t spyglass .
#   docker run -p 4318:4318 -e SPYGLASS_STORE=http://user:pass@clickhouse:8123/spyglass spyglass collector
#   docker run -p 8501:8501 -e SPYGLASS_ENDPOINT=http://collector:4318 spyglass ui
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY collector collector
COPY analytics analytics
COPY ui ui
RUN pip install ".[server]" && rm -rf /src

COPY deploy/docker-entrypoint.sh /usr/local/bin/spyglass-entrypoint

# The collector's spool (and the embedded store, when no SPYGLASS_STORE is given) live here.
RUN useradd --system --uid 10001 --home-dir /var/lib/spyglass spyglass \
    && mkdir -p /var/lib/spyglass && chown spyglass /var/lib/spyglass
USER spyglass
WORKDIR /var/lib/spyglass
ENV SPYGLASS_DATA_DIR=/var/lib/spyglass

EXPOSE 4318 4317 8501
ENTRYPOINT ["spyglass-entrypoint"]
CMD ["collector"]
