"""Decoding several jobs together: their calls on one CTranslate2 Whisper model merged into
batched calls.

Each job still runs faster-whisper's own `transcribe` loop in a thread of its own (its windows,
prompts, temperature fallback, timestamps and words), so its result is what the library gives
for that recording alone. Only the heavy calls on the model go through a gate: `generate`,
`detect_language` and `align` (and `encode` on a GPU) from the jobs decoding now are merged
when their options are equal — one call whose batch holds every job's rows — and each job gets
its own rows back. On a CPU `encode` is not merged: its cost grows with the rows anyway
(measured: 8 windows one by one 8.3 s, as one batch 9.2 s), while `generate`'s does not (5.7 s
against 4.0 s).

A merged call waits for the jobs that will come to the gate soon: it is sent when every job
decoding now is waiting at the gate, or once the first caller has waited `wait_seconds`, or
when a batch is full; never while the model is busy with one of them (their calls would queue
behind it in CTranslate2 anyway). A lone job never waits. A merged call that fails is made again
row group by row group, so one job's input cannot fail another's.

Knows nothing of jobs, Redis or Celery. May change no argument of a call but by stacking rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from worker.decoding import refusals

logger = logging.getLogger(__name__)

IDLE, GATE, MODEL = "idle", "gate", "model"
# What is merged on a CPU: `generate` and `align`. `encode` costs as much merged as one by one
# there, and `detect_language` more (measured, 8 windows: 0.6 s one by one, 1.1 s merged).
CPU_MERGED = frozenset({"generate", "align"})
GPU_MERGED = frozenset({"generate", "align", "encode", "detect_language"})


@dataclass(eq=False)
class _Call:
    """One caller's call: `rows` rows of input, merged with others of the same `key`."""

    method: str
    key: Hashable  # calls merge when their method and key are equal
    rows: int
    inputs: tuple[Any, ...]
    member: bool
    since: float = field(default_factory=time.monotonic)
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass(frozen=True)
class _Method:
    """How to merge calls of one model method: `merge` turns the calls' inputs into one call's
    positional and keyword arguments; results are one per row, in order."""

    merge: Callable[[list[tuple[Any, ...]]], tuple[tuple[Any, ...], dict[str, Any]]]
    run: Callable[..., Any]


def _stack(features: Sequence[Any]) -> Any:
    """One StorageView with the rows of several (CPU) StorageViews, one after another."""
    if len(features) == 1:
        return features[0]
    return _view(np.concatenate([np.asarray(f) for f in features]))


def _merge_features(calls: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (_stack([c[0] for c in calls]),), {}


def _frozen(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value  # type: ignore[no-any-return]


class BatchingWhisper:
    """Stands in for a `ctranslate2.models.Whisper` shared by the threads of concurrent jobs.

    A thread decoding a job does so inside `member()`; calls from other threads pass straight
    through. `merged` names the methods whose calls are merged; the others run as called.
    `slots` is how many calls the model runs at once (its replicas). Every other attribute is
    the model's own.
    """

    def __init__(
        self,
        model: Any,
        max_rows: int,
        wait_seconds: float,
        merged: frozenset[str] = CPU_MERGED,
        slots: int = 1,
    ) -> None:
        self._model = model
        self.max_rows = max(1, max_rows)
        self.wait_seconds = wait_seconds
        self.merged = merged
        self.slots = max(1, slots)
        self._cond = threading.Condition()
        self._pending: list[_Call] = []
        self._members: dict[int, str] = {}
        self._running = 0  # merged calls on the model now
        self._local = threading.local()
        # Merged calls by method and rows: {("generate", 3): 5} = five calls of 3 rows each.
        self.calls: Counter[tuple[str, int]] = Counter()
        # Looked up on the model when called: a stand-in needs only the methods it is asked for.
        self._methods = {
            "generate": _Method(self._merge_generate, lambda *a, **k: model.generate(*a, **k)),
            "detect_language": _Method(_merge_features, lambda f: model.detect_language(f)),
            "align": _Method(self._merge_align, lambda *a, **k: model.align(*a, **k)),
            "encode": _Method(_merge_features, lambda f: model.encode(f, to_cpu=True)),
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    @contextmanager
    def member(self) -> Iterator[None]:
        """The calls of this thread, until the block ends, are one job's: merged with others'."""
        me = threading.get_ident()
        with self._cond:
            self._members[me] = IDLE
        try:
            yield
        finally:
            self._local.__dict__.clear()
            refusals.forget(me)
            with self._cond:
                del self._members[me]
                self._cond.notify_all()

    # The model's methods, as faster-whisper calls them.

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        """The same window encoded twice by one job (language detection, then the
        transcription's first window) is encoded once. Merged rows come back on the CPU,
        where merging stacks them."""
        array = np.asarray(features)
        cached = getattr(self._local, "encoded", None)
        if cached is not None and np.array_equal(cached[0], array):
            return cached[1]
        if "encode" in self.merged:
            encoded = self._gated("encode", (), len(array), (features,))
        else:
            with self._state(MODEL):
                encoded = self._model.encode(features, to_cpu=to_cpu)
        if self._is_member():
            self._local.encoded = (array.copy(), encoded)
        return encoded

    def generate(self, features: Any, prompts: list[Any], **options: Any) -> Any:
        # CTranslate2 refuses one batch of prompts of different lengths: only calls whose
        # prompts are as long as each other's merge (e.g. jobs with other initial prompts).
        key = (_frozen(options), tuple(sorted({len(p) for p in prompts})))
        return self._gated("generate", key, len(prompts), (features, prompts, options))

    def detect_language(self, features: Any) -> Any:
        if "detect_language" not in self.merged:
            with self._state(MODEL):
                return self._model.detect_language(features)
        return self._gated("detect_language", (), int(features.shape[0]), (features,))

    def align(
        self,
        features: Any,
        start_sequence: list[int],
        text_tokens: list[list[int]],
        num_frames: int | list[int],
        median_filter_width: int = 7,
    ) -> Any:
        rows = len(text_tokens)
        frames = num_frames if isinstance(num_frames, list) else [num_frames] * rows
        key = (tuple(start_sequence), median_filter_width)
        return self._gated(
            "align", key, rows, (features, start_sequence, text_tokens, frames, median_filter_width)
        )

    @staticmethod
    def _merge_generate(calls: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        prompts = [p for c in calls for p in c[1]]
        return (_stack([c[0] for c in calls]), prompts), calls[0][2]

    @staticmethod
    def _merge_align(calls: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        tokens = [t for c in calls for t in c[2]]
        frames = [n for c in calls for n in c[3]]
        args = (_stack([c[0] for c in calls]), calls[0][1], tokens, frames)
        return args, {"median_filter_width": calls[0][4]}

    # The gate.

    def _is_member(self) -> bool:
        return threading.get_ident() in self._members

    @contextmanager
    def _state(self, state: str) -> Iterator[None]:
        me = threading.get_ident()
        refusals.check(me)  # every model call passes here: a stopped job ends at its next one
        if me not in self._members:
            yield
            return
        with self._cond:
            self._members[me] = state
        try:
            yield
        finally:
            with self._cond:
                self._members[me] = IDLE
                self._cond.notify_all()

    def _gated(self, method: str, key: Hashable, rows: int, inputs: tuple[Any, ...]) -> Any:
        call = _Call(method, (method, key), rows, inputs, self._is_member())
        with self._state(GATE):
            with self._cond:
                self._pending.append(call)
                self._cond.notify_all()
            while True:
                with self._cond:
                    if call.done:
                        break
                    batch = self._take_ready()
                    if batch is None:
                        self._cond.wait(self._time_left())
                        continue
                    self._running += 1
                try:
                    self._run(batch)
                finally:
                    with self._cond:
                        self._running -= 1
                        for c in batch:
                            c.done = True
                            if c.result is None and c.error is None:  # the leader was stopped
                                c.error = RuntimeError("The merged model call did not finish.")
                        self._cond.notify_all()
        if call.error is not None:
            raise call.error
        return call.result

    def _time_left(self) -> float:
        if not self._pending:
            return 0.5
        left = self._pending[0].since + self.wait_seconds - time.monotonic()
        return min(0.5, max(0.001, left))

    def _take_ready(self) -> list[_Call] | None:
        """The calls to run now (the oldest call and those that merge with it), or None.

        Not while every slot of the model is taken. Otherwise when the oldest waited long
        enough, or its batch is full, or no job is still on its way to the gate (every member
        is waiting there or has a call on the model)."""
        if not self._pending:
            return None
        states = list(self._members.values())
        if self._running + states.count(MODEL) >= self.slots:
            return None
        first = self._pending[0]
        same = [c for c in self._pending if c.key == first.key] if first.member else [first]
        ready = (
            not first.member
            or IDLE not in states
            or sum(c.rows for c in same) >= self.max_rows
            or time.monotonic() - first.since >= self.wait_seconds
        )
        if not ready:
            return None
        batch: list[_Call] = []
        rows = 0
        for c in same:
            if batch and rows + c.rows > self.max_rows:
                break
            batch.append(c)
            rows += c.rows
        for c in batch:
            self._pending.remove(c)
        return batch

    def _run(self, batch: list[_Call]) -> None:
        method = batch[0].method
        spec = self._methods[method]
        try:
            self._call(method, spec, batch)
        except Exception as e:
            if len(batch) == 1:
                batch[0].error = e
                return
            # One caller's rows may be what failed: each alone, so the others still get theirs.
            logger.warning(
                "a merged %s call of %d callers failed; making it per caller",
                method,
                len(batch),
                exc_info=True,
            )
            for c in batch:
                try:
                    self._call(method, spec, [c])
                except Exception as e:
                    c.error = e

    def _call(self, method: str, spec: _Method, batch: list[_Call]) -> None:
        args, kwargs = spec.merge([c.inputs for c in batch])
        results = spec.run(*args, **kwargs)
        self.calls[(method, sum(c.rows for c in batch))] += 1
        at = 0
        for c in batch:
            if method == "encode":
                c.result = _view(np.asarray(results)[at : at + c.rows])
            else:
                c.result = list(results[at : at + c.rows])
            at += c.rows


def _view(array: np.ndarray) -> Any:
    """A StorageView of a numpy array (it keeps the array alive: CTranslate2 holds its owner)."""
    import ctranslate2

    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array))
