"""What merging N windows into one CTranslate2 call costs on this device, against one window.

Cross-job batching (`worker/decoding/batching.py`) pays only where a call of N rows costs less
than N calls of one row. This times the model's calls directly (base, JFK's first window stacked N
times, beam 5, temperature 0) so that question is answered per device and compute type, without
the service around it. Output lengths are printed too: a batch that decodes further than one
row would be slower for that reason alone.

`python -m benchmarks.merge_cost [--device cuda] [--compute-types ...] [--rows 1,4,16]`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio, pad_or_trim
from faster_whisper.tokenizer import Tokenizer

from benchmarks.harness import JFK, ROOT
from worker.decoding.model_loading import construct_apart
from worker.decoding.weights import resolve_model


def milliseconds(call: Callable[[], Any], repeat: int = 3) -> float:
    call()  # warm: allocations and kernels for this shape
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return 1000 * (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compute-types", default="float16,int8_float16")
    parser.add_argument("--rows", default="1,4,16", help="batch sizes to time")
    args = parser.parse_args()
    path = resolve_model("base", ROOT / "data" / "models")
    print("| compute type | rows | encode ms | generate ms | tokens per row | detect ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for compute_type in args.compute_types.split(","):
        model = construct_apart(  # as the worker does: worker/decoding/model_loading.py
            partial(WhisperModel, path, device=args.device, compute_type=compute_type)
        )
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
        window = pad_or_trim(model.feature_extractor(decode_audio(str(JFK)))[:, :-1])
        for rows in map(int, args.rows.split(",")):
            print(row(model.model, window, rows, tokenizer.sot_sequence, compute_type), flush=True)


def row(whisper: Any, window: np.ndarray, rows: int, prompt: list[int], compute_type: str) -> str:
    """One table row: the window stacked `rows` times through encode, generate, detection."""
    features = np.ascontiguousarray(np.stack([window] * rows).astype(np.float32))
    encode = partial(whisper.encode, ctranslate2.StorageView.from_array(features), to_cpu=False)
    encoded = encode()
    generate = partial(
        whisper.generate,
        encoded,
        [prompt] * rows,
        beam_size=5,
        max_length=224,
        return_scores=True,
        return_no_speech_prob=True,
    )
    lengths = sorted({len(r.sequences_ids[0]) for r in generate()})
    detect = partial(whisper.detect_language, encoded)
    return (
        f"| {compute_type} | {rows} | {milliseconds(encode):.1f} | "
        f"{milliseconds(generate):.1f} | {', '.join(map(str, lengths))} | "
        f"{milliseconds(detect):.1f} |"
    )


if __name__ == "__main__":
    main()
