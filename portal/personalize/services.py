"""Personalization logic, callable without a request: co-branding profiles, the data each
kind of document prints, certificates, and the citizens' profile-picture frame."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from flask import current_app
from PIL import ImageDraw, ImageFont
from sqlalchemy import select

from portal.catalog.services import current_campaign, kits_open_to_sql
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.facts import facts, localized
from portal.images import process_logo, square_photo
from portal.models import Account, CobrandProfile, Kit, Material
from portal.reference import KIND_CITIZEN, REGIONS
from portal.storage import get_storage

FRAME_SIZE = 1080


def personalizable_materials(account: Account) -> list[Material]:
    """The co-brandable materials (posters, flyers) of the current campaign's kits."""
    campaign = current_campaign()
    query = (select(Material).join(Kit)
             .where(Material.personalizable.is_(True), Material.kind.in_(("poster", "flyer")),
                    Material.public_clause(naive_utc_now()))
             .order_by(Kit.position, Material.position, Material.language))
    if campaign is not None:
        query = query.where(Kit.campaign_id == campaign.id)
    return list(db.session.scalars(query))


def certificate_material(language: str) -> Material | None:
    campaign = current_campaign()
    query = (select(Material).join(Kit)
             .where(Material.kind == "certificate_template", Material.language == language,
                    Material.public_clause(naive_utc_now())))
    if campaign is not None:
        query = query.where(Kit.campaign_id == campaign.id)
    return db.session.scalars(query.limit(1)).first()


def frame_material(language: str) -> Material | None:
    """The citizens' "join the cause" image the frame belongs to (counted against it)."""
    campaign = current_campaign()
    query = (select(Material).join(Kit)
             .where(kits_open_to_sql(KIND_CITIZEN), Material.kind == "social_image",
                    Material.language == language,
                    Material.public_clause(naive_utc_now())))
    if campaign is not None:
        query = query.where(Kit.campaign_id == campaign.id)
    return db.session.scalars(query.limit(1)).first()


def get_profile(account: Account) -> CobrandProfile | None:
    return db.session.scalars(
        select(CobrandProfile).where(CobrandProfile.account_id == account.id)).first()


def save_profile(account: Account, fields: dict, logo_upload: bytes | None,
                 remove_logo: bool = False) -> CobrandProfile:
    """Store the organization's co-branding details; the logo is processed first, so a bad
    upload (``ImageRejected``) leaves the profile as it was."""
    logo_key = None
    if logo_upload is not None:
        logo = process_logo(logo_upload)
        logo_key = f"logos/{logo.sha256}.png"
        storage = get_storage()
        if not storage.exists(logo_key):
            storage.put_bytes(logo_key, logo.png, "image/png")
    profile = get_profile(account) or CobrandProfile(account_id=account.id)
    for name in ("organization_name", "phone", "email", "website", "event_title",
                 "event_date", "event_time", "event_place"):
        value = fields.get(name)
        setattr(profile, name, value.strip() if isinstance(value, str) and value.strip()
                else (value if not isinstance(value, str) else None))
    if logo_key:
        profile.logo_key = logo_key
    elif remove_logo:
        profile.logo_key = None
    db.session.add(profile)
    db.session.commit()
    return profile


def cobrand_data(profile: CobrandProfile, language: str) -> dict:
    """What a co-branded document prints: plain text values (autoescaped when rendered)."""
    event = None
    if profile.event_title and profile.event_date:
        event = {"title": profile.event_title, "date": profile.event_date.isoformat(),
                 "date_text": _event_date_text(profile.event_date, language),
                 "time": profile.event_time, "place": profile.event_place}
    return {"name": profile.organization_name, "phone": profile.phone, "email": profile.email,
            "website": profile.website, "logo_key": profile.logo_key, "event": event}


def _event_date_text(day: date, language: str) -> str:
    from babel.dates import format_date

    text = format_date(day, format="full", locale="fr_CA" if language == "fr" else "en_CA")
    if language == "fr" and day.day == 1:
        text = text.replace(" 1 ", " 1er ", 1)
    return text


def certificate_data(name: str, region: str | None, language: str, today: date) -> dict:
    from babel.dates import format_date

    text = format_date(today, format="long", locale="fr_CA" if language == "fr" else "en_CA")
    if language == "fr" and today.day == 1:
        text = "1er" + text[1:]
    return {"name": name.strip(), "region": REGIONS.get(region) if region else None,
            "date": today.isoformat(), "date_text": text}


def framed_profile_picture(photo: bytes, language: str) -> bytes:
    """The photo, squared and framed with the campaign's band, as a PNG. In memory only."""
    image = square_photo(photo, FRAME_SIZE)  # decoded in the work process, within limits
    draw = ImageDraw.Draw(image)
    brand, accent = (59, 42, 107), (244, 184, 96)
    ring = 28
    draw.rectangle((0, 0, FRAME_SIZE - 1, FRAME_SIZE - 1), outline=brand, width=ring)
    draw.rectangle((ring, ring, FRAME_SIZE - ring - 1, FRAME_SIZE - ring - 1), outline=accent,
                   width=8)
    band_top = FRAME_SIZE - 230
    draw.rectangle((0, band_top, FRAME_SIZE, FRAME_SIZE), fill=brand)
    draw.rectangle((0, band_top, FRAME_SIZE, band_top + 10), fill=accent)
    fonts = Path(current_app.config["MATERIALS_PATH"]) / "assets" / "fonts"
    title_font = ImageFont.truetype(str(fonts / "Lato-Black.ttf"), 64)
    small_font = ImageFont.truetype(str(fonts / "Lato-Bold.ttf"), 34)
    campaign = facts()["campaign"]
    title = "Je me joins à la cause" if language == "fr" else "I join the cause"
    dates = localized(campaign.get("dates_short"), language) or ""
    line = f"{title}"
    draw.text((FRAME_SIZE // 2, band_top + 70), line, font=title_font, fill="white", anchor="mm")
    subtitle = (f"Semaine nationale · {dates}" if language == "fr" else f"National Week · {dates}")
    draw.text((FRAME_SIZE // 2, band_top + 150), subtitle, font=small_font, fill=accent,
              anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
