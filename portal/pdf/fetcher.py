"""The only URL fetcher WeasyPrint ever gets.

It serves the portal's own assets, named ``asset:<path>``: files below the materials'
asset folder, and in-memory assets registered for one render (a processed logo, say).
Everything else — ``file:``, ``http:``, ``https:``, ``data:`` or unknown schemes,
relative paths — is refused, and every request is logged so tests can prove it.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse

ASSET_SCHEME = "asset:"


class RefusedURL(ValueError):
    """A document asked for something outside the portal's assets."""


class AssetFetcher(URLFetcher):
    """Serve ``asset:`` URLs from a folder and from registered bytes; refuse the rest."""

    def __init__(self, asset_root: Path, extra_assets: dict[str, bytes] | None = None,
                 file_cache: dict[str, tuple[int, bytes]] | None = None):
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self.asset_root = asset_root.resolve()
        self.extra_assets = dict(extra_assets or {})
        # Shared across renders of a process: assets are read from disk once.
        self.file_cache = file_cache if file_cache is not None else {}
        self.log: list[tuple[str, bool]] = []

    def fetch(self, url, headers=None):
        try:
            body = self._body(url)
        except RefusedURL:
            self.log.append((url, False))
            raise
        self.log.append((url, True))
        mime = mimetypes.guess_type(url.removeprefix(ASSET_SCHEME))[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=body, headers={"Content-Type": mime})

    def _body(self, url: str) -> bytes:
        if not isinstance(url, str) or not url.startswith(ASSET_SCHEME):
            raise RefusedURL(f"refused URL: {url[:200]!r}")
        name = url[len(ASSET_SCHEME):]
        if name in self.extra_assets:
            return self.extra_assets[name]
        path = (self.asset_root / name).resolve()
        if not path.is_relative_to(self.asset_root) or not path.is_file():
            raise RefusedURL(f"unknown asset: {name[:200]!r}")
        # Cached by path and modification time: an edited stylesheet is read again.
        mtime = path.stat().st_mtime_ns
        cached = self.file_cache.get(str(path))
        if cached is None or cached[0] != mtime:
            cached = (mtime, path.read_bytes())
            self.file_cache[str(path)] = cached
        return cached[1]

    @property
    def refused(self) -> list[str]:
        return [url for url, served in self.log if not served]
