"""Transcript output formats: text, SRT, WebVTT, TSV and OpenAI's `verbose_json`.

Subtitle cues respect `max_line_width` (characters per line), `max_line_count` (lines per cue) and
`max_cue_seconds`; a long segment is split on word boundaries, at the words' own times when word
timestamps exist, else at times interpolated by character count. Unless asked otherwise, cues
follow the Netflix Timed Text Style Guide's general requirements (`SUBTITLE_DEFAULTS`: at most 42
characters a line, 2 lines and 7 seconds a cue), which most platforms' guides share.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.contract.jobs import Job, Segment, TranscriptResult, Word
from app.contract.languages import LANGUAGE_NAMES

# The registry of output formats is at the end of this module (`FORMATS`): a new format is one
# entry there, which the API (validation, media type, OpenAPI), the console (`GET /v1/formats`)
# and the client's check all read.


def download_name(job: Job, fmt: str) -> str:
    """`<upload's stem>.<extension>` with only safe characters (the job id without a name)."""
    stem = Path(job.filename or job.id).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or job.id
    return f"{safe}.{FORMATS[fmt].extension}"


@dataclass(frozen=True)
class CueLimits:
    max_line_width: int | None = None
    max_line_count: int | None = None
    max_cue_seconds: float | None = None


# https://partnerhelp.netflixstudios.com/hc/en-us/articles/215758617 (Timed Text Style Guide:
# General Requirements): 42 characters per line, 2 lines, a duration of at most 7 seconds.
SUBTITLE_DEFAULTS = CueLimits(max_line_width=42, max_line_count=2, max_cue_seconds=7.0)


def subtitle_limits(
    max_line_width: int | None = None,
    max_line_count: int | None = None,
    max_cue_seconds: float | None = None,
) -> CueLimits:
    """The limits asked for, each one not given at its `SUBTITLE_DEFAULTS` value."""
    d = SUBTITLE_DEFAULTS
    return CueLimits(
        d.max_line_width if max_line_width is None else max_line_width,
        d.max_line_count if max_line_count is None else max_line_count,
        d.max_cue_seconds if max_cue_seconds is None else max_cue_seconds,
    )


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: list[str]
    speaker: str | None = None


def _said(segment: Segment) -> str:
    """The segment's text, after its speaker (`A: `) when it has one."""
    text = segment.text.strip()
    return f"{segment.speaker}: {text}" if segment.speaker else text


def to_text(result: TranscriptResult) -> str:
    return "".join(f"{_said(s)}\n" for s in result.segments)


def to_tsv(result: TranscriptResult) -> str:
    # openai-whisper's WriteTSV: integer milliseconds, tabs in text replaced; a speaker column
    # before the text when the job has speakers.
    speakers = any(s.speaker for s in result.segments)
    rows = ["start\tend\tspeaker\ttext" if speakers else "start\tend\ttext"]
    for s in result.segments:
        text = s.text.strip().replace("\t", " ")
        who = f"{s.speaker or ''}\t" if speakers else ""
        rows.append(f"{round(1000 * s.start)}\t{round(1000 * s.end)}\t{who}{text}")
    return "\n".join(rows) + "\n"


def to_diarized_json(result: TranscriptResult) -> dict[str, Any]:
    """OpenAI's `diarized_json` shape (`gpt-4o-transcribe-diarize`), key for key."""
    return {
        "task": "transcribe",
        "duration": result.duration,
        "text": result.text,
        "segments": [
            {
                "type": "transcript.text.segment",
                "id": f"seg_{s.id}",
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "speaker": s.speaker or "A",
            }
            for s in result.segments
        ],
    }


def to_verbose_json(result: TranscriptResult) -> dict[str, Any]:
    """OpenAI's `verbose_json` shape, key for key."""
    body: dict[str, Any] = {
        "task": result.task,
        "language": LANGUAGE_NAMES.get(result.language or "", result.language or ""),
        "duration": result.duration,
        "text": result.text,
        "segments": [
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": s.tokens,
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
                **({"speaker": s.speaker} if s.speaker else {}),
            }
            for s in result.segments
        ],
    }
    words = [w for s in result.segments for w in (s.words or [])]
    if any(s.words is not None for s in result.segments):
        body["words"] = [{"word": w.word, "start": w.start, "end": w.end} for w in words]
    return body


def _timestamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _wrap(text: str, width: int | None) -> list[str]:
    text = " ".join(text.split())
    if not width:
        return [text]
    return textwrap.wrap(text, width=width, break_long_words=False) or [text]


def _fits(text: str, start: float, end: float, limits: CueLimits) -> bool:
    if limits.max_cue_seconds is not None and end - start > limits.max_cue_seconds:
        return False
    if limits.max_line_count is not None:
        return len(_wrap(text, limits.max_line_width)) <= limits.max_line_count
    return True


def _words_of(segment: Segment) -> list[Word]:
    if segment.words:
        return segment.words
    # No word timings: spread the segment's time over its words by character count.
    tokens = segment.text.split()
    total = sum(len(t) + 1 for t in tokens) or 1
    span, at, words = segment.end - segment.start, segment.start, []
    for token in tokens:
        length = span * (len(token) + 1) / total
        words.append(Word(start=at, end=at + length, word=" " + token, probability=1.0))
        at += length
    return words


def cues(result: TranscriptResult, limits: CueLimits, shown_speaker: bool = False) -> list[Cue]:
    """Cues within the limits: a segment stays one cue when it fits, else is cut between words.
    A cue keeps its segment's speaker (a segment never spans two); `shown_speaker`: the text
    starts with it (`A: `, SRT's way), so it counts against the line width."""
    out: list[Cue] = []
    for segment in result.segments:
        label = f"{segment.speaker}: " if shown_speaker and segment.speaker else ""
        if _fits(label + segment.text.strip(), segment.start, segment.end, limits):
            lines = _wrap(label + segment.text, limits.max_line_width)
            out.append(Cue(segment.start, segment.end, lines, segment.speaker))
            continue
        current: list[Word] = []
        for word in _words_of(segment):
            candidate = [*current, word]
            text = label + "".join(w.word for w in candidate).strip()
            if current and not _fits(text, candidate[0].start, word.end, limits):
                out.append(_cue(current, limits, segment.speaker, label))
                candidate = [word]
            current = candidate
        if current:
            out.append(_cue(current, limits, segment.speaker, label))
    return out


def _cue(words: list[Word], limits: CueLimits, speaker: str | None, label: str) -> Cue:
    text = label + "".join(w.word for w in words).strip()
    return Cue(words[0].start, words[-1].end, _wrap(text, limits.max_line_width), speaker)


def to_srt(result: TranscriptResult, limits: CueLimits) -> str:
    blocks = []
    for index, cue in enumerate(cues(result, limits, shown_speaker=True), start=1):
        span = f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}"
        blocks.append(f"{index}\n{span}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def _voice(name: str) -> str:
    # A voice tag's annotation ends at `>`, and `&`/`<` start markup: keep them out of it.
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(result: TranscriptResult, limits: CueLimits) -> str:
    """WebVTT; a cue with a speaker opens with its voice tag (`<v A>`), as WebVTT's voice spans."""
    blocks = ["WEBVTT\n"]
    for cue in cues(result, limits):
        span = f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}"
        lines = list(cue.lines)
        if cue.speaker:
            lines[0] = f"<v {_voice(cue.speaker)}>{lines[0]}"
        blocks.append(f"{span}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


@dataclass(frozen=True)
class OutputFormat:
    name: str
    media_type: str
    extension: str  # of a download; both JSON kinds are `.json`
    render: Callable[[TranscriptResult, CueLimits], str | dict[str, Any]]
    subtitles: bool = False  # takes the cue limits
    description: str = ""


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat(
            "json",
            "application/json",
            "json",
            lambda r, _: r.model_dump(mode="json"),
            description="Our result: language, segments, words.",
        ),
        OutputFormat(
            "verbose_json",
            "application/json",
            "json",
            lambda r, _: to_verbose_json(r),
            description="OpenAI's verbose_json shape.",
        ),
        OutputFormat(
            "text",
            "text/plain; charset=utf-8",
            "txt",
            lambda r, _: to_text(r),
            description="The text alone.",
        ),
        OutputFormat(
            "srt",
            "application/x-subrip; charset=utf-8",
            "srt",
            to_srt,
            subtitles=True,
            description="SubRip subtitles.",
        ),
        OutputFormat(
            "vtt",
            "text/vtt; charset=utf-8",
            "vtt",
            to_vtt,
            subtitles=True,
            description="WebVTT subtitles.",
        ),
        OutputFormat(
            "tsv",
            "text/tab-separated-values; charset=utf-8",
            "tsv",
            lambda r, _: to_tsv(r),
            description="start, end (ms), the speaker (when diarized) and text per segment.",
        ),
        OutputFormat(
            "diarized_json",
            "application/json",
            "json",
            lambda r, _: to_diarized_json(r),
            description="OpenAI's diarized_json shape: segments with their speaker.",
        ),
    )
}


def check_format(name: str) -> str:
    """`name` if it is a registered format (for validation: ValueError names the choices)."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; one of {', '.join(FORMATS)}")
    return name


def render(result: TranscriptResult, fmt: str, limits: CueLimits) -> str | dict[str, Any]:
    return FORMATS[fmt].render(result, limits)
