"""Download one URL to one file, safely: resume, bounded retries, sha256, HTML detection.

Uses only :mod:`urllib` (no new dependency). A download goes to ``<dest>.part`` and is
renamed to ``dest`` only when it is complete and its sha256 (when known) matches, so a
half-written or wrong file is never mistaken for data:

- **resume**: an existing ``.part`` file is continued with an HTTP ``Range`` request; a
  server that ignores ``Range`` (status 200) restarts the file from byte 0;
- **retries**: connection errors, 5xx answers and transfers cut short are retried up to
  ``retries`` times with exponential backoff (``backoff_s * 2**attempt`` seconds);
- **HTML guard**: an answer with ``Content-Type: text/html`` or a body starting with
  ``<!DOCTYPE``/``<html`` (an error or login page served with status 200) is refused
  when the file is not itself ``.html``; the ``.part`` file is removed;
- **checksum**: a sha256 mismatch removes the file and raises ChecksumError.
"""

from __future__ import annotations

import http.client
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from emgcorpus.checksums import file_sha256
from emgcorpus.errors import ChecksumError, EmgCorpusError

CHUNK_BYTES = 1 << 16
USER_AGENT = "emgcorpus-fetch/1 (+https://github.com/; python urllib)"
_HTML_STARTS = (b"<!doctype", b"<html")


class DownloadError(EmgCorpusError):
    """A URL could not be downloaded (unreachable host, HTTP error, HTML instead of data)."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"{url}: {problem}")


class _Retryable(Exception):
    """A transient failure worth another attempt (connection error, 5xx, short transfer)."""


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts after the first; sleep ``backoff_s * 2**k`` [s] between."""

    retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * (2**attempt)))


def _looks_like_html(content_type: str | None, head: bytes) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in (
        "text/html",
        "application/xhtml+xml",
    ):
        return True
    return head.lstrip()[:16].lower().startswith(_HTML_STARTS)


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _attempt(
    url: str, part: Path, policy: RetryPolicy, progress: bool | None, allow_html: bool
) -> None:
    """One transfer into ``part`` (resuming it). Raises _Retryable or DownloadError."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=policy.timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part file already holds every byte
            return
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        host = urllib.parse.urlsplit(url).netloc
        raise _Retryable(f"cannot reach host {host}: {reason}") from None
    with response:
        status = response.status
        if offset and status != 206:  # server ignored Range: start over
            offset = 0
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) + offset if length_header is not None else None
        first = response.read(CHUNK_BYTES)
        head = first if offset == 0 else b""
        if not allow_html and _looks_like_html(response.headers.get("Content-Type"), head):
            part.unlink(missing_ok=True)
            raise DownloadError(
                url,
                "the server sent an HTML page instead of the data file (an error or login "
                "page?); nothing was saved. Check the URL in a browser.",
            )
        mode = "ab" if offset else "wb"
        written = offset
        bar = tqdm(
            total=expected,
            initial=offset,
            unit="B",
            unit_scale=True,
            desc=part.name.removesuffix(".part"),
            disable=not _show_progress(progress),
            leave=False,
        )
        try:
            with open(part, mode) as fh:
                chunk = first
                while chunk:
                    fh.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
                    chunk = response.read(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise _Retryable(f"transfer interrupted after {written} bytes: {exc}") from None
        finally:
            bar.close()
    if expected is not None and written < expected:
        raise _Retryable(f"transfer cut short: got {written} of {expected} bytes")


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    policy: RetryPolicy | None = None,
    progress: bool | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (via ``dest.part``) and return ``dest``.

    ``size`` [bytes] and ``sha256`` are checked when given. ``on_retry`` receives one line
    per failed attempt that will be retried (what failed, the wait in seconds).
    Raises DownloadError naming the URL when the host stays unreachable after the retries,
    answers 4xx, or sends HTML; ChecksumError (the bad file removed) when the bytes differ
    from ``sha256``.
    """
    policy = policy or RetryPolicy()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    allow_html = dest.suffix.lower() in (".html", ".htm")
    last = ""
    for attempt in range(policy.retries + 1):
        try:
            _attempt(url, part, policy, progress, allow_html)
            break
        except _Retryable as exc:
            last = str(exc)
            if attempt < policy.retries:
                wait = policy.delay(attempt)
                if on_retry is not None:
                    on_retry(f"attempt {attempt + 1} failed ({last}); retrying in {wait:g} s")
                time.sleep(wait)
    else:
        raise DownloadError(url, f"failed after {policy.retries + 1} attempts: {last}")
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink(missing_ok=True)
        raise DownloadError(url, f"size mismatch: catalog lists {size} bytes, got {got_size}")
    if sha256 is not None:
        found = file_sha256(part)
        if found != sha256:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, sha256, found)
    os.replace(part, dest)
    return dest
