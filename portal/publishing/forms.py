"""Staff forms of publishing: kits, materials, versions, publication, reviews, print limits."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import PortalForm
from portal.reference import ACCOUNT_KIND_LABELS, MATERIAL_KINDS

SLUG_RULE = Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                   message=_l("Lowercase letters, digits and hyphens only."))


def _text(label, max_length, message):
    return StringField(label, validators=[DataRequired(message), Length(max=max_length)],
                       filters=[lambda v: v.strip() if isinstance(v, str) else v])


def _audience_field():
    """The account kinds that may download a kit, as checkboxes (staff always may)."""
    return SelectMultipleField(
        _l("Who may download it"), choices=list(ACCOUNT_KIND_LABELS.items()),
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[DataRequired(_l("Choose at least one kind of account."))],
        description=_l("Each with a confirmed address; staff may always download."))


class AudienceForm(PortalForm):
    audience = _audience_field()


class KitForm(PortalForm):
    campaign = SelectField(_l("Campaign"), coerce=int)
    slug = StringField(_l("Short name (in addresses)"),
                       validators=[DataRequired(_l("Enter a short name.")), Length(max=80),
                                   SLUG_RULE],
                       description=_l("For example trousse-ecoles-2028."))
    audience = _audience_field()
    title_fr = _text(_l("Title in French"), 200, _l("Enter the French title."))
    title_en = _text(_l("Title in English"), 200, _l("Enter the English title."))
    description_fr = TextAreaField(_l("Description in French"),
                                   validators=[DataRequired(_l("Enter the French description.")),
                                               Length(max=2000)])
    description_en = TextAreaField(_l("Description in English"),
                                   validators=[DataRequired(_l("Enter the English description.")),
                                               Length(max=2000)])


class MaterialForm(PortalForm):
    slug = StringField(_l("Short name (in addresses)"),
                       validators=[DataRequired(_l("Enter a short name.")), Length(max=80),
                                   SLUG_RULE])
    kind = SelectField(_l("Kind"), choices=list(MATERIAL_KINDS.items()))
    format = SelectField(_l("File format"), choices=[("pdf", "PDF"), ("png", "PNG")])
    title_fr = _text(_l("Title in French"), 200, _l("Enter the French title."))
    title_en = _text(_l("Title in English"), 200, _l("Enter the English title."))


class UploadForm(PortalForm):
    file = FileField(_l("File (PDF or PNG, as the material)"),
                     validators=[FileRequired(_l("Choose a file."))])


class SourceForm(PortalForm):
    html = TextAreaField(_l("HTML (a Jinja template)"),
                         validators=[DataRequired(_l("The HTML source is empty."))],
                         description=_l("Facts come in as variables: facts, lang, year, kit, "
                                        "material. Never type a date or a phone number."))
    css = TextAreaField(_l("CSS"), validators=[Optional()])


class ScheduleForm(PortalForm):
    day = DateField(_l("Day (Montréal time)"),
                    validators=[DataRequired(_l("Enter the day of publication."))])
    at = TimeField(_l("Time (Montréal time)"),
                   validators=[DataRequired(_l("Enter the time of publication."))])


class ReviewForm(PortalForm):
    last_reviewed_on = DateField(_l("Last reviewed on"),
                                 validators=[DataRequired(_l("Enter the last review date."))])
    next_review_on = DateField(_l("Next review on"),
                               validators=[DataRequired(_l("Enter the next review date."))])


class PrintLimitsForm(PortalForm):
    orderable = BooleanField(_l("Organizations may order printed copies"))
    max_per_order = IntegerField(_l("Maximum copies per order"),
                                 validators=[Optional(), NumberRange(1, 100_000)])
    max_per_campaign = IntegerField(_l("Maximum copies per organization and campaign"),
                                    validators=[Optional(), NumberRange(1, 100_000)])


class ActionForm(PortalForm):
    """A button that changes something: only its CSRF token."""
