"""Render every material of the manifest, both languages, for a visual check.

Usage: python materials/render_preview.py OUTPUT_DIR [KIT_SLUG ...]

Follows the portal's rendering contract exactly:
- Jinja2 SandboxedEnvironment, autoescape on, FileSystemLoader(materials/sources),
  context: facts, lang, kit, material, year;
- WeasyPrint with a URL fetcher that serves only ``asset:<path>`` from
  materials/assets/ and refuses everything else; tagged PDF (pdf/ua-1);
- PNG materials: page 1 rasterized with pypdfium2 at scale 96/72.

Writes, per material and language: the PDF, a PNG of every page (~100 dpi) and,
for PNG materials, the final image. Prints pages, bytes and refused fetches.
Exits non-zero if a render fails, a fetch was refused or a PNG has the wrong size.
Uses only jinja2, yaml, weasyprint and pypdfium2.
"""

import logging
import mimetypes
import re
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

logging.getLogger("fontTools").setLevel(logging.ERROR)
HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
ASSETS = HERE / "assets"
LANGS = ("fr", "en")
PREVIEW_SCALE = 100 / 72  # ~100 dpi previews of print pages
PNG_SCALE = 96 / 72  # CSS px -> device px for PNG materials
# Allowed page counts per kind (inclusive).
PAGES = {"poster": (1, 1), "flyer": (1, 2), "info_sheet": (2, 2), "guide": (6, 10),
         "social_image": (1, 1), "certificate_template": (1, 1)}
# Anything that looks like a phone number in a PDF must be one of facts.yaml's.
PHONE_RE = re.compile(r"(?<![\d$,.])(?:1[ \u00a0-])?\d{3}[ \u00a0-]\d{3}[ \u00a0-]\d{4}(?!\d)"
                      r"|(?<![\d$,.])\d{3}[ \u00a0-]\d{4}(?!\d)")


class AssetFetcher(URLFetcher):
    """Serve ``asset:<relative path>`` from materials/assets/ and nothing else."""

    def __init__(self, root, **kwargs):
        super().__init__(**kwargs)
        self.root = Path(root).resolve()
        self.refused = []

    def fetch(self, url, headers=None):
        if not url.startswith("asset:"):
            self.refused.append(url)
            raise ValueError(f"refused URL: {url}")
        rel = url[len("asset:"):].split("?", 1)[0].split("#", 1)[0]
        path = (self.root / rel).resolve()
        if self.root not in path.parents or not path.is_file():
            self.refused.append(url)
            raise ValueError(f"refused asset: {url}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".ttf":
            mime = "font/ttf"
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": mime})


def make_env(strict=True):
    """The Jinja environment of the contract (StrictUndefined here, to catch typos)."""
    kwargs = {"undefined": StrictUndefined} if strict else {}
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(SOURCES)), autoescape=True, **kwargs)


def render_html(env, facts, kit, material, lang):
    template = env.get_template(material["source"][lang])
    # The kit's own version: the personalization variables stay empty.
    return template.render(
        facts=facts, lang=lang, kit=kit, material=material,
        year=kit["campaign_year"], person=None, org=None, qr_src=None, qr_url=None)


def text_problems(text, facts, material, lang):
    """Required content present, no phone number outside facts.yaml."""
    flat = " ".join(text.replace("\u00a0", " ").replace("\r", " ").split())
    lines = facts["help_lines"]
    required = [line["phone"] for line in lines if line["id"] in ("emergency", "info_aide")]
    if material["kind"] != "social_image":
        required += [line["phone"] or line["web"][lang] for line in lines]
    required += ["Ministère de la Sécurité publique"]
    required += ["4 mars" if lang == "fr" else "March 4"]
    problems = [f"missing {item!r}" for item in required if item not in flat]
    name = facts["campaign"]["name"][lang]
    if name not in flat:
        problems.append("missing campaign name")
    allowed = {line["phone"] for line in lines if line["phone"]}
    for found in PHONE_RE.findall(flat):
        if found not in allowed:
            problems.append(f"unknown phone-like number {found!r}")
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    out = Path(argv[1])
    only = set(argv[2:])
    out.mkdir(parents=True, exist_ok=True)
    facts = yaml.safe_load((HERE / "facts.yaml").read_text(encoding="utf-8"))
    manifest = yaml.safe_load((HERE / "manifest.yaml").read_text(encoding="utf-8"))
    env = make_env()
    fonts = FontConfiguration()
    problems = 0
    for kit in manifest["kits"]:
        if only and kit["slug"] not in only:
            continue
        for material in kit["materials"]:
            for lang in LANGS:
                name = f"{kit['slug']}--{material['slug']}.{lang}"
                fetcher = AssetFetcher(ASSETS)
                started = time.perf_counter()
                try:
                    html = render_html(env, facts, kit, material, lang)
                    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf(
                        font_config=fonts, pdf_variant="pdf/ua-1")
                except Exception as exc:  # report and go on with the others
                    problems += 1
                    print(f"{name:55s} FAILED: {exc!r}")
                    continue
                elapsed = time.perf_counter() - started
                (out / f"{name}.html").write_text(html, encoding="utf-8")
                (out / f"{name}.pdf").write_bytes(pdf)
                doc = pdfium.PdfDocument(pdf)
                pages = len(doc)
                extra = ""
                text = " ".join(
                    doc[i].get_textpage().get_text_range() for i in range(pages))
                issues = text_problems(text, facts, material, lang)
                low, high = PAGES.get(material["kind"], (1, 99))
                if not low <= pages <= high:
                    issues.append(f"{pages} pages, want {low}-{high}")
                if issues:
                    problems += 1
                    extra += " CHECK: " + "; ".join(issues)
                if material["format"] == "png":
                    image = doc[0].render(scale=PNG_SCALE).to_pil()
                    image.save(out / f"{name}.png")
                    want = (material["width"], material["height"])
                    extra = f" png={image.size[0]}x{image.size[1]}"
                    if image.size != want or pages != 1:
                        problems += 1
                        extra += f" WRONG (want {want[0]}x{want[1]}, 1 page)"
                else:
                    for index in range(pages):
                        image = doc[index].render(scale=PREVIEW_SCALE).to_pil()
                        image.save(out / f"{name}.p{index + 1}.png")
                doc.close()
                refused = sorted(set(fetcher.refused))
                if refused:
                    problems += 1
                print(f"{name:55s} pages={pages:<3d} bytes={len(pdf):<8d} "
                      f"{elapsed * 1000:5.0f} ms{extra}"
                      f"{' REFUSED: ' + ', '.join(refused) if refused else ''}")
    print("OK" if not problems else f"{problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
