"""The blocking client cannot drift from the asyncio one: `_client.py` is what
`client/scripts/unasync.py` writes from `_async_client.py` (httpcore's `unasync --check`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "client" / "scripts" / "unasync.py"


def test_the_sync_client_is_written_from_the_async_one() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_check_fails_on_a_hand_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import unasync

    made = unasync.unasync(unasync.SOURCE.read_text())
    assert "async " not in made and "await " not in made and "AsyncClient(" not in made
    edited = tmp_path / "_client.py"
    edited.write_text(made.replace("max_retries", "retries"))  # a hand edit of the sync side
    monkeypatch.setattr(unasync, "TARGET", edited)
    assert unasync.main(["--check"]) == 1
    edited.write_text(made)
    assert unasync.main(["--check"]) == 0
