"""Each worker host's own leftovers, when uploads live in a bucket: a run drops its working copy
when it ends, but a worker killed mid-job leaves one in its data directory, which the bucket's
sweep (run by whichever worker takes it) cannot see from another host. So every worker's main
process looks through its own copies every sweep interval and drops those whose job ended or is
gone. It never touches the bucket (`worker.sweep` does) nor a copy a job still runs on.
"""

from __future__ import annotations

import logging
import threading
import time

from app.core.config import Settings
from app.core.uploads import UploadStore, files_before
from app.storage.clients import redis_client
from app.storage.records import is_job_id
from app.storage.store import JobStore

logger = logging.getLogger(__name__)
COPIES_PER_PASS = 1000


def drop_finished_copies(store: JobStore, uploads: UploadStore, older_than_seconds: float) -> int:
    """Drop working copies older than `older_than_seconds` whose job ended or is gone: how many."""
    dropped = 0
    cutoff = time.time() - older_than_seconds
    for name in files_before(uploads.directory, cutoff, COPIES_PER_PASS):
        if not is_job_id(name):
            continue
        job = store.get(name, with_result=False)
        if job is None or job.status.is_terminal:
            uploads.release(name)
            dropped += 1
    return dropped


class WorkingCopySweeper:
    def __init__(self, settings: Settings) -> None:
        self.interval = settings.sweep_interval_seconds
        self.store = JobStore(redis_client(settings), settings.result_ttl_seconds)
        self.uploads = settings.uploads
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="working-copies", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if dropped := drop_finished_copies(self.store, self.uploads, self.interval):
                    logger.info("dropped %d working copies of ended jobs", dropped)
            except Exception as e:  # Redis away: the next pass goes on
                logger.warning("working copies not swept: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.store.redis.close()
