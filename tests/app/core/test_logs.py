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
