"""The README documents every setting, and starts with installing the client (for callers),
then the server's two commands."""

import re
from pathlib import Path

from app.core.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [n for n in Settings.model_fields if f"`WHISPER_JOBS_{n.upper()}`" not in README]
    assert missing == []


def test_the_client_then_the_two_commands_come_first() -> None:
    client, server = README.split("## ")[1:3]
    assert client.startswith("Install the client") and "pip install" in client
    assert "make serve" in server and "make test" in server


def test_the_webhook_receiver_example_runs(capsys) -> None:
    """The README's receiver, run as written (with a real secret in place of `whsec_...`)."""
    import base64
    import json
    import re
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from app.contract.webhook_events import signed_headers

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
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
        assert (Path(__file__).resolve().parents[1] / image).is_file(), image


def test_env_example_is_generated_from_the_settings() -> None:
    from app.core.env_example import render

    written = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    assert written == render(), "stale: run `python -m app.core.env_example > .env.example`"
