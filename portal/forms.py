"""The base form of every portal form: HTML form bodies only, no direction overrides.

Flask-WTF would also read a JSON body, whose values can be lists or objects that the
fields do not expect; the portal's forms come from HTML pages, so only form-encoded and
multipart bodies are read, and anything else is an empty (invalid) submission.

No text field accepts the bidirectional control characters (U+202A-U+202E embeddings and
overrides, U+2066-U+2069 isolates): typed invisibly, they reorder what prints, so
U+202E + "evil" would show as "live" on an official poster or in a staff page. Arabic and
Hebrew text needs none of them (their direction comes from the letters themselves).
"""
import re

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def has_bidi_controls(text) -> bool:
    return isinstance(text, str) and BIDI_CONTROLS.search(text) is not None


def _text_fields(form):
    for field in form:
        if hasattr(field, "form") and field.type == "FormField":
            yield from _text_fields(field.form)
        elif field.type == "FieldList":
            for entry in field.entries:
                if entry.type == "FormField":
                    yield from _text_fields(entry.form)
                else:
                    yield entry
        else:
            yield field


class PortalForm(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in _text_fields(self):
            if has_bidi_controls(field.data):
                field.errors = [*field.errors, _l(
                    "This text contains invisible characters that change the direction "
                    "of writing. Type it again without them.")]
                valid = False
        return valid

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:
                return formdata
            if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
                return None
            if request.files:
                return CombinedMultiDict((request.files, request.form))
            return request.form
