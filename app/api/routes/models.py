"""`/v1/models`: the models this deployment offers, in OpenAI's list shape (`object: "list"`,
model objects with `id`, `object`, `created`, `owned_by`) with our fields on each entry, and
`whisper-1` (what OpenAI's SDKs and tools ask for: the default model) listed too."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import SettingsDep, get_caller
from app.contract.catalog import OPENAI_ALIAS, ModelInfo, model_info
from app.contract.errors import ModelNotFound

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(get_caller)])


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


@router.get("", response_model=ModelList)
async def list_models(settings: SettingsDep) -> ModelList:
    """Each offered model: multilingual or English-only, its languages, and where it comes from
    (`bundled` in a package, a `local` directory, or `remote`: downloaded on first use); then
    `whisper-1`, an alias of the default model."""
    models = [model_info(name, settings.model) for name in settings.models]
    default = model_info(settings.model, settings.model)
    alias = default.model_copy(
        update={"id": OPENAI_ALIAS, "alias_of": settings.model, "default": False}
    )
    return ModelList(data=[*models, alias])


@router.get(
    "/{model_id}",
    response_model=ModelInfo,
    responses={404: {"description": "No such model (`model_not_found`)"}},
)
async def get_model(model_id: str, settings: SettingsDep) -> ModelInfo:
    """One model, as OpenAI's `GET /v1/models/{model}` answers."""
    for model in (await list_models(settings)).data:
        if model.id == model_id:
            return model
    raise ModelNotFound(f"The model {model_id!r} does not exist.")
