from app.contract.jobs import ALLOWED_TRANSITIONS, JobStatus, can_transition, new_job_id


def test_terminal_statuses_allow_no_transition() -> None:
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED):
        assert status.is_terminal
        assert all(not can_transition(status, target) for target in JobStatus)


def test_queued_can_start_cancel_or_fail_but_not_complete() -> None:
    assert ALLOWED_TRANSITIONS[JobStatus.QUEUED] == {
        JobStatus.PROCESSING,
        JobStatus.CANCELED,
        JobStatus.FAILED,
    }
    assert not can_transition(JobStatus.QUEUED, JobStatus.COMPLETED)


def test_every_status_has_a_row() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(JobStatus)


def test_job_ids_are_128_random_bits() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
