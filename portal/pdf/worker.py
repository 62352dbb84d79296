"""Renders in a separate, long-lived process that can be stopped.

WeasyPrint has no time limit of its own. Each app process keeps one render process
(``python -m portal.pdf.worker``, started on first use, after any fork, with its fonts
loaded once); a render that does not answer in time gets its process killed and
replaced, and the caller gets ``RenderTimeout`` instead of a stuck server.

The two talk over the child's standard input and output: length-prefixed pickles of
``("html", html, asset_root, extra_assets)`` or ``("source", template, css, sources_root,
context, asset_root)`` one way and ``(status, payload)`` the other. A source is a
template staff edited in the portal: its Jinja render runs here too (see
``portal.pdf.sources``), so a template that loops for ever is stopped like a slow render.
"""
from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

from portal.pdf.render import RenderedPDF

HEADER = struct.Struct(">Q")


class RenderTimeout(RuntimeError):
    """The render ran past its time limit and was stopped."""


class RenderFailed(RuntimeError):
    """The render process reported an error (or died)."""


class SourceFailed(RuntimeError):
    """A staff-edited template could not be rendered: ``kind`` is ``syntax``,
    ``security`` (the sandbox refused), ``undefined``, ``missing`` (an included or extended
    template that does not exist; the message is its name) or ``template``; ``line`` where
    known."""

    def __init__(self, kind: str, line: int | None, message: str):
        super().__init__(message)
        self.kind, self.line, self.message = kind, line, message


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _send(stream, message) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _receive(stream):
    (size,) = HEADER.unpack(_read_exactly(stream, HEADER.size))
    return pickle.loads(_read_exactly(stream, size))


def serve() -> None:
    """The render process: answer render requests until standard input closes."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    from portal.pdf.render import render_pdf
    from portal.pdf.sources import SourceError, render_source_html

    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        try:
            html = None
            if request[0] == "source":
                _, template, css, sources_root, context, asset_root = request
                html = render_source_html(template, css, Path(sources_root), context)
                extra_assets = None
            else:
                _, html, asset_root, extra_assets = request
            result = render_pdf(html, Path(asset_root), extra_assets)
            _send(answers, ("ok", (result.data, result.pages, result.refused_urls,
                                   result.fetched_urls, html if request[0] == "source" else None)))
        except SourceError as exc:
            _send(answers, ("source", (exc.kind, exc.line, exc.message[:500])))
        except Exception as exc:  # report it and keep serving
            _send(answers, ("error", f"{type(exc).__name__}: {exc}"[:500]))


class RenderWorker:
    """One render process per app process, used by one render at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._pid: int | None = None

    def _ensure_started(self) -> subprocess.Popen:
        process = self._process
        if process is None or process.poll() is not None or self._pid != os.getpid():
            root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [root, os.environ.get("PYTHONPATH")]))}
            process = subprocess.Popen([sys.executable, "-m", "portal.pdf.worker"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._process, self._pid = process, os.getpid()
        return process

    def stop(self) -> None:
        if self._process is not None and self._pid == os.getpid():
            self._process.kill()
            self._process.wait(5)
            for stream in (self._process.stdin, self._process.stdout):
                stream.close()
        self._process = None

    def render(self, html: str, asset_root: Path, extra_assets: dict[str, bytes] | None,
               timeout: float) -> RenderedPDF:
        return self._exchange(("html", html, str(asset_root), extra_assets or {}), timeout)[0]

    def render_source(self, template: str, css: str, sources_root: Path, context: dict,
                      asset_root: Path, timeout: float) -> tuple[RenderedPDF, str]:
        return self._exchange(("source", template, css, str(sources_root), context,
                               str(asset_root)), timeout)

    def _exchange(self, message: tuple, timeout: float) -> tuple[RenderedPDF, str | None]:
        with self._lock:
            process = self._ensure_started()
            try:
                _send(process.stdin, message)
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                if not ready:
                    self.stop()
                    raise RenderTimeout(f"render stopped after {timeout:g} s")
                status, payload = _receive(process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self.stop()
                raise RenderFailed("the render process stopped") from exc
        if status == "source":
            raise SourceFailed(*payload)
        if status != "ok":
            raise RenderFailed(payload)
        data, pages, refused, fetched, html = payload
        return RenderedPDF(data=data, pages=pages, refused_urls=refused,
                           fetched_urls=fetched), html


_WORKER = RenderWorker()


def render_in_worker(html: str, asset_root: Path, extra_assets: dict[str, bytes] | None = None,
                     timeout: float = 20.0) -> RenderedPDF:
    """Render with this process's render process, stopping it after ``timeout`` seconds."""
    return _WORKER.render(html, asset_root, extra_assets, timeout)


def render_source_in_worker(template: str, css: str, sources_root: Path, context: dict,
                            asset_root: Path, timeout: float = 20.0) -> tuple[RenderedPDF, str]:
    """Render a staff-edited template (Jinja in the sandbox, then WeasyPrint) in the
    render process; the PDF and the HTML the template produced."""
    return _WORKER.render_source(template, css, sources_root, context, asset_root, timeout)


if __name__ == "__main__":
    serve()
