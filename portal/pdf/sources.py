"""Templates staff edit in the portal: Jinja's immutable sandbox, then the staff's CSS.

Staff write a material's HTML (a Jinja template that may extend the layouts of
``materials/sources``) and its CSS. The template sees the same variables as the files
of ``materials/`` (``facts``, ``lang``, ``year``, ``kit``, ``material``), so dates and
help lines come from the facts file, never typed by hand. The sandbox refuses reaching
into Python objects (``''.__class__`` and the like) and changing the facts; the CSS is
plain text put in a ``<style>`` element after the render, never a template.

This runs in the render process (``portal.pdf.worker``), where a template that loops
for ever is stopped by the render's time limit.
"""
from __future__ import annotations

from pathlib import Path

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENVIRONMENTS: dict[str, ImmutableSandboxedEnvironment] = {}


class SourceError(Exception):
    """The template could not be rendered (see ``worker.SourceFailed`` for the kinds)."""

    def __init__(self, kind: str, line: int | None, message: str):
        super().__init__(message)
        self.kind, self.line, self.message = kind, line, message


def sandbox(sources_root: Path) -> ImmutableSandboxedEnvironment:
    key = str(sources_root)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(key), autoescape=True, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
    return _ENVIRONMENTS[key]


def with_stylesheet(html: str, css: str) -> str:
    """The HTML with the CSS in a ``<style>`` element at the end of its head."""
    if not css.strip():
        return html
    style = f"<style>\n{css}\n</style>"
    lowered = html.lower()
    at = lowered.find("</head>")
    if at < 0:
        return style + html
    return html[:at] + style + html[at:]


def render_source_html(template: str, css: str, sources_root: Path, context: dict) -> str:
    """The HTML of a staff-edited template; ``SourceError`` says what went wrong."""
    env = sandbox(sources_root)
    try:
        html = env.from_string(template).render(**context)
    except TemplateSyntaxError as exc:
        raise SourceError("syntax", exc.lineno, exc.message or str(exc)) from None
    except SecurityError as exc:
        raise SourceError("security", None, str(exc)) from None
    except UndefinedError as exc:
        raise SourceError("undefined", None, str(exc)) from None
    except TemplateNotFound as exc:  # its message would show the folder searched: name only
        raise SourceError("missing", None, str(exc.name)) from None
    except TemplateError as exc:
        raise SourceError("template", getattr(exc, "lineno", None), str(exc)) from None
    except (RecursionError, MemoryError, OverflowError, TypeError, ValueError,
            ArithmeticError, LookupError) as exc:
        raise SourceError("template", None, f"{type(exc).__name__}: {exc}") from None
    return with_stylesheet(html, css)
