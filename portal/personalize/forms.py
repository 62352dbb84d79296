"""Personalization forms: every value is plain text, checked before it reaches a document."""
from __future__ import annotations

import re
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, EmailField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from portal.auth.forms import region_choices
from portal.forms import PortalForm
from portal.pdf.fonts import unprintable_characters

PHONE = re.compile(r"^\+?[0-9 ()\-.]{7,24}(?: ?(?:poste|ext\.?|x) ?[0-9]{1,6})?$", re.I)
TIME = re.compile(r"^([01][0-9]|2[0-3])[:h]([0-5][0-9])$")
WEBSITE = re.compile(r"^(https?://)?[a-z0-9.-]+\.[a-z]{2,}(/[^\s<>\"']*)?$", re.I)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def printable(form, field):
    """Refuse control characters and characters the shipped fonts cannot draw (emoji...)."""
    value = field.data or ""
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        raise ValidationError(_l("Remove the control characters from this field."))
    fonts = Path(current_app.config["MATERIALS_PATH"]) / "assets" / "fonts"
    missing = unprintable_characters(value, fonts)
    if missing:
        raise ValidationError(_l("These characters cannot be printed: %(chars)s",
                                 chars=" ".join(missing[:5])))


def _phone(form, field):
    if field.data and not PHONE.match(field.data):
        raise ValidationError(_l("Enter a phone number with its area code (10 digits), and an extension if needed."))


def _time(form, field):
    if field.data:
        match = TIME.match(field.data)
        if not match:
            raise ValidationError(_l("Enter a time such as 19:00."))
        field.data = f"{match.group(1)}:{match.group(2)}"


def _website(form, field):
    if field.data and not WEBSITE.match(field.data):
        raise ValidationError(_l("Enter a web address such as www.exemple.org."))


class CobrandForm(PortalForm):
    organization_name = StringField(_l("Name printed on the documents"), filters=[_strip],
                                    validators=[DataRequired(_l("Enter the name to print.")),
                                                Length(max=120), printable])
    logo = FileField(_l("Logo (PNG or JPEG, at most 5 MB)"))
    remove_logo = BooleanField(_l("Remove the current logo"))
    phone = StringField(_l("Phone"), filters=[_strip],
                        validators=[Optional(), Length(max=30), _phone])
    email = EmailField(_l("Email"), filters=[_strip], validators=[
        Optional(), Length(max=254),
        Email(_l("Enter a valid email address."), check_deliverability=False)])
    website = StringField(_l("Website"), filters=[_strip],
                          validators=[Optional(), Length(max=200), _website, printable])
    event_title = StringField(_l("Event title"), filters=[_strip],
                              validators=[Optional(), Length(max=120), printable])
    event_date = DateField(_l("Event date"), validators=[Optional()],
                           description=_l("Any day of the campaign's season, for example "
                                          "an evening for parents in February."))
    event_time = StringField(_l("Time"), filters=[_strip],
                             validators=[Optional(), Length(max=5), _time],
                             description=_l("For example 19:00."))
    event_place = StringField(_l("Place"), filters=[_strip],
                              validators=[Optional(), Length(max=160), printable])

    def __init__(self, *args, campaign=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign

    def validate_event_date(self, field):
        # Any day of the season: a school's evening for parents in February counts too.
        if field.data and self.campaign is not None and not self.campaign.in_season(field.data):
            raise ValidationError(_l("Choose a date from %(start)s to %(end)s.",
                                     start=self.campaign.opens_on.isoformat(),
                                     end=self.campaign.closes_on.isoformat()))

    def validate_event_title(self, field):
        others = (self.event_date.data, self.event_time.data, self.event_place.data)
        if any(others) and not field.data:
            raise ValidationError(_l("Give the event a title, or leave all event fields empty."))
        if field.data and not self.event_date.data:
            raise ValidationError(_l("An event needs a date."))


class CertificateForm(PortalForm):
    display_name = StringField(_l("Name on the certificate"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name to print.")), Length(max=60), printable])
    region = SelectField(_l("Administrative region (optional)"), choices=[],
                         validators=[Optional()])
    language = RadioField(_l("Language of the certificate"), default="fr",
                          choices=[("fr", "Français"), ("en", "English")],
                          validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices(optional=True)


class FrameForm(PortalForm):
    photo = FileField(_l("Your photo (PNG or JPEG, at most 5 MB)"),
                      validators=[DataRequired(_l("Choose a photo."))])
    language = RadioField(_l("Language of the frame"), default="fr",
                          choices=[("fr", "Français"), ("en", "English")],
                          validators=[DataRequired()])
