"""Reference speaker turns (RTTM) and the diarization error rate against them, computed by
pyannote.metrics (the maintained implementation), for tests and `make bench`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyannote.core import Annotation, Timeline
from pyannote.core import Segment as Span
from pyannote.metrics.diarization import DiarizationErrorRate

DATA = Path(__file__).parent / "data"
TWO_SPEAKERS = DATA / "two-speakers.flac"


def rttm_turns(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of each `SPEAKER` line."""
    turns = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, length = float(fields[3]), float(fields[4])
            turns.append((start, start + length, fields[7]))
    return turns


def _annotation(turns: Iterable[tuple[float, float, str]]) -> Annotation:
    annotation = Annotation()
    for start, end, speaker in turns:
        annotation[Span(start, end)] = speaker
    return annotation


def der(
    reference: Iterable[tuple[float, float, str]], hypothesis: Iterable[tuple[float, float, str]]
) -> float:
    """DER with a collar of 0.25 s each side of a reference boundary (pyannote's `collar` is
    the whole width), overlapped speech left out, the optimal speaker mapping."""
    metric = DiarizationErrorRate(collar=0.5, skip_overlap=True)
    ref, hyp = _annotation(reference), _annotation(hypothesis)
    extent = ref.get_timeline().extent() | hyp.get_timeline().extent()  # all that was said
    return float(metric(ref, hyp, uem=Timeline([extent])))
