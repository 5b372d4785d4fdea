# One command per habit. Each target does its own set-up, so a fresh clone needs nothing else.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup serve test test-fast test-isa test-one-core lint format bench bench-gpu

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
	$(UV) run --no-sync hadolint docker/*.Dockerfile

format: setup
	$(UV) run --no-sync python client/scripts/unasync.py  # the sync client, from the async one
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

# Everything, then the model's tests again with CTranslate2 forced to its generic kernels: the
# suite must hold on any x86-64 CPU, not only on the one it was written on.
test: lint
	$(UV) run --no-sync pytest
	$(MAKE) --no-print-directory test-isa

# No model, no worker process: seconds.
test-fast: setup
	$(UV) run --no-sync pytest -m "not e2e and not model" -q

# The engine's tests (jobs decoded together included) and the end-to-end transcript tests
# (submit over HTTP, the real worker, the transcript in every format, split channels, an
# English-only model) under another instruction set: GENERIC here, CT2_ISA=AVX2 or AVX512 where
# the CPU has them.
CT2_ISA ?= GENERIC
test-isa: setup
	CT2_FORCE_CPU_ISA=$(CT2_ISA) $(UV) run --no-sync pytest -q --durations=5 \
		tests/worker/decoding/test_engine.py tests/worker/decoding/test_engine_features.py \
		tests/worker/decoding/test_engine_batching.py tests/worker/decoding/test_batched_path.py \
		--deselect tests/worker/decoding/test_engine.py::test_model_is_loaded_once_and_reused \
		tests/e2e/test_pipeline.py::test_jfk_end_to_end \
		tests/e2e/test_features.py::test_transcript_formats_over_http \
		tests/e2e/test_features.py::test_an_english_only_model_job_runs_on_its_own_queue \
		tests/e2e/test_features.py::test_split_channels_end_to_end

# The end-to-end tests on one core (every process they start inherits it): a busy CI machine's
# worst case, to prove no test depends on the machine's speed.
test-one-core: setup
	taskset -c 0 $(UV) run --no-sync pytest -q tests/e2e

bench: setup
	$(UV) run --no-sync python -m benchmarks.run

bench-gpu: setup
	$(UV) run --no-sync python -m benchmarks.gpu
