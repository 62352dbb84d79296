"""Staff forms: campaigns and dashboard filters."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal.forms import PortalForm
from portal.reference import REGIONS


class CampaignForm(PortalForm):
    year = IntegerField(_l("Year"), validators=[DataRequired(_l("Enter the year.")),
                                                NumberRange(2020, 2100)])
    starts_on = DateField(_l("First day of the week"),
                          validators=[DataRequired(_l("Enter the first day."))])
    ends_on = DateField(_l("Last day of the week"),
                        validators=[DataRequired(_l("Enter the last day."))])
    national_day = DateField(_l("National day"),
                             validators=[DataRequired(_l("Enter the national day."))])
    # The season: every download from its first to its last day counts toward the campaign.
    opens_on = DateField(_l("Kits open for download on"), validators=[Optional()],
                         description=_l("Downloads count from this day. Empty: 1 February."))
    closes_on = DateField(_l("Season closes on"), validators=[Optional()],
                          description=_l("Downloads count until this day. Empty: 31 March."))
    target_kits = IntegerField(_l("Target: kits distributed"),
                               validators=[Optional(), NumberRange(0, 10_000_000)])
    target_organizations = IntegerField(_l("Target: organizations reached"),
                                        validators=[Optional(), NumberRange(0, 1_000_000)])

    # Orders of printed kits: closed when the stock is exhausted or the budget spent, with
    # a message organizations read in their language.
    ordering_closed = BooleanField(_l("Orders of printed kits are closed"))
    ordering_message_fr = TextAreaField(
        _l("Message to organizations, in French"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[Optional(), Length(max=500, message=_l("At most %(max)d characters.",
                                                              max=500))],
        description=_l("Shown instead of the order form while ordering is closed, for "
                       "example: stock exhausted, new copies in February."))
    ordering_message_en = TextAreaField(
        _l("Message to organizations, in English"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[Optional(), Length(max=500, message=_l("At most %(max)d characters.",
                                                              max=500))])

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if self.ordering_closed.data:  # organizations read why, in their language
            for message in (self.ordering_message_fr, self.ordering_message_en):
                if not message.data:
                    message.errors = [*message.errors, _l(
                        "Write the message organizations read while ordering is closed.")]
                    valid = False
        return valid

    def region_fields(self):
        return [getattr(self, f"region_{code}") for code in REGIONS]

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The last day comes after the first."))
        if self.starts_on.data and field.data and (field.data - self.starts_on.data).days > 31:
            raise ValidationError(_l("A campaign lasts at most a month."))

    def validate_national_day(self, field):
        if self.starts_on.data and self.ends_on.data and field.data and not (
                self.starts_on.data <= field.data <= self.ends_on.data):
            raise ValidationError(_l("The national day falls within the campaign."))

    def validate_opens_on(self, field):
        if field.data and self.starts_on.data and field.data > self.starts_on.data:
            raise ValidationError(_l("Kits open for download by the week's first day."))
        if field.data and self.year.data and field.data.year not in (
                self.year.data - 1, self.year.data):
            raise ValidationError(_l("The season opens in the campaign's year or the year "
                                     "before."))

    def validate_closes_on(self, field):
        if field.data and self.ends_on.data and field.data < self.ends_on.data:
            raise ValidationError(_l("The season closes after the week's last day."))
        if field.data and self.year.data and field.data.year != self.year.data:
            raise ValidationError(_l("The season closes in the campaign's year."))

    def validate_starts_on(self, field):
        if self.year.data and field.data and field.data.year != self.year.data:
            raise ValidationError(_l("The campaign starts in its year."))


# One optional target field per administrative region.
for _code, _name in REGIONS.items():
    setattr(CampaignForm, f"region_{_code}", IntegerField(
        f"{_code} {_name}", validators=[Optional(), NumberRange(0, 10_000_000)]))


class DashboardFilterForm(PortalForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    campaign = SelectField(_l("Campaign"), coerce=int, validators=[Optional()])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    region = SelectField(_l("Region"), validators=[Optional()])
    kit = SelectField(_l("Kit"), coerce=lambda v: int(v) if v not in (None, "") else None,
                      validators=[Optional()])
