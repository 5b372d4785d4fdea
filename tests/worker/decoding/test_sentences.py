"""Chunk-sized segments cut into sentence-sized ones: text, words and tokens kept exactly."""

from dataclasses import replace

from faster_whisper.transcribe import Segment, Word

from worker.decoding.sentences import MAX_SECONDS, split_segment

# A toy tokenizer: one token per word, token i decodes to the i-th word.
WORDS = [" Hello", " there.", " How", " are", " you?", " Fine,", " thanks."]


def decode(tokens: list[int]) -> str:
    return "".join(WORDS[t] for t in tokens)


def segment(words: list[str], step: float = 0.5, gap_after: int = -1) -> Segment:
    timed, at = [], 0.0
    for i, w in enumerate(words):
        timed.append(Word(start=at, end=at + step * 0.8, word=w, probability=0.9))
        at += step + (2.0 if i == gap_after else 0.0)
    return Segment(
        id=1,
        seek=0,
        start=0.0,
        end=timed[-1].end + 0.1,
        text="".join(words),
        tokens=list(range(len(words))),
        avg_logprob=-0.2,
        compression_ratio=1.2,
        no_speech_prob=0.01,
        words=timed,
        temperature=0.0,
    )


def test_a_chunk_is_cut_after_each_sentence_keeping_text_words_and_tokens() -> None:
    whole = segment(WORDS)
    pieces = split_segment(whole, decode)
    assert [p.text for p in pieces] == [" Hello there.", " How are you?", " Fine, thanks."]
    assert [p.tokens for p in pieces] == [[0, 1], [2, 3, 4], [5, 6]]
    assert [w for p in pieces for w in p.words] == whole.words
    assert pieces[0].start == whole.start and pieces[-1].end == whole.end
    assert pieces[1].start == whole.words[2].start and pieces[1].end == whole.words[4].end
    assert all(p.avg_logprob == whole.avg_logprob and p.seek == whole.seek for p in pieces)


def test_a_long_sentence_is_cut_at_a_pause_near_its_middle() -> None:
    words = [f" w{i}" for i in range(40)]  # 40 words, 0.5 s each: 20 s, no punctuation
    pieces = split_segment(segment(words, gap_after=21), lambda t: "".join(words[i] for i in t))
    assert len(pieces) >= 2 and "".join(p.text for p in pieces) == "".join(words)
    assert all(p.words[-1].end - p.words[0].start <= MAX_SECONDS for p in pieces)
    # The first cut is at the 2-s pause after w21 (11 s in), not at the middle word.
    assert " w21" in [p.words[-1].word for p in pieces]


def test_a_segment_whose_words_or_tokens_do_not_add_up_is_kept_whole() -> None:
    whole = segment(WORDS)
    other_text = replace(whole, text=" Something else.")
    assert split_segment(other_text, decode) == [other_text]
    assert split_segment(whole, lambda t: "?" * len(t)) == [whole]
    no_words = replace(whole, words=None)
    assert split_segment(no_words, decode) == [no_words]
