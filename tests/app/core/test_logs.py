"""JSON log lines: one object per line, tagged with the job they are about."""

import json
import logging

import pytest

from app.core.logs import JsonFormatter, job_context


@pytest.fixture
def lines() -> list[str]:
    captured: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield captured
    logger.removeHandler(handler)


def test_a_line_is_one_json_object_with_the_job_id_of_its_context(lines: list[str]) -> None:
    logger = logging.getLogger("tests.logs")
    with job_context("job-1"):
        logger.info("decoding %s", "x", extra={"audio_seconds": 11.0})
    logger.info("outside")
    inside, outside = (json.loads(line) for line in lines)
    assert inside["message"] == "decoding x" and inside["job_id"] == "job-1"
    assert inside["level"] == "INFO" and inside["logger"] == "tests.logs"
    assert inside["audio_seconds"] == 11.0 and inside["time"].endswith("+00:00")
    assert "job_id" not in outside


def test_extra_job_id_and_exceptions(lines: list[str]) -> None:
    logger = logging.getLogger("tests.logs")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed", extra={"job_id": "job-2"})
    (entry,) = (json.loads(line) for line in lines)
    assert entry["job_id"] == "job-2" and entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]


def record(
    name: str, message: str, args: tuple = (), level: int = logging.INFO
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_probe_and_sweep_chatter_is_left_out_and_everything_else_kept() -> None:
    from app.core.logs import ProbeFilter, SweepFilter

    access = '%s - "%s %s HTTP/%s" %d'
    probes, sweeps = ProbeFilter(), SweepFilter()
    assert not probes.filter(record("uvicorn.access", access, ("h", "GET", "/readyz", "1.1", 503)))
    assert not probes.filter(
        record("uvicorn.access", access, ("h", "GET", "/healthz?x", "1.1", 200))
    )
    assert probes.filter(record("uvicorn.access", access, ("h", "POST", "/v1/jobs", "1.1", 202)))
    assert not sweeps.filter(record("celery.app.trace", "Task whisper_jobs.sweep[1] succeeded"))
    assert not sweeps.filter(record("celery.beat", "Sending due task sweep-stuck-jobs"))
    assert sweeps.filter(record("celery.app.trace", "Task whisper_jobs.transcribe[1] succeeded"))
    failed = record("celery.app.trace", "Task whisper_jobs.sweep[1] raised", level=logging.ERROR)
    assert sweeps.filter(failed)
