"""Clustering on embeddings of known structure (the real voices are test_speaker_turns')."""

import numpy as np
import pytest

from worker.diarization import clustering
from worker.diarization.clustering import cluster


def voices(counts: list[int], spread: float = 0.35, seed: int = 0) -> np.ndarray:
    """Unit vectors around one centre per voice, with a large shared component (as the
    encoder's ReLU gives real voices)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=256)
    rows = []
    for count in counts:
        centre = shared + 0.8 * np.linalg.norm(shared) / 16 * rng.normal(size=256)
        for _ in range(count):
            rows.append(centre + spread * np.linalg.norm(shared) / 16 * rng.normal(size=256))
    out = np.array(rows)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.parametrize("counts", [[30], [20, 25], [15, 20, 12], [12, 10, 14, 16]])
def test_the_count_is_found_and_each_voice_is_one_label(counts: list[int]) -> None:
    labels = cluster(voices(counts))
    assert len(set(labels.tolist())) == len(counts)
    start = 0
    for count in counts:
        assert len(set(labels[start : start + count].tolist())) == 1
        start += count


def test_a_given_count_is_used() -> None:
    assert len(set(cluster(voices([20, 20]), num_speakers=3).tolist())) == 3
    assert set(cluster(voices([20, 20]), num_speakers=1).tolist()) == {0}


def test_bounds_are_kept() -> None:
    assert len(set(cluster(voices([10, 10, 10]), max_speakers=2).tolist())) <= 2


def test_labels_are_numbered_by_first_appearance_and_repeat_run_to_run() -> None:
    embeddings = voices([10, 15])[::-1]
    first = cluster(embeddings)
    assert first[0] == 0 and first.tolist() == cluster(embeddings).tolist()


def test_few_windows_are_one_speaker() -> None:
    assert set(cluster(voices([2, 3])).tolist()) == {0}  # under MIN_WINDOWS each
    assert cluster(np.zeros((0, 256))).tolist() == []


def test_a_long_recording_is_clustered_on_a_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clustering, "MAX_CLUSTERED", 40)
    labels = cluster(voices([60, 50]))
    assert labels[:60].tolist() == [0] * 60 and labels[60:].tolist() == [1] * 50
