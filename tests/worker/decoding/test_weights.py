from pathlib import Path

import pytest

from app.contract.catalog import BUNDLED
from app.contract.errors import ModelLoadFailed
from worker.decoding.weights import (
    _assemble_base,
    bundled_model_dir,
    resolve_model,
    sha256_of,
)

pytestmark = pytest.mark.model  # loads the real Whisper weights


def test_base_is_assembled_from_its_two_packages_and_verified(models_dir: Path) -> None:
    directory = bundled_model_dir("base", models_dir)
    assert directory == models_dir / "base"
    assert sha256_of(directory / "model.bin") == BUNDLED["base"].sha256
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (directory / name).is_file()
    assert resolve_model("base", models_dir) == str(directory)


def test_tiny_en_comes_from_its_package(models_dir: Path) -> None:
    directory = bundled_model_dir("tiny.en", models_dir)
    assert directory is not None and (directory / "model.bin").is_file()


def test_a_directory_is_used_as_is_and_other_names_go_to_the_hub(
    models_dir: Path, tmp_path: Path
) -> None:
    assert resolve_model(str(tmp_path), models_dir) == str(tmp_path)
    assert resolve_model("large-v3", models_dir) == "large-v3"


def test_a_corrupt_model_is_refused(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "data", tmp_path / "two" / "data"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    (one / "model.bin.part1").write_bytes(b"not")
    (two / "model.bin.part2").write_bytes(b"whisper")
    target = tmp_path / "cache"
    with pytest.raises(ModelLoadFailed, match="sha256"):
        _assemble_base([one.parent, two.parent], target)
    assert not (target / "model.bin").exists()
    # a tampered cached file is refused too
    (target / "model.bin").write_bytes(b"tampered")
    with pytest.raises(ModelLoadFailed, match="sha256"):
        _assemble_base([one.parent, two.parent], target)
