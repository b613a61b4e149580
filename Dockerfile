# syntax=docker/dockerfile:1
#
# The gateway's image: every role, the simulator and the CLI, as `gateway …`.
#
#   docker build -t vendor-gateway .
#   docker run --rm --read-only --tmpfs /tmp -v gateway-data:/var/lib/gateway \
#       -p 8080:8080 -p 9464:9464 vendor-gateway run --role all
#
# Two stages on the same slim Python 3.11 base: `build` resolves the locked dependencies
# (uv.lock, the uv version the Makefile pins) into a virtualenv at /opt/gateway and installs
# the project into it as a regular package; the final stage gets that virtualenv and nothing
# else: no uv, no pip, no compiler, no source tree. It runs as uid 10001 and works with a
# read-only root filesystem: bytecode is compiled at build time, and the only places written
# are /tmp and /var/lib/gateway (the SQLite idempotency store), which must be mounted.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/gateway
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# The dependencies alone first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-install-project
COPY README.md ./
COPY gateway ./gateway
# The project itself, not editable: the final stage has no /src.
RUN uv sync --frozen --no-editable \
    && /opt/gateway/bin/gateway --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="vendor-gateway" \
      org.opencontainers.image.description="Event-driven gateway between a Kafka bus and a video-conferencing vendor's HTTP API"
# No package manager is needed at run time; the user owns only its data directory.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
        --home-dir /var/lib/gateway --shell /usr/sbin/nologin gateway \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway
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
