"""User journeys and accessibility in a real browser: Playwright driving Debian's
Chromium against the portal served by gunicorn on loopback (a fresh SQLite database, the
kits imported, mail written to a folder the test reads).

Journeys: a visitor switches language, browses and is asked to sign in; a citizen
registers, confirms the address, makes the certificate and the profile frame (all by
keyboard); an organization registers, confirms, waits for approval (by keyboard too),
staff approve it
(second factor set up in the browser), it co-brands the poster with a logo, sees the
preview and downloads it, and the staff dashboard shows the download without a reload.
Then axe-core checks the main pages in both languages at 360 and 1280 pixels wide, and a
screenshot of each is saved under ``artifacts/screenshots/``.

The tests of this module run in order: later ones use the accounts earlier ones made.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from portal.config import PROJECT_ROOT
from tests.conftest import PASSWORD, free_port
from tests.test_servers import wait_until_healthy

pytestmark = pytest.mark.no_db_isolation  # the server has its own database

CHROMIUM = "/usr/bin/chromium"
FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
GUNICORN = str(PROJECT_ROOT / ".venv" / "bin" / "gunicorn")
CLOCK_START = "2027-03-03T10:00:00-05:00"  # during the week, so the dashboard counts
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
STAFF_EMAIL = "personnel@example.org"
WIDTHS = (360, 1280)

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs Debian's chromium: bash scripts/setup.sh --dev")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


class Live:
    url: str
    mail: Path
    clock_started: float
    contexts: dict


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    clock_started = time.time()
    env = {**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{base / 'portal.db'}",
           "PORTAL_STORAGE_PATH": str(base / "storage"), "PORTAL_MAIL_FOLDER": str(base / "mail"),
           "PORTAL_SECRET_KEY": "browser-tests-secret", "PORTAL_CLOCK_START": CLOCK_START,
           # The server's clock read CLOCK_START at this real time (and runs on from it).
           "PORTAL_CLOCK_ANCHOR": datetime.fromtimestamp(clock_started, UTC).isoformat(),
           "PORTAL_WORKERS": "1", "PORTAL_THREADS": "8"}
    for name in ("PORTAL_SMTP_URL", "PORTAL_REDIS_URL", "PORTAL_STORAGE"):
        env.pop(name, None)
    for command in (["db", "upgrade"], ["import-materials"]):
        subprocess.run([FLASK, "--app", "wsgi", *command], cwd=PROJECT_ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    subprocess.run([FLASK, "--app", "wsgi", "create-staff", STAFF_EMAIL, "--password-stdin"],
                   input=PASSWORD + "\n", text=True, cwd=PROJECT_ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen([GUNICORN, "wsgi:app", "--bind", f"127.0.0.1:{port}",
                               "--access-logfile", "/dev/null"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=(base / "server.log").open("wb"))
    state = Live()
    state.url, state.mail, state.contexts = f"http://127.0.0.1:{port}", base / "mail", {}
    try:
        wait_until_healthy(state.url)
        state.clock_started = clock_started
        yield state
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", autouse=True)
def screenshot_folder():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


# The people these journeys play use an ordinary browser: headless Chromium's own user
# agent names it "HeadlessChrome", which the COUNTER robots list flags (not counted).
PERSON_USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/156.0 Safari/537.36")


def new_page(browser, live, name: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  accept_downloads=True, locale="fr-CA",
                                  user_agent=PERSON_USER_AGENT)
    live.contexts[name] = context
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def last_link(live, path: str) -> str:
    newest = max(live.mail.glob("*.eml"), key=lambda item: item.stat().st_mtime)
    body = message_from_bytes(newest.read_bytes(), policy=policy.default) \
        .get_body(("plain",)).get_content()
    found = re.search(rf"https?://[^/\s]+({path}\S+)", body)
    assert found, body
    return live.url + found.group(1)


def mailed_link(live, path: str) -> str:
    """The link to ``path`` in the newest mail that has one."""
    for mail in sorted(live.mail.glob("*.eml"), key=lambda item: item.stat().st_mtime,
                       reverse=True):
        body = message_from_bytes(mail.read_bytes(), policy=policy.default) \
            .get_body(("plain",)).get_content()
        found = re.search(rf"https?://[^/\s]+({path}\S+)", body)
        if found:
            return live.url + found.group(1)
    raise AssertionError(f"no mail with a link to {path}")


def type_into(page, selector: str, text: str) -> None:
    """Reach a field with the keyboard's focus and type, as a person would."""
    page.focus(selector)
    page.keyboard.type(text)


def png(width=1200, height=600, colour=(30, 110, 170)) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).ellipse((40, 40, width - 40, height - 40), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- Journeys ----------------------------------------------------------------------

@pytest.mark.parametrize("width", WIDTHS)
def test_visitor_switches_language_browses_and_is_asked_to_sign_in(browser, live, width):
    page = new_page(browser, live, "visitor", width)
    page.goto(live.url + "/")
    assert page.locator("html").get_attribute("lang") == "fr-CA"
    assert "1 888 933-9007" in page.inner_text("body")  # help lines on every page
    page.focus('a[hreflang="en"]')  # by keyboard
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("html").get_attribute("lang") == "en-CA"
    if width < 600:
        page.goto(live.url + "/kits")  # the menu wraps on a phone; the link is the same
    else:
        page.click("nav >> text=Kits")
    page.locator("a[href^='/kits/trousse-citoyens']").first.click()
    assert "/kits/trousse-citoyens" in page.url
    page.goto(live.url + "/kits/trousse-citoyens/fiche-information/fr/download")
    assert "/account/login" in page.url
    assert page.locator("html").get_attribute("lang") == "en-CA"  # remembered
    # The quick exit works by keyboard and leaves for a neutral site.
    exit_link = page.locator("#quick-exit")
    assert exit_link.is_visible() and "meteomedia" in exit_link.get_attribute("href")


@pytest.mark.parametrize("width", WIDTHS)
def test_citizen_registers_and_makes_certificate_and_frame_by_keyboard(browser, live, width):
    page = new_page(browser, live, "citizen", width)
    email = f"camille{width}@example.org"
    page.goto(live.url + "/account/register/citizen")
    type_into(page, "#display_name", "Camille Tremblay")
    type_into(page, "#email", email)
    type_into(page, "#password", PASSWORD)
    type_into(page, "#confirm", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/account/registered" in page.url
    page.goto(last_link(live, "/account/verify/"))
    page.focus("main form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/account/login" in page.url
    type_into(page, "#email", email)
    type_into(page, "#password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(live.url + "/certificate")
    type_into(page, "#display_name", "Camille Tremblay")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    link = page.locator("a[href*='/documents/'][href$='/download']").first
    link.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    page.goto(live.url + "/frame")
    photo = live.mail.parent / "photo.png"
    photo.write_bytes(png(900, 900, (200, 80, 60)))
    page.set_input_files("#photo", str(photo))
    page.focus("main form button[type=submit]")
    with page.expect_download() as framed:
        page.keyboard.press("Enter")
    assert Path(framed.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def staff_signs_in(browser, live, width):
    import pyotp

    page = new_page(browser, live, "staff", width)
    page.goto(live.url + "/account/login")
    page.fill("#email", STAFF_EMAIL)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    if not getattr(live, "totp_secret", None):
        # No second factor yet: the page says a link was mailed (create-staff sent it),
        # and shows no key; the link does.
        assert page.locator("#code").count() == 0
        assert page.locator("code.totp-key").count() == 0
        page.goto(mailed_link(live, "/account/two-factor/setup/"))
        live.totp_secret = page.inner_text("code.totp-key")
    secret = live.totp_secret

    # Codes follow real time, whatever the portal's demonstration clock says. A code
    # works once: a second sign-in within the same 30 s waits for the next code.
    while int(time.time()) // 30 <= getattr(live, "last_totp_step", -1):
        time.sleep(1)
    live.last_totp_step = int(time.time()) // 30
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main form button[type=submit]")
    page.wait_for_url("**/staff/dashboard")
    return page


@pytest.mark.parametrize("width", WIDTHS)
def test_organization_waits_for_approval_then_co_brands_and_staff_see_it(browser, live,
                                                                          width):
    page = new_page(browser, live, "organization", width)
    email = f"direction{width}@tournant.example.org"
    page.goto(live.url + "/account/register/organization")
    type_into(page, "#organization_name", "Maison des jeunes Le Tournant")
    page.focus("#organization_type")
    page.select_option("#organization_type", "community")
    page.focus("#region")
    page.select_option("#region", "03")
    type_into(page, "#email", email)
    type_into(page, "#password", PASSWORD)
    type_into(page, "#confirm", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(last_link(live, "/account/verify/"))
    page.focus("main form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    type_into(page, "#email", email)
    type_into(page, "#password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(live.url + "/personalize")
    assert "approuv" in page.inner_text("main")  # it waits for approval

    staff = staff_signs_in(browser, live, width)
    staff.goto(live.url + "/staff/organizations")
    staff.focus("main button:has-text('Approuver')")
    with staff.expect_navigation():
        staff.keyboard.press("Enter")
    assert "Aucun organisme" in staff.inner_text("main")  # the queue is empty again
    staff.goto(live.url + "/staff/dashboard")
    # The downloads figure (the third of the totals): other figures, such as the documents
    # made, change as soon as the preview is made, before the download is counted.
    downloads = "#live dl.totals div:nth-child(3) dd"
    before = staff.inner_text(downloads)

    page.goto(live.url + "/personalize")
    page.fill("#organization_name", "Maison des jeunes Le Tournant")
    logo = live.mail.parent / "logo.png"
    logo.write_bytes(png())
    page.set_input_files("#logo", str(logo))  # a file chooser: the one step not typed
    page.focus("main form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    preview = page.locator("img.preview").first
    preview.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle(),
        timeout=60_000)
    page.locator("a[href*='/documents/'][href$='/download']").first.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    # The dashboard's live part shows it without a reload (it refreshes every 10 s): wait
    # for the downloads figure itself, not for the first change (the documents made change
    # first, and a busy machine's rollup may still hold the download back as in flight).
    staff.wait_for_function(
        "([selector, before]) => document.querySelector(selector).innerText !== before",
        arg=[downloads, before], timeout=60_000)
    assert "1" in staff.inner_text("#live dl.totals")


def test_organization_orders_printed_posters_staff_ship_them_and_the_dashboard_counts_them(
        browser, live):
    """The approved organization of the journey above (region 03) orders 50 French
    posters by keyboard; staff approve and ship them; the dashboard shows 50 printed
    copies in that region, apart from downloads, and the organization sees 'shipped'."""
    page = live.contexts["organization"].new_page()
    page.set_default_timeout(20_000)
    page.goto(live.url + "/kits/trousse-organismes?lang=fr")
    link = page.locator("a[href*='/orders/basket#material-']").first
    material_id = link.get_attribute("href").rsplit("-", 1)[1]
    link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/orders/basket" in page.url
    type_into(page, f"#quantity_{material_id}", "50")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/orders/basket/address")
    type_into(page, "#recipient", "Direction, Maison des jeunes Le Tournant")
    type_into(page, "#street", "55, rue Saint-Jean")
    type_into(page, "#city", "Québec")
    type_into(page, "#postal_code", "g1r 4p5")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/orders/basket/review")
    assert "G1R 4P5" in page.inner_text("main")
    page.focus("main form[action$='/confirm'] button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    order_path = re.search(r"/orders/\d+$", page.url).group(0)
    submitted_status = page.inner_text("#order-status")

    staff = live.contexts["staff"].new_page()
    staff.set_default_timeout(20_000)
    staff.goto(live.url + "/staff/orders")
    staff.locator(f"a[href$='/staff{order_path}']").focus()
    with staff.expect_navigation():
        staff.keyboard.press("Enter")
    assert "G1R 4P5" in staff.inner_text("main")
    staff.focus("main form[action$='/approve'] button[type=submit]")
    with staff.expect_navigation():
        staff.keyboard.press("Enter")
    staff.focus("main form[action$='/ship'] button[type=submit]")  # today's date, filled in
    with staff.expect_navigation():
        staff.keyboard.press("Enter")
    assert staff.locator("main form[action$='/ship']").count() == 0

    staff.goto(live.url + "/staff/dashboard")
    row = staff.locator("#printed-by-region tr", has_text="03 Capitale-Nationale")
    assert row.locator("td").inner_text().strip() == "50"
    assert "50" in staff.inner_text("#live .printed-total dd")
    screenshot(staff, "printed-copies-dashboard")

    page.goto(live.url + order_path)
    assert page.inner_text("#order-status") != submitted_status
    assert "mars 2027" in page.inner_text("main dl")  # shipped on, in the page's language
    page.close()
    staff.close()


# --- Accessibility -----------------------------------------------------------------

PAGES = {
    "home": ("visitor", "/"),
    "kit": ("visitor", "/kits/trousse-organismes"),
    "register": ("visitor", "/account/register/organization"),
    "sign-in": ("visitor", "/account/login"),
    "personalize": ("organization", "/personalize"),
    "certificate": ("citizen", "/certificate"),
    "dashboard": ("staff", "/staff/dashboard"),
    "order-basket": ("organization", "/orders/basket"),
    "staff-orders": ("staff", "/staff/orders"),
    "staff-home": ("staff", "/staff/"),
    "staff-material": ("staff", "/staff/materials/1"),  # the import's first material
    "staff-source": ("staff", "/staff/materials/1/source"),
    "error": ("visitor", "/kits/no-such-kit"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("width", WIDTHS)
def test_pages_have_no_serious_accessibility_violations(browser, live, language, width):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems, minor = [], []
    for name, (who, path) in PAGES.items():
        context = live.contexts[who]
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        response = page.goto(f"{live.url}{path}{'&' if '?' in path else '?'}lang={language}")
        assert page.locator("html").get_attribute("lang").startswith(language)
        # What the browser received: the security headers, on every page.
        headers = response.all_headers()
        assert "default-src 'self'" in headers["content-security-policy"], name
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == \
            "nosniff" and headers["referrer-policy"] == "same-origin", name
        results = axe.run(page)
        for violation in results.response["violations"]:
            entry = f"{name} [{language}, {width}px]: {violation['id']} ({violation['impact']}) " \
                    f"on {len(violation['nodes'])} element(s): {violation['help']}"
            (problems if violation["impact"] in ("serious", "critical") else minor).append(entry)
        screenshot(page, f"{name}-{language}-{width}")
        page.close()
    for entry in minor:  # listed, not failed
        print("axe (minor or moderate):", entry)
    assert not problems, "\n".join(problems)
