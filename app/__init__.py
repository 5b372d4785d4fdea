"""whisper-jobs: the shared contract (settings, job model, store, task names).

Both the HTTP layer (`app.api`) and the worker (`worker`) import from here;
neither imports the other.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("whisper-jobs")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"
