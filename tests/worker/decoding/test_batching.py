"""The gate that merges concurrent jobs' model calls, against a scripted stand-in for the
CTranslate2 model (its rows are numbers, so what each caller got back can be checked exactly).
The real model through it: `test_engine_batching.py`."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from worker.decoding.batching import BatchingWhisper


class RowsModel:
    """`generate` answers each row with (its feature value, its prompt, the options); records
    the rows of every call. A row whose feature is negative makes the whole call fail."""

    is_multilingual = True

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls: list[tuple[str, int]] = []
        self.encodes = 0
        self.lock = threading.Lock()

    def generate(self, features: Any, prompts: list[Any], **options: Any) -> list[Any]:
        rows = np.asarray(features)[:, 0, 0].tolist()
        with self.lock:
            self.calls.append(("generate", len(prompts)))
        time.sleep(self.seconds)
        if any(r < 0 for r in rows):
            raise ValueError("a bad row")
        return [(r, p, options["beam_size"]) for r, p in zip(rows, prompts, strict=True)]

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        with self.lock:
            self.encodes += 1
        return features


def row(value: float) -> Any:
    import ctranslate2

    return ctranslate2.StorageView.from_array(np.full((1, 2, 2), value, dtype=np.float32))


def decode_in_threads(gate: BatchingWhisper, values: list[float], **options: Any) -> list[Any]:
    start = threading.Barrier(len(values))

    def job(value: float) -> Any:
        with gate.member():
            start.wait()
            try:
                return gate.generate(row(value), [[int(value)]], beam_size=5, **options)
            except ValueError as e:
                return e

    with ThreadPoolExecutor(len(values)) as pool:
        return list(pool.map(job, values))


def test_calls_of_jobs_decoding_together_are_one_call_and_each_gets_its_rows() -> None:
    model = RowsModel(seconds=0.05)
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=5.0)
    results = decode_in_threads(gate, [1.0, 2.0, 3.0, 4.0])
    assert results == [[(v, [int(v)], 5)] for v in (1.0, 2.0, 3.0, 4.0)]
    # Every member waited at the gate: one call, long before the 5 s wait ran out.
    assert model.calls == [("generate", 4)]
    assert gate.calls == {("generate", 4): 1}


def test_a_batch_holds_at_most_max_rows() -> None:
    model = RowsModel(seconds=0.05)
    gate = BatchingWhisper(model, max_rows=2, wait_seconds=5.0)
    decode_in_threads(gate, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert sorted(n for _, n in model.calls) == [1, 2, 2]


def test_calls_with_other_options_are_not_merged() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=5.0)
    start = threading.Barrier(2)

    def job(beam: int) -> Any:
        with gate.member():
            start.wait()
            return gate.generate(row(float(beam)), [[beam]], beam_size=beam)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(job, [1, 5]))
    assert results == [[(1.0, [1], 1)], [(5.0, [5], 5)]]
    assert sorted(model.calls) == [("generate", 1), ("generate", 1)]


def test_calls_with_prompts_of_other_lengths_are_not_merged() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=5.0)
    start = threading.Barrier(3)

    def job(prompt: list[int]) -> Any:
        with gate.member():
            start.wait()
            return gate.generate(row(float(len(prompt))), [prompt], beam_size=5)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(job, [[1, 2], [3, 4, 5], [6, 7]]))
    assert results == [[(2.0, [1, 2], 5)], [(3.0, [3, 4, 5], 5)], [(2.0, [6, 7], 5)]]
    assert sorted(model.calls) == [("generate", 1), ("generate", 2)]  # the two of length 2


def test_a_lone_job_does_not_wait() -> None:
    gate = BatchingWhisper(RowsModel(), max_rows=8, wait_seconds=30.0)
    started = time.monotonic()
    with gate.member():
        assert gate.generate(row(1.0), [[1]], beam_size=5) == [(1.0, [1], 5)]
    assert time.monotonic() - started < 5  # far below the 30 s wait: nobody else decodes


def test_a_job_busy_elsewhere_is_waited_for_at_most_the_wait() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=0.2)
    other_in = threading.Event()
    release = threading.Event()

    def busy_member() -> None:  # decoding audio, say: a member that is not at the gate
        with gate.member():
            other_in.set()
            release.wait(10)

    thread = threading.Thread(target=busy_member)
    thread.start()
    other_in.wait(5)
    try:
        started = time.monotonic()
        with gate.member():
            assert gate.generate(row(1.0), [[1]], beam_size=5) == [(1.0, [1], 5)]
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join()
    assert 0.2 <= waited < 5


def test_one_callers_failing_rows_do_not_fail_the_others() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=5.0)
    results = decode_in_threads(gate, [1.0, -1.0, 3.0])
    assert results[0] == [(1.0, [1], 5)] and results[2] == [(3.0, [3], 5)]
    assert isinstance(results[1], ValueError)
    assert model.calls[0] == ("generate", 3)  # merged first, then each caller alone
    assert sorted(model.calls[1:]) == [("generate", 1)] * 3


def test_calls_from_outside_a_job_pass_straight_through() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=30.0)
    assert gate.generate(row(2.0), [[2]], beam_size=5) == [(2.0, [2], 5)]
    assert gate.is_multilingual is True  # everything else is the model's own


def test_a_window_encoded_twice_by_one_job_is_encoded_once() -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=0.0)
    with gate.member():
        first = gate.encode(row(1.0))
        assert gate.encode(row(1.0)) is first
        gate.encode(row(2.0))
    assert model.encodes == 2
    with gate.member():  # a new job starts with nothing remembered
        gate.encode(row(2.0))
    assert model.encodes == 3


@pytest.mark.parametrize("merged", [frozenset({"generate", "align", "encode"})])
def test_merged_encodes_give_each_caller_its_own_rows(merged: frozenset[str]) -> None:
    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=5.0, merged=merged)
    start = threading.Barrier(3)

    def job(value: float) -> Any:
        with gate.member():
            start.wait()
            return np.asarray(gate.encode(row(value)))

    with ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(job, [1.0, 2.0, 3.0]))
    assert [o.shape for o in outputs] == [(1, 2, 2)] * 3
    assert [float(o[0, 0, 0]) for o in outputs] == [1.0, 2.0, 3.0]
    assert gate.calls == {("encode", 3): 1}


def test_a_refused_threads_next_call_fails_and_the_others_go_on() -> None:
    from worker.decoding import refusals

    model = RowsModel()
    gate = BatchingWhisper(model, max_rows=8, wait_seconds=0.0)
    with gate.member():
        refusals.refuse_calls_of(threading.get_ident())
        with pytest.raises(refusals.CallRefused):
            gate.generate(row(1.0), [[1]], beam_size=5)
    with gate.member():  # the thread's next job is its own again
        assert gate.generate(row(2.0), [[2]], beam_size=5) == [(2.0, [2], 5)]
    assert model.calls == [("generate", 1)]
