"""Fetching `audio_url` safely: every hop checked and pinned, size capped while streaming.

Redirects are followed by hand (at most five), each new location checked like the first URL, so a
public server cannot bounce the worker to an internal one.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.errors import DownloadFailed, PayloadTooLarge
from app.netguard import Target, UrlPolicy, check_url

MAX_REDIRECTS = 5
_CHUNK = 1 << 16


def _pinned_url(target: Target) -> str:
    """The same URL with its host replaced by the checked address (no second DNS lookup)."""
    parts = urlsplit(target.url)
    host = f"[{target.ip}]" if isinstance(target.ip, ipaddress.IPv6Address) else str(target.ip)
    return urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    return target.host if target.port == default else f"{target.host}:{target.port}"


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
            # TLS verifies the original name: SNI and the certificate check use `host`.
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            try:
                with client.stream(
                    "GET", _pinned_url(target), headers={"Host": _host_header(target)},
                    extensions=extensions,
                ) as response:  # fmt: skip
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
    try:
        with destination.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise PayloadTooLarge(
                        f"The audio at the URL exceeds the limit of {max_bytes} bytes."
                    )
                out.write(chunk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    if written == 0:
        raise DownloadFailed("The audio URL returned an empty body.")
    return written
