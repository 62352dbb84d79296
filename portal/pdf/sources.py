"""Templates staff edit in the portal: Jinja's immutable sandbox, then the staff's CSS.

Staff write a material's HTML (a Jinja template that may extend the layouts of
``materials/sources``) and its CSS. The template sees the same variables as the files
of ``materials/`` (``facts``, ``lang``, ``year``, ``kit``, ``material``), so dates and
help lines come from the facts file, never typed by hand. The sandbox refuses reaching
into Python objects (``''.__class__`` and the like), changing the facts, and building a
huge value in one operation (``'x' * 300000000``); the CSS is plain text put in a
``<style>`` element after the render, never a template.

Everything here runs in the render process (``portal.pdf.worker``), where a template
that loops for ever or fills the memory is stopped by the job's limits: a material's
source when staff save it, and every personalized document (co-branded posters and
flyers, certificates), whose template may be a staff-edited source.
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

from portal.pdf.worker import Refused

# A repeated string or list longer than this, or a power this high, is refused at once:
# no material needs it, and building it would take the memory before any limit could act.
MAX_REPEAT = 1_000_000
MAX_EXPONENT = 1_000
COBRAND_WRAPPER = (
    '{% extends source %}'
    '{% block cobrand %}{% include "_partials/cobrand_personalized.html" %}{% endblock %}'
)


class SourceSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` checked before they run."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, op, left, right):
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int) \
                        and len(seq) * times > MAX_REPEAT:
                    raise SecurityError("repetition too large")
        if op == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large")
        return super().call_binop(context, op, left, right)


_ENVIRONMENTS: dict[str, SourceSandbox] = {}


def sandbox(sources_root: Path) -> SourceSandbox:
    key = str(sources_root)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = SourceSandbox(
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


def _refusal(exc: Exception) -> Refused:
    """What went wrong in a template, as a ``Refused`` its caller can explain."""
    if isinstance(exc, TemplateSyntaxError):
        return Refused("syntax", exc.lineno, exc.message or str(exc))
    if isinstance(exc, SecurityError):
        return Refused("security", None, str(exc))
    if isinstance(exc, UndefinedError):
        return Refused("undefined", None, str(exc))
    if isinstance(exc, TemplateNotFound):  # its message would show the folder searched
        return Refused("missing", None, str(exc.name))
    if isinstance(exc, TemplateError):
        return Refused("template", getattr(exc, "lineno", None), str(exc))
    return Refused("template", None, f"{type(exc).__name__}: {exc}")


# Errors a template can cause by computing; MemoryError is left to the work process.
TEMPLATE_ERRORS = (TemplateError, RecursionError, OverflowError, TypeError, ValueError,
                   ArithmeticError, LookupError)


def render_source_html(template: str, css: str, sources_root: Path, context: dict) -> str:
    """The HTML of a staff-edited template; ``Refused`` says what went wrong."""
    try:
        html = sandbox(sources_root).from_string(template).render(**context)
    except TEMPLATE_ERRORS as exc:
        raise _refusal(exc) from None
    return with_stylesheet(html, css)


def render_material_source(template: str, css: str, sources_root: Path, context: dict,
                           asset_root: Path, fmt: str, width: int, height: int):
    """A material's version made from staff's source: (``RenderedPDF``, the HTML,
    ``RenderedMaterial`` or ``None`` when the source asked for files from outside)."""
    from portal.catalog.material_files import material_files
    from portal.pdf.render import render_pdf

    html = render_source_html(template, css, sources_root, context)
    pdf = render_pdf(html, asset_root)
    files = None if pdf.refused_urls else material_files(pdf.data, pdf.pages, html, fmt,
                                                         width, height)
    return pdf, html, files


def render_document(sources_root: Path, asset_root: Path, template_name: str,
                    source: str | None, css: str, cobrand: bool, context: dict,
                    extra_assets: dict[str, bytes]):
    """A personalized document: (``RenderedPDF``, its HTML).

    Its template is staff's ``source`` (in the immutable sandbox, as when its version was
    made, with its CSS) or else the file ``template_name`` of ``materials/sources``; a
    co-branded poster or flyer wraps it with the organization's block (``org``).
    """
    from portal.pdf.render import render_pdf, template_environment

    try:
        if source is not None:
            env = sandbox(sources_root)
            template = env.from_string(source)
        else:
            env = template_environment(sources_root)
            template = env.get_template(template_name)
        if cobrand:
            html = env.from_string(COBRAND_WRAPPER).render(source=template, **context)
        else:
            html = template.render(**context)
    except TEMPLATE_ERRORS as exc:
        raise _refusal(exc) from None
    html = with_stylesheet(html, css)
    return render_pdf(html, asset_root, extra_assets), html
