"""How the console is served: `/` is the page for a browser and the JSON index for a client;
its files carry the strict CSP; the page's own files use only relative URLs and no inline code
or markup sinks (what keeps it safe and working under a path prefix)."""

import re

from fastapi.testclient import TestClient

from app.api.routes.console import CSP, STATIC

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_console_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="console/app.js"></script>' in page.text
    script = client.get("/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == CSP
    assert client.head("/", headers=HTML).status_code == 200


def test_an_api_client_gets_the_index(client: TestClient) -> None:
    index = client.get("/")
    assert index.json()["console"] == "/" and index.json()["keys_required"] is False
    assert client.get("/", headers={"Accept": "application/json"}).json()["docs"] == "/docs"


def test_the_console_files_use_no_markup_sinks_and_only_relative_urls() -> None:
    sources = {p.name: p.read_text() for p in STATIC.iterdir() if p.suffix in {".js", ".html"}}
    assert {"app.js", "api.js", "dom.js", "index.html"} <= set(sources)
    for name, text in sources.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (name, sink)
        assert not re.search(r"""(src|href)=["']/""", text), name  # a prefix would break it
        assert not re.search(r"""fetch\(\s*["'`]/""", text), name
        other_origin = re.search(r"https?://(?!example\.com/|www\.w3\.org/2000/svg)", text)
        assert not other_origin, name
    assert "<script>" not in sources["index.html"] and " style=" not in sources["index.html"]
