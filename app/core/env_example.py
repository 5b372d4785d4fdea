"""`.env.example`: every setting of `Settings` with its default and description, generated from
the class (`python -m app.core.env_example > .env.example`; a test says when the file is stale).
Also the names that docker-compose.yml forwards to each service. Reads nothing, writes stdout.
"""

from __future__ import annotations

import json
import sys
import textwrap
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.config import Settings

PREFIX = "WHISPER_JOBS_"
HEADER = """\
# whisper-jobs settings for `docker compose` (or any process): copy to `.env` and uncomment what
# you change. Docker Compose reads `.env` beside docker-compose.yml and forwards every
# WHISPER_JOBS_* setting to each service (an empty or commented one keeps its default).
# Generated from app/core/config.py by `python -m app.core.env_example`; do not edit by hand.
"""


def env_names() -> list[str]:
    return [PREFIX + name.upper() for name in Settings.model_fields]


def spelled(value: Any) -> str:
    """A default as the variable would spell it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(spelled(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def render() -> str:
    blocks = [HEADER]
    for name, field in Settings.model_fields.items():
        text = " ".join((field.description or "").split())
        lines = textwrap.wrap(text, width=96) or [""]
        comment = "\n".join(f"# {line}".rstrip() for line in lines)
        blocks.append(f"{comment}\n# {PREFIX}{name.upper()}={spelled(field.default)}\n")
    return "\n".join(blocks)


if __name__ == "__main__":
    sys.stdout.write(render())
