"""The API documentation page in Chromium: it renders the service's own OpenAPI document, loads
nothing from another origin, and breaks no rule of its Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.e2e.conftest import Cluster
from tests.e2e.console.conftest import Watched


def test_the_docs_page_loads_only_from_this_origin(cluster: Cluster, watched: Watched) -> None:
    page = watched.page
    page.goto(cluster.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("whisper-jobs", timeout=30_000)
    expect(page.get_by_text("/v1/jobs/{job_id}/events").first).to_be_visible()
    origin = urlsplit(cluster.url).netloc
    foreign = [
        u
        for u in watched.requests
        if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != origin
    ]
    assert foreign == []
    assert watched.errors == []  # a CSP violation is a console error
    assert any(u.endswith("/openapi.json") for u in watched.requests)
    assert cluster.http.get("/redoc").status_code == 404  # not offered (see app/api/routes/docs)
