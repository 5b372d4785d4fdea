"""Output formats on a realistic result; subtitles must parse with `srt` and `webvtt-py`."""

import io
from datetime import timedelta

import srt
import webvtt

from app.contract.formats import (
    SUBTITLE_DEFAULTS,
    CueLimits,
    render,
    subtitle_limits,
    to_tsv,
    to_verbose_json,
)
from app.contract.jobs import Segment, TranscriptResult, Word

TEXT = " And so my fellow Americans, ask not what your country can do for you"


def words_of(text: str, start: float, step: float) -> list[Word]:
    return [
        Word(start=start + i * step, end=start + (i + 1) * step, word=" " + w, probability=0.9)
        for i, w in enumerate(text.split())
    ]


def result(with_words: bool) -> TranscriptResult:
    seg = Segment(
        id=0,
        seek=0,
        start=0.0,
        end=7.0,
        text=TEXT,
        tokens=[1, 2, 3],
        temperature=0.0,
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.3,
        words=words_of(TEXT, 0.0, 0.5) if with_words else None,
    )
    short = Segment(
        id=1,
        seek=700,
        start=7.5,
        end=9.25,
        text=" ask what\tyou can do.",
        avg_logprob=-0.1,
        no_speech_prob=0.0,
        compression_ratio=1.1,
        words=words_of(" ask what you can do.", 7.5, 0.35) if with_words else None,
    )
    return TranscriptResult(
        model="base",
        task="transcribe",
        language="en",
        language_probability=0.95,
        duration=9.25,
        text=(TEXT + " ask what you can do.").strip(),
        segments=[seg, short],
    )


def test_srt_parses_and_keeps_segments_whole_without_limits() -> None:
    subs = list(srt.parse(render(result(True), "srt", CueLimits())))
    assert [s.content for s in subs] == [TEXT.strip(), "ask what you can do."]
    assert subs[0].start == timedelta(0) and subs[0].end == timedelta(seconds=7)
    assert subs[1].end == timedelta(seconds=9.25)


def test_srt_respects_line_width_and_count_with_words() -> None:
    limits = CueLimits(max_line_width=20, max_line_count=2)
    subs = list(srt.parse(render(result(True), "srt", limits)))
    assert len(subs) > 2
    for sub in subs:
        lines = sub.content.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 20 for line in lines)
    # cut on word boundaries at the words' own times, nothing lost, in order
    assert " ".join(s.content.replace("\n", " ") for s in subs) == " ".join(
        (TEXT + " ask what you can do.").split()
    )
    assert all(a.end <= b.start for a, b in zip(subs, subs[1:], strict=False))
    first_of_second_cue = words_of(TEXT, 0.0, 0.5)[len(subs[0].content.split())]
    assert subs[1].start == timedelta(seconds=first_of_second_cue.start)


def test_vtt_parses_and_respects_max_cue_seconds_without_words() -> None:
    body = render(result(False), "vtt", CueLimits(max_cue_seconds=3.0))
    assert body.startswith("WEBVTT\n")
    captions = list(webvtt.from_buffer(io.StringIO(body)))
    assert len(captions) >= 3
    for caption in captions:
        assert caption.end_in_seconds - caption.start_in_seconds <= 3.0 + 1e-3
    assert " ".join(c.text.replace("\n", " ") for c in captions) == " ".join(
        (TEXT + " ask what you can do.").split()
    )


def test_vtt_wraps_lines() -> None:
    body = render(result(False), "vtt", CueLimits(max_line_width=30))
    captions = list(webvtt.from_buffer(io.StringIO(body)))
    assert all(len(line) <= 30 for c in captions for line in c.text.split("\n"))


def test_tsv_uses_integer_milliseconds() -> None:
    assert to_tsv(result(False)).splitlines() == [
        "start\tend\ttext",
        f"0\t7000\t{TEXT.strip()}",
        "7500\t9250\task what you can do.",
    ]


def test_verbose_json_has_openai_keys_exactly() -> None:
    body = to_verbose_json(result(True))
    assert list(body) == ["task", "language", "duration", "text", "segments", "words"]
    assert body["language"] == "english"
    assert list(body["segments"][0]) == [
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    ]
    assert list(body["words"][0]) == ["word", "start", "end"]
    assert "words" not in to_verbose_json(result(False))


def test_text_is_one_line_per_segment() -> None:
    assert render(result(False), "text", CueLimits()) == f"{TEXT.strip()}\nask what\tyou can do.\n"


def test_subtitles_default_to_readable_cues_and_each_limit_can_be_changed() -> None:
    assert subtitle_limits() == SUBTITLE_DEFAULTS == CueLimits(42, 2, 7.0)
    assert subtitle_limits(max_line_width=80) == CueLimits(80, 2, 7.0)
    long = result(True).model_copy(deep=True)
    long.segments[0].end = 28.0  # one 28-s segment: a batched chunk's shape
    long.segments[0].words = words_of(TEXT, 0.0, 28.0 / len(TEXT.split()))
    subs = list(srt.parse(render(long, "srt", SUBTITLE_DEFAULTS)))
    assert " ".join(" ".join(s.content.split()) for s in subs) == long.text
    for sub in subs:
        assert (sub.end - sub.start).total_seconds() <= 7.0
        assert len(sub.content.split("\n")) <= 2
        assert all(len(line) <= 42 for line in sub.content.split("\n"))
