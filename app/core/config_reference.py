"""`docs/configuration.md`: the configuration reference, generated from `Settings` (every
variable, its default and its description), so the reference cannot drift from the code
(`python -m app.core.config_reference > docs/configuration.md`; a test says when it is stale).
Reads nothing, writes stdout.
"""

from __future__ import annotations

import sys
from typing import Any

from app.core.config import Settings
from app.core.env_example import PREFIX, spelled

HEADER = """\
# Configuration

Every setting is an environment variable, read by every part (API, workers, beat, the webhooks
worker). An empty variable counts as unset. `.env.example` lists them all for Docker Compose's
`.env`, and `whisper-jobs check` checks a configuration as the services would at start (exit 78
when it is not valid). Generated from `app/core/config.py` by
`python -m app.core.config_reference`; do not edit by hand.

| Variable | Default | Meaning |
|---|---|---|
"""

_DAY, _HOUR = 86400, 3600


def _readable(name: str, value: Any) -> str:
    """The default as spelled, and in hours, days or GiB where that reads better."""
    text = spelled(value)
    if value is None:
        return "unset"
    if text == "":
        return "empty"
    shown = f"`{text}`"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith("_seconds") and value >= _HOUR:
            unit = (value / _DAY, "days") if value % _DAY == 0 else (value / _HOUR, "h")
            shown += f" ({unit[0]:g} {unit[1]})"
        elif name.endswith("_bytes") and value >= 2**30:
            shown += f" ({value / 2**30:g} GiB)"
    return shown


def render() -> str:
    rows = [HEADER]
    for name, field in Settings.model_fields.items():
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        default = _readable(name, field.default)
        rows.append(f"| `{PREFIX}{name.upper()}` | {default} | {meaning} |\n")
    return "".join(rows)


if __name__ == "__main__":
    sys.stdout.write(render())
