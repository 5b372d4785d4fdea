"""Speakers onto a transcript: each word takes the speaker it overlaps most, and a segment whose
words change speaker is cut there, so no segment spans two speakers.

Needs the segment's words (the engine aligns them when a job diarizes, and drops them after
when the job did not ask for them). A cut segment's pieces keep its decoding figures
(`avg_logprob`...) and leave `tokens` empty: those belong to the whole. Pure functions over the
contract's types; who speaks when is `speaker_turns`'s.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from app.contract.jobs import Segment, SpeakerTime, Word
from worker.diarization.speaker_turns import Turn


def speaker_at(turns: Sequence[Turn], start: float, end: float) -> str | None:
    """The speaker who overlaps [start, end] most; with none overlapping, the nearest turn's."""
    if not turns:
        return None
    starts = [t.start for t in turns]
    first = max(0, bisect_right(starts, start) - 1)
    best, overlap = None, 0.0
    for turn in turns[first:]:
        if turn.start > end:
            break
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > overlap:
            best, overlap = turn.speaker, shared
    if best is not None:
        return best
    middle = (start + end) / 2
    nearest = min(turns, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
    return nearest.speaker


def split_at_turns(segment: Segment, turns: Sequence[Turn], keep_words: bool) -> list[Segment]:
    """The segment, or its pieces where the speaker changes, each with `speaker` set."""
    words = segment.words or []
    if not words:
        speaker = speaker_at(turns, segment.start, segment.end)
        return [segment.model_copy(update={"speaker": speaker, "words": None})]
    labelled = [w.model_copy(update={"speaker": speaker_at(turns, w.start, w.end)}) for w in words]
    runs: list[list[Word]] = []
    for word in labelled:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    if len(runs) == 1:
        return [
            segment.model_copy(
                update={"speaker": runs[0][0].speaker, "words": labelled if keep_words else None}
            )
        ]
    pieces = []
    for i, run in enumerate(runs):
        pieces.append(
            segment.model_copy(
                update={
                    "start": segment.start if i == 0 else run[0].start,
                    "end": segment.end if i == len(runs) - 1 else run[-1].end,
                    "text": "".join(w.word for w in run),
                    "tokens": [],
                    "speaker": run[0].speaker,
                    "words": run if keep_words else None,
                }
            )
        )
    return pieces


def speaker_times(segments: Sequence[Segment]) -> list[SpeakerTime]:
    """Each speaker's summed segment time, in order of first speech."""
    seconds: dict[str, float] = {}
    for segment in segments:
        if segment.speaker is not None:
            seconds[segment.speaker] = seconds.get(segment.speaker, 0.0) + (
                segment.end - segment.start
            )
    return [SpeakerTime(speaker=s, seconds=round(t, 3)) for s, t in seconds.items()]
