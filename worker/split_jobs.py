"""Long recordings across workers: a job `SplitPolicy` applies to (by default, a long one when
more than one model call is live for its model) is cut at silences into parts, each an ordinary
job of its own (`app.storage.job_parts`) that any free worker for the model takes from the
queue, and the parts' results are merged, with their time offsets, into the job's own result.

The run that cuts the job (its "parent" run) decodes parts too: it claims queued parts in order
and runs them itself, then waits for those other workers hold, merging each part as soon as every
part before it is merged — so the job's segments and progress reach its stream in time order.
A part is retried, recovered and counted as any job is; a failed part fails the job; a cancel of
the job cancels its parts; a parent run that dies is re-run like any job and finds the same plan
and parts. The language is detected once, on what the whole run would detect it on
(`WhisperEngine.detect_language`), and every part is decoded in it.

No Celery here; the caller passes how a part is queued and how a claimed part is run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.contract.errors import WhisperJobsError
from app.contract.jobs import (
    Job,
    JobOptions,
    JobStatus,
    Segment,
    TranscriptResult,
    new_job_id,
    utcnow,
)
from app.core.uploads import UploadStore
from app.storage.job_parts import PARTS_OWNER, Part, PartsPlan
from app.storage.kombu_layout import QueuedMessage
from app.storage.store import JobStore
from worker.decoding.audio import SAMPLE_RATE, decode, write_wav
from worker.decoding.engine import Detected, decode_options
from worker.split_cuts import chunk_cuts, plan_cuts, silences_of

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how soon the run that cut the job sees a part another worker ended
ENDED_WITHOUT_RESULT = (JobStatus.FAILED, JobStatus.CANCELED)


class PartsEngine(Protocol):
    """What a split run asks of the engine (`worker.decoding.engine.WhisperEngine`)."""

    def detect_language(self, audio: Any, options: JobOptions, batched: bool) -> Detected: ...

    def use_batched(self, options: JobOptions, duration: float) -> bool: ...


#: With no split settings, a job is cut when the batched pipeline decodes it (its cuts then fall
#: where that pipeline's chunks begin, so the words stay the whole run's), it is two parts long
#: at least, and the live workers for its model run two calls or more at once; in
#: `PARTS_PER_SLOT` parts per such call.
MIN_PART_SECONDS = 30.0
AUTO_MIN_SECONDS = 2 * MIN_PART_SECONDS
PARTS_PER_SLOT = 2


def _one_slot(model: str) -> int:  # noqa: ARG001 (the signature of `SplitPolicy.live_slots`)
    return 1


@dataclass(frozen=True)
class SplitPolicy:
    """When a job is cut, and in parts of what length. `min_seconds` None: when it pays and
    keeps the words (see `AUTO_MIN_SECONDS`); 0: never.
    `part_seconds` None: the length shared out, `PARTS_PER_SLOT` parts per live call, so the
    parts keep every call busy and the last to end is short (parts are pulled as calls free
    up)."""

    min_seconds: float | None = 0.0
    part_seconds: float | None = 150.0
    #: model -> the model calls its live workers run at once (`app.storage.liveness`)
    live_slots: Callable[[str], int] = _one_slot

    def applies(self, job: Job, batched: bool) -> bool:
        """Long audio of known length, one track (split channels run whole), not diarized (its
        speakers must be one set across the recording: it runs whole). `batched`: the batched
        pipeline would decode it."""
        seconds = job.audio_seconds or 0.0
        if (
            job.owner == PARTS_OWNER
            or job.options.channels != "mix"
            or job.options.task == "detect_language"
            or job.options.diarize
            or job.source_url is not None
            or seconds <= 0
        ):
            return False
        if self.min_seconds is None:
            return (
                batched and seconds > AUTO_MIN_SECONDS and self.live_slots(job.options.model) >= 2
            )
        return self.min_seconds > 0 and seconds > self.min_seconds

    def part_length(self, job: Job) -> float:
        if self.part_seconds is not None:
            return self.part_seconds
        calls = max(1, self.live_slots(job.options.model))
        return max(MIN_PART_SECONDS, (job.audio_seconds or 0.0) / (PARTS_PER_SLOT * calls))


class SplitRun:
    """One run of a long job: plan (or find) its parts, decode what it can, merge, end it."""

    def __init__(
        self,
        job: Job,
        store: JobStore,
        uploads: UploadStore,
        policy: SplitPolicy,
        engine: PartsEngine,
        queue_part: Callable[[Job], QueuedMessage],
        run_part: Callable[[str, Callable[[], bool]], None],
    ) -> None:
        self.job, self.store, self.uploads, self.policy = job, store, uploads, policy
        self.engine, self.queue_part, self.run_part = engine, queue_part, run_part

    def run(self) -> TranscriptResult | None:
        """The merged result (the caller completes the job with it), or None when the job
        ended otherwise (canceled, or failed with its part's error)."""
        plan, audio = self.store.parts.get(self.job.id), None
        if plan is None:
            plan, audio = self._plan()
        self._ensure_parts(plan, audio)
        del audio
        merged: list[Segment] = []
        done = 0
        while True:
            if not self._still_running():
                self._cancel_parts(plan)
                return None
            parts = [self.store.get(p.job_id, with_result=False) for p in plan.parts]
            while done < len(parts) and _status(parts[done]) is JobStatus.COMPLETED:
                if not self._merge(plan.parts[done], merged):
                    self._cancel_parts(plan)
                    return None
                done += 1
            if done == len(parts):
                return self._result(plan, merged)
            failed = [p for p in parts if p is None or p.status in ENDED_WITHOUT_RESULT]
            if failed:
                self._cancel_parts(plan)
                raise _PartFailed(failed[0])
            queued = next((p for p in parts if _status(p) is JobStatus.QUEUED), None)
            if queued is not None:
                self.run_part(queued.id, lambda: not self._still_running())
            else:
                time.sleep(POLL_SECONDS)

    def _still_running(self) -> bool:
        current = self.store.get(self.job.id, with_result=False)
        return current is not None and current.status is JobStatus.PROCESSING

    def _plan(self) -> tuple[PartsPlan, np.ndarray]:
        started = time.perf_counter()
        audio = decode(self.uploads.path(self.job.id))[0]
        options = self.job.options
        # The cuts (VAD over the whole recording, in onnxruntime) and the language (the model's
        # encoder, in CTranslate2, after VAD of its own for a batched job) at once: both let go
        # of the GIL, and no part can start before both are known, while every other worker
        # waits.
        with ThreadPoolExecutor(1, thread_name_prefix="cuts") as pool:
            cutting = pool.submit(self._cuts, audio)
            detected = (
                self.engine.detect_language(audio, options, self._batched())
                if options.language is None
                else None
            )
            cuts = cutting.result()
        bounds = [0, *cuts, len(audio)]
        parts = [
            Part(new_job_id(), a / SAMPLE_RATE, b / SAMPLE_RATE)
            for a, b in zip(bounds, bounds[1:], strict=False)
        ]
        plan = PartsPlan(
            parts=parts,
            language=detected.language if detected else options.language,
            language_probability=detected.language_probability if detected else 1.0,
            language_probabilities=list(detected.all_language_probs[:5]) if detected else [],
        )
        plan = self.store.parts.plan(self.job.id, plan)  # an earlier run's plan wins
        logger.info(
            "job %s: %.0f s cut into %d parts (planned in %.1f s)",
            self.job.id,
            len(audio) / SAMPLE_RATE,
            len(plan.parts),
            time.perf_counter() - started,
        )
        return plan, audio

    def _cuts(self, audio: np.ndarray) -> list[int]:
        if self._batched():
            vad = decode_options(self.job.options)["vad_parameters"]
            return chunk_cuts(audio, self.policy.part_length(self.job), vad)
        return plan_cuts(audio, self.policy.part_length(self.job), silences_of)

    def _batched(self) -> bool:
        """The whole job's choice, kept by every part (with `batched=auto`, a short part would
        otherwise be decoded the other way)."""
        return self.engine.use_batched(self.job.options, self.job.audio_seconds or 0.0)

    def _ensure_parts(self, plan: PartsPlan, audio: np.ndarray | None) -> None:
        """Every part's job exists, with its audio (a run that died mid-way left some out)."""
        batched = "true" if self._batched() else "false"
        for part in plan.parts:
            if self.store.get(part.job_id, with_result=False) is not None:
                continue
            if audio is None:
                audio = decode(self.uploads.path(self.job.id))[0]
            a, b = round(part.start * SAMPLE_RATE), round(part.end * SAMPLE_RATE)
            write_wav(self.uploads.path(part.job_id), audio[a:b])
            # Readable by every worker (a bucket: sent there, and the local copy dropped).
            self.uploads.publish(part.job_id)
            self.uploads.release(part.job_id)
            options = self.job.options.model_copy(
                update={"language": plan.language, "batched": batched}
            )
            child = Job(
                id=part.job_id,
                status=JobStatus.QUEUED,
                created_at=utcnow(),
                options=options,
                owner=PARTS_OWNER,
                audio_seconds=part.end - part.start,
                filename=self.job.filename,
            )
            self.store.create(child, None, self.queue_part(child))

    def _merge(self, part: Part, merged: list[Segment]) -> bool:
        """The part's segments, moved to the job's time, appended and published in order."""
        done = self.store.get(part.job_id)
        assert done is not None and done.result is not None
        duration = self.job.audio_seconds or 1.0
        for segment in done.result.segments:
            moved = _shifted(segment, part.start, len(merged))
            merged.append(moved)
            if not self.store.record_segment(self.job.id, moved, min(moved.end / duration, 1.0)):
                return False
        return True

    def _result(self, plan: PartsPlan, merged: list[Segment]) -> TranscriptResult:
        options = self.job.options
        result = TranscriptResult(
            model=options.model,
            task=options.task,
            language=plan.language,
            language_probability=round(plan.language_probability, 4),
            duration=round(plan.parts[-1].end, 3),
            text="".join(s.text for s in merged).strip(),
            segments=merged,
            batched=self._batched(),
        )
        if options.language is None and plan.language_probabilities:
            from app.contract.jobs import LanguageProbability

            result.language_probabilities = [
                LanguageProbability(language=lang, probability=round(p, 4))
                for lang, p in plan.language_probabilities
            ]
        return result

    def _cancel_parts(self, plan: PartsPlan) -> None:
        for part in plan.parts:
            with suppress(WhisperJobsError):  # ended already, or gone
                self.store.mark_canceled(part.job_id)


class _PartFailed(WhisperJobsError):
    """A part failed (after its own attempts): the job fails with the part's error."""

    def __init__(self, part: Job | None) -> None:
        error = part.error if part is not None else None
        super().__init__(error.message if error else "A part of the job ended without a result.")
        self.code = error.code if error else "internal_error"


def _status(job: Job | None) -> JobStatus | None:
    return None if job is None else job.status


def _shifted(segment: Segment, offset: float, index: int) -> Segment:
    moved = segment.model_copy(deep=True)
    moved.id = index
    moved.start, moved.end = round(segment.start + offset, 3), round(segment.end + offset, 3)
    for word in moved.words or []:
        word.start, word.end = round(word.start + offset, 3), round(word.end + offset, 3)
    return moved


@dataclass(frozen=True)
class LongJobSplitter:
    """The runner's `LongJobs`: runs the jobs `policy` applies to in parts."""

    policy: SplitPolicy
    store: JobStore
    uploads: UploadStore
    engine: PartsEngine
    queue_part: Callable[[Job], QueuedMessage]
    run_part: Callable[[str, Callable[[], bool]], None]

    def applies(self, job: Job) -> bool:
        batched = self.engine.use_batched(job.options, job.audio_seconds or 0.0)
        return self.policy.applies(job, batched)

    def run(self, job: Job) -> TranscriptResult | None:
        return SplitRun(
            job, self.store, self.uploads, self.policy, self.engine, self.queue_part, self.run_part
        ).run()
