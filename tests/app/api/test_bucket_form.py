"""`BucketFormParser` on Starlette's own parser: the first file's bytes go to the sink as they
arrive, fields and any other file are parsed as Starlette parses them. (This guards the two
private attributes of Starlette's parser it relies on.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from starlette.datastructures import Headers, UploadFile

from app.api.bucket_form import BucketFormParser


class RecordingSink:
    """Stands in for `UploadSink` (the bucket side is tested against a real S3 server)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.ended = True
        return 0

    def close(self) -> None:
        self.closed = True


def body() -> list[bytes]:
    part = b"--b\r\nContent-Disposition: form-data; name=%s%s\r\n\r\n%s\r\n"
    return [
        part % (b'"language"', b"", b"en"),
        part % (b'"file"', b'; filename="a.wav"', b"A" * 70_000),
        part % (b'"other"', b'; filename="b.wav"', b"B" * 10),
        b"--b--\r\n",
    ]


async def stream(chunks: list[bytes]) -> AsyncGenerator[bytes, None]:
    for chunk in chunks:
        yield chunk


def parser_of(source: AsyncGenerator[bytes, None], sinks: list[RecordingSink]) -> BucketFormParser:
    def make() -> RecordingSink:
        sinks.append(RecordingSink())
        return sinks[-1]

    headers = Headers({"content-type": "multipart/form-data; boundary=b"})
    return BucketFormParser(headers, source, make)  # type: ignore[arg-type]


def parse(chunks: list[bytes], sinks: list[RecordingSink]):
    return asyncio.run(parser_of(stream(chunks), sinks).parse())


def test_the_first_file_streams_into_the_sink_and_the_rest_parses_as_usual() -> None:
    sinks: list[RecordingSink] = []
    form = parse(body(), sinks)
    (sink,) = sinks
    assert b"".join(sink.chunks) == b"A" * 70_000 and sink.ended and not sink.closed
    upload = form["file"]
    assert isinstance(upload, UploadFile) and upload.file is sink and upload.filename == "a.wav"
    assert form["language"] == "en"
    other = form["other"]
    assert isinstance(other, UploadFile) and other.file.read() == b"B" * 10  # spooled
    other.file.close()


def test_a_body_cut_short_closes_the_sink() -> None:
    sinks: list[RecordingSink] = []
    chunks = body()[:2]
    chunks[1] = chunks[1][:-100]  # the file part never ends

    async def broken() -> AsyncGenerator[bytes, None]:
        for chunk in chunks:
            yield chunk
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(parser_of(broken(), sinks).parse())
    (sink,) = sinks
    assert sink.closed and not sink.ended  # an unfinished upload is aborted by its close
