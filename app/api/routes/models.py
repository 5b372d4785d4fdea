"""`/v1/models`: the models this deployment offers."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import SettingsDep, get_caller
from app.catalog import ModelInfo, model_info

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(get_caller)])


class ModelList(BaseModel):
    data: list[ModelInfo]


@router.get("", response_model=ModelList)
def list_models(settings: SettingsDep) -> ModelList:
    """Each offered model: multilingual or English-only, its languages, and where it comes from
    (`bundled` in a package, a `local` directory, or `remote`: downloaded on first use)."""
    return ModelList(data=[model_info(name, settings.model) for name in settings.models])
