"""A configuration that does not validate, said in a few lines a person can act on: each bad
setting by its environment variable's name, and what is wrong with it.

Never the value itself: pydantic's own message repeats every input (`input_value='whsec_…'`), and
settings hold secrets (webhook secrets, the Redis URL's password, key hashes). Any configured
secret that a message still quotes is masked too.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from pydantic import ValidationError

PREFIX = "WHISPER_JOBS_"
# sysexits' EX_CONFIG: a supervisor (compose, systemd) can tell it from a crash.
CONFIGURATION_ERROR = 78


class ConfigurationError(RuntimeError):
    """Settings that validate one by one but cannot run (a process says it, then exits 78)."""


# Settings whose values are secret, or carry one.
SECRET_SETTINGS = (
    "WEBHOOK_SECRET",
    "WEBHOOK_SECRETS_PREVIOUS",
    "REDIS_SENTINEL_PASSWORD",
    "API_KEYS",
    "REDIS_URL",
)
MASK = "***"


def describe(error: ValidationError) -> str:
    lines = ["the configuration is not valid (nothing was started):"]
    for e in error.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in e["loc"])
        name = PREFIX + field.upper() if field else f"{PREFIX}*"
        message = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {mask(message)}")
    return "\n".join(lines)


def secrets_in_environment() -> list[str]:
    """The configured secret values (and the Redis URLs' passwords), longest first."""
    found: list[str] = []
    for name in SECRET_SETTINGS:
        value = os.environ.get(PREFIX + name, "")
        if not value:
            continue
        found += [part for part in value.replace(",", " ").split() if len(part) >= 4]
        if name == "REDIS_URL":
            for url in value.split(";"):
                try:
                    password = urlsplit(url).password
                except ValueError:
                    continue
                if password:
                    found.append(password)
    return sorted(set(found), key=len, reverse=True)


def mask(message: str) -> str:
    for secret in secrets_in_environment():
        message = message.replace(secret, MASK)
    return message
