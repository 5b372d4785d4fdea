"""The README is a front page (installing the client, then the server's two commands, then
where to read on) and docs/ holds the reference: every link resolves, every setting is in the
generated configuration reference, and the examples run."""

import re
from pathlib import Path

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"


def test_the_readme_is_a_front_page_with_a_contents_list_of_docs() -> None:
    assert len(README.splitlines()) <= 250
    listed = set(re.findall(r"\]\((docs/[a-z-]+\.md)\)", README))
    assert listed == {f"docs/{p.name}" for p in DOCS.glob("*.md")}


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if (
                not target.startswith(("http://", "https://"))
                and not (page.parent / target).exists()
            ):
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_configuration_reference_is_generated_and_has_every_setting() -> None:
    from app.core.config_reference import render

    written = (DOCS / "configuration.md").read_text()
    assert written == render(), "stale: python -m app.core.config_reference > docs/configuration.md"
    missing = [n for n in Settings.model_fields if f"`WHISPER_JOBS_{n.upper()}`" not in written]
    assert missing == []


def test_the_client_then_the_two_commands_come_first() -> None:
    client, server = README.split("## ")[1:3]
    assert client.startswith("Install the client") and "pip install" in client
    assert "make serve" in server and "make test" in server


def test_the_webhook_receiver_example_runs(capsys) -> None:
    """docs/webhooks.md's receiver, run as written (with a real secret for `whsec_...`)."""
    import base64
    import json
    import re
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from app.contract.webhook_events import signed_headers

    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "webhooks.md").read_text(), re.S)
    (code,) = [b for b in blocks if "WebhookVerifier" in b]
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    namespace: dict = {}
    exec(code.replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102
    body = json.dumps({"type": "job.completed", "data": {"id": "j1"}})
    headers = signed_headers("msg_j1", datetime.now(UTC), body, [secret])
    with TestClient(namespace["app"]) as client:
        assert client.post("/whisper-jobs", content=body, headers=headers).status_code == 200
        assert client.post("/whisper-jobs", content=body, headers=headers).status_code == 200
        tampered = body.replace("j1", "j2")
        assert client.post("/whisper-jobs", content=tampered, headers=headers).status_code == 400
    assert capsys.readouterr().out == "job.completed j1\n"  # the retry was deduplicated


def test_every_image_the_readme_shows_is_committed() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert "docs/console.png" in images
    for image in images:
        assert (ROOT / image).is_file(), image


def test_env_example_is_generated_from_the_settings() -> None:
    from app.core.env_example import render

    written = (ROOT / ".env.example").read_text()
    assert written == render(), "stale: run `python -m app.core.env_example > .env.example`"
