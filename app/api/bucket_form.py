"""Uploads streamed into the bucket as they arrive, when uploads live in one: the API never holds
an upload's body in memory or on its own disk.

FastAPI parses a multipart form before the route runs, with Starlette's parser, which spools each
file to a temporary file. For the routes that take uploads, `BucketUploadRoute` parses the form
first with that same parser, except that the first file's bytes go to an `UploadSink` (parts
sent to the bucket while the body arrives); FastAPI then finds the form parsed and validates it
as usual. The job's id is chosen here (`request.state.job_id`), since it names the object.

With the data directory as the store, nothing here runs. Relies on two attributes of
Starlette's parser (`_current_part`, `_files_to_close_on_error`) and on `Request._form`;
tests/app/api/test_bucket_form.py fails if they change.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser

from app.contract.errors import StorageUnavailable
from app.contract.jobs import new_job_id
from app.core.object_streams import UploadSink
from app.core.object_uploads import ObjectUploads
from app.core.uploads import UploadStoreUnavailable


class BucketFormParser(MultiPartParser):
    """Starlette's multipart parser, the first file of the form streamed to `sink()`."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        sink: Callable[[], UploadSink],
    ) -> None:
        super().__init__(headers, stream)
        self._sink: Callable[[], UploadSink] | None = sink

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        upload = self._current_part.file
        if upload is None or self._sink is None:
            return  # a field, or a second file (refused by the route: one file per job)
        spooled = self._files_to_close_on_error.pop()  # the temporary file just made for it
        spooled.close()
        upload.file = self._sink()  # type: ignore[assignment]
        self._files_to_close_on_error.append(upload.file)  # type: ignore[arg-type]
        self._sink = None


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


class BucketUploadRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def streamed(request: Request) -> Response:
            uploads = request.app.state.settings.uploads
            if (
                request.method == "POST"
                and isinstance(uploads, ObjectUploads)
                and is_multipart(request)
            ):
                job_id = request.state.job_id = new_job_id()
                await _parse_into_bucket(request, lambda: uploads.sink(job_id))
            return await handle(request)

        return streamed


async def _parse_into_bucket(request: Request, sink: Callable[[], UploadSink]) -> None:
    try:
        async with aclosing(request.stream()) as stream:
            parser = BucketFormParser(request.headers, stream, sink)
            request._form = await parser.parse()  # FastAPI's `request.form()` returns it
    except MultiPartException as e:
        raise HTTPException(status_code=400, detail=e.message) from e
    except UploadStoreUnavailable as e:
        raise StorageUnavailable("The upload store is unavailable; try again shortly.") from e


def job_id_of(request: Request) -> str:
    """The id chosen for this request's upload, or a new one."""
    return getattr(request.state, "job_id", None) or new_job_id()
