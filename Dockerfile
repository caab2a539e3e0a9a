# syntax=docker/dockerfile:1
# One image recipe for every gridloop process; the process is a build argument:
#   docker build --build-arg SERVICE=reporting -t gridloop/reporting:dev .
# SERVICE is one of reporting, dispatch, ledger, notification (the four services) or gateway
# (the web front end and /api/<service>/…); the build context is the repository root, the uv
# workspace. An image holds the runtime library and that one package with their locked
# dependencies, nothing of the tooling (no typer, rich or pytest). The gateway's image also holds
# the built front end (web/dist, built in a Node stage that no image keeps: no Node, no npm, no
# node_modules at run time).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG NODE_IMAGE=node:20-bookworm-slim
# Global, so that the last FROM can pick the image's stage (runtime-${SERVICE}).
ARG SERVICE

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN case "${SERVICE}" in reporting|dispatch|ledger|notification|gateway) ;; \
      *) echo "build with --build-arg SERVICE=reporting|dispatch|ledger|notification|gateway" >&2; exit 1 ;; esac
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
COPY services/gateway/pyproject.toml services/gateway/
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

# ------------------------------------------------- web stage (the gateway's image only)
# The rider's app (/) and the staff console (/console/), one Vite build into /web/dist, exactly
# the npm packages of web/package-lock.json. BuildKit builds this stage only for SERVICE=gateway
# (no other image refers to it).
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

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

# ---------------------------------------------- what sets one image apart
# The four services need nothing beyond the runtime stage.
FROM runtime AS runtime-reporting
FROM runtime AS runtime-dispatch
FROM runtime AS runtime-ledger
FROM runtime AS runtime-notification

# The gateway: the built front end, read-only (owned by root). It reads GATEWAY_* only (no
# GRIDLOOP_HOST / GRIDLOOP_PORT fallback), hence its own bind address and port.
FROM runtime AS runtime-gateway
COPY --from=web --chown=root:root /web/dist /app/web
ENV GATEWAY_WEB_DIR=/app/web \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000

# ------------------------------------------------------------------ the image
# Picked by SERVICE (another value fails here: there is no stage runtime-<value>); BuildKit
# builds only the stages this one depends on, so no service image waits for the web build.
FROM runtime-${SERVICE}
