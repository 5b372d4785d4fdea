"""faster-whisper's batched pipeline, decoding its chunks in steps that last a few seconds.

The library decodes `batch_size` chunks per model call and yields nothing until the call ends: a
3-minute recording is one batch, so its segments arrive all at the end, and a cancel waits for the
whole batch. Here the first step is small (the first segments come early) and each later step
holds as many chunks as the last step's speed says fit in `STEP_SECONDS`, never more than
`batch_size`: on a GPU that is the whole batch, on a CPU a few chunks. The price on a CPU:
measured, base int8 on 2 cores, 176 s of speech in 6 chunks, steps of 1, 2, 4 and 8 chunks took
8.6, 6.4, 5.8 and 5.5 s (a call costs about one chunk's time on top of its chunks'). Between
steps the caller's segment callback runs, so a cancel is seen within one step.

Only `_batched_segments_generator` is replaced; each step is the library's own `forward`. Other
step sizes could move a chunk's words only through the numbers of a differently shaped call:
measured, none moved (0.0 WER against the library's batch of 8 on 176 s here), and
`tests/worker/decoding/test_batched_path.py` bounds it at 1 %. No Celery, FastAPI or Redis in here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from faster_whisper import BatchedInferencePipeline
from faster_whisper.transcribe import Segment, Word

STEP_SECONDS = 5.0  # how long a step should take: how late a cancel or a live segment may be
FIRST_STEP = 2  # chunks in the first step, before the speed is known


@dataclass
class StepSizer:
    """How many chunks the next step decodes, from how fast the last step went."""

    most: int
    seconds: float = STEP_SECONDS
    per_chunk: float | None = None

    def next(self, left: int) -> int:
        """Chunks for the next step, `left` chunks still to decode. A remainder of half a step
        or less joins this step (a step of one or two chunks costs nearly as much as one of
        four: most of a call's time is per call, not per chunk, on a CPU)."""
        if self.per_chunk is None:
            count = max(1, min(FIRST_STEP, self.most))
        else:
            count = max(1, min(self.most, int(self.seconds / max(self.per_chunk, 1e-6))))
        if left - count <= count // 2 and left <= self.most:
            return left
        return min(count, left)

    def observe(self, chunks: int, seconds: float) -> None:
        self.per_chunk = seconds / chunks


class SteppedPipeline(BatchedInferencePipeline):  # type: ignore[misc]
    """`BatchedInferencePipeline` whose chunks are decoded in steps sized by `StepSizer`."""

    def _batched_segments_generator(
        self,
        features: Any,
        tokenizer: Any,
        chunks_metadata: list[dict[str, Any]],
        batch_size: int,
        options: Any,
        log_progress: bool,  # noqa: ARG002
    ) -> Iterator[Segment]:
        sizer = StepSizer(most=batch_size)
        index, at = 0, 0
        while at < len(features):
            count = sizer.next(len(features) - at)
            started = time.monotonic()
            results = self.forward(
                features[at : at + count], tokenizer, chunks_metadata[at : at + count], options
            )
            sizer.observe(len(results), time.monotonic() - started)
            at += count
            for result in results:
                for segment in result:
                    index += 1
                    yield _segment(index, segment, options)
        self.last_speech_timestamp = 0.0


def _segment(index: int, segment: dict[str, Any], options: Any) -> Segment:
    """As the library's generator builds it."""
    words = None
    if options.word_timestamps:
        words = [Word(**word) for word in segment["words"]]
    return Segment(
        seek=segment["seek"],
        id=index,
        text=segment["text"],
        start=round(segment["start"], 3),
        end=round(segment["end"], 3),
        words=words,
        tokens=segment["tokens"],
        avg_logprob=segment["avg_logprob"],
        no_speech_prob=segment["no_speech_prob"],
        compression_ratio=segment["compression_ratio"],
        temperature=options.temperatures[0],
    )
