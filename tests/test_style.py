"""House rules a reviewer would otherwise have to remember: the formatter owns the layout."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("app", "worker", "tests", "benchmarks", "client")


def test_the_formatter_owns_every_line() -> None:
    markers = ("fmt: " + "skip", "fmt: " + "off")  # spelled apart so this file passes itself
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for top in CODE
        for path in sorted((ROOT / top).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(marker in line for marker in markers)
    ]
    assert found == []
