# One command per habit. Each target does its own set-up, so a fresh clone needs nothing else.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup serve test lint format bench

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	$(UV) sync --locked --all-extras

serve: setup
	$(UV) run --no-sync whisper-jobs serve

lint: setup
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy

format: setup
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

test: lint
	$(UV) run --no-sync pytest

bench: setup
	$(UV) run --no-sync python -m benchmarks.run
