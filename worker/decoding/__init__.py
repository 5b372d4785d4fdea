"""Decoding: audio in, a transcript out. The engine around faster-whisper (`engine`), audio
decoding (`audio`), the bundled weights (`weights`) and loaded models (`model_cache`), jobs'
model calls merged (`batching`, `refusals`), the batched pipeline's steps and sentences
(`batched_steps`, `sentences`), faster-whisper's segments as ours (`segments`).

Imports nothing of Celery, Redis, FastAPI or `app.storage` (`tests/test_layering.py`): it is
tested and benchmarked on its own, and the running of jobs (`worker.*`) builds on it.
"""
