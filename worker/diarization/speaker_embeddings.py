"""Speaker embeddings of short windows of speech: resemblyzer's GE2E encoder, in numpy.

What resemblyzer's `VoiceEncoder` computes, without torch or librosa: 40 mel bands of linear
power (25 ms windows every 10 ms, librosa's Slaney filters, as faster-whisper builds them), a
3-layer LSTM of 256 units over 160 frames (1.6 s), its last hidden state through a linear layer
and a ReLU, L2-normalised. Each window's loudness is brought to -30 dBFS first, the level the
encoder was trained at: the features are linear power, so a quiet speaker would otherwise land
elsewhere. Only computes; which windows to embed, and what they mean, is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

from worker.diarization.encoder_weights import load_encoder_state

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms
FRAMES = 160  # one embedding's window: 1.6 s
TARGET_DBFS = -30.0
BATCH = 64  # windows through the LSTM at once: bounded memory on any recording


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warnings, same values


class SpeakerEncoder:
    def __init__(self, state: dict[str, np.ndarray] | None = None) -> None:
        state = state or load_encoder_state()
        self.layers = [
            (
                np.ascontiguousarray(state[f"lstm.weight_ih_l{i}"].T),
                np.ascontiguousarray(state[f"lstm.weight_hh_l{i}"].T),
                state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"],
            )
            for i in range(3)
        ]
        self.linear_w = np.ascontiguousarray(state["linear.weight"].T)
        self.linear_b = state["linear.bias"]
        self.mel = FeatureExtractor.get_mel_filters(SAMPLE_RATE, N_FFT, 40).astype(np.float32)
        self.window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic, as librosa's

    def mels(self, audio: np.ndarray) -> np.ndarray:
        """(frames, 40) mel power of `audio` at 16 kHz, centred frames as librosa's."""
        padded = np.pad(audio.astype(np.float32), N_FFT // 2)
        count = 1 + (len(padded) - N_FFT) // HOP
        frames = np.lib.stride_tricks.as_strided(
            padded, (count, N_FFT), (HOP * padded.strides[0], padded.strides[0])
        )
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2
        mels: np.ndarray = (power.astype(np.float32) @ self.mel.T).astype(np.float32)
        return mels

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(n, 256) unit vectors for `windows`, an (n, 1.6 s of samples) array."""
        out = [self._embed_batch(windows[i : i + BATCH]) for i in range(0, len(windows), BATCH)]
        return np.concatenate(out) if out else np.zeros((0, 256), np.float32)

    def _embed_batch(self, windows: np.ndarray) -> np.ndarray:
        levels = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)) + 1e-9
        gain = 10 ** (TARGET_DBFS / 20) / levels
        mels = np.stack([self.mels(w * g)[:FRAMES] for w, g in zip(windows, gain, strict=True)])
        x = mels
        for w_ih, w_hh, bias in self.layers:
            x = self._lstm(x, w_ih, w_hh, bias)
        hidden = x[:, -1]
        embeds = np.maximum(hidden @ self.linear_w + self.linear_b, 0.0)
        norms = np.linalg.norm(embeds, axis=1, keepdims=True)
        unit: np.ndarray = (embeds / np.maximum(norms, 1e-9)).astype(np.float32)
        return unit

    @staticmethod
    def _lstm(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray) -> np.ndarray:
        batch, steps, _ = x.shape
        size = w_hh.shape[0]
        inputs = (x.reshape(batch * steps, -1) @ w_ih + bias).reshape(batch, steps, 4 * size)
        h = np.zeros((batch, size), np.float32)
        c = np.zeros((batch, size), np.float32)
        out = np.empty((batch, steps, size), np.float32)
        for t in range(steps):
            gates = inputs[:, t] + h @ w_hh
            i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's order
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            out[:, t] = h
        return out


def windows_of(
    audio: np.ndarray, regions: list[tuple[int, int]], step: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(centre sample, window) every `step` samples inside each speech region; a region shorter
    than a window gives one window centred on it (padded with the audio around it)."""
    size = FRAMES * HOP
    for start, end in regions:
        if end - start <= size:
            centres = [(start + end) // 2]
        else:
            centres = list(range(start + size // 2, end - size // 2 + 1, step))
        for centre in centres:
            left = min(max(0, centre - size // 2), max(0, len(audio) - size))
            window = audio[left : left + size]
            if len(window) < size:
                window = np.pad(window, (0, size - len(window)))
            yield centre, window
