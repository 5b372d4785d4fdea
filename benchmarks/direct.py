"""Raw faster-whisper, the baseline: a process of its own that loads `base` once, then reads file
paths on stdin and answers each with a JSON line: the seconds one `WhisperModel.transcribe` call
took (the segment generator consumed) and its text, for the fidelity printed beside each row. A
separate process, like the worker, so neither side shares an interpreter (or its threads) with
the benchmark driver.

Both sides decode with temperature 0 only: Whisper's fallback to sampling at higher temperatures
is random, and on the mixed-language long file it made either side up to 30 % slower from one
run to the next, which swamped the overhead being measured."""

import json
import sys
import time

from faster_whisper import BatchedInferencePipeline, WhisperModel

from benchmarks.harness import ROOT
from worker.decoding.model_loading import construct_apart
from worker.decoding.weights import resolve_model


def main() -> None:
    threads = int(sys.argv[1])
    path = resolve_model("base", ROOT / "data" / "models")
    # constructed as the worker does (see worker/decoding/model_loading.py: on 2 cores a model
    # constructed on the decoding thread decodes about 1.8x slower)
    model = construct_apart(
        lambda: WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
    )
    batched = BatchedInferencePipeline(model)
    print("ready", flush=True)
    for line in sys.stdin:  # "<path>" or "batched <path>"
        mode, _, path = line.strip().rpartition(" ")
        started = time.perf_counter()
        if mode == "batched":
            segments, _ = batched.transcribe(path, beam_size=5, temperature=0.0, batch_size=8)
        else:
            segments, _ = model.transcribe(path, beam_size=5, temperature=0.0)
        text = "".join(s.text for s in segments).strip()
        print(json.dumps({"seconds": time.perf_counter() - started, "text": text}), flush=True)


if __name__ == "__main__":
    main()
