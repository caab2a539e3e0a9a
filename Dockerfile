# syntax=docker/dockerfile:1
# One image recipe for every gridloop service; the service is a build argument:
#   docker build --build-arg SERVICE=reporting -t gridloop/reporting:dev .
# (SERVICE is one of reporting, dispatch, ledger, notification; the build context is the
# repository root, the uv workspace.) The image holds the runtime library and that one service
# with their locked dependencies, nothing of the tooling (no typer, rich or pytest).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN case "${SERVICE}" in reporting|dispatch|ledger|notification) ;; \
      *) echo "build with --build-arg SERVICE=reporting|dispatch|ledger|notification" >&2; exit 1 ;; esac
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# 1) Third-party dependencies only (cached until uv.lock or a pyproject.toml changes).
#    Every workspace member's pyproject.toml is needed for workspace discovery.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY services/reporting/pyproject.toml services/reporting/
COPY services/dispatch/pyproject.toml services/dispatch/
COPY services/ledger/pyproject.toml services/ledger/
COPY services/notification/pyproject.toml services/notification/
COPY tools/pyproject.toml tools/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "gridloop-${SERVICE}"

# 2) The runtime library and this service (sources, migrations, packaged data such as the demo
#    grids).
COPY libs/common/ libs/common/
COPY services/${SERVICE}/ services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "gridloop-${SERVICE}" \
 && python -m compileall -q libs/common/src "services/${SERVICE}/src"

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="gridloop-${SERVICE}" \
      org.opencontainers.image.description="gridloop ${SERVICE} service"

RUN groupadd --system --gid 10001 gridloop \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gridloop \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/gridloop

# The workspace members are installed editable, so the venv points at /app/libs/common/src and
# /app/services/<name>/src; copying the tree keeps migrations next to the service as in the repo.
COPY --from=build --chown=root:root /app /app

# GRIDLOOP_HOST / GRIDLOOP_PORT are the fallbacks of every service's <PREFIX>HOST / <PREFIX>PORT.
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRIDLOOP_SERVICE=${SERVICE} \
    GRIDLOOP_HOST=0.0.0.0 \
    GRIDLOOP_PORT=8000
WORKDIR /app/services/${SERVICE}
USER 10001:10001
EXPOSE 8000

# Liveness only (no curl in slim images). Readiness (/readyz: database + broker) is for orchestrators.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GRIDLOOP_PORT', '8000'), timeout=4)"]

# exec: python replaces the shell, so it receives SIGTERM directly.
CMD ["/bin/sh", "-c", "exec python -m \"$GRIDLOOP_SERVICE\""]
