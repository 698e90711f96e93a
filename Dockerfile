# One image per Lifeline service: `docker build --build-arg SERVICE=replay .` installs
# that service's closure from uv.lock (the libraries it declares, nothing from tools/
# and no dev group), non-editable, into /app/.venv. docker-compose.yml builds one image
# per service this way.
FROM python:3.11-slim

ARG SERVICE=ingest
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    LIFELINE_HOST=0.0.0.0 \
    LIFELINE_SERVICE=${SERVICE} \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
RUN pip install 'uv>=0.5'
# uv checks the whole workspace against the lock, so every member's pyproject is
# present; only the chosen service's closure is installed.
COPY pyproject.toml uv.lock README.md ./
COPY libs ./libs
COPY services ./services
COPY tools ./tools
RUN uv sync --frozen --no-dev --no-editable --package "lifeline-${SERVICE}" \
    && useradd --create-home --uid 10001 lifeline

USER lifeline
EXPOSE 8001 8002 8003 8004 8005 8006
CMD ["sh", "-c", "exec python -m lifeline_${LIFELINE_SERVICE}"]
