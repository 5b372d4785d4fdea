"""whisper-jobs, the server: rooms with labels, and one direction of imports.

- `app.contract`: the job model and its state machine, errors, languages, the model catalog,
  output formats, webhook events. It imports nothing else of ours (the client distribution's
  stdlib-only `signing` aside: the server signs what the client verifies).
- `app.core`: settings, logs, API keys, the URL guard, the upload probe, the embedded Valkey,
  `serve`'s supervisor and the server's commands. It imports only the contract (and the client's
  command line, which its commands plug into).
- `app.storage`: everything that speaks to Redis and the broker (the job store, its keys and
  counters, idempotency, webhook delivery state, worker heartbeats, the Celery producer). It
  imports only the contract and core.
- `app.api`: HTTP only; it may import all three, never `worker`.
- `worker` (beside `app`): Celery and the Whisper engine; it never imports `app.api`.

`tests/test_layering.py` checks these rules over the import graph.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("whisper-jobs")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"
