"""The README documents every setting and keeps the two commands first."""

from pathlib import Path

from app.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [n for n in Settings.model_fields if f"`WHISPER_JOBS_{n.upper()}`" not in README]
    assert missing == []


def test_the_two_commands_come_first() -> None:
    first_section = README.split("## ")[1]
    assert "make serve" in first_section and "make test" in first_section
