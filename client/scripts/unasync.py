"""Writes the blocking client (`_client.py`) from the asyncio one (`_async_client.py`) by a table
of substitutions, then lets ruff sort the imports and format it; `--check` only says whether
`_client.py` is what the table makes (a test runs it). httpcore's `scripts/unasync.py` is the
model. Edit `_async_client.py`, then run `python client/scripts/unasync.py`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "whisper_jobs_client"
SOURCE, TARGET = PACKAGE / "_async_client.py", PACKAGE / "_client.py"

ASYNC_DOC = """\
`AsyncClient`: the asyncio client. The blocking `Client` (`_client.py`) is written from this
file by `client/scripts/unasync.py`: edit this one, then run that."""
SYNC_DOC = """\
`Client`: the blocking client, written from `_async_client.py` (`AsyncClient`, the same on
asyncio) by `client/scripts/unasync.py`: edit that file, not this one."""

#: (pattern, replacement), applied in order, each to the whole file.
SUBS = [
    (r"A whisper-jobs API client for asyncio\.", "A whisper-jobs API client."),
    (r">>> job = await client", ">>> job = client"),
    (r"AsyncGenerator\[Event, None\]", "Generator[Event, None, None]"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\baclosing\b", "closing"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\bAsyncClient\b", "Client"),
    (r"\basync (def|with|for) ", r"\1 "),
    (r"\bawait ", ""),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_lines\b", "iter_lines"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"^import asyncio$", "import time"),
]


def ruff(args: list[str], text: str) -> str:
    # Named as the real file, so ruff reads the project's settings whatever TARGET is.
    name = str(PACKAGE / "_client.py")
    command = [sys.executable, "-m", "ruff", *args, "--stdin-filename", name, "-"]
    done = subprocess.run(command, input=text, capture_output=True, text=True, check=True)
    return done.stdout


def unasync(text: str) -> str:
    assert ASYNC_DOC in text, "the module docstring changed: change ASYNC_DOC and SYNC_DOC too"
    text = text.replace(ASYNC_DOC, "\0")  # kept out of the substitutions, swapped whole below
    for pattern, replacement in SUBS:
        text = re.sub(pattern, replacement, text, flags=re.M)
    text = text.replace("\0", SYNC_DOC)
    text = ruff(["check", "--select", "I", "--fix", "--quiet", "--exit-zero"], text)
    return ruff(["format", "--quiet"], text)


def main(argv: list[str]) -> int:
    made = unasync(SOURCE.read_text())
    if "--check" in argv:
        if TARGET.read_text() != made:
            sys.stderr.write(f"{TARGET.name} is stale: run python client/scripts/unasync.py\n")
            return 1
        return 0
    TARGET.write_text(made)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
