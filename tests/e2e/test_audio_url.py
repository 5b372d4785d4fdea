"""`audio_url` end to end against a real HTTP server on 127.0.0.1 (allowed for these tests only,
by `WHISPER_JOBS_ALLOWED_NETWORKS=127.0.0.1/32`). Refused targets are other loopback addresses,
so no traffic ever leaves this machine."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from app.core.embedded import EmbeddedRedis
from tests.conftest import JFK, JFK_TEXT
from tests.e2e.conftest import Cluster, cluster_on_db, loopback_http_server, uploads_left

CAP = 4 * 1024 * 1024


class AudioServer(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        port = self.server.server_address[1]
        if self.path == "/jfk.flac":
            body = JFK.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/jfk.flac")
            self.end_headers()
        elif self.path == "/to-internal":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{port}/jfk.flac")
            self.end_headers()
        elif self.path == "/huge":  # no Content-Length: counted while streaming
            self.send_response(200)
            self.end_headers()
            for _ in range(CAP // 65536 + 10):
                self.wfile.write(bytes(65536))
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def audio_server() -> Iterator[str]:
    with loopback_http_server(AudioServer) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        5,
        tmp_path_factory.mktemp("audio-url"),
        models_dir,
        WHISPER_JOBS_ALLOWED_NETWORKS="127.0.0.1/32",
        WHISPER_JOBS_MAX_UPLOAD_BYTES=str(CAP),
    ) as c:
        yield c


def submit_url(cluster: Cluster, url: str):
    return cluster.http.post("/v1/jobs", data={"audio_url": url}, files={})


def final(cluster: Cluster, url: str) -> dict:
    response = submit_url(cluster, url)
    assert response.status_code == 202, response.text
    assert response.json()["source_url"] == url
    return cluster.wait_for(
        response.json()["id"], lambda j: j["status"] not in {"queued", "processing"}, 120
    )


def test_audio_from_an_allowed_url_is_transcribed(cluster: Cluster, audio_server: str) -> None:
    job = final(cluster, f"{audio_server}/jfk.flac")
    assert job["status"] == "completed"
    assert job["result"]["text"] == JFK_TEXT.strip()
    assert uploads_left(cluster.data_dir, job["id"]) == []


def test_redirects_within_allowed_targets_are_followed(cluster: Cluster, audio_server: str):
    assert final(cluster, f"{audio_server}/hop")["status"] == "completed"


def test_a_404_fails_with_download_failed(cluster: Cluster, audio_server: str) -> None:
    job = final(cluster, f"{audio_server}/missing.mp3")
    assert job["error"]["code"] == "download_failed"
    assert "404" in job["error"]["message"]


def test_an_oversize_body_fails_with_payload_too_large(cluster: Cluster, audio_server: str):
    job = final(cluster, f"{audio_server}/huge")
    assert job["error"]["code"] == "payload_too_large"
    assert uploads_left(cluster.data_dir) == []


def test_a_redirect_to_a_refused_address_fails_the_job(cluster: Cluster, audio_server: str):
    job = final(cluster, f"{audio_server}/to-internal")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "url_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]", "[::ffff:127.0.0.2]"])
def test_refused_addresses_are_422_at_submit(cluster: Cluster, host: str) -> None:
    response = submit_url(cluster, f"http://{host}:9/a.flac")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "url_not_allowed"


def test_exactly_one_of_file_and_url(cluster: Cluster, audio_server: str) -> None:
    with JFK.open("rb") as f:
        both = cluster.http.post(
            "/v1/jobs",
            data={"audio_url": f"{audio_server}/jfk.flac"},
            files={"file": ("jfk.flac", f)},
        )
    assert both.status_code == 422 and both.json()["error"]["code"] == "invalid_request"
    neither = cluster.http.post("/v1/jobs", data={"language": "en"}, files={})
    assert neither.status_code == 422 and neither.json()["error"]["code"] == "invalid_request"
    ftp = submit_url(cluster, "ftp://127.0.0.1/a.flac")
    assert ftp.status_code == 422 and "http" in ftp.json()["error"]["message"]
