"""`GET /v1/formats`: the transcript formats this service renders, read from the registry
(`app.contract.formats.FORMATS`): the console builds its download buttons from it, and callers
can learn the media type and file extension of each."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import get_caller
from app.contract.formats import FORMATS

router = APIRouter(prefix="/v1/formats", tags=["formats"], dependencies=[Depends(get_caller)])


class FormatInfo(BaseModel):
    name: str
    media_type: str
    extension: str
    subtitles: bool
    description: str


class FormatList(BaseModel):
    data: list[FormatInfo]


@router.get("", response_model=FormatList)
async def list_formats() -> FormatList:
    """Each format `GET /v1/jobs/{id}/transcript?format=` takes: its media type, the extension
    of a download, and whether it takes the subtitle limits (`max_line_width`, ...)."""
    return FormatList(
        data=[
            FormatInfo(
                name=f.name,
                media_type=f.media_type,
                extension=f.extension,
                subtitles=f.subtitles,
                description=f.description,
            )
            for f in FORMATS.values()
        ]
    )
