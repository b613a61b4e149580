# syntax=docker/dockerfile:1
#
# The gateway's image: every role, the simulator and the CLI, as `gateway …`.
#
#   docker build -t vendor-gateway .
#   docker run --rm --read-only --tmpfs /tmp -v gateway-data:/var/lib/gateway \
#       -p 8080:8080 -p 9464:9464 vendor-gateway run --role all
#
# Stages on the same slim Python 3.11 base, pinned by digest: `build` resolves the locked
# runtime dependencies (uv.lock, no dev extras) into a virtualenv at /opt/gateway with uv
# (installed from its wheel hashes) and installs the project into it as a regular package;
# `production-venv` removes the vendor simulator from it; `runtime` (the default target, the
# last stage) gets that virtualenv and nothing else: no simulator, no test packages, no uv, no
# pip, no compiler, no source tree. `simulator` is the same with the simulator kept, for
# docker compose and demos (`docker build --target simulator`). They run as uid 10001 and work
# with a read-only root filesystem: bytecode is compiled at build time, and the only places
# written are /tmp and /var/lib/gateway (the SQLite idempotency store), which must be mounted.

# The multi-architecture index of python:3.11.14-slim-bookworm; renew the tag and digest
# together (`docker buildx imagetools inspect python:3.11-slim-bookworm`).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/gateway
# uv, only if its wheel has one of the listed sha256 hashes (the Makefile's UV_VERSION).
COPY deploy/docker/uv-requirements.txt /tmp/uv-requirements.txt
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: --no-deps \
        -r /tmp/uv-requirements.txt
WORKDIR /src
# The dependencies alone first: this layer is rebuilt only when the lock changes. Only the
# runtime dependencies: the dev and bench extras (pytest, hypothesis, ...) stay out.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY gateway ./gateway
# The published JSON Schemas: the wheel carries them as gateway/published_schemas/
# (pyproject.toml), for `gateway schemas --check` outside the repository.
COPY schemas ./schemas
# The project itself, not editable: the final stage has no /src. The check holds the packaged
# schemas against the installed models.
RUN uv sync --frozen --no-dev --no-editable \
    && /opt/gateway/bin/gateway --help > /dev/null \
    && /opt/gateway/bin/gateway schemas --check \
        --out /opt/gateway/lib/python3.11/site-packages/gateway/published_schemas

# The production virtualenv: without the vendor simulator (a development tool).
FROM build AS production-venv
RUN rm -r /opt/gateway/lib/python3.11/site-packages/gateway/simulator \
    && /opt/gateway/bin/gateway --help > /dev/null \
    && /opt/gateway/bin/python -c "import gateway.app.runner" \
    && if /opt/gateway/bin/python -c "import gateway.simulator" 2> /dev/null; then exit 1; fi

FROM ${PYTHON_IMAGE} AS runtime-base
LABEL org.opencontainers.image.title="vendor-gateway" \
      org.opencontainers.image.description="Event-driven gateway between a Kafka bus and a video-conferencing vendor's HTTP API"
# No package manager is needed at run time; the user owns only its data directory.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
        --home-dir /var/lib/gateway --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    GATEWAY_IDEMPOTENCY__SQLITE_PATH=/var/lib/gateway/idempotency.sqlite3 \
    GATEWAY_WEBHOOKS__HOST=0.0.0.0 \
    GATEWAY_OPS__HOST=0.0.0.0
WORKDIR /var/lib/gateway
USER 10001:10001
# 8080: the webhooks API (GATEWAY_WEBHOOKS__PORT); 9464: /healthz, /readyz, /metrics of
# every `gateway run` process (GATEWAY_OPS__PORT).
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_OPS__PORT', '9464'), timeout=4)"]
ENTRYPOINT ["gateway"]
CMD ["run", "--role", "all"]

# The vendor simulator (docker compose, demos): the whole virtualenv. Not for production.
FROM runtime-base AS simulator
COPY --from=build /opt/gateway /opt/gateway
EXPOSE 9610
# It serves no /healthz (docker compose checks its scenario API instead).
HEALTHCHECK NONE
CMD ["simulator", "--host", "0.0.0.0", "--port", "9610"]

# The production image (the default target).
FROM runtime-base AS runtime
COPY --from=production-venv /opt/gateway /opt/gateway
