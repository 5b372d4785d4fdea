"""Sentence-sized segments from the batched pipeline's chunk-sized ones.

faster-whisper's batched pipeline decodes each speech chunk (up to 30 s) without timestamp
tokens, so it returns one segment per chunk: 22–30 s and hundreds of characters, unusable as
subtitles. Sampling timestamp tokens instead changes the words (measured on a 176-s recording:
21 % WER against the same run without them, whole sentences dropped). So the words stay as
decoded, and each chunk's segment is cut where its words say: after a word that ends a sentence,
and where a piece is still longer than `MAX_SECONDS`, at the clause mark or the pause between
words nearest its middle. This is WhisperX's approach (batched decoding, then alignment and
sentence splitting) with Whisper's own word alignment, which the pipeline runs per batch.

A piece's text and words are exactly its share of the segment's; its tokens are the prefix of
the segment's tokens that decodes to its text. A segment whose words or tokens do not add up to
its text is returned whole. No model calls, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SENTENCE_ENDS = (".", "?", "!", "…", "。", "？", "！", "।", "؟")
CLAUSE_MARKS = (",", ";", ":", "，", "、", "；", "：")
MAX_SECONDS = 10.0  # a sequential run's segments are rarely longer (its median: ~5 s)

Decode = Callable[[list[int]], str]


def sentence_segments(segments: Iterable[Any], decode: Decode) -> Iterator[Any]:
    """Each of faster-whisper's segments, cut into sentence-sized ones (see the module)."""
    for segment in segments:
        yield from split_segment(segment, decode)


def split_segment(segment: Any, decode: Decode) -> list[Any]:
    words = segment.words or []
    if len(words) < 2 or "".join(w.word for w in words) != segment.text:
        return [segment]
    groups = [g for sentence in _sentences(words) for g in _short_enough(sentence)]
    if len(groups) == 1:
        return [segment]
    token_cuts = _token_cuts(segment.tokens, [_text(g) for g in groups], decode)
    if token_cuts is None:
        return [segment]
    pieces = []
    for i, group in enumerate(groups):
        pieces.append(
            dataclasses.replace(
                segment,
                start=segment.start if i == 0 else group[0].start,
                end=segment.end if i == len(groups) - 1 else group[-1].end,
                text=_text(group),
                tokens=segment.tokens[token_cuts[i] : token_cuts[i + 1]],
                words=group,
            )
        )
    return pieces


def _text(words: list[Any]) -> str:
    return "".join(w.word for w in words)


def _sentences(words: list[Any]) -> list[list[Any]]:
    groups: list[list[Any]] = [[]]
    for i, word in enumerate(words):
        groups[-1].append(word)
        if word.word.strip().endswith(SENTENCE_ENDS) and i < len(words) - 1:
            groups.append([])
    return groups


def _short_enough(words: list[Any]) -> list[list[Any]]:
    """`words` in pieces of at most `MAX_SECONDS` (a single word may be longer)."""
    if len(words) < 2 or words[-1].end - words[0].start <= MAX_SECONDS:
        return [words]
    cut = _best_cut(words)
    return _short_enough(words[:cut]) + _short_enough(words[cut:])


def _best_cut(words: list[Any]) -> int:
    """Where to cut a long piece (the index of the first word after the cut): after a clause mark
    nearest the middle, else at the longest pause nearest the middle."""
    middle = (words[0].start + words[-1].end) / 2

    def score(i: int) -> float:
        clause = words[i - 1].word.strip().endswith(CLAUSE_MARKS)
        pause = words[i].start - words[i - 1].end
        return float(-abs(words[i].start - middle) + (2.0 if clause else 0.0) + 4 * pause)

    return max(range(1, len(words)), key=score)


def _token_cuts(tokens: list[int], texts: list[str], decode: Decode) -> list[int] | None:
    """[0, k1, k2, …, len(tokens)]: `decode(tokens[:k_i])` is the first i texts; None if some
    text ends inside a token."""
    cuts, at, prefix = [0], 0, ""
    for text in texts[:-1]:
        prefix += text
        while at < len(tokens) and len(decode(tokens[:at])) < len(prefix):
            at += 1
        if decode(tokens[:at]) != prefix:
            return None
        cuts.append(at)
    if decode(tokens) != prefix + texts[-1]:
        return None
    return [*cuts, len(tokens)]
