"""Speaker labels for a recording's window embeddings: how many speakers, and who is who.

Spectral clustering as Wang et al. ("Speaker Diarization with LSTM", 2018) do for this kind of
embedding (GE2E d-vectors): the cosine affinity refined (diagonal cropped, each row kept to its
strongest `KEEP` share, symmetrised, diffused, rows scaled to 1), the speaker count from the
largest gap between its eigenvalues (or the count given), k-means on the leading eigenvectors.
A long recording's windows are clustered on an even subsample of at most `MAX_CLUSTERED` and the
rest take the nearest cluster's centre, so memory stays bounded (the affinity is n x n). Labels
only: no audio here.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2

KEEP = 0.2  # share of each row's affinities kept whole (the rest scaled by SOFT)
SOFT = 0.01
# A speaker needs this many windows (3 s of speech at one every 0.75 s) to be counted without
# a hint: on fewer windows the eigenvalue gaps are noise (11 s of JFK alone read as 3 voices).
MIN_WINDOWS = 4
MAX_CLUSTERED = 1500  # windows in the affinity matrix (1500 x 1500 float64: 18 MB)
REFINE_ROUNDS = 3
SEED = 0  # k-means starts: the same labels for the same audio, run to run


def _refined_affinity(unit: np.ndarray) -> np.ndarray:
    affinity = unit @ unit.T
    np.fill_diagonal(affinity, -np.inf)
    np.fill_diagonal(affinity, affinity.max(axis=1))
    keep = max(1, int(np.ceil(KEEP * len(affinity))))
    cut = np.partition(affinity, -keep, axis=1)[:, -keep][:, None]
    affinity = np.where(affinity >= cut, affinity, affinity * SOFT)
    affinity = np.maximum(affinity, affinity.T)
    affinity = affinity @ affinity.T
    scaled: np.ndarray = affinity / affinity.max(axis=1, keepdims=True)
    return scaled


def _centred(unit: np.ndarray) -> np.ndarray:
    centred = unit - unit.mean(axis=0)
    scaled: np.ndarray = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return scaled


def _refine(space: np.ndarray, labels: np.ndarray, chosen: np.ndarray, k: int) -> np.ndarray:
    """Every window to its nearest cluster centre, a few rounds (k-means from the spectral
    labels), in the embeddings' space less their mean (where voices differ most)."""
    centres = np.stack([space[chosen][labels[chosen] == i].mean(axis=0) for i in range(k)])
    for _ in range(REFINE_ROUNDS):
        labels = np.argmax(space @ centres.T, axis=1)
        kept = [i for i in range(len(centres)) if (labels == i).any()]  # a centre left empty goes
        centres = np.stack([space[labels == i].mean(axis=0) for i in kept])
    nearest: np.ndarray = np.argmax(space @ centres.T, axis=1)
    return nearest


def _count(eigenvalues: np.ndarray, low: int, high: int) -> int:
    """The count whose eigenvalue gap (ratio to the next) is largest, within [low, high]."""
    values = np.maximum(eigenvalues[: high + 1], 1e-12)
    gaps = values[:-1] / values[1:]
    candidates = range(max(1, low), min(high, len(gaps)) + 1)
    return max(candidates, key=lambda k: gaps[k - 1])


def _spectral(unit: np.ndarray, num: int | None, low: int, high: int) -> tuple[np.ndarray, int]:
    affinity = _refined_affinity(unit)
    values, vectors = np.linalg.eigh(affinity)
    values, vectors = values[::-1], vectors[:, ::-1]
    k = num if num is not None else _count(values, low, high)
    if k <= 1:
        return np.zeros(len(unit), dtype=int), 1
    spectral = vectors[:, :k]
    spectral = spectral / np.maximum(np.linalg.norm(spectral, axis=1, keepdims=True), 1e-12)
    _, labels = kmeans2(spectral, k, minit="++", seed=SEED)
    return labels, k


def cluster(
    embeddings: np.ndarray,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 8,
) -> np.ndarray:
    """A label 0..k-1 per embedding (unit rows), numbered by first appearance."""
    n = len(embeddings)
    if n < 3 or num_speakers == 1 or max_speakers == 1:
        return np.zeros(n, dtype=int)
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    chosen = np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(int)
    num = None if num_speakers is None else min(num_speakers, len(chosen))
    high = min(max_speakers, len(chosen) - 1)
    if num is None:
        high = max(1, min(high, len(chosen) // MIN_WINDOWS))
    sub_labels, k = _spectral(unit[chosen], num, min(min_speakers, high), high)
    labels = np.zeros(n, dtype=int)
    labels[chosen] = sub_labels
    if k > 1:
        labels = _refine(_centred(unit), labels, chosen, k)
    order = {label: i for i, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[label] for label in labels.tolist()], dtype=int)
