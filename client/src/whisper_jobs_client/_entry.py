"""The `whisper-jobs` script: the command line needs the `[cli]` extra (rich); without it, say
how to get it instead of a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from whisper_jobs_client._cli import main as cli_main
    except ImportError as e:
        hint = "pip install 'whisper-jobs-client[cli]'"
        sys.stderr.write(f"whisper-jobs: {e}; the command line needs: {hint}\n")
        return 2
    return cli_main()
