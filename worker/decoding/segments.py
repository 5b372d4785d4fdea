"""faster-whisper's segment tuples -> our pydantic `Segment` (rounded, clamped to the audio)."""

from __future__ import annotations

from typing import Any

from app.contract.jobs import Segment, Word


def to_segment(
    index: int, seg: Any, duration: float, channel: int | None = None, words: bool = True
) -> Segment:
    """`words=False` leaves out the words faster-whisper aligned (the batched path aligns them
    to cut sentences even when the job did not ask for them)."""
    word_list = None
    if words and seg.words is not None:
        word_list = [
            Word(
                start=round(w.start, 3),
                end=round(min(w.end, duration), 3),
                word=w.word,
                probability=round(w.probability, 4),
            )
            for w in seg.words
        ]
    return Segment(
        id=index,
        seek=int(seg.seek),
        start=round(seg.start, 3),
        end=round(min(seg.end, duration), 3),
        text=seg.text,
        tokens=list(seg.tokens),
        temperature=float(seg.temperature or 0.0),
        avg_logprob=seg.avg_logprob,
        no_speech_prob=seg.no_speech_prob,
        compression_ratio=seg.compression_ratio,
        words=word_list,
        channel=channel,
    )
