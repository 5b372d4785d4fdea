"""Speakers onto segments and words; a segment is cut where its words change speaker."""

from app.contract.jobs import Segment, Word
from worker.diarization.segment_speakers import speaker_at, speaker_times, split_at_turns
from worker.diarization.speaker_turns import Turn

TURNS = [Turn(0.0, 2.0, "A"), Turn(2.0, 4.5, "B"), Turn(6.0, 8.0, "A")]


def segment(start: float, end: float, words: list[tuple[float, float, str]] | None) -> Segment:
    return Segment(
        id=7,
        start=start,
        end=end,
        text="".join(w for _, _, w in words or []) or " Hello there.",
        tokens=[1, 2, 3],
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.1,
        words=None
        if words is None
        else [Word(start=a, end=b, word=w, probability=0.9) for a, b, w in words],
    )


def test_the_speaker_overlapping_most_else_the_nearest() -> None:
    assert speaker_at(TURNS, 1.5, 2.4) == "A"
    assert speaker_at(TURNS, 1.8, 3.0) == "B"
    assert speaker_at(TURNS, 5.0, 5.2) == "B"  # in the gap, nearer B's end than A's start
    assert speaker_at(TURNS, 5.8, 5.9) == "A"
    assert speaker_at([], 0.0, 1.0) is None


def test_a_segment_is_cut_where_its_words_change_speaker() -> None:
    words = [(0.5, 1.0, " Hi"), (1.0, 1.8, " there."), (2.2, 2.6, " Hello"), (2.6, 3.0, " you.")]
    pieces = split_at_turns(segment(0.4, 3.1, words), TURNS, keep_words=True)
    assert [(p.start, p.end, p.speaker, p.text) for p in pieces] == [
        (0.4, 1.8, "A", " Hi there."),
        (2.2, 3.1, "B", " Hello you."),
    ]
    assert all(p.tokens == [] for p in pieces)  # tokens belong to the whole segment
    assert [w.speaker for p in pieces for w in p.words or []] == ["A", "A", "B", "B"]


def test_an_uncut_segment_keeps_its_tokens_and_drops_words_not_asked_for() -> None:
    words = [(0.5, 1.0, " Hi"), (1.0, 1.8, " there.")]
    (piece,) = split_at_turns(segment(0.4, 1.9, words), TURNS, keep_words=False)
    assert piece.speaker == "A" and piece.words is None and piece.tokens == [1, 2, 3]


def test_without_words_the_whole_segment_takes_one_speaker() -> None:
    (piece,) = split_at_turns(segment(6.1, 7.0, None), TURNS, keep_words=True)
    assert piece.speaker == "A" and piece.text == " Hello there."


def test_speaking_time_per_speaker_in_order_of_first_speech() -> None:
    segments = [
        segment(0.0, 1.5, None).model_copy(update={"speaker": "B"}),
        segment(2.0, 3.0, None).model_copy(update={"speaker": "A"}),
        segment(3.0, 3.25, None).model_copy(update={"speaker": "B"}),
    ]
    assert [(t.speaker, t.seconds) for t in speaker_times(segments)] == [("B", 1.75), ("A", 1.0)]
