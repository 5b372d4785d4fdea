# The API image: FastAPI + Celery producer only. No CTranslate2, no faster-whisper, no model.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /srv
# An unprivileged user owns only /data (uploads, the assembled models); the code is read-only.
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin whisper \
    && mkdir -p /data && chown whisper /data

# Dependencies first (cached layer), then the code. No extras: the worker's stack stays out.
COPY pyproject.toml uv.lock README.md ./
# The client distribution (a workspace member the server depends on).
COPY client ./client
RUN uv sync --locked --no-dev --no-install-project
COPY app ./app
COPY worker ./worker
RUN uv sync --locked --no-dev

ENV PATH=/srv/.venv/bin:$PATH \
    WHISPER_JOBS_API_HOST=0.0.0.0 \
    WHISPER_JOBS_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]
USER 10001
CMD ["whisper-jobs", "api"]
