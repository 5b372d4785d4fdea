"""whisper-jobs: the shared contract (settings, job model, store, task names).

Both the HTTP layer (`app.api`) and the worker (`worker`) import from here;
neither imports the other.
"""
