"""Fetching `audio_url` safely: every hop checked and pinned, size capped while streaming.

Redirects are followed by hand (at most five), each new location checked like the first URL, so a
public server cannot bounce the worker to an internal one.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import httpx

from app.contract.errors import DownloadFailed, PayloadTooLarge
from app.core.netguard import UrlPolicy, check_url

MAX_REDIRECTS = 5
_CHUNK = 1 << 16


def download(
    url: str,
    destination: Path,
    policy: UrlPolicy,
    max_bytes: int,
    timeout: httpx.Timeout | None = None,
) -> int:
    timeout = timeout or httpx.Timeout(30.0, connect=10.0)
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target = check_url(current, policy)
            try:
                with client.stream(
                    "GET",
                    target.pinned_url(),
                    headers={"Host": target.host_header()},
                    extensions=target.extensions(),
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if not response.is_success:
                        raise DownloadFailed(
                            f"Fetching the audio URL failed: HTTP {response.status_code}."
                        )
                    return _save(response, destination, max_bytes)
            except httpx.TimeoutException as e:
                raise DownloadFailed("Fetching the audio URL timed out.") from e
            except httpx.HTTPError as e:
                raise DownloadFailed(f"Fetching the audio URL failed: {type(e).__name__}.") from e
    raise DownloadFailed(f"The audio URL redirected more than {MAX_REDIRECTS} times.")


def _save(response: httpx.Response, destination: Path, max_bytes: int) -> int:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The audio at the URL exceeds the limit of {max_bytes} bytes.")
    written = 0
    # A partial file is not removed here: the runner owns the upload and removes it when the
    # job ends (`app.core.uploads`); a rerun after a shutdown writes it again from the start.
    with destination.open("wb") as out:
        for chunk in response.iter_bytes(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise PayloadTooLarge(
                    f"The audio at the URL exceeds the limit of {max_bytes} bytes."
                )
            out.write(chunk)
    if written == 0:
        raise DownloadFailed("The audio URL returned an empty body.")
    return written
