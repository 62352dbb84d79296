"""Forms of the accounts blueprint; every field is validated and its error translated."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from portal.auth.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from portal.forms import PortalForm
from portal.reference import ORGANIZATION_TYPES, REGIONS


def _no_control_characters(form, field):
    if field.data and any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in field.data):
        raise ValidationError(_l("Remove the control characters from this field."))


def _strong_password(form, field):
    problem = password_problem(field.data or "", form.email.data or "")
    if problem:
        raise ValidationError(problem)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def region_choices(optional: bool):
    first = [("", _l("— Not specified —") if optional else _l("— Choose a region —"))]
    return first + [(code, f"{code} {name}") for code, name in REGIONS.items()]


class _RegistrationForm(PortalForm):
    email = EmailField(_l("Email address"), filters=[_strip], validators=[
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("An email address has at most 254 characters.")),
        Email(_l("Enter a valid email address, such as nom@exemple.ca."),
              check_deliverability=False),
    ])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Choose a password.")), _strong_password,
    ], description=_l("At least %(n)d characters; a short sentence is easy to remember.",
                     n=MIN_LENGTH))
    confirm = PasswordField(_l("Confirm the password"), validators=[
        DataRequired(_l("Type the password again.")),
        EqualTo("password", _l("The two passwords are not the same.")),
    ])


class OrganizationRegistrationForm(_RegistrationForm):
    organization_name = StringField(_l("Organization name"), filters=[_strip], validators=[
        DataRequired(_l("Enter the organization's name.")),
        Length(min=2, max=120, message=_l("Between 2 and 120 characters.")),
        _no_control_characters,
    ])
    organization_type = SelectField(_l("Type of organization"), choices=[], validators=[
        DataRequired(_l("Choose the type of organization.")),
    ])
    region = SelectField(_l("Administrative region"), choices=[], validators=[
        DataRequired(_l("Choose the region.")),
    ])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_type.choices = [("", _l("— Choose a type —"))] + list(
            ORGANIZATION_TYPES.items())
        self.region.choices = region_choices(optional=False)


class CitizenRegistrationForm(_RegistrationForm):
    display_name = StringField(_l("Display name"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name you want to show.")),
        Length(min=1, max=80, message=_l("At most 80 characters.")),
        _no_control_characters,
    ], description=_l("A first name or a nickname is enough."))
    region = SelectField(_l("Administrative region (optional)"), choices=[],
                         validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.region.choices = region_choices(optional=True)


class LoginForm(PortalForm):
    email = EmailField(_l("Email address"), filters=[_strip], validators=[
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("An email address has at most 254 characters.")),
    ])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")),
        Length(max=MAX_LENGTH, message=_l("Incorrect email address or password.")),
    ])
    remember = BooleanField(_l("Remember me on this device"))


def _email_field(label=None):
    return EmailField(label or _l("Email address"), filters=[_strip], validators=[
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("An email address has at most 254 characters.")),
        Email(_l("Enter a valid email address, such as nom@exemple.ca."),
              check_deliverability=False),
    ])


def _current_password():
    return PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password.")),
        Length(max=MAX_LENGTH, message=_l("Incorrect password."))])


class _NewPassword(PortalForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Choose a password.")), _strong_password,
    ], description=_l("At least %(n)d characters; a short sentence is easy to remember.",
                     n=MIN_LENGTH))
    confirm = PasswordField(_l("Confirm the password"), validators=[
        DataRequired(_l("Type the password again.")),
        EqualTo("password", _l("The two passwords are not the same.")),
    ])


class ResetRequestForm(PortalForm):
    email = _email_field()


class ResetPasswordForm(_NewPassword):
    # The password check compares with the address; the view fills it in.
    email = StringField(render_kw={"hidden": True}, validators=[Optional()])


class ChangePasswordForm(_NewPassword):
    current = _current_password()
    email = StringField(render_kw={"hidden": True}, validators=[Optional()])


class ChangeEmailForm(PortalForm):
    new_email = _email_field(_l("New email address"))
    current = _current_password()


class DeleteAccountForm(PortalForm):
    current = _current_password()
    understood = BooleanField(_l("I understand that my account and my documents will be "
                                 "deleted for good."),
                              validators=[DataRequired(_l("Tick the box to confirm."))])


class TwoFactorForm(PortalForm):
    code = StringField(_l("Six-digit code"), filters=[_strip], validators=[
        DataRequired(_l("Enter the code your app shows.")),
        Regexp(r"^[0-9]{6}$", message=_l("The code has six digits.")),
    ], description=_l("From your authentication app (for example FreeOTP or Aegis)."))


class EmptyForm(PortalForm):
    """A button that changes something: the form carries only its CSRF token."""
