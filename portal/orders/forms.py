"""Forms of the orders pages: the basket's quantities, the delivery address, the
confirmation and the staff's decisions. Each carries the order and the revision the page
showed, so a page left open while the order changed is answered, not obeyed."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import DateField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from portal.forms import PortalForm
from portal.orders.services import OrderError, normalize_postal_code


def _strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _no_control_characters(form, field):
    if field.data and any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in field.data):
        raise ValidationError(_l("Remove the control characters from this field."))


class RevisionForm(PortalForm):
    """The order and revision the page showed (and the CSRF token)."""

    order = HiddenField(validators=[DataRequired()])
    revision = HiddenField(validators=[DataRequired()])

    def shown(self) -> tuple[int, int] | None:
        """(order id, revision) as sent, or ``None`` if they are not numbers."""
        order, revision = self.order.data or "", self.revision.data or ""
        if not (order.isdigit() and revision.isdigit() and len(order) < 12
                and len(revision) < 12):
            return None
        return int(order), int(revision)


def quantity_field_name(material_id: int) -> str:
    return f"quantity_{material_id}"


def basket_form(materials, labels: dict[int, str], data=None):
    """The basket's form: one quantity per orderable material (0 or empty: none)."""

    class BasketForm(RevisionForm):
        def quantity_fields(self):
            return [self[quantity_field_name(m.id)] for m in materials]

        def quantities(self) -> dict[int, int]:
            return {m.id: self[quantity_field_name(m.id)].data or 0 for m in materials}

    for material in materials:
        setattr(BasketForm, quantity_field_name(material.id), IntegerField(
            labels[material.id], validators=[
                Optional(),
                # The material's own limits are the service's to check and to name.
                NumberRange(min=0, message=_l("A quantity cannot be negative."))]))
    return BasketForm(data=data)


def _quebec_postal_code(form, field):
    try:
        field.data = normalize_postal_code(field.data)
    except OrderError as exc:
        if exc.code == "postal_code_outside_quebec":
            raise ValidationError(_l("This postal code is outside Québec: printed kits are "
                                     "delivered in Québec only.")) from None
        raise ValidationError(_l("Enter a postal code such as H2X 1Y4.")) from None


class AddressForm(RevisionForm):
    recipient = StringField(_l("Recipient (person or service)"), filters=[_strip], validators=[
        DataRequired(_l("Enter who receives the copies.")),
        Length(max=120, message=_l("At most %(max)d characters.", max=120)),
        _no_control_characters])
    street = StringField(_l("Street address"), filters=[_strip], validators=[
        DataRequired(_l("Enter the street address.")),
        Length(max=200, message=_l("At most %(max)d characters.", max=200)),
        _no_control_characters],
        description=_l("Number, street and, if any, suite or office."))
    city = StringField(_l("City"), filters=[_strip], validators=[
        DataRequired(_l("Enter the city.")),
        Length(max=100, message=_l("At most %(max)d characters.", max=100)),
        _no_control_characters])
    postal_code = StringField(_l("Postal code"), filters=[_strip], validators=[
        DataRequired(_l("Enter the postal code.")), Length(max=10, message=_l(
            "Enter a postal code such as H2X 1Y4.")), _quebec_postal_code],
        description=_l("Printed kits are delivered in Québec only."))


class ConfirmForm(RevisionForm):
    pass


class CancelForm(RevisionForm):
    pass


def approve_form(order, data=None):
    """Staff's approval: the copies approved per line (at most those asked for)."""

    class ApproveForm(RevisionForm):
        reason = TextAreaField(_l("Note to the organization (optional)"), filters=[_strip],
                               validators=[Optional(), Length(max=500, message=_l(
                                   "At most %(max)d characters.", max=500))],
                               description=_l("Say why, if you approve fewer copies."))

        def line_fields(self):
            return [(line, self[f"line_{line.id}"]) for line in order.lines]

        def approved(self) -> dict[int, int]:
            return {line.id: self[f"line_{line.id}"].data for line in order.lines}

    for line in order.lines:
        material = line.material
        setattr(ApproveForm, f"line_{line.id}", IntegerField(
            # The title marked with its language, which may not be the page's (WCAG 3.1.2).
            Markup(gettext("Copies approved: %(title)s (%(language)s), %(asked)d asked for"))
            % {"title": Markup('<span lang="{}">{}</span>').format(material.language,
                                                                  material.title),
               "language": material.language.upper(), "asked": line.quantity},
            default=line.quantity, validators=[
                InputRequired(_l("Enter the copies approved (0 to leave this material out).")),
                NumberRange(0, line.quantity, message=_l(
                    "From 0 to the %(asked)d copies asked for.", asked=line.quantity))]))
    return ApproveForm(data=data)


class RejectOrderForm(RevisionForm):
    reason = TextAreaField(_l("Reason (sent to the organization)"), filters=[_strip], validators=[
        DataRequired(_l("Give the reason: it is sent to the organization.")),
        Length(min=3, max=500, message=_l("Between 3 and 500 characters."))])


class ShipForm(RevisionForm):
    shipped_on = DateField(_l("Shipping date"), validators=[
        DataRequired(_l("Enter the shipping date, such as 2027-02-20."))])
