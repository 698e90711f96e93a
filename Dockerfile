# One image for every Lifeline service; docker-compose.yml picks the service with
# `command: ["python", "-m", "lifeline_<service>"]`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LIFELINE_HOST=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install . && useradd --create-home --uid 10001 lifeline

USER lifeline
EXPOSE 8001 8002 8003 8004 8005 8006
CMD ["python", "-m", "lifeline_ingest"]
